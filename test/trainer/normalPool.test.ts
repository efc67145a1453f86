/**
 * The noise pool: its threads' Box-Muller transform gives the draws of one thread, whatever the
 * size, across its buffers' growth, after a thread fails, and in a training run; and it never
 * keeps the process alive.
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
import { readMetrics } from '../../src/core/run/reader';
import { SLICE_PAIRS } from '../../src/trainer/noise/normalJob';
import { defaultNoiseThreads, MIN_POOLED_PAIRS, NormalPool, normalWorkerFile } from '../../src/trainer/noise/normalPool';
import { Rng } from '../../src/trainer/rng';
import { train } from '../../src/trainer/train/trainer';
import { withEnv } from '../fixtures/env';

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 5));

/** Draws `n` from two generators of one seed, one pooled, and checks they are the same. */
function same(pool: NormalPool, seed: number, n: number, lead: number): void {
  const one = new Rng(seed);
  const pooled = new Rng(seed);
  pooled.transformWith(pool);
  for (let i = 0; i < lead; i++) assert.equal(pooled.normal(), one.normal());
  const expected = one.fillNormal(new Float32Array(n));
  const got = pooled.fillNormal(new Float32Array(n));
  assert.ok(Buffer.from(got.buffer).equals(Buffer.from(expected.buffer)), `seed ${seed}, n ${n}, lead ${lead}: draws differ`);
  assert.deepEqual(pooled.state(), one.state());
}

test("the pool's draws are one thread's, for every size and as its buffers grow, and its threads take slices", async () => {
  assert.ok(normalWorkerFile(), 'the worker entry is found from source');
  const pool = new NormalPool(2);
  assert.equal(pool.threads, 2);
  const sizes = [10, 2 * MIN_POOLED_PAIRS - 1, 2 * MIN_POOLED_PAIRS, 2 * MIN_POOLED_PAIRS + 3, 7 * 2 * SLICE_PAIRS + 1, 50, 400_001];
  let round = 0;
  // The threads start with the first large draw; a job never waits for one that has not.
  while (pool.stats.slices === pool.stats.slicesHere || round < 2) {
    assert.ok(round < 200, `the threads took no slice in ${round} rounds: ${JSON.stringify(pool.stats)}`);
    for (const [k, n] of sizes.entries()) same(pool, 100 * round + k, n, k % 2);
    round++;
    await tick();
  }
  assert.equal(pool.failed, null);
  await pool.close();
  same(pool, 1, 100_000, 1);
});

test('without its worker file, or with no threads, the pool transforms here', () => {
  for (const pool of [new NormalPool(2, null), new NormalPool(0)]) {
    assert.equal(pool.threads, 0);
    same(pool, 3, 3 * 2 * SLICE_PAIRS, 1);
    assert.equal(pool.stats.jobs, 0);
  }
});

