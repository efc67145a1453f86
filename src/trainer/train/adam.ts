/**
 * Adam (Kingma & Ba) with bias correction and global-norm gradient clipping, kept in our own
 * variables so its whole state goes into checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_EMA_UPDATE, ADAM_MULTI_UPDATE, ADAM_UPDATE, fusedKernelsAvailable, SUM_SQUARES, type AdamAttrs } from '../backend/nativeKernels';
import { updateEma } from './ema';

export interface AdamState {
  t: number;
  m: Map<string, tf.Variable>;
  v: Map<string, tf.Variable>;
}

export const ADAM = { beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export function newAdamState(params: Map<string, tf.Variable>): AdamState {
  const zeros = (): Map<string, tf.Variable> =>
    new Map([...params].map(([k, p]) => [k, tf.tidy(() => tf.variable(tf.zerosLike(p), false))]));
  return { t: 0, m: zeros(), v: zeros() };
}

/** Adam's attributes at step `t` (counting from 1): the bias corrections of that step. */
export function adamAttrsAt(t: number, lr: number): AdamAttrs {
  return { lr, beta1: ADAM.beta1, beta2: ADAM.beta2, eps: ADAM.eps, bc1: 1 - ADAM.beta1 ** t, bc2: 1 - ADAM.beta2 ** t };
}

/** Learning rate with linear warm-up over `warmup` steps (step counts from 1). */
export function learningRate(step: number, lr: number, warmup: number): number {
  return warmup > 0 ? lr * Math.min(1, step / warmup) : lr;
}

/**
 * How many tensors one AddN may take on the active backend: a WebGPU shader binds every input as
 * a storage buffer, and devices allow as few as 8 per stage (one is the output), so more inputs
 * fail with a validation error (and a silently wrong result). Unlimited elsewhere.
 */
function maxAddNInputs(): number {
  const limits = (tf.backend() as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits;
  const n = limits?.maxStorageBuffersPerShaderStage;
  return typeof n === 'number' && n >= 3 ? n - 1 : Infinity;
}

/** tf.addN, split into nested sums of at most `max` tensors where the backend needs it. */
function addMany(ts: tf.Tensor[], max: number): tf.Tensor {
  if (ts.length <= max) return tf.addN(ts);
  const parts: tf.Tensor[] = [];
  for (let i = 0; i < ts.length; i += max) parts.push(tf.addN(ts.slice(i, i + max)));
  return addMany(parts, max);
}

/** The global L2 norm of all gradients, as a scalar tensor (no read-back). */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (tf.getKernel(SUM_SQUARES, tf.getBackend()) != null) {
      // Where the backend sums squares of many tensors in one kernel (webgpu): far fewer
      // dispatches. It returns partial sums.
      return tf.sqrt(tf.sum(tf.engine().runKernel(SUM_SQUARES, grads as unknown as tf.NamedTensorMap) as tf.Tensor)) as tf.Scalar;
    }
    return tf.sqrt(addMany(grads.map((g) => tf.sum(tf.square(g))), maxAddNInputs())) as tf.Scalar;
  });
}

/**
 * Assigns each kernel output to its variable, except where it is the variable's own data (updated
 * in place: webgpu, where nothing else holds the data). In the kernels' order: p, m, v, then e.
 */
function keepUpdates(vars: (tf.Variable | undefined)[], outs: tf.Tensor[]): void {
  vars.forEach((x, i) => {
    if (x && outs[i].dataId !== x.dataId) x.assign(outs[i]);
  });
}

/** The EMA of the weights to update after the step, from the new weights. */
export interface EmaStep {
  weights: Map<string, tf.Variable>;
  decay: number;
}

/**
 * Applies one Adam update in place, then `ema`'s update if given (in the same kernel where the
 * backend has one: webgpu). Gradients are scaled by min(1, clip / norm) when clip > 0.
 * Returns the unclipped gradient norm tensor (caller disposes).
 */
