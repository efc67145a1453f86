/**
 * k-nearest noise on the TF.js compute backend: the b x k distances, which read all b k d
 * candidate values, are computed there as one batched kernel, so a GPU backend never copies the
 * candidates back to JavaScript. Same answer as nearestOfK up to near-ties: float32 on the
 * backend against Float64 in nearestOfK.
 */
import * as tf from '@tensorflow/tfjs';
import type { CostKind } from './cost';
import { checkKnnArgs } from './knn';

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
  checkKnnArgs('nearestOfKTf', x, candidates, b, k, d, kind);
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
