// A training step replayed from its captured WebGPU commands (webgpuReplay.ts) on a real Dawn
// device: it trains the same weights, moments and EMA bit for bit as the step run normally, with a
// learning rate and an EMA decay that change every step (tagged uniforms); it refuses a step whose
// weights were reassigned and captures again; a step whose uploads change untagged is never
// replayed, and says why; the trainer's step replayed trains the same run as without (losses,
// gradient norms, checkpoint, samples). Runs on whatever adapter Dawn finds (lavapipe in CI); skips saying why
// where there is none, unless IMMISCIBLE_EXPECT_WEBGPU=1.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../../src/core/config/validate';
import { selectBackend } from '../../src/trainer/backend/select';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { type AdamReplayParam } from '../../src/trainer/backend/webgpuKernels';
import { REPLAY_PARAMS, traceDifference, type Trace } from '../../src/trainer/backend/webgpuCapture';
import { stepReplayer, type ReplayerStatus } from '../../src/trainer/backend/webgpuReplay';
import { buildUnet } from '../../src/trainer/model/unet';
import { asWeights, createVariables, initialValues } from '../../src/trainer/model/params';
import { adamAttrsAt, adamStep, learningRate, newAdamState } from '../../src/trainer/train/adam';
import { Rng } from '../../src/trainer/rng';
import type { RunConfigInput } from '../../src/core/config/types';
import { RUN_FILES } from '../../src/core/run/format';
import { listCheckpoints, readMetrics } from '../../src/core/run/reader';
import { RunWriter } from '../../src/core/run/writer';
import { makeSchedule } from '../../src/trainer/diffusion/schedule';
import { makeObjective } from '../../src/trainer/objectives';
import { train as trainRun } from '../../src/trainer/train/trainer';
import { replayBlocker } from '../../src/trainer/train/replayStep';
import { withEnv } from '../fixtures/env';

const SIZE = 8;
const BATCH = 2;
const LR = 1e-3;
const WARMUP = 4;
const decayAt = (k: number): number => Math.min(0.999, (1 + k) / (10 + k));

interface Run {
  norms: number[];
  final: Float32Array[];
  status: ReplayerStatus | null;
}

/**
 * `steps` steps of a small UNet with Adam (clipped, its learning rate warming up) and the EMA in
 * Adam's kernel (its decay warming up), on fixed data; replayed where `replay`. `before(i)` runs
 * before step i (to disturb the run); `untagged` adds a scalar uploaded with a new value each step.
 */
async function train(steps: number, replay: boolean, opts: { before?: (i: number, params: Map<string, tf.Variable>) => void; untagged?: boolean } = {}): Promise<Run> {
  const r = validateConfig({ data: { imageSize: SIZE }, model: { baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4, dropout: 0, attentionResolutions: [] } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const model = buildUnet(r.config.model, SIZE, 1, 0);
  const params = createVariables(model.params.specs, initialValues(model.params.specs, new Rng(0)));
  const ema = new Map([...params].map(([k, p]) => [k, tf.tidy(() => tf.variable(p.clone(), false))]));
  const adam = newAdamState(params);
  const vars = [...params.values()];
  const names = [...params.keys()];
  const nameOf = new Map(vars.map((v, i) => [v.name, names[i]]));
  const rng = new Rng(1);
  const n = BATCH * SIZE * SIZE;
  const x = tf.tensor4d(rng.fillNormal(new Float32Array(n)), [BATCH, SIZE, SIZE, 1]);
  const eps = tf.tensor4d(rng.fillNormal(new Float32Array(n)), [BATCH, SIZE, SIZE, 1]);
  const t = Float32Array.from({ length: BATCH }, () => rng.int(1000));
  let i = 0;
  const run = (): tf.Tensor[] => [
    tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const loss = tf.mean(tf.square(tf.sub(model.apply(asWeights(params), { x, t, labels: null, training: true, seed: 0 }), eps)));
        return (opts.untagged ? tf.mul(loss, tf.scalar(1 + i)) : loss) as tf.Scalar;
      }, vars);
      const named = new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k) as string, g]));
      return adamStep(params, named, adam, learningRate(adam.t + 1, LR, WARMUP), 1, { weights: ema, decay: decayAt(adam.t) });
    }),
  ];
  const replayer = replay
    ? stepReplayer({
      run,
      persistent: () => [...vars, ...adam.m.values(), ...adam.v.values(), ...ema.values(), x, eps],
      params: () => ({ [REPLAY_PARAMS.adam]: { ...adamAttrsAt(adam.t + 1, learningRate(adam.t + 1, LR, WARMUP)), emaDecay: decayAt(adam.t) } satisfies AdamReplayParam, [REPLAY_PARAMS.time]: t }),
      replayed: () => {
        adam.t += 1;
      },
    })
    : null;
  const norms: number[] = [];
  for (i = 0; i < steps; i++) {
    opts.before?.(i, params);
    const [norm] = replayer ? replayer.step() : run();
    norms.push(((await norm.data()) as Float32Array)[0]);
    norm.dispose();
  }
  const final = await Promise.all([...params.values(), ...adam.m.values(), ...adam.v.values(), ...ema.values()].map(async (v) => (await v.data()) as Float32Array));
  const status = replayer?.status() ?? null;
  replayer?.dispose();
  tf.dispose([x, eps, ...params.values(), ...adam.m.values(), ...adam.v.values(), ...ema.values()]);
  return { norms, final, status };
}

