/**
 * k-nearest noise (Improved Immiscible Diffusion, arXiv 2505.18521): each image draws k noise
 * candidates and keeps the nearest. Per sample, so no batch-wide solve and it still works at
 * batch size 1, where a one-to-one assignment does nothing.
 */
import type { CostKind } from './cost';

/**
 * For each of the b images, the index in [0, k) of its nearest candidate; candidates is laid
 * out [image i][candidate c][d]. The first candidate wins ties.
 */
export function nearestOfK(
  x: Float32Array,
  candidates: Float32Array,
  b: number,
  k: number,
  d: number,
  kind: CostKind,
): Int32Array {
  checkKnnArgs('nearestOfK', x, candidates, b, k, d, kind);
  const out = new Int32Array(b);
  if (k === 1) return out;
  const sq = kind === 'sqeuclidean';
  for (let i = 0; i < b; i++) {
    const xi = i * d;
    let best = Infinity;
    let bestC = 0;
    for (let c = 0; c < k; c++) {
      const base = (i * k + c) * d;
      // Direct differences rather than the norm expansion: only k distances per image, and the
      // nearest of nearly equal candidates should not hinge on cancellation error.
      let s = 0;
      for (let t = 0; t < d; t++) {
        const e = x[xi + t] - candidates[base + t];
        s += e * e;
      }
      // The kind is applied before comparing because sqrt can round two distinct squared
      // distances to one value, which changes which candidate is "first on ties".
      const dist = sq ? s : Math.sqrt(s);
      if (dist < best) {
        best = dist;
        bestC = c;
      }
    }
    out[i] = bestC;
  }
  return out;
}

/**
 * Validates the arguments of a nearest-of-k search (`fn` names the caller in messages); null
 * candidates: they are drawn by the search itself.
 */
export function checkKnnArgs(fn: string, x: Float32Array, candidates: Float32Array | null, b: number, k: number, d: number, kind: CostKind): void {
  if (!Number.isInteger(b) || b < 0 || !Number.isInteger(d) || d < 0) {
    throw new RangeError(`${fn}: sizes must be non-negative integers, got b = ${b}, d = ${d}`);
  }
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${fn}: k must be an integer >= 1, got ${k}`);
  if (kind !== 'l2' && kind !== 'sqeuclidean') {
    throw new RangeError(`${fn}: kind must be 'l2' or 'sqeuclidean', got ${String(kind)}`);
  }
  if (x.length !== b * d) {
    throw new RangeError(`${fn}: x must hold ${b} x ${d} = ${b * d} values, found ${x.length}`);
  }
  if (candidates && candidates.length !== b * k * d) {
    throw new RangeError(
      `${fn}: candidates must hold ${b} x ${k} x ${d} = ${b * k * d} values, found ${candidates.length}`,
    );
  }
}