export function adamStep(
  params: Map<string, tf.Variable>,
  grads: Map<string, tf.Tensor>,
  state: AdamState,
  lr: number,
  clip: number,
  ema?: EmaStep,
): tf.Scalar {
  const norm = globalNorm([...grads.values()]);
  state.t += 1;
  const attrs = adamAttrsAt(state.t, lr);
  const { bc1, bc2 } = attrs;
  tf.tidy(() => {
    // Fill makes the constant on the GPU; a number here would be a scalar uploaded each step.
    const c = tf.fill([], clip > 0 ? clip : 1);
    const scale = clip > 0 ? tf.div(c, tf.maximum(norm, c)) : c;
    if (fusedKernelsAvailable()) {
      // One kernel per parameter (native addon, webgpu): the same update, about 14x fewer kernel calls.
      const withEma = ema != null && tf.getKernel(ADAM_EMA_UPDATE, tf.getBackend()) != null;
      // webgpu: all parameters in one kernel call, several per dispatch (with the EMA, when every
      // updated parameter has its average: the kernel takes one set of attributes for all).
      const multi = tf.getKernel(ADAM_MULTI_UPDATE, tf.getBackend()) != null && (!withEma || [...params.keys()].every((name) => !grads.has(name) || ema?.weights.has(name)));
      const batch: { p: tf.Variable; m: tf.Variable; v: tf.Variable; e?: tf.Variable }[] = [];
      const inputs: tf.NamedTensorMap = {};
      for (const [name, p] of params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = state.m.get(name) as tf.Variable;
        const v = state.v.get(name) as tf.Variable;
        const e = withEma ? ema?.weights.get(name) : undefined;
        if (multi) {
          const k = batch.length;
          Object.assign(inputs, { [`p${k}`]: p, [`g${k}`]: g, [`m${k}`]: m, [`v${k}`]: v, ...(e ? { [`e${k}`]: e } : {}) });
          batch.push({ p, m, v, e });
          continue;
        }
        const [p2, m2, v2, e2] = e
          ? (tf.engine().runKernel(ADAM_EMA_UPDATE, { p, g, m, v, scale, ema: e }, { ...attrs, emaDecay: ema?.decay } as unknown as tf.NamedAttrMap) as tf.Tensor[])
          : (tf.engine().runKernel(ADAM_UPDATE, { p, g, m, v, scale }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]);
        keepUpdates([p, m, v, e], [p2, m2, v2, e2]);
      }
      if (batch.length > 0) {
        const outs = tf.engine().runKernel(ADAM_MULTI_UPDATE, { ...inputs, scale }, { ...attrs, count: batch.length, ...(withEma ? { emaDecay: ema?.decay } : {}) } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        const per = withEma ? 4 : 3;
        batch.forEach(({ p, m, v, e }, k) => {
          keepUpdates([p, m, v, e], outs.slice(k * per, k * per + per));
        });
      }
      // The averages the kernel did not update (no gradient, or no fused kernel).
      if (ema) {
        const rest = withEma ? new Map([...ema.weights].filter(([name]) => !grads.has(name) || !params.has(name))) : ema.weights;
        if (rest.size > 0) updateEma(rest, params, ema.decay);
      }
      return;
    }
    for (const [name, p] of params) {
      const g0 = grads.get(name);
      if (!g0) continue;
      const g = tf.mul(g0, scale);
      const m = state.m.get(name) as tf.Variable;
      const v = state.v.get(name) as tf.Variable;
      m.assign(tf.add(tf.mul(m, ADAM.beta1), tf.mul(g, 1 - ADAM.beta1)));
      v.assign(tf.add(tf.mul(v, ADAM.beta2), tf.mul(tf.square(g), 1 - ADAM.beta2)));
      const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), ADAM.eps));
      p.assign(tf.sub(p, tf.mul(update, lr)));
    }
    if (ema) updateEma(ema.weights, params, ema.decay);
  });
  return norm;
}
