/**
 * `immiscible sample`: draws a grid from a run's latest (or chosen) checkpoint with its EMA
 * weights, with the sampler of the run's objective (config.json).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { formatIssue, validateConfig } from '../core/config/validate';
import { listCheckpoints, readRunConfig } from '../core/run/reader';
import { intOption } from './cliOptions';
import { writeFileAtomic } from '../core/run/fsAtomic';
import { selectBackend } from './backend/select';
import { loadDataset } from './data';
import { makeSchedule } from './diffusion/schedule';
import { createVariables, asWeights } from './model/params';
import { renderSamples } from './sample/render';
import { readCheckpoint } from './train/checkpoint';
import { buildModel } from './train/trainer';

export interface SampleOptions {
  checkpoint?: number;
  count?: number;
  steps?: number;
  sampler?: string;
  seed?: number;
  eta?: number;
}

export interface RunSamples {
  pixels: Float32Array;
  png: Buffer;
  step: number;
  count: number;
  /** Network evaluations per sample and how the sampler ran. */
  nfe: number;
  detail: string;
}

/** Samples from a run's checkpoint (the latest unless one is named) with its EMA weights. */
export async function sampleFromRun(runDir: string, o: SampleOptions): Promise<RunSamples> {
  const base = readRunConfig(runDir);
  const r = validateConfig({
    ...base,
    sampling: {
      ...base.sampling,
      ...(o.count !== undefined && { count: o.count }),
      ...(o.steps !== undefined && { steps: o.steps }),
      ...(o.sampler !== undefined && { sampler: o.sampler }),
      ...(o.seed !== undefined && { seed: o.seed }),
      ...(o.eta !== undefined && { eta: o.eta }),
    },
  });
  if (!r.ok) throw new Error(`sampling options: ${r.issues.map(formatIssue).join('; ')}`);
  const config = r.config;
  const cks = listCheckpoints(runDir);
  const ck = o.checkpoint !== undefined ? cks.find((c) => c.step === o.checkpoint) : cks[cks.length - 1];
  if (!ck) throw new Error(`${runDir}: no checkpoint${o.checkpoint !== undefined ? ` at step ${o.checkpoint}` : ''} (have: ${cks.map((c) => c.step).join(', ') || 'none'})`);
  await selectBackend(config.backend);
  const ds = loadDataset(config.data, config.seed);
  const model = buildModel(config, ds);
  const loaded = readCheckpoint(ck.dir);
  const ema = createVariables(model.params.specs, new Map(model.params.specs.map((s) => [s.name, loaded.arrays.get(`ema/${s.name}`)?.data ?? new Float32Array(0)])), false);
  try {
    const schedule = makeSchedule(config.diffusion.schedule, config.diffusion.timesteps, config.diffusion.betaStart, config.diffusion.betaEnd);
    const { pixels, png, nfe, detail } = await renderSamples(model, asWeights(ema), schedule, config, ds);
    return { pixels, png, step: ck.step, count: config.sampling.count, nfe, detail };
  } finally {
    for (const v of ema.values()) v.dispose();
  }
}

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
      eta: { type: 'string' },
    },
  });
  if (!values.run) throw new Error('sample needs --run RUN_DIR');
  const t0 = performance.now();
  const s = await sampleFromRun(values.run, {
    checkpoint: intOption(values.checkpoint, 'checkpoint', 0),
    count: intOption(values.count, 'count', 0),
    steps: intOption(values.steps, 'steps', 0),
    sampler: values.sampler,
    seed: intOption(values.seed, 'seed', 0),
    eta: values.eta === undefined ? undefined : Number(values.eta),
  });
  const out = values.out ?? path.join(values.run, `sample-step-${s.step}.png`);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  writeFileAtomic(out, s.png);
  process.stdout.write(`${out} (${s.count} samples, step ${s.step}, ${s.nfe} evaluations per sample: ${s.detail}, ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
  return 0;
}
