/** Image-to-noise distance matrices for the immiscible assignment. */

/**
 * 'l2' is the unsquared Euclidean distance the authors' released code uses; 'sqeuclidean' is the
 * OT-CFM cost. They can give different optimal permutations, so a run must record which it used.
 */
export type CostKind = 'l2' | 'sqeuclidean';

export function checkKind(kind: CostKind, fn: string): void {
  if (kind !== 'l2' && kind !== 'sqeuclidean') {
    throw new RangeError(`${fn}: kind must be 'l2' or 'sqeuclidean', got ${String(kind)}`);
  }
}

export function checkShape(name: string, arr: Float32Array, rows: number, d: number, fn: string): void {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(d) || d < 0) {
    throw new RangeError(`${fn}: sizes must be non-negative integers, got ${rows} x ${d}`);
  }
  if (arr.length !== rows * d) {
    throw new RangeError(`${fn}: ${name} must hold ${rows} x ${d} = ${rows * d} values, found ${arr.length}`);
  }
}

/** Squared row norms in Float64. */
export function rowSqNorms(a: Float32Array, rows: number, d: number): Float64Array {
  const out = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const base = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) {
      const t = a[base + k];
      s += t * t;
    }
    out[i] = s;
  }
  return out;
}

// A slice of d short enough that a 4-row tile of x and the matching slice of every noise row
// stay in cache while the tile sweeps over all noise rows.
const KB = 256;

/**
 * dots[i*b + j] += x_i . noise_j over k in [k0, k1). Tiles of 4 x rows by 2 noise rows keep 8
 * accumulators plus 6 loads in registers, so each load feeds several multiply-adds.
 */
function accumulateDots(
  x: Float32Array,
  noise: Float32Array,
  b: number,
  d: number,
  k0: number,
  k1: number,
  dots: Float64Array,
): void {
  const b4 = b - (b % 4);
  const b2 = b - (b % 2);
  for (let i = 0; i < b4; i += 4) {
    const x0 = i * d;
    const x1 = x0 + d;
    const x2 = x1 + d;
    const x3 = x2 + d;
    for (let j = 0; j < b2; j += 2) {
      const n0 = j * d;
      const n1 = n0 + d;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
      for (let k = k0; k < k1; k++) {
        const a0 = noise[n0 + k];
        const a1 = noise[n1 + k];
        const y0 = x[x0 + k];
        const y1 = x[x1 + k];
        const y2 = x[x2 + k];
        const y3 = x[x3 + k];
        s00 += y0 * a0;
        s01 += y0 * a1;
        s10 += y1 * a0;
        s11 += y1 * a1;
        s20 += y2 * a0;
        s21 += y2 * a1;
        s30 += y3 * a0;
        s31 += y3 * a1;
      }
      const o = i * b + j;
      dots[o] += s00;
      dots[o + 1] += s01;
      dots[o + b] += s10;
      dots[o + b + 1] += s11;
      dots[o + 2 * b] += s20;
      dots[o + 2 * b + 1] += s21;
      dots[o + 3 * b] += s30;
      dots[o + 3 * b + 1] += s31;
    }
  }
  // Edges the tiles miss: the last b % 4 rows against every column, and the last column (odd b)
  // against the tiled rows.
  for (let i = 0; i < b; i++) {
    const jStart = i < b4 ? b2 : 0;
    const xi = i * d;
    for (let j = jStart; j < b; j++) {
      const nj = j * d;
      let s = 0;
      for (let k = k0; k < k1; k++) s += x[xi + k] * noise[nj + k];
      dots[i * b + j] += s;
    }
  }
}

/**
 * b x b row-major matrix C[i][j] = distance(x_i, noise_j) for b images and b noise vectors of
 * dimension d, accumulated in Float64.
 */
export function pairwiseCost(
  x: Float32Array,
  noise: Float32Array,
  b: number,
  d: number,
  kind: CostKind,
): Float64Array {
  checkShape('x', x, b, d, 'pairwiseCost');
  checkShape('noise', noise, b, d, 'pairwiseCost');
  checkKind(kind, 'pairwiseCost');
  // The expansion turns B^2 difference loops into one matrix product; its cancellation error is
  // far below the spread of the costs at the dimensions used here.
  const xn = rowSqNorms(x, b, d);
  const nn = rowSqNorms(noise, b, d);
  const out = new Float64Array(b * b);
  for (let k0 = 0; k0 < d; k0 += KB) accumulateDots(x, noise, b, d, k0, Math.min(d, k0 + KB), out);
  return distancesFromDots(out, xn, nn, b, kind);
}

/**
 * Turns a b x b matrix of dot products x_i.n_j (in place) into distances by
 * ||x_i||^2 - 2 x_i.n_j + ||n_j||^2, shared by the JS and backend cost paths.
 */
export function distancesFromDots(dots: Float64Array, xn: Float64Array, nn: Float64Array, b: number, kind: CostKind): Float64Array {
  const sq = kind === 'sqeuclidean';
  for (let i = 0; i < b; i++) {
    const base = i * b;
    const xi = xn[i];
    for (let j = 0; j < b; j++) {
      // Cancellation can leave a tiny negative for near-identical vectors; sqrt would make NaN.
      const s = Math.max(0, xi - 2 * dots[base + j] + nn[j]);
      dots[base + j] = sq ? s : Math.sqrt(s);
    }
  }
  return dots;
}

/** Mean Euclidean distance between x_i and noise_i over the b pairs (NaN when b is 0). */
export function meanPairDistance(x: Float32Array, noise: Float32Array, b: number, d: number): number {
  checkShape('x', x, b, d, 'meanPairDistance');
  checkShape('noise', noise, b, d, 'meanPairDistance');
  let total = 0;
  for (let i = 0; i < b; i++) {
    const base = i * d;
    let s = 0;
    for (let k = 0; k < d; k++) {
      const t = x[base + k] - noise[base + k];
      s += t * t;
    }
    total += Math.sqrt(s);
  }
  return total / b;
}
