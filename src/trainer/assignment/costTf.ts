/**
 * Image-to-noise distance matrices on the TF.js compute backend: the B x B x D product, which is
 * nearly all of the work, runs as one matMul there (XNNPACK on 'wasm', a GPU kernel elsewhere)
 * instead of the plain JavaScript loops of pairwiseCost.
 */
import * as tf from '@tensorflow/tfjs';
import { checkKind, checkShape, distancesFromDots, rowSqNorms, type CostKind } from './cost';

// Squared norms in Float64 (rowSqNorms): O(B D), negligible next to the product, and exact enough
// that only the float32 dot products carry rounding error into the cost.

/** rows x cols row-major -> cols x rows, in 32 x 32 tiles so both sides stay in cache. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(rows, i0 + T);
    for (let k0 = 0; k0 < cols; k0 += T) {
      const k1 = Math.min(cols, k0 + T);
      for (let i = i0; i < i1; i++) {
        const src = i * cols;
        for (let k = k0; k < k1; k++) out[k * rows + i] = a[src + k];
      }
    }
  }
  return out;
}

/** The float32 x noise^T product on the active backend, as a b x b tensor (the caller disposes). */
function dotsTensor(x: Float32Array, noise: Float32Array, b: number, d: number): tf.Tensor2D {
  // noise^T is built here rather than asked of matMul (transposeB): the wasm backend's
  // transposed-B path measured 12x slower than its plain one (1.5 s vs 0.12 s at B = 512,
  // D = 3072), and tf.transpose on wasm cost more than this loop.
  return tf.tidy(() => tf.matMul(tf.tensor2d(x, [b, d]), tf.tensor2d(transpose(noise, b, d), [d, b])));
}

function checkArgs(x: Float32Array, noise: Float32Array, b: number, d: number, kind: CostKind, fn: string): void {
  checkShape('x', x, b, d, fn);
  checkShape('noise', noise, b, d, fn);
  checkKind(kind, fn);
}

/**
 * b x b row-major C[i][j] = distance(x_i, noise_j) with x n^T computed by the active TF.js
 * backend in float32; the norms and the final combination are done in Float64. Equal to
 * pairwiseCost up to float32 rounding of the dot products (about 1e-7 of ||x_i|| ||n_j||), which
 * can swap the order of near-tied costs but not change the assignment's total by more than that.
 * Synchronous (dataSync): fine on 'wasm' and 'cpu'. A GPU backend cannot read its buffers
 * synchronously (tfjs-backend-webgpu needs OffscreenCanvas for it): there, use
 * pairwiseCostTfAsync.
 */
export function pairwiseCostTf(
  x: Float32Array,
  noise: Float32Array,
  b: number,
  d: number,
  kind: CostKind,
): Float64Array {
  checkArgs(x, noise, b, d, kind, 'pairwiseCostTf');
  if (b === 0 || d === 0) return costFromDots(null, x, noise, b, d, kind);
  const dotsT = dotsTensor(x, noise, b, d);
  try {
    return costFromDots(dotsT.dataSync(), x, noise, b, d, kind);
  } finally {
    dotsT.dispose();
  }
}

/** As pairwiseCostTf, read back asynchronously: works on every backend, GPU ones included. */
export async function pairwiseCostTfAsync(
  x: Float32Array,
  noise: Float32Array,
  b: number,
  d: number,
  kind: CostKind,
): Promise<Float64Array> {
  checkArgs(x, noise, b, d, kind, 'pairwiseCostTf');
  if (b === 0 || d === 0) return costFromDots(null, x, noise, b, d, kind);
  const dotsT = dotsTensor(x, noise, b, d);
  try {
    return costFromDots(await dotsT.data(), x, noise, b, d, kind);
  } finally {
    dotsT.dispose();
  }
}

/** The Float64 costs from the backend's float32 dot products (none when b or d is 0). */
function costFromDots(dots: ArrayLike<number> | null, x: Float32Array, noise: Float32Array, b: number, d: number, kind: CostKind): Float64Array {
  const out = new Float64Array(b * b);
  if (b === 0) return out;
  if (dots) for (let k = 0; k < dots.length; k++) out[k] = dots[k];
  return distancesFromDots(out, rowSqNorms(x, b, d), rowSqNorms(noise, b, d), b, kind);
}
