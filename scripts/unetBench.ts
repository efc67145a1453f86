/**
 * What bench:train and bench:gpu share: the benchmark UNets, one training step of ours (forward,
 * backward, Adam) on whatever backend is active, and the same architecture's step in PyTorch
 * (bench/torch_unet.py), so that both benchmarks time exactly the same work.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../src/core/config/validate';
import type { ModelConfig } from '../src/core/config/types';
import { buildUnet } from '../src/trainer/model/unet';
import { asWeights } from '../src/trainer/model/params';
import { type AdamReplayParam } from '../src/trainer/backend/webgpuKernels';
import { REPLAY_PARAMS } from '../src/trainer/backend/webgpuCapture';
import { stepReplayer, type ReplayerStatus } from '../src/trainer/backend/webgpuReplay';
import { adamAttrsAt, adamStep } from '../src/trainer/train/adam';
import { updateEma } from '../src/trainer/train/ema';
import { disposeModelState, freshModelState } from '../src/trainer/train/modelState';
import { Rng } from '../src/trainer/rng';
import { meanSquaredError } from '../src/trainer/objectives/meanSquaredError';

export interface ModelSpec {
  name: string;
  size: number;
  channels: number;
  model: Partial<ModelConfig>;
}

export const MODELS: Record<string, ModelSpec> = {
  demo: { name: 'demo: MNIST 14x14, UNet 16-32', size: 14, channels: 1, model: { baseChannels: 16, channelMults: [1, 2], resBlocks: 1, groups: 8 } },
  standard32: { name: 'standard: 32x32x3, UNet 32-64-128', size: 32, channels: 3, model: { baseChannels: 32, channelMults: [1, 2, 4], resBlocks: 1, groups: 8 } },
};

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface UnetBench {
  params: number;
  /**
   * One training step at seed `seed`, the batch in `micro` micro-batches (gradient accumulation:
   * each one's graph is freed before the next). Returns the gradient norm; the caller reads it
   * (the step's one read-back, as in the trainer) and disposes it.
   */
  step(seed: number, micro?: number): tf.Scalar;
  /** With `replay`: how many steps were replayed, and why none are where it gave up. */
  replayStatus(): ReplayerStatus | null;
  dispose(): void;
}

/**
 * How a step updates the EMA of the weights: not at all (as PyTorch's step in the comparison),
 * with Adam (`adamStep`'s `ema`, as the trainer does: one kernel per tensor on webgpu), or after it
 * (`updateEma`, as the trainer did before).
 */
export type EmaMode = 'off' | 'with-adam' | 'after-adam';

const LR = 1e-3;
const DECAY = 0.999;

/**
 * The UNet of `spec` with fresh weights and a fixed random batch of `batch` images and noise.
 * `replay`: on webgpu, steps without micro-batches are replayed from their captured commands
 * (webgpuReplay.ts) once steady.
 */
export function unetBench(spec: ModelSpec, batch: number, ema: EmaMode = 'off', replay = false): UnetBench {
  const r = validateConfig({ data: { imageSize: spec.size }, model: spec.model });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const model = buildUnet(r.config.model, spec.size, spec.channels, 0);
  const state = freshModelState(model, new Rng(0));
  const vars = [...state.params.values()];
  const names = [...state.params.keys()];
  const nameOf = new Map(vars.map((v, i) => [v.name, names[i]]));
  const x = tf.randomNormal([batch, spec.size, spec.size, spec.channels]);
  const eps = tf.randomNormal([batch, spec.size, spec.size, spec.channels]);
  const rng = new Rng(1);
  const t = Float32Array.from({ length: batch }, () => rng.int(1000));
  const step = (seed: number, micro = 1): tf.Scalar => {
    const mb = batch / micro;
    let sum: Record<string, tf.Tensor> = {};
    for (let m = 0; m < micro; m++) {
      const grads = tf.tidy(() => {
        const xm = micro === 1 ? x : tf.slice(x, m * mb, mb);
        const em = micro === 1 ? eps : tf.slice(eps, m * mb, mb);
        const { grads: g } = tf.variableGrads(
          () => meanSquaredError(model.apply(asWeights(state.params), { x: xm, t: t.subarray(m * mb, (m + 1) * mb), labels: null, training: true, seed }), em),
          vars,
        );
        return Object.fromEntries(Object.entries(g).map(([k, v]) => [k, sum[k] ? tf.add(sum[k], tf.div(v, micro)) : micro === 1 ? v : tf.div(v, micro)]));
      });
      tf.dispose(Object.values(sum));
      sum = grads;
    }
    const named = new Map(Object.entries(sum).map(([k, g]) => [nameOf.get(k) as string, g]));
    const norm = tf.tidy(() => adamStep(state.params, named, state.adam, LR, 1, ema === 'with-adam' ? { weights: state.ema, decay: DECAY } : undefined));
    if (ema === 'after-adam') updateEma(state.ema, state.params, DECAY);
    tf.dispose(Object.values(sum));
    return norm;
  };
  let seedNow = 0;
  const replayer = replay
    ? stepReplayer({
      run: () => [step(seedNow)],
      persistent: () => [...state.params.values(), ...state.adam.m.values(), ...state.adam.v.values(), ...state.ema.values(), x, eps],
      params: () => ({ [REPLAY_PARAMS.adam]: { ...adamAttrsAt(state.adam.t + 1, LR), emaDecay: DECAY } satisfies AdamReplayParam, [REPLAY_PARAMS.time]: t }),
      replayed: () => {
        state.adam.t += 1;
      },
    })
    : null;
  return {
    params: model.params.count(),
    step: (seed, micro = 1) => {
      if (!replayer || micro !== 1) return step(seed, micro);
      seedNow = seed;
      return replayer.step()[0] as tf.Scalar;
    },
    replayStatus: () => replayer?.status() ?? null,
    dispose: () => {
      replayer?.dispose();
      tf.dispose([x, eps]);
      disposeModelState(state);
    },
  };
}

export interface TorchTiming {
  ms: number[];
  params: number;
  torch: string;
  device: string;
}

/** The same UNet's step in PyTorch through `python`; the result, or why it failed. */
export function timeTorchUnet(python: string, spec: ModelSpec, batch: number, warmup: number, steps: number, run: { threads: number; device?: 'cuda' }): TorchTiming | string {
  const m = { baseChannels: 16, channelMults: [1, 2], resBlocks: 1, groups: 8, attentionResolutions: [] as number[], ...spec.model };
  const arg = JSON.stringify({
    size: spec.size,
    channels: spec.channels,
    base: m.baseChannels,
    mults: m.channelMults,
    resBlocks: m.resBlocks,
    attn: m.attentionResolutions,
    groups: m.groups,
    batch,
    warmup,
    steps,
    ...run,
  });
  // Beside the bundle in the packed benchmark (scripts/pack-gpu-bench.mjs), else in the checkout.
  const script = [path.join(__dirname, 'torch_unet.py'), path.resolve(__dirname, '../bench/torch_unet.py')].find((p) => existsSync(p)) ?? 'bench/torch_unet.py';
  const r = spawnSync(python, [script, arg], { encoding: 'utf8' });
  if (r.status !== 0) return `PyTorch run failed: ${r.stderr.trim().split('\n').pop()}`;
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as TorchTiming;
}