function assertSameRun(a: Run, b: Run): void {
  assert.deepEqual(b.norms, a.norms, 'gradient norms per step');
  assert.equal(b.final.length, a.final.length);
  a.final.forEach((f, k) => assert.deepEqual(b.final[k], f, `tensor ${k} (weights, then Adam's moments, then the EMA) differs`));
}

describe('a training step replayed from its captured commands on webgpu', async () => {
  const probe = await probeWebgpu();
  const skip = probe.ok || process.env.IMMISCIBLE_EXPECT_WEBGPU === '1' ? false : `no WebGPU adapter: ${probe.ok ? '' : probe.reason}`;
  before(async () => {
    if (skip) return;
    await selectBackend('webgpu');
    assert.equal(tf.getBackend(), 'webgpu');
  });

  it('trains the same weights, moments and EMA bit for bit as the step run normally', { skip }, async () => {
    const tensors = tf.memory().numTensors;
    const normal = await train(9, false);
    const replayed = await train(9, true);
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
    assert.equal(replayed.status?.reason, null);
    // Two warm-up steps and two captured ones run normally; the other five are replayed.
    assert.equal(replayed.status?.replayed, 5, JSON.stringify(replayed.status));
    assert.ok((replayed.status?.dispatches ?? 0) > 50, `dispatches per replay: ${replayed.status?.dispatches}`);
    assert.ok(normal.norms.every((x, k) => k === 0 || x !== normal.norms[k - 1]), 'the steps differ from each other');
    assertSameRun(normal, replayed);
  });

  it('keeps every captured submit by default, and with the switch on merges those no write needs, training the same either way', { skip }, async () => {
    const all = await train(7, true);
    const merged = await withEnv({ IMMISCIBLE_WEBGPU_MERGE_SUBMITS: '1' }, () => train(7, true));
    assert.equal(merged.status?.replayed, 3);
    assert.equal(all.status?.replayed, 3);
    assert.ok((merged.status?.submits ?? 0) >= 1 && (merged.status?.submits ?? 0) < (all.status?.submits ?? 0), `submits a step: ${merged.status?.submits} merged, ${all.status?.submits} as captured`);
    assertSameRun(all, merged);
  });

  it('refuses a step whose weights were reassigned, runs it normally and replays again after capturing anew', { skip }, async () => {
    const disturb = (i: number, params: Map<string, tf.Variable>): void => {
      if (i !== 6) return;
      const p = params.values().next().value as tf.Variable;
      p.assign(tf.tidy(() => tf.mul(p, 0.5)));
    };
    const normal = await train(14, false, { before: disturb });
    const replayed = await train(14, true, { before: disturb });
    // Steps 4-5 replayed; 6 refused and run normally as the first of two warm-up steps, 8-9
    // captured, 10-13 replayed.
    assert.deepEqual({ replayed: replayed.status?.replayed, normal: replayed.status?.normal }, { replayed: 6, normal: 8 }, JSON.stringify(replayed.status));
    assertSameRun(normal, replayed);
  });

  const linear: RunConfigInput['assignment'] = { mode: 'linear', cost: 'l2' };
  // kNN's candidates drawn and compared on the GPU between the replayed steps, per micro-batch.
  const knnOnGpu: RunConfigInput['assignment'] = { mode: 'knn', k: 4, knnOn: 'backend', scope: 'micro' };
  const cases = [
    { objective: 'ddpm', accumulate: 1, assignment: linear },
    { objective: 'flow', accumulate: 1, assignment: linear },
    { objective: 'consistency', accumulate: 1, assignment: linear },
    { objective: 'ddpm', accumulate: 2, assignment: linear },
    { objective: 'ddpm', accumulate: 2, assignment: knnOnGpu },
  ] as const;
  for (const { objective, accumulate, assignment } of cases) it(`replays the trainer's ${objective} step${accumulate > 1 ? `, accumulated over ${accumulate} micro-batches,` : ''} (${assignment?.mode === 'knn' ? 'kNN on the GPU' : 'assignment'}, labels, attention, dropout, warm-ups of the learning rate and the EMA) and trains the same run as without`, { skip }, async () => {
    const input: RunConfigInput = {
      seed: 5,
      objective,
      backend: 'webgpu',
      data: { source: 'mnist', imageSize: 8, limit: 64, flip: true },
      model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4, attentionResolutions: [4], dropout: 0.2, classConditional: true, labelDropout: 0.3 },
      diffusion: { timesteps: 100 },
      assignment,
      training: { steps: 9, batchSize: 8, accumulate, warmupSteps: 5, sampleEvery: 0, checkpointEvery: 0, logEvery: 1 },
      sampling: { steps: 2, count: 4, sampler: ({ ddpm: 'ddim', flow: 'euler', consistency: 'multistep' } as const)[objective] },
    };
    const r = validateConfig(input);
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-replay-'));
    try {
      const trained: { log: string; metrics: [number, number][]; tensors: Buffer; samples: Buffer }[] = [];
      for (const flag of ['1', '0']) {
        await withEnv({ IMMISCIBLE_WEBGPU_REPLAY: flag }, async () => {
          const run = RunWriter.create(runs, r.config, `replay${flag}`);
          assert.equal(await trainRun({ run, config: r.config, resume: false, emit: () => undefined, signal: new AbortController().signal }), 'completed');
          const ck = listCheckpoints(run.dir);
          const samples = fs.readdirSync(run.path(RUN_FILES.samples));
          trained.push({
            log: fs.readFileSync(run.path(RUN_FILES.log), 'utf8'),
            metrics: readMetrics(run.dir).metrics.map((m) => [m.loss, m.gradNorm as number]),
            tensors: fs.readFileSync(path.join(ck[ck.length - 1].dir, 'tensors.bin')),
            samples: fs.readFileSync(run.path(RUN_FILES.samples, samples[samples.length - 1])),
          });
        });
      }
      const [on, off] = trained;
      assert.match(on.log, /the training step is replayed from its captured commands \(\d+ dispatches/);
      assert.match(off.log, /recorded anew at each step \(IMMISCIBLE_WEBGPU_REPLAY=0\)/);
      assert.equal(on.metrics.length, 9);
      assert.deepEqual(on.metrics, off.metrics, 'losses and gradient norms per step');
      assert.ok(on.tensors.equals(off.tensors), 'the checkpoint (weights, moments, EMA) is the same');
      assert.ok(on.samples.equals(off.samples), 'the sample grid is the same');
    } finally {
      fs.rmSync(runs, { recursive: true, force: true });
    }
  });

  it('does not replay a step whose uploads change from step to step, and says why', { skip }, async () => {
    const normal = await train(8, false, { untagged: true });
    const replayed = await train(8, true, { untagged: true });
    assert.equal(replayed.status?.replayed, 0);
    assert.match(replayed.status?.reason ?? '', /command \d+ \(write\)/);
    assertSameRun(normal, replayed);
  });
});