test('a thread that fails mid-job: the job is redone here, with the same draws, and later jobs stay here', async () => {
  const job = path.resolve(__dirname, '../../src/trainer/noise/normalJob.ts');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-noise-'));
  const bad = path.join(dir, 'badWorker.ts');
  // Claims one slice of a real job, then dies as a failing thread does.
  fs.writeFileSync(
    bad,
    `import { workerData } from 'node:worker_threads';
import { Ctrl, openClaim } from ${JSON.stringify(job)};
const ctrl = new Int32Array(workerData.ctrl);
let gen = 0;
for (;;) {
  Atomics.wait(ctrl, Ctrl.GEN, gen);
  gen = Atomics.load(ctrl, Ctrl.GEN);
  const cur = Atomics.load(ctrl, Ctrl.CLAIM);
  if ((cur & ~0xffff) === openClaim(gen) && (cur & 0xffff) < Atomics.load(ctrl, Ctrl.SLICES) && Atomics.compareExchange(ctrl, Ctrl.CLAIM, cur, cur + 1) === cur) {
    Atomics.store(ctrl, Ctrl.FAILED, 1);
    Atomics.notify(ctrl, Ctrl.DONE);
    throw new Error('broken on purpose');
  }
}
`,
  );
  const pool = new NormalPool(1, bad);
  let round = 0;
  while (!pool.failed) {
    assert.ok(round < 200, 'the broken thread never claimed a slice');
    same(pool, round, 40 * 2 * SLICE_PAIRS, 0);
    round++;
    await tick();
  }
  assert.match(pool.failed ?? '', /a noise thread failed/);
  assert.equal(pool.threads, 0);
  const jobs = pool.stats.jobs;
  same(pool, 7, 40 * 2 * SLICE_PAIRS, 1);
  assert.equal(pool.stats.jobs, jobs, 'after a failure, jobs run here');
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('an unclosed pool does not keep the process alive', () => {
  const mod = path.join(__dirname, '../../src/trainer/noise/normalPool.ts');
  const rng = path.join(__dirname, '../../src/trainer/rng.ts');
  const script = `
    const { NormalPool } = require(${JSON.stringify(mod)});
    const { Rng } = require(${JSON.stringify(rng)});
    const r = new Rng(1);
    r.transformWith(new NormalPool(2));
    let s = 0;
    for (let k = 0; k < 5; k++) s += r.fillNormal(new Float32Array(300000))[k];
    console.log('drew ' + s.toFixed(3));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout.trim(), /^drew -?\d+\.\d{3}$/);
});

test('IMMISCIBLE_NOISE_THREADS sets the threads; a bad value is named', () => {
  assert.equal(defaultNoiseThreads({ IMMISCIBLE_NOISE_THREADS: '0' }), 0);
  assert.equal(defaultNoiseThreads({ IMMISCIBLE_NOISE_THREADS: '3' }), 3);
  assert.ok(defaultNoiseThreads({}) <= 7);
  assert.throws(() => defaultNoiseThreads({ IMMISCIBLE_NOISE_THREADS: 'two' }), /IMMISCIBLE_NOISE_THREADS: expected an integer >= 0.*"two"/);
});

function cfg(input: RunConfigInput): RunConfig {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

test('a run whose kNN draws are shared among threads trains as one with none', async () => {
  // 32 images x 4 candidates x 16 x 16: 32,768 draws a step, enough to be shared.
  const config = cfg({
    seed: 9,
    backend: 'wasm',
    data: { source: 'mnist', imageSize: 16, limit: 200 },
    model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4, attentionResolutions: [] },
    diffusion: { timesteps: 100 },
    assignment: { mode: 'knn', k: 4 },
    training: { steps: 4, batchSize: 32, sampleEvery: 0, checkpointEvery: 0 },
    sampling: { steps: 2, count: 4 },
  });
  assert.ok(32 * 4 * 256 >= 2 * MIN_POOLED_PAIRS);
  const result = (threads: string): Promise<{ losses: number[]; dists: number[]; log: string }> =>
    withEnv({ IMMISCIBLE_NOISE_THREADS: threads }, async () => {
      const run = RunWriter.create(fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-noise-run-')), config, 't');
      assert.equal(await train({ run, config, resume: false, emit: () => undefined, signal: new AbortController().signal }), 'completed');
      const m = readMetrics(run.dir).metrics;
      return { losses: m.map((x) => x.loss), dists: m.map((x) => x.assign?.distAfter ?? NaN), log: fs.readFileSync(run.path('train.log'), 'utf8') };
    });
  const shared = await result('2');
  const alone = await result('0');
  assert.match(shared.log, /Box-Muller transform of a step's 32768 draws is shared with 2 threads/);
  assert.doesNotMatch(alone.log, /shared with/);
  assert.equal(shared.losses.length, 4);
  assert.deepEqual(shared.losses, alone.losses);
  assert.deepEqual(shared.dists, alone.dists);
});
