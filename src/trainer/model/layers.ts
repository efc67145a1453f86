/**
 * Functional layers: each takes the model's weights by name, so the same code runs with the
 * trainable variables and with their EMA copies. NHWC throughout.
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { CONV2D_BACKPROP_FILTER_BIAS, CONV2D_BIAS, fusedKernelsAvailable, GROUP_NORM_SILU, GROUP_NORM_SILU_GRAD, type GroupNormSiluAttrs } from '../backend/nativeKernels';
import { MAX_GROUP_CHANNELS } from '../backend/webgpuKernels';
import { REPLAY_PARAMS, tagUpload, timeParam } from '../backend/webgpuCapture';
import type { ParamRegistry, Weights } from './params';

export function w(weights: Weights, name: string): tf.Tensor {
  const t = weights[name];
  if (!t) throw new Error(`missing weight ${name}`);
  return t;
}

export function declareConv(reg: ParamRegistry, name: string, k: number, cin: number, cout: number, zero = false): void {
  if (zero) reg.add(`${name}.w`, [k, k, cin, cout], { kind: 'zeros' });
  else reg.he(`${name}.w`, [k, k, cin, cout], k * k * cin);
  reg.add(`${name}.b`, [cout], { kind: 'zeros' });
}

/** conv2d ('same') + bias as one kernel each way (native addon on wasm), with its own gradient. */
function fusedConvBias(x: tf.Tensor4D, filter: tf.Tensor4D, bias: tf.Tensor, stride: number): tf.Tensor4D {
  const attrs = { strides: [stride, stride], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] };
  // customGrad passes the inputs, then the save function, as one variadic list.
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, f, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const y = tf.engine().runKernel(CONV2D_BIAS, { x: xi, filter: f, bias: b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    save([xi, f]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sf] = saved;
        const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: sf }, { ...attrs, inputShape: sx.shape } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const [dw, db] = tf.engine().runKernel(CONV2D_BACKPROP_FILTER_BIAS, { x: sx, dy }, { ...attrs, filterShape: sf.shape } as unknown as tf.NamedAttrMap) as tf.Tensor[];
        return [dx, dw, db];
      },
    };
  });
  return op(x, filter, bias) as tf.Tensor4D;
}

export function conv(weights: Weights, name: string, x: tf.Tensor4D, stride = 1): tf.Tensor4D {
  const k = w(weights, `${name}.w`) as tf.Tensor4D;
  if (fusedKernelsAvailable() && x.dtype === 'float32') return fusedConvBias(x, k, w(weights, `${name}.b`), stride);
  return tf.add(tf.conv2d(x, k, stride, 'same'), w(weights, `${name}.b`));
}

export function declareDense(reg: ParamRegistry, name: string, cin: number, cout: number, zero = false): void {
  if (zero) reg.add(`${name}.w`, [cin, cout], { kind: 'zeros' });
  else reg.he(`${name}.w`, [cin, cout], cin);
  reg.add(`${name}.b`, [cout], { kind: 'zeros' });
}

export function dense(weights: Weights, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return tf.add(tf.matMul(x, w(weights, `${name}.w`) as tf.Tensor2D), w(weights, `${name}.b`));
}

export function declareGroupNorm(reg: ParamRegistry, name: string, ch: number): void {
  reg.add(`${name}.gamma`, [ch], { kind: 'ones' });
  reg.add(`${name}.beta`, [ch], { kind: 'zeros' });
}

export function groupNorm(weights: Weights, name: string, x: tf.Tensor4D, groups: number, eps = 1e-5): tf.Tensor4D {
  const [b, h, wd, c] = x.shape;
  const g = Math.min(groups, c);
  const xg = tf.reshape(x, [b, h, wd, g, c / g]);
  const { mean, variance } = tf.moments(xg, [1, 2, 4], true);
  const norm = tf.reshape(tf.div(tf.sub(xg, mean), tf.sqrt(tf.add(variance, eps))), [b, h, wd, c]);
  return tf.add(tf.mul(norm, w(weights, `${name}.gamma`)), w(weights, `${name}.beta`));
}

