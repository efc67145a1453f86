/**
 * Registers the native addon's kernels on the TF.js wasm backend: Conv2D and both of its
 * gradients (oneDNN), a conv + bias with its filter-and-bias gradient, and a fused GroupNorm +
 * SiLU with its gradient, split / concat along the last axis, and a one-kernel Adam update. Tensors stay in the wasm
 * heap; the addon reads and writes them in place. Without the addon nothing is registered and the
 * portable kernels (wasmConvGrads.ts, the composite GroupNorm) are used.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels, type NativeKernels, type NativeLoad } from './nativeAddon';

const BACKEND = 'wasm';
export const GROUP_NORM_SILU = 'ImmiscibleGroupNormSilu';
export const GROUP_NORM_SILU_GRAD = 'ImmiscibleGroupNormSiluGrad';
export const CONV2D_BIAS = 'ImmiscibleConv2DBias';
export const CONV2D_BACKPROP_FILTER_BIAS = 'ImmiscibleConv2DBackpropFilterBias';
export const ADAM_UPDATE = 'ImmiscibleAdam';
/** The sum of the squares of all elements of its inputs, as partial sums (a vector: its total is the sum); on 'webgpu' only. */
export const SUM_SQUARES = 'ImmiscibleSumSquares';
/**
 * ADAM_UPDATE, then EMA_UPDATE of the new weight: inputs p, g, m, v, scale, ema; attrs AdamAttrs
 * and emaDecay; outputs p', m', v', ema' (an input itself where updated in place). On 'webgpu' only.
 */
export const ADAM_EMA_UPDATE = 'ImmiscibleAdamEma';
/** decay * ema + (1 - decay) * param, attrs { decay }; on 'webgpu' only. */
export const EMA_UPDATE = 'ImmiscibleEma';
/**
 * ADAM_UPDATE (and with attr emaDecay, ADAM_EMA_UPDATE) of `count` parameters in one kernel call:
 * inputs p0, g0, m0, v0 (and e0), p1, ..., scale; outputs p0', m0', v0' (and e0'), p1', ... On
 * 'webgpu' only, where one dispatch updates as many tensors as the device's bindings allow.
 */
export const ADAM_MULTI_UPDATE = 'ImmiscibleAdamMulti';

export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  bc1: number;
  bc2: number;
}

interface ConvAttrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type Shape4 = [number, number, number, number];

function convInfo(kernel: string, xShape: Shape4, filterShape: Shape4, a: ConvAttrs): tf.backend_util.Conv2DInfo {
  if (a.dataFormat === 'NCHW') throw new Error(`native ${kernel}: dataFormat 'NCHW' is not supported; use 'NHWC'`);
  return tf.backend_util.computeConv2DInfo(xShape, filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
}

/** The 17 integers the addon's conv entry points take (see native/src/kernels.cc). */
function convShape(i: tf.backend_util.Conv2DInfo): Int32Array {
  const p = i.padInfo;
  return Int32Array.from([
    i.batchSize, i.inHeight, i.inWidth, i.inChannels, i.outHeight, i.outWidth, i.outChannels, i.filterHeight, i.filterWidth,
    i.strideHeight, i.strideWidth, p.top, p.left, p.bottom, p.right, i.dilationHeight, i.dilationWidth,
  ]);
}

function shape4(t: tf.TensorInfo, what: string): Shape4 {
  if (t.shape.length !== 4) throw new Error(`native conv: '${what}' must be rank 4, got [${t.shape.join(', ')}]`);
  return t.shape as Shape4;
}

function f32(backend: BackendWasm, t: tf.TensorInfo): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`native kernel: expected float32, got ${t.dtype}`);
  return backend.typedArrayFromHeap(t) as Float32Array;
}

