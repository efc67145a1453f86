/** `immiscible sample`: draws a grid from a run's latest (or chosen) checkpoint with its EMA weights. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig } from '../core/config/validate';
import { listCheckpoints, readRunConfig } from '../core/run/reader';
import { selectBackend } from './backend/select';
import { loadDataset } from './data';
import { sample } from './diffusion/sampler';
import { makeSchedule } from './diffusion/schedule';
import { createVariables, asWeights } from './model/params';
import { encodeGrid } from './sample/grid';
import { encodeScatter } from './sample/scatter';
import { readCheckpoint } from './train/checkpoint';
import { buildModel, gridLabels } from './train/trainer';

export async function sampleCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      run: { type: 'string' },
      checkpoint: { type: 'string' },
      out: { type: 'string' },
      count: { type: 'string' },
      steps: { type: 'string' },
      sampler: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  if (!values.run) throw new Error('sample needs --run RUN_DIR');
  const base = readRunConfig(values.run);
  const r = validateConfig({
    ...base,
    sampling: {
      ...base.sampling,
      ...(values.count && { count: Number(values.count) }),
      ...(values.steps && { steps: Number(values.steps) }),
      ...(values.sampler && { sampler: values.sampler }),
      ...(values.seed && { seed: Number(values.seed) }),
    },
  });
  if (!r.ok) throw new Error(`sampling options: ${r.issues.map((i) => `${i.path}: expected ${i.expected}, found ${i.found}`).join('; ')}`);
  const config = r.config;
  const cks = listCheckpoints(values.run);
  const ck = values.checkpoint ? cks.find((c) => c.step === Number(values.checkpoint)) : cks[cks.length - 1];
  if (!ck) throw new Error(`${values.run}: no checkpoint${values.checkpoint ? ` at step ${values.checkpoint}` : ''} (have: ${cks.map((c) => c.step).join(', ') || 'none'})`);
  await selectBackend(config.backend);
  const ds = loadDataset(config.data, config.seed);
  const model = buildModel(config, ds);
  const loaded = readCheckpoint(ck.dir);
  const values2 = new Map(model.params.specs.map((s) => [s.name, loaded.arrays.get(`ema/${s.name}`)?.data ?? new Float32Array(0)]));
  const ema = createVariables(model.params.specs, values2, false);
  const schedule = makeSchedule(config.diffusion.schedule, config.diffusion.timesteps, config.diffusion.betaStart, config.diffusion.betaEnd);
  const t0 = performance.now();
  const pixels = await sample({
    model,
    weights: asWeights(ema),
    schedule,
    sampling: config.sampling,
    count: config.sampling.count,
    labels: gridLabels(config, ds),
    nullLabel: ds.numClasses,
  });
  const png =
    ds.kind === 'points'
      ? encodeScatter(pixels)
      : encodeGrid(pixels, { count: config.sampling.count, height: ds.height, width: ds.width, channels: ds.channels });
  const out = values.out ?? path.join(values.run, `sample-step-${ck.step}.png`);
  fs.writeFileSync(out, png);
  process.stdout.write(`${out} (${config.sampling.count} samples, step ${ck.step}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  return 0;
}
