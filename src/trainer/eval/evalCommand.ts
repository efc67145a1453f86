/**
 * `immiscible eval --run DIR [--checkpoint STEP] [--n N] [--extractor NAME]`: evaluates a run's
 * checkpoint (the latest unless named) with its EMA weights as training does, prints one JSON
 * line and appends the metric lines to the run's eval.jsonl marked `onDemand: true`.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { RUN_FILES } from '../../core/run/format';
import { appendJsonLine } from '../../core/run/fsAtomic';
import { listCheckpoints, readRunConfig } from '../../core/run/reader';
import { intOption } from '../cliOptions';
import { selectBackend } from '../backend/select';
import { loadDataset } from '../data';
import { makeSchedule } from '../diffusion/schedule';
import { asWeights, createVariables } from '../model/params';
import { readCheckpoint } from '../train/checkpoint';
import { buildModel } from '../train/trainer';
import { Evaluator } from './evaluator';

export const EVAL_USAGE = 'immiscible eval --run RUN_DIR [--checkpoint STEP] [--n N] [--extractor lenet|inception]';

export async function evalCommand(argv: string[], out: { write(s: string): unknown } = process.stdout): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { run: { type: 'string' }, checkpoint: { type: 'string' }, n: { type: 'string' }, extractor: { type: 'string' } },
  });
  const runDir = values.run;
  if (!runDir) throw new Error(`eval needs --run RUN_DIR (${EVAL_USAGE})`);
  const config = readRunConfig(runDir);
  const wanted = intOption(values.checkpoint, 'checkpoint', 0);
  const n = intOption(values.n, 'n', 2);
  const cks = listCheckpoints(runDir);
  const ck = wanted !== undefined ? cks.find((c) => c.step === wanted) : cks[cks.length - 1];
  if (!ck) throw new Error(`${runDir}: no checkpoint${wanted !== undefined ? ` at step ${wanted}` : ''} (have: ${cks.map((c) => c.step).join(', ') || 'none'})`);
  await selectBackend(config.backend);
  const ds = loadDataset(config.data, config.seed);
  if (ds.kind !== 'image') throw new Error(`${runDir}: evaluation needs images, but ${ds.description} is 2-D points`);
  const model = buildModel(config, ds);
  const loaded = readCheckpoint(ck.dir);
  const ema = createVariables(
    model.params.specs,
    new Map(
      model.params.specs.map((s) => {
        const a = loaded.arrays.get(`ema/${s.name}`);
        if (!a) throw new Error(`${ck.dir}: no tensor ema/${s.name} in the checkpoint`);
        return [s.name, a.data];
      }),
    ),
    false,
  );
  let evaluator: Evaluator | null = null;
  try {
    evaluator = await Evaluator.create({ config, ds, samples: n, extractor: values.extractor, log: (m) => process.stderr.write(`immiscible eval: ${m}\n`) });
    const schedule = makeSchedule(config.diffusion.schedule, config.diffusion.timesteps, config.diffusion.betaStart, config.diffusion.betaEnd);
    const lines = (await evaluator.evaluate(model, asWeights(ema), schedule, ck.step)).map((l) => ({ ...l, onDemand: true }));
    for (const l of lines) appendJsonLine(path.join(runDir, RUN_FILES.eval), l);
    const first = lines[0];
    out.write(
      JSON.stringify({
        run: runDir,
        step: ck.step,
        metrics: Object.fromEntries(lines.map((l) => [l.metric, l.value])),
        extractor: first.extractor,
        weightsSha256: first.weightsSha256,
        samples: first.samples,
        referenceSamples: first.referenceSamples,
        sampler: first.sampler,
        samplerSteps: first.samplerSteps,
        seconds: first.seconds,
      }) + '\n',
    );
    return 0;
  } finally {
    evaluator?.dispose();
    for (const v of ema.values()) v.dispose();
  }
}
