/**
 * k-nearest noise on the TF.js compute backend: the b x k distances, which read all b k d
 * candidate values, are computed there as one batched kernel, so a GPU backend never copies the
 * candidates back to JavaScript. Same answer as nearestOfK up to near-ties: float32 on the
 * backend against Float64 in nearestOfK.
 */
import * as tf from '@tensorflow/tfjs';
import type { CostKind } from './cost';

function checkArgs(x: Float32Array, candidates: Float32Array, b: number, k: number, d: number, kind: CostKind): void {
  if (!Number.isInteger(b) || b < 0 || !Number.isInteger(d) || d < 0) {
    throw new RangeError(`nearestOfKTf: sizes must be non-negative integers, got b = ${b}, d = ${d}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`nearestOfKTf: k must be an integer >= 1, got ${k}`);
  if (kind !== 'l2' && kind !== 'sqeuclidean') {
    throw new RangeError(`nearestOfKTf: kind must be 'l2' or 'sqeuclidean', got ${String(kind)}`);
  }
  if (x.length !== b * d) {
    throw new RangeError(`nearestOfKTf: x must hold ${b} x ${d} = ${b * d} values, found ${x.length}`);
  }
  if (candidates.length !== b * k * d) {
    throw new RangeError(
      `nearestOfKTf: candidates must hold ${b} x ${k} x ${d} = ${b * k * d} values, found ${candidates.length}`,
    );
  }
}

/**
 * For each of the b images, the index in [0, k) of its nearest candidate; candidates is laid
 * out [image i][candidate c][d]. Direct differences, not the norm expansion: with only k
 * distances per image the expansion saves nothing, and float32 cancellation would blur
 * near-ties further. 'l2' and 'sqeuclidean' pick the same candidate (sqrt is monotonic), so the
 * kind is only validated.
 */
export function nearestOfKTf(
  x: Float32Array,
  candidates: Float32Array,
  b: number,
  k: number,
  d: number,
  kind: CostKind,
): Int32Array {
  checkArgs(x, candidates, b, k, d, kind);
  const out = new Int32Array(b);
  if (k === 1 || b === 0 || d === 0) return out;
  const idx = tf.tidy(() => {
    const xs = tf.tensor3d(x, [b, 1, d]);
    const cs = tf.tensor3d(candidates, [b, k, d]);
    return tf.argMin(tf.sum(tf.squaredDifference(cs, xs), 2), 1);
  });
  try {
    out.set(idx.dataSync());
  } finally {
    idx.dispose();
  }
  return out;
}
