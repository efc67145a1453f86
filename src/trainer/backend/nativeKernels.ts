/**
 * Registers the native addon's kernels on the TF.js wasm backend: Conv2D and both of its
 * gradients (oneDNN), and a fused GroupNorm + SiLU with its gradient. Tensors stay in the wasm
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
    if (tf.util.sizeFromShape(a.filterShape) > 0) native.conv2dBackpropFilter(f32(b, x), f32(b, dy), f32(b, out), convShape(info));
    return out;
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
  return [
    { kernelName: tf.Conv2D, backendName: BACKEND, kernelFunc: conv2d },
    { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: backpropInput },
    { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: backpropFilter },
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

/**
 * Loads the addon and registers its kernels on wasm (replacing the stock and portable ones).
 * Idempotent; returns the load result so the caller can say which kernels a run got.
 */
export function registerNativeKernels(): NativeLoad {
  if (registered) return registered;
  const load = loadNativeKernels();
  if (load.ok) {
    for (const config of kernels(load.kernels)) {
      if (tf.getKernel(config.kernelName, BACKEND) != null) tf.unregisterKernel(config.kernelName, BACKEND);
      tf.registerKernel(config);
    }
  }
  return (registered = load);
}

/** True when the fused GroupNorm + SiLU kernel can run on the active backend. */
export function fusedGroupNormAvailable(): boolean {
  return registered?.ok === true && tf.getBackend() === BACKEND;
}
