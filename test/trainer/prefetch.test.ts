/**
 * The assignment worker and the prefetched training loop: the worker solves exactly as
 * linearSumAssignment, never keeps the process alive, and a run with prefetch gives the losses of
 * one without, also across a stop and resume while a prefetched batch is waiting.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig, RunConfigInput } from '../../src/core/config/types';
import { RunWriter } from '../../src/core/run/writer';
import { listCheckpoints, readMetrics } from '../../src/core/run/reader';
import { linearSumAssignment, pairwiseCost } from '../../src/trainer/assignment';
import { LsaWorker, lsaWorkerFile } from '../../src/trainer/assignment/lsaWorkerClient';
import { Rng } from '../../src/trainer/rng';
import { train } from '../../src/trainer/train/trainer';

function cfg(input: RunConfigInput): RunConfig {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

const tiny: RunConfigInput = {
  seed: 5,
  backend: 'wasm',
  data: { source: 'mnist', imageSize: 8, limit: 100, flip: true },
  model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4, attentionResolutions: [], dropout: 0.1, classConditional: true },
  diffusion: { timesteps: 100 },
  assignment: { mode: 'linear', cost: 'l2' },
  training: { steps: 6, batchSize: 16, warmupSteps: 2, sampleEvery: 0, checkpointEvery: 0 },
  sampling: { steps: 2, count: 4 },
};

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-prefetch-'));
const losses = (dir: string): number[] => readMetrics(dir).metrics.map((m) => m.loss);
const dists = (dir: string): number[] => readMetrics(dir).metrics.map((m) => m.assign?.distAfter ?? NaN);

async function run(config: RunConfig, o: { runs?: string; resume?: string; stopAtStep?: number; abortAtCheckpoint?: number } = {}): Promise<{ dir: string; status: string }> {
  const r = o.resume ? RunWriter.open(o.resume) : RunWriter.create(o.runs ?? tmp(), config, 't');
  const ac = new AbortController();
  const status = await train({
    run: r,
    config,
    resume: Boolean(o.resume),
    emit: (e) => {
      if (e.type === 'checkpoint' && e.step === o.abortAtCheckpoint) ac.abort();
    },
    signal: ac.signal,
    stopAtStep: o.stopAtStep,
  });
  return { dir: r.dir, status };
}

test('the worker solves exactly as linearSumAssignment, in order, and close() rejects what is pending', async () => {
  assert.ok(lsaWorkerFile(), 'the worker entry is found from source');
  const w = new LsaWorker();
  assert.equal(w.threaded, true);
  const rng = new Rng(11);
  const cases = [1, 7, 64, 200].map((n) => {
    const d = 3;
    const x = rng.fillNormal(new Float32Array(n * d));
    const e = rng.fillNormal(new Float32Array(n * d));
    return { n, cost: pairwiseCost(x, e, n, d, 'l2') };
  });
  const expected = cases.map((c) => linearSumAssignment(c.cost, c.n));
  const got = await Promise.all(cases.map((c) => w.solve(c.cost.slice(), c.n)));
  got.forEach((g, i) => assert.deepEqual(g.col, expected[i]));
  await assert.rejects(w.solve(new Float64Array(3), 2), /assignment worker: linearSumAssignment: expected n\*n = 4/);
  const pending = w.solve(cases[3].cost.slice(), cases[3].n);
  const rejected = assert.rejects(pending, /closed/);
  await w.close();
  await rejected;
  await assert.rejects(w.solve(new Float64Array(1), 1), /closed/);
});

test('an idle worker does not keep the process alive; one with a pending solve does until it is done', () => {
  const client = path.join(__dirname, '../../src/trainer/assignment/lsaWorkerClient.ts');
  const script = `
    const { LsaWorker } = require(${JSON.stringify(client)});
    const w = new LsaWorker();
    const n = 300, c = new Float64Array(n * n).map((_, k) => ((k * 7919) % 1009) / 1009);
    w.solve(c, n).then((s) => { console.log('solved ' + s.col.length); });
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'solved 300');
});

test('prefetch gives the losses of a run without it (linear, global and micro scope)', async () => {
  for (const extra of [{}, { accumulate: 2 }] as const) {
    const scope = 'accumulate' in extra ? 'micro' : 'global';
    const on = cfg({ ...tiny, assignment: { ...tiny.assignment, scope }, training: { ...tiny.training, ...extra, steps: 4, prefetch: true } });
    const off = cfg({ ...tiny, assignment: { ...tiny.assignment, scope }, training: { ...tiny.training, ...extra, steps: 4, prefetch: false } });
    const a = await run(on);
    const b = await run(off);
    assert.equal(a.status, 'completed');
    assert.equal(losses(a.dir).length, 4);
    assert.deepEqual(losses(a.dir), losses(b.dir), scope);
    assert.deepEqual(dists(a.dir), dists(b.dir), scope);
  }
});

test('a stop while a prefetched batch waits checkpoints the state before it; the resumed run matches', async () => {
  const config = cfg({ ...tiny, training: { ...tiny.training, prefetch: true, checkpointEvery: 3 } });
  const whole = await run(config);
  assert.equal(whole.status, 'completed');
  // The checkpoint at step 3 is written after batch 4 was drawn; the abort then stops the loop.
  const part = await run(config, { abortAtCheckpoint: 3 });
  assert.equal(part.status, 'stopped');
  assert.deepEqual(listCheckpoints(part.dir).map((c) => c.step), [3]);
  const resumed = await run(config, { resume: part.dir });
  assert.equal(resumed.status, 'completed');
  assert.deepEqual(losses(part.dir), losses(whole.dir));
  // prefetch changes no result, so a run may resume with it toggled.
  const part2 = await run(config, { stopAtStep: 2 });
  const off = cfg({ ...tiny, training: { ...tiny.training, prefetch: false, checkpointEvery: 3 } });
  assert.equal((await run(off, { resume: part2.dir })).status, 'completed');
  assert.deepEqual(losses(part2.dir), losses(whole.dir));
  // knn and none also take the prefetched path.
  for (const mode of ['knn', 'none'] as const) {
    const c = cfg({ ...tiny, assignment: { mode, k: 3 }, training: { ...tiny.training, steps: 3 } });
    const p = await run(c);
    const q = await run(cfg({ ...tiny, assignment: { mode, k: 3 }, training: { ...tiny.training, steps: 3, prefetch: false } }));
    assert.deepEqual(losses(p.dir), losses(q.dir), mode);
  }
});
