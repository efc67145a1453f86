/**
 * Evaluation during training and on demand, end to end with the real trainer: fd_lenet falls as
 * a small MNIST model trains; eval.jsonl holds what docs/run-format.md says; a resumed run cuts
 * it back to its checkpoint; `immiscible eval` appends an on-demand line.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig, RunConfigInput } from '../../src/core/config/types';
import { RunWriter } from '../../src/core/run/writer';
import { readEvals } from '../../src/core/run/reader';
import type { TrainerEvent } from '../../src/core/protocol/events';
import { train } from '../../src/trainer/train/trainer';
import { evalCommand } from '../../src/trainer/eval/evalCommand';

function cfg(input: RunConfigInput): RunConfig {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-eval-'));
}

async function runInProcess(config: RunConfig, runs: string, stopAtStep?: number, existing?: string): Promise<{ dir: string; status: string; events: TrainerEvent[] }> {
  const run = existing ? RunWriter.open(existing) : RunWriter.create(runs, config, 'e');
  const events: TrainerEvent[] = [];
  const status = await train({ run, config, resume: Boolean(existing), emit: (e) => events.push(e), signal: new AbortController().signal, stopAtStep });
  return { dir: run.dir, status, events };
}

process.env.IMMISCIBLE_CACHE_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-eval-cache-'));

const tiny: RunConfigInput = {
  seed: 2,
  backend: 'wasm',
  data: { source: 'mnist', imageSize: 8, limit: 200 },
  model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4 },
  diffusion: { timesteps: 100, betaEnd: 0.2 },
  training: { steps: 6, batchSize: 8, warmupSteps: 2, sampleEvery: 0, checkpointEvery: 2, prefetch: false },
  sampling: { sampler: 'ddim', steps: 4 },
  evaluation: { every: 2, samples: 20, referenceSamples: 100, kid: true },
};

test('eval.jsonl: step 0, every N steps and the last; cut back on resume; immiscible eval appends an on-demand line', { timeout: 300_000 }, async () => {
  const config = cfg(tiny);
  // Stop at 4 (evaluations at 0, 2, 4; checkpoints at 2 and 4), then drop the step-4 checkpoint
  // so the resume starts from 2 and must cut eval.jsonl back to it.
  const first = await runInProcess(config, tmp(), 4);
  assert.equal(first.status, 'stopped');
  assert.deepEqual(readEvals(first.dir).evals.map((e) => e.step), [0, 0, 2, 2, 4, 4]);
  fs.rmSync(path.join(first.dir, 'checkpoints', 'step-0000004'), { recursive: true });
  const r = await runInProcess(config, '', undefined, first.dir);
  assert.equal(r.status, 'completed');
  const { evals, tornTail, badLines } = readEvals(r.dir);
  assert.equal(tornTail, false);
  assert.deepEqual(badLines, []);
  assert.deepEqual(evals.map((e) => e.step), [0, 0, 2, 2, 4, 4, 6, 6], 'each evaluated step once, in order');
  assert.deepEqual(evals.map((e) => e.metric), Array.from({ length: 8 }, (_, i) => (i % 2 ? 'kid_lenet' : 'fd_lenet')));
  for (const e of evals) {
    if (e.metric === 'kid_lenet') assert.ok(typeof e.std === 'number' && e.std >= 0 && Number.isFinite(e.value));
    else assert.equal(e.std, undefined);
    assert.equal(e.extractor, 'lenet');
    assert.match(e.weightsSha256, /^[0-9a-f]{64}$/);
    assert.equal(e.samples, 20);
    assert.equal(e.referenceSamples, 100);
    assert.equal(e.sampler, 'ddim');
    assert.equal(e.samplerSteps, 4);
    assert.ok(e.seconds > 0 && Number.isFinite(e.value));
    if (e.metric === 'fd_lenet') assert.ok(e.value > 0);
    assert.equal(e.onDemand, undefined);
  }
  const events = r.events.filter((e) => e.type === 'eval');
  assert.deepEqual(events.map((e) => (e.type === 'eval' ? [e.step, e.metric] : null)), [
    [4, 'fd_lenet'],
    [4, 'kid_lenet'],
    [6, 'fd_lenet'],
    [6, 'kid_lenet'],
  ], 'the resumed part evaluated 4 and 6');

  let printed = '';
  const code = await evalCommand(['--run', r.dir, '--checkpoint', '2', '--n', '10'], { write: (s: string) => (printed += s) });
  assert.equal(code, 0);
  const out = JSON.parse(printed) as { step: number; metrics: Record<string, number>; samples: number };
  assert.equal(out.step, 2);
  assert.equal(out.samples, 10);
  assert.ok(Number.isFinite(out.metrics.fd_lenet));
  assert.ok(Number.isFinite(out.metrics.kid_lenet));
  const last = readEvals(r.dir).evals.slice(-2);
  assert.deepEqual(
    last.map((l) => ({ step: l.step, metric: l.metric, onDemand: l.onDemand, value: l.value })),
    [
      { step: 2, metric: 'fd_lenet', onDemand: true, value: out.metrics.fd_lenet },
      { step: 2, metric: 'kid_lenet', onDemand: true, value: out.metrics.kid_lenet },
    ],
  );
  // The latest checkpoint with the config's sample count: the values training wrote at step 6.
  let again = '';
  assert.equal(await evalCommand(['--run', r.dir], { write: (s: string) => (again += s) }), 0);
  const at6 = evals.filter((e) => e.step === 6);
  assert.deepEqual((JSON.parse(again) as { metrics: Record<string, number> }).metrics, Object.fromEntries(at6.map((e) => [e.metric, e.value])));
  // A torn last line (a crash mid-write) is ignored, not an error.
  const before = readEvals(r.dir).evals.length;
  fs.appendFileSync(path.join(r.dir, 'eval.jsonl'), '{"step": 9, "metric": "fd_le');
  const torn = readEvals(r.dir);
  assert.equal(torn.tornTail, true);
  assert.equal(torn.evals.length, before);
  await assert.rejects(evalCommand(['--run', r.dir, '--checkpoint', '3']), /no checkpoint at step 3 \(have: 2, 4, 6\)/);
  await assert.rejects(evalCommand(['--run', r.dir, '--extractor', 'vgg']), /unknown extractor "vgg"/);
  await assert.rejects(evalCommand(['--run', path.join(r.dir, 'nope')]), /nope.config\.json: missing/);
});

test('evaluation samples with the run objective: a flow run records its adaptive solver and its evaluations', { timeout: 300_000 }, async () => {
  const config = cfg({ ...tiny, objective: 'flow', sampling: { sampler: 'dopri5' }, training: { ...tiny.training, steps: 2 }, evaluation: { every: 2, samples: 10, referenceSamples: 100 } });
  const r = await runInProcess(config, tmp());
  assert.equal(r.status, 'completed');
  const { evals } = readEvals(r.dir);
  assert.deepEqual(evals.map((e) => [e.step, e.metric, e.sampler]), [
    [0, 'fd_lenet', 'dopri5'],
    [2, 'fd_lenet', 'dopri5'],
  ]);
  // Dormand-Prince: 6 evaluations per accepted or rejected step (first-same-as-last saves one per accepted step).
  for (const e of evals) assert.ok(e.samplerSteps >= 6 && Number.isFinite(e.value), JSON.stringify(e));
});

const small: RunConfigInput = {
  seed: 1,
  backend: 'wasm',
  data: { source: 'mnist', imageSize: 14, limit: 5000 },
  model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4 },
  // betaEnd 0.1: with 200 steps alphaBar_T ~ e^-10, so sampling from pure noise matches training.
  diffusion: { timesteps: 200, betaStart: 1e-4, betaEnd: 0.1 },
  assignment: { mode: 'none' },
  training: { steps: 200, batchSize: 32, lr: 4e-3, warmupSteps: 20, sampleEvery: 0, checkpointEvery: 0, emaDecay: 0.99, prefetch: false },
  sampling: { sampler: 'ddim', steps: 10 },
  evaluation: { every: 100, samples: 200, referenceSamples: 1000 },
};

test('fd_lenet falls as a small MNIST model trains', { timeout: 600_000 }, async () => {
  const t0 = performance.now();
  const r = await runInProcess(cfg(small), tmp());
  assert.equal(r.status, 'completed');
  const fd = readEvals(r.dir).evals.filter((e) => e.metric === 'fd_lenet');
  console.log(`fd_lenet by step: ${fd.map((e) => `${e.step}: ${e.value.toFixed(2)} (${e.seconds.toFixed(1)} s)`).join(', ')}; run ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  assert.deepEqual(fd.map((e) => e.step), [0, 100, 200]);
  // Step 0 (binary noise) is not the baseline: LeNet's ReLU features of noise and of half-formed
  // digits are alike (FD ~40-50 against ~3 for held-out digits). Digits appear after ~100 steps.
  assert.ok(fd[2].value < fd[1].value - 3, `fd_lenet at step 200 (${fd[2].value}) at least 3 below step 100's (${fd[1].value})`);
});