describe('traceDifference', () => {
  const buffer = { size: 16, usage: 0x40, destroy: (): void => {} };
  const write = (bytes: number[], tag: string | null): Trace['ops'][number] => ({ k: 'write', dst: buffer, offset: 0, bytes: Uint8Array.from(bytes), tag: tag ? { param: tag, encode: () => new ArrayBuffer(4) } : null, staged: false });
  const trace = (ops: Trace['ops']): Trace => ({ ops, groups: new Map(), problem: null });
  const pipe = {};

  it('accepts the same commands, and tagged writes whose bytes differ', () => {
    assert.equal(traceDifference(trace([{ k: 'pass' }, { k: 'pipe', p: pipe }, write([1, 2, 3, 4], 'adam')]), trace([{ k: 'pass' }, { k: 'pipe', p: pipe }, write([5, 6, 7, 8], 'adam')])), null);
  });

  it('compares what the GPU computes, not which buffers it uses', () => {
    const other = { size: 16, usage: 0x40, destroy: (): void => {} };
    assert.equal(traceDifference(trace([write([1, 2, 3, 4], null)]), trace([{ ...write([1, 2, 3, 4], null), dst: other } as Trace['ops'][number]])), null);
    assert.equal(traceDifference(trace([{ ...write([1, 2, 3, 4], null), offset: 4 } as Trace['ops'][number]]), trace([write([1, 2, 3, 4], null)])), 'command 0 (write)');
  });

  it('names the first command that differs: untagged bytes, a pipeline, a dispatch size, a count', () => {
    assert.equal(traceDifference(trace([write([1, 2, 3, 4], null)]), trace([write([1, 2, 3, 5], null)])), 'command 0 (write)');
    assert.equal(traceDifference(trace([{ k: 'pass' }, { k: 'pipe', p: pipe }]), trace([{ k: 'pass' }, { k: 'pipe', p: {} }])), 'command 1 (pipe)');
    assert.equal(traceDifference(trace([{ k: 'dispatch', x: 1, y: 1, z: 1 }]), trace([{ k: 'dispatch', x: 2, y: 1, z: 1 }])), 'command 0 (dispatch)');
    assert.equal(traceDifference(trace([{ k: 'pass' }]), trace([{ k: 'end' }])), 'command 0 (pass then end)');
    assert.equal(traceDifference(trace([{ k: 'pass' }]), trace([])), '1 commands, then 0');
  });
});

