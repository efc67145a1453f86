// Conv2D gradient kernels for the TF.js wasm backend, built on wasm's fast forward Conv2D.
//
// Why: as shipped, tfjs-backend-wasm 4.22 registers no `Conv2DBackpropFilter` (so a conv net
// cannot be trained on wasm at all), and its `Conv2DBackpropInput` is a scalar C loop about 10x
// slower than XNNPACK's convolution. Both gradients are convolutions themselves, so we express
// them through the forward `Conv2D` kernel (XNNPACK, SIMD) on rearranged tensors:
//   - filter gradient: correlate the input (channels moved to the batch axis) with the output
//     gradient (used as the filter), the forward stride becoming a dilation;
//   - input gradient: correlate the output gradient, zero-stuffed by the stride, with the
//     spatially flipped filter whose in/out channels are swapped.
// See docs/benchmarks.md.
import * as tf from '@tensorflow/tfjs';
// Imported for its side effect: the stock wasm kernels must be registered before we replace
// `Conv2DBackpropInput`, or its later registration would overwrite ours.
import '@tensorflow/tfjs-backend-wasm';

const BACKEND = 'wasm';

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type Shape4 = [number, number, number, number];

interface ConvGradAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The engine hands kernels the tensors that ops passed to `runKernel`; we need them as Tensors
 * to run tf ops on them. Wrapping a bare TensorInfo would need our own refcount bookkeeping,
 * and no caller of these two kernels passes one, so refuse it loudly instead.
 */
function asTensor4D(info: tf.TensorInfo | undefined, what: string): tf.Tensor4D {
  if (!(info instanceof tf.Tensor) || info.rank !== 4) {
    throw new Error(`wasm conv gradient: '${what}' must be a rank-4 tf.Tensor`);
  }
  return info as tf.Tensor4D;
}

