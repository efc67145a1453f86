/**
 * Evaluation cost: `node --import tsx bench/bench-eval.ts [--config configs/mnist-immiscible.json]
 * [--samples 256] [--features 5000]`.
 *
 * Prints the `lenet` extractor's features per second (28x28 MNIST test images, batches of 250)
 * and the seconds of one evaluation as the trainer runs it for the config (its model, untrained:
 * the cost does not depend on the weights; its sampler and steps; `--samples` images), with the
 * reference statistics already cached, wall and CPU seconds, since this machine is often shared.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { validateConfig, formatIssue } from '../src/core/config/validate';
import { selectBackend } from '../src/trainer/backend/select';
import { loadDataset, loadMnist, type ImageDataset } from '../src/trainer/data';
import { makeSchedule } from '../src/trainer/diffusion/schedule';
import { Evaluator } from '../src/trainer/eval/evaluator';
import { loadExtractor } from '../src/trainer/metrics/extractors';
import { imageFeatures } from '../src/trainer/metrics/features';
import { asWeights } from '../src/trainer/model/params';
import { Rng } from '../src/trainer/rng';
import { buildModel } from '../src/trainer/train/trainer';
import { disposeModelState, freshModelState } from '../src/trainer/train/modelState';

function seconds<T>(f: () => Promise<T>): Promise<{ value: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return f().then((value) => {
    const c = process.cpuUsage(c0);
    return { value, wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
  });
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: { config: { type: 'string', default: 'configs/mnist-immiscible.json' }, samples: { type: 'string', default: '256' }, features: { type: 'string', default: '5000' } },
  });
  const backend = await selectBackend('wasm');
  console.log(`backend ${backend.name} (${backend.device}), ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  const n = Number(o.features);
  const test = loadMnist('test', n);
  const ex = await loadExtractor('lenet');
  await imageFeatures(ex, test.pixels, 250, [28, 28, 1], () => undefined);
  const f = await seconds(() => imageFeatures(ex, test.pixels, n, [28, 28, 1], () => undefined));
  ex.dispose();
  console.log(`lenet features: ${n} images in ${f.wall.toFixed(2)} s wall (${f.cpu.toFixed(2)} s CPU): ${(n / f.wall).toFixed(0)} features/s`);

  const file = o.config as string;
  const r = validateConfig(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!r.ok) throw new Error(`${file}: ${r.issues.map(formatIssue).join('; ')}`);
  const config = r.config;
  process.env.IMMISCIBLE_CACHE_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-bench-eval-'));
  const ds = loadDataset(config.data, config.seed) as ImageDataset;
  const model = buildModel(config, ds);
  const state = freshModelState(model, new Rng(config.seed));
  const evaluator = await Evaluator.create({ config, ds, samples: Number(o.samples) });
  const schedule = makeSchedule(config.diffusion.schedule, config.diffusion.timesteps, config.diffusion.betaStart, config.diffusion.betaEnd);
  const e = await seconds(() => evaluator.evaluate(model, asWeights(state.ema), schedule, 0));
  console.log(
    `evaluation of ${file}: ${evaluator.samples} samples, ${config.sampling.sampler} ${config.sampling.steps} steps, ${model.params.count()} parameters: ${e.wall.toFixed(1)} s wall (${e.cpu.toFixed(1)} s CPU)`,
  );
  evaluator.dispose();
  disposeModelState(state);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