function kernels(native: NativeKernels): tf.KernelConfig[] {
  // Outputs are allocated first: an allocation can grow the wasm memory and detach older views.
  const conv2d: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const info = convInfo('Conv2D', shape4(x, 'x'), shape4(filter, 'filter'), attrs as unknown as ConvAttrs);
    const out = b.makeOutput(info.outShape, 'float32');
    if (tf.util.sizeFromShape(info.outShape) > 0) native.conv2d(f32(b, x), f32(b, filter), null, f32(b, out), convShape(info));
    return out;
  };
  const backpropInput: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const info = convInfo('Conv2DBackpropInput', a.inputShape, shape4(filter, 'filter'), a);
    const out = b.makeOutput(a.inputShape, 'float32');
    if (tf.util.sizeFromShape(a.inputShape) > 0) native.conv2dBackpropInput(f32(b, dy), f32(b, filter), f32(b, out), convShape(info));
    return out;
  };
  const backpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const info = convInfo('Conv2DBackpropFilter', shape4(x, 'x'), a.filterShape, a);
    const out = b.makeOutput(a.filterShape, 'float32');
    if (tf.util.sizeFromShape(a.filterShape) > 0) native.conv2dBackpropFilter(f32(b, x), f32(b, dy), f32(b, out), null, convShape(info));
    return out;
  };
  // Conv2D + bias, and the filter and bias gradients in one pass: the bias add and the reduction
  // of dy over batch and positions were 15% of a UNet step as separate wasm kernels.
  const conv2dBias: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { x, filter, bias } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo; bias: tf.TensorInfo };
    const info = convInfo('Conv2D', shape4(x, 'x'), shape4(filter, 'filter'), attrs as unknown as ConvAttrs);
    if (bias.shape.length !== 1 || bias.shape[0] !== info.outChannels) throw new Error(`native conv2d: bias must be [${info.outChannels}], got [${bias.shape.join(', ')}]`);
    const out = b.makeOutput(info.outShape, 'float32');
    if (tf.util.sizeFromShape(info.outShape) > 0) native.conv2d(f32(b, x), f32(b, filter), f32(b, bias), f32(b, out), convShape(info));
    return out;
  };
  const backpropFilterBias: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const info = convInfo('Conv2DBackpropFilter', shape4(x, 'x'), a.filterShape, a);
    const dw = b.makeOutput(a.filterShape, 'float32');
    const db = b.makeOutput([info.outChannels], 'float32');
    native.conv2dBackpropFilter(f32(b, x), f32(b, dy), f32(b, dw), f32(b, db), convShape(info));
    return [dw, db];
  };
  const groupNormSilu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { groups, eps, silu } = attrs as unknown as GroupNormSiluAttrs;
    const [n, h, w, c] = shape4(x, 'x');
    const y = b.makeOutput(x.shape, 'float32');
    const mean = b.makeOutput([n, groups], 'float32');
    const rstd = b.makeOutput([n, groups], 'float32');
    native.groupNormSilu(f32(b, x), f32(b, gamma), f32(b, beta), f32(b, y), f32(b, mean), f32(b, rstd), eps, silu, Int32Array.from([n, h * w, c, groups]));
    return [y, mean, rstd];
  };
  const groupNormSiluGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { dy, x, gamma, beta, mean, rstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'beta' | 'mean' | 'rstd', tf.TensorInfo>;
    const { groups, silu } = attrs as unknown as GroupNormSiluAttrs;
    const [n, h, w, c] = shape4(x, 'x');
    const dx = b.makeOutput(x.shape, 'float32');
    const dgamma = b.makeOutput([c], 'float32');
    const dbeta = b.makeOutput([c], 'float32');
    native.groupNormSiluGrad(
      f32(b, dy), f32(b, x), f32(b, gamma), f32(b, beta), f32(b, mean), f32(b, rstd), f32(b, dx), f32(b, dgamma), f32(b, dbeta), silu,
      Int32Array.from([n, h * w, c, groups]),
    );
    return [dx, dgamma, dbeta];
  };
  // Split and concat along the last axis (the UNet's skip connections); others go to wasm's own.
  // The stock setupFuncs stay with our kernels: they bind the wasm functions the fallbacks call
  // when the backend starts.
  const stockSplitConfig = tf.getKernel(tf.SplitV, BACKEND);
  const stockConcatConfig = tf.getKernel(tf.Concat, BACKEND);
  const stockSplit = stockSplitConfig?.kernelFunc;
  const stockConcat = stockConcatConfig?.kernelFunc;
  const splitV: tf.KernelFunc = (args) => {
    const b = args.backend as BackendWasm;
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
    const last = x.shape.length - 1;
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (ax !== last || x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) === 0 || !stockSplit) {
      if (!stockSplit) throw new Error('native SplitV: the stock wasm kernel is missing');
      return stockSplit(args);
    }
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    const outs = sizes.map((n) => b.makeOutput([...x.shape.slice(0, last), n], 'float32'));
    native.splitLast(f32(b, x), outs.map((o) => f32(b, o)), Int32Array.from(sizes), tf.util.sizeFromShape(x.shape.slice(0, last)));
    return outs;
  };
  const concat: tf.KernelFunc = (args) => {
    const b = args.backend as BackendWasm;
    const ins = args.inputs as unknown as tf.TensorInfo[];
    const { axis } = args.attrs as unknown as tf.ConcatAttrs;
    const rank = ins[0]?.shape.length ?? 0;
    const ax = rank ? tf.util.parseAxisParam(axis, ins[0].shape)[0] : -1;
    const plain = rank > 0 && ax === rank - 1 && ins.every((t) => t.dtype === 'float32' && t.shape.length === rank && tf.util.sizeFromShape(t.shape) > 0);
    const lead = plain ? ins[0].shape.slice(0, -1) : [];
    if (!plain || !ins.every((t) => tf.util.arraysEqual(t.shape.slice(0, -1), lead)) || !stockConcat) {
      if (!stockConcat) throw new Error('native Concat: the stock wasm kernel is missing');
      return stockConcat(args);
    }
    const sizes = ins.map((t) => t.shape[rank - 1]);
    const out = b.makeOutput([...lead, sizes.reduce((p, q) => p + q, 0)], 'float32');
    native.concatLast(ins.map((t) => f32(b, t)), f32(b, out), Int32Array.from(sizes), tf.util.sizeFromShape(lead));
    return out;
  };
  const adam: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const b = backend as BackendWasm;
    const { p, g, m, v, scale } = inputs as Record<'p' | 'g' | 'm' | 'v' | 'scale', tf.TensorInfo>;
    const h = attrs as unknown as AdamAttrs;
    const n = tf.util.sizeFromShape(p.shape);
    for (const [what, t] of [['g', g], ['m', m], ['v', v]] as const) {
      if (tf.util.sizeFromShape(t.shape) !== n) throw new Error(`native adam: ${what} has ${tf.util.sizeFromShape(t.shape)} elements, the parameter ${n}`);
    }
    const outs = [b.makeOutput(p.shape, 'float32'), b.makeOutput(p.shape, 'float32'), b.makeOutput(p.shape, 'float32')];
    if (n > 0) {
      const hyper = Float32Array.from([h.lr, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.eps, h.bc1, h.bc2]);
      native.adam(f32(b, p), f32(b, g), f32(b, m), f32(b, v), f32(b, scale), f32(b, outs[0]), f32(b, outs[1]), f32(b, outs[2]), hyper, n);
    }
    return outs;
  };
  return [
    { kernelName: ADAM_UPDATE, backendName: BACKEND, kernelFunc: adam },
    { kernelName: tf.SplitV, backendName: BACKEND, kernelFunc: splitV, setupFunc: stockSplitConfig?.setupFunc },
    { kernelName: tf.Concat, backendName: BACKEND, kernelFunc: concat, setupFunc: stockConcatConfig?.setupFunc },
    { kernelName: tf.Conv2D, backendName: BACKEND, kernelFunc: conv2d },
    { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: backpropInput },
    { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: backpropFilter },
    { kernelName: CONV2D_BIAS, backendName: BACKEND, kernelFunc: conv2dBias },
    { kernelName: CONV2D_BACKPROP_FILTER_BIAS, backendName: BACKEND, kernelFunc: backpropFilterBias },
    { kernelName: GROUP_NORM_SILU, backendName: BACKEND, kernelFunc: groupNormSilu },
    { kernelName: GROUP_NORM_SILU_GRAD, backendName: BACKEND, kernelFunc: groupNormSiluGrad },
  ];
}