function convInfoFor(kernel: string, xShape: Shape4, filterShape: Shape4, attrs: ConvGradAttrs): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === 'NCHW') {
    // The wasm forward Conv2D itself only supports NHWC, so no NCHW model can reach here.
    throw new Error(`wasm ${kernel}: dataFormat 'NCHW' is not supported; use 'NHWC'`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1, // these kernels carry no dilations: tfjs only differentiates conv2d with dilation 1
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * Explicit conv padding for rows/cols; negative amounts cannot be expressed as padding, so they
 * become a crop of `t` first (happens e.g. for 'valid' convs whose last input rows are unused).
 */
function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): { t: tf.Tensor4D; pad: tf.backend_util.ExplicitPadding } {
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  let out = t;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    const [b, h, w, c] = t.shape;
    out = tf.slice(t, [0, cropTop, cropLeft, 0], [b, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
  }
  const pad: tf.backend_util.ExplicitPadding = [
    [0, 0],
    [Math.max(0, top), Math.max(0, bottom)],
    [Math.max(0, left), Math.max(0, right)],
    [0, 0],
  ];
  return { t: out, pad };
}

/**
 * dw[fh, fw, ci, co] = sum_{b,i,j} x[b, i*sh - top + fh, j*sw - left + fw, ci] * dy[b, i, j, co]
 * which is a stride-1 conv, dilated by the forward stride, of x as [Ci, H, W, B] with dy as a
 * [OH, OW, B, Co] filter, giving [Ci, FH, FW, Co].
 */
function conv2DBackpropFilterViaConv(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: Shape4, attrs: ConvGradAttrs): tf.Tensor4D {
  const info = convInfoFor('Conv2DBackpropFilter', x.shape, filterShape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const [, h, w] = x.shape;
  const [, oh, ow] = dy.shape;
  return tf.tidy(() => {
    const xT = tf.transpose(x, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    // Rows read by tap fh: fh - top + i*sh for i < oh; the conv's output must be exactly fh taps.
    const effH = (oh - 1) * sh + 1;
    const effW = (ow - 1) * sw + 1;
    const bottom = fh - 1 + effH - h - padInfo.top;
    const right = fw - 1 + effW - w - padInfo.left;
    const { t, pad } = padOrCrop(xT, padInfo.top, bottom, padInfo.left, right);
    const g = tf.conv2d(t, dyT, 1, pad, 'NHWC', [sh, sw]);
    return tf.transpose(g, [1, 2, 0, 3]);
  });
}

/** Inserts stride-1 zeros after every row/column: [B, OH, OW, C] -> [B, OH*sh, OW*sw, C]. */
function zeroStuff(dy: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [b, oh, ow, c] = dy.shape;
  // Two rank-4 pads rather than one rank-6 pad keep to shapes every wasm kernel handles.
  const cols = tf.pad(tf.reshape(dy, [b * oh, ow, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
  const rows = tf.pad(tf.reshape(cols, [b, oh, 1, ow * sw * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
  return tf.reshape(rows, [b, oh * sh, ow * sw, c]);
}

/**
 * dx[b, y, x, ci] = sum dy[b, i, j, co] * w[fh, fw, ci, co] over y = i*sh - top + fh: a stride-1
 * conv of the zero-stuffed dy (padded by FH-1-top) with the flipped filter as [FH, FW, Co, Ci].
 */
function conv2DBackpropInputViaConv(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: Shape4, attrs: ConvGradAttrs): tf.Tensor4D {
  const info = convInfoFor('Conv2DBackpropInput', inputShape, filter.shape, attrs);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, padInfo } = info;
  const [, h, w] = inputShape;
  return tf.tidy(() => {
    const wT = tf.transpose(fh === 1 && fw === 1 ? filter : tf.reverse(filter, [0, 1]), [0, 1, 3, 2]);
    const dyd = zeroStuff(dy, sh, sw);
    const [, hd, wd] = dyd.shape;
    const top = fh - 1 - padInfo.top;
    const left = fw - 1 - padInfo.left;
    // Output rows = hd + top + bottom - fh + 1 must equal the input height h.
    const bottom = h + fh - 1 - top - hd;
    const right = w + fw - 1 - left - wd;
    const { t, pad } = padOrCrop(dyd, top, bottom, left, right);
    return tf.conv2d(t, wT, 1, pad, 'NHWC');
  });
}

// The kernels return the Tensor made inside tidy: the engine takes an output that already is a
// Tensor as is (no copy, no second wrapper), and tidy has moved it into the caller's scope.
const backpropFilterKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  return conv2DBackpropFilterViaConv(asTensor4D(inputs.x, 'x'), asTensor4D(inputs.dy, 'dy'), a.filterShape, a);
};

const backpropInputKernel: tf.KernelFunc = ({ inputs, attrs }) => {
  const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  return conv2DBackpropInputViaConv(asTensor4D(inputs.dy, 'dy'), asTensor4D(inputs.filter, 'filter'), a.inputShape, a);
};

const OURS: ReadonlyArray<tf.KernelConfig> = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: backpropFilterKernel },
  { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: backpropInputKernel },
];

/**
 * Registers our `Conv2DBackpropFilter` and `Conv2DBackpropInput` for the 'wasm' backend,
 * replacing the stock input-gradient kernel. Safe to call any number of times.
 */
export function registerWasmConvGradients(): void {
  for (const config of OURS) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    // registerKernel only warns on a duplicate; unregistering first keeps the console quiet.
    if (current != null) tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel(config);
  }
}

/**
 * The stock kernel we replace, kept so benchmarks can compare against it. If it was unregistered
 * before the wasm backend started, its setupFunc never ran: call `setupFunc(tf.backend())` after
 * re-registering it, or it fails with "wasmConv2DBackpropInput is not a function".
 */
export const stockWasmConv2DBackpropInput: tf.KernelConfig | undefined = tf.getKernel(tf.Conv2DBackpropInput, BACKEND);