/**
 * x * sigmoid(x), with its gradient dy * (s + y - y * s) written without constants: autodiff's
 * (through Sigmoid's 1 - s) makes a scalar on the CPU each call, one upload per call on the GPU.
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return siluOp(x) as tf.Tensor;
}

const siluOp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const xi = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  const s = tf.sigmoid(xi);
  const y = tf.mul(xi, s);
  save([s, y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [ss, sy] = saved;
      return tf.mul(dy, tf.sub(tf.add(ss, sy), tf.mul(sy, ss)));
    },
  };
});

/** GroupNorm then SiLU in one kernel each way (native addon on wasm), with its own gradient. */
function fusedGroupNormSilu(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, attrs: GroupNormSiluAttrs): tf.Tensor4D {
  // customGrad passes the inputs, then the save function, as one variadic list.
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const [y, mean, rstd] = tf.engine().runKernel(GROUP_NORM_SILU, { x: xi, gamma: g, beta: b }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    save([xi, g, b, mean, rstd]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sg, sb, sm, sr] = saved;
        return tf.engine().runKernel(GROUP_NORM_SILU_GRAD, { dy, x: sx, gamma: sg, beta: sb, mean: sm, rstd: sr }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** silu(groupNorm(x)): fused where the backend has the kernel, else the composite ops. */
export function groupNormSilu(weights: Weights, name: string, x: tf.Tensor4D, groups: number, eps = 1e-5): tf.Tensor4D {
  const g = Math.min(groups, x.shape[3]);
  if (fusedKernelsAvailable() && x.dtype === 'float32' && x.shape[3] / g <= MAX_GROUP_CHANNELS) {
    return fusedGroupNormSilu(x, w(weights, `${name}.gamma`), w(weights, `${name}.beta`), { groups: g, eps, silu: true });
  }
  return silu(groupNorm(weights, name, x, groups, eps)) as tf.Tensor4D;
}

/**
 * Nearest-neighbour 2x upsampling by broadcasting, whose gradient is a plain sum on every backend.
 * The ones come from Fill, a kernel on the GPU; tf.ones would be made on the CPU and uploaded.
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, wd, c] = x.shape;
  const expanded = tf.mul(tf.reshape(x, [b, h, 1, wd, 1, c]), tf.fill([1, 1, 2, 1, 2, 1], 1));
  return tf.reshape(expanded, [b, h * 2, wd * 2, c]);
}

/** Sinusoidal embedding of the timestep (Vaswani et al.; as in DDPM), [t.length, dim] row-major. */
export function sinusoids(t: Float32Array, dim: number): Float32Array {
  const half = Math.floor(dim / 2);
  const out = new Float32Array(t.length * dim);
  for (let i = 0; i < t.length; i++) {
    for (let j = 0; j < half; j++) {
      const freq = Math.exp((-Math.log(10000) * j) / half);
      out[i * dim + j] = Math.sin(t[i] * freq);
      out[i * dim + half + j] = Math.cos(t[i] * freq);
    }
  }
  return out;
}

/**
 * The timestep's sinusoidal embedding as a tensor (made on the CPU: a replayed step makes it anew
 * from the time input of the step's network call `slot`).
 */
export function timestepEmbedding(t: Float32Array, dim: number, slot = 0): tf.Tensor2D {
  return tagUpload(tf.tensor2d(sinusoids(t, dim), [t.length, dim]), { param: timeParam(slot), encode: (v) => sinusoids(v as Float32Array, dim) });
}

/** `n` uniform draws in [0, 1) for `seed`, as tfjs's randomUniform makes them (seedrandom's alea). */
export function uniformDraws(seed: number, n: number): Float32Array {
  const random = seedrandom.alea(String(seed));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = random();
  return out;
}

/**
 * tf.dropout(x, rate, undefined, seed), the same values: its mask's draws are made here, tagged
 * so that a replayed step (webgpuReplay.ts) makes them anew. `seedOf(s)` is this call's seed when
 * the step's seed is `s`.
 */
export function dropout(x: tf.Tensor, rate: number, seed: number, seedOf: (stepSeed: number) => number): tf.Tensor {
  const n = x.size;
  const u = tagUpload(tf.tensor(uniformDraws(seed, n), x.shape), { param: REPLAY_PARAMS.seed, encode: (s) => uniformDraws(seedOf(s as number), n) });
  const keep = 1 - rate;
  return tf.mul(x, tf.div(tf.floor(tf.add(u, keep)), keep));
}