describe('replayBlocker', () => {
  const configOf = (over: RunConfigInput): Parameters<typeof replayBlocker>[0] => {
    const r = validateConfig({ data: { source: 'mnist', imageSize: 8 }, ...over });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    return r.config;
  };
  const objectiveOf = (c: Parameters<typeof replayBlocker>[0]): Parameters<typeof replayBlocker>[1] => makeObjective(c, makeSchedule(c.diffusion.schedule, c.diffusion.timesteps, c.diffusion.betaStart, c.diffusion.betaEnd));

  it('lets a DDPM, flow matching or consistency step be replayed, with dropout and accumulation too', () => {
    const c = configOf({ model: { dropout: 0.1 } });
    assert.equal(replayBlocker(c, objectiveOf(c)), null);
    const flow = configOf({ objective: 'flow', sampling: { sampler: 'euler' } });
    assert.equal(replayBlocker(flow, objectiveOf(flow)), null);
    const ct = configOf({ objective: 'consistency', sampling: { sampler: 'onestep' } });
    assert.equal(replayBlocker(ct, objectiveOf(ct)), null);
    const acc = configOf({ training: { accumulate: 2, batchSize: 8 } });
    assert.equal(replayBlocker(acc, objectiveOf(acc)), null);
  });

  it('says why a step cannot be: an objective that does not tag its uploads, the switch off (0 or false)', () => {
    const c = configOf({});
    withEnv({ IMMISCIBLE_WEBGPU_REPLAY: 'false' }, () => assert.equal(replayBlocker(c, objectiveOf(c)), 'IMMISCIBLE_WEBGPU_REPLAY=false'));
    withEnv({ IMMISCIBLE_WEBGPU_REPLAY: 'no' }, () =>
      assert.throws(() => replayBlocker(c, objectiveOf(c)), /IMMISCIBLE_WEBGPU_REPLAY: expected true, false, 1 or 0, got 'no'/),
    );
    assert.match(replayBlocker(c, { ...objectiveOf(c), replayTimes: undefined }) ?? '', /the ddpm objective does not tag its uploads/);
  });
});