export interface GroupNormSiluAttrs {
  groups: number;
  eps: number;
  silu: boolean;
}

let registered: NativeLoad | null = null;
/** Built once: they capture the stock split/concat kernels they fall back to. */
let configs: tf.KernelConfig[] = [];

/**
 * Loads the addon and registers its kernels on wasm (replacing the stock and portable ones).
 * Idempotent, and it restores our kernels where a later registration (selectBackend registers
 * the portable conv gradients on every call) replaced them. Returns the load result so the
 * caller can say which kernels a run got.
 */
export function registerNativeKernels(): NativeLoad {
  if (!registered) {
    registered = loadNativeKernels();
    if (registered.ok) configs = kernels(registered.kernels);
  }
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel(config);
  }
  return registered;
}

/** The kernels every backend with fused kernels has (nativeKernels.ts on wasm, webgpuKernels.ts on webgpu). */
const FUSED = [ADAM_UPDATE, GROUP_NORM_SILU, GROUP_NORM_SILU_GRAD, CONV2D_BIAS, CONV2D_BACKPROP_FILTER_BIAS];

/** True when the fused kernels (conv + bias, GroupNorm + SiLU, Adam) can run on the active backend. */
export function fusedKernelsAvailable(): boolean {
  const backend = tf.getBackend();
  return FUSED.every((k) => tf.getKernel(k, backend) != null);
}
