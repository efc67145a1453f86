/**
 * Kernel Inception Distance: the unbiased estimate of MMD^2 between two feature sets with the
 * cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al. 2018), reported as in
 * clean-fid and torchmetrics: mean (and std) over random subsets of equal size m drawn without
 * replacement, each subset giving
 *
 *   sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1)) - 2 sum_{i,j} k(x_i, y_j) / m^2.
 *
 * Unbiased, so small or equal sets can give values below 0: that is the estimator, not a bug.
 * Cost is 2 m^2 d multiply-adds per subset in float64: at d = 2048 and 100 subsets of 1000,
 * 4e11, several minutes of plain JS; fine for the small feature extractors this lab uses on CPU.
 */
import { Rng } from '../rng';
import { ntProduct } from './kernels';

export type Features = Float32Array | Float64Array;

export interface KidOptions {
  /** Number of subsets (clean-fid / torchmetrics default 100). */
  numSubsets?: number;
  /** Subset size; default min(1000, nx, ny) as clean-fid's max_subset_size = 1000. */
  subsetSize?: number;
  /** Seed of the `Rng` that draws subsets (default 0). Ignored when `nextUint32` is given. */
  seed?: number;
  /** A source of uint32 integers to draw subsets from instead of `Rng(seed)`, e.g. to replay another tool's draws. */
  nextUint32?: () => number;
}

export interface KidResult {
  /** Mean of the subset values: the KID. */
  mean: number;
  /** Population std (ddof = 0) of the subset values, as torchmetrics reports it. */
  std: number;
  /** The value of each subset. */
  values: Float64Array;
  subsetSize: number;
}

function checkFeatures(x: Features, n: number, d: number, what: string): void {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`KID: d must be a positive integer, got ${d}`);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`KID: ${what} row count must be a non-negative integer, got ${n}`);
  if (x.length !== n * d) throw new RangeError(`KID: ${what} must hold ${n}×${d} = ${n * d} values, got ${x.length}`);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new RangeError(`KID: ${what} row ${Math.floor(i / d)} column ${i % d} is ${x[i]}`);
  }
}

/** Rows of the kernel block computed per tiled product: 128 × n doubles of scratch. */
const KERNEL_BLOCK = 128;

/**
 * sum_i sum_j k(x_i, y_j) over all rows of x (nx×d) and y (ny×d), or over j < i only when
 * `strictLower` (x and y the same set: half the pairs, no diagonal). The dot products come
 * from the tiled "A B^T" kernel a block of rows at a time (several multiply-adds per load,
 * where one dot loop per pair does one).
 */
function kernelSum(x: Float64Array, nx: number, y: Float64Array, ny: number, d: number, strictLower: boolean): number {
  const g = new Float64Array(Math.min(KERNEL_BLOCK, nx) * ny);
  let total = 0;
  for (let i0 = 0; i0 < nx; i0 += KERNEL_BLOCK) {
    const i1 = Math.min(nx, i0 + KERNEL_BLOCK);
    const cols = strictLower ? i1 - 1 : ny;
    g.fill(0);
    ntProduct({ out: g, ldo: ny, x: x.subarray(i0 * d, i1 * d), ldx: d, y, ldy: d, rowStart: 0, rowEnd: i1 - i0, colStart: 0, colEnd: cols, shape: 'full', kLo: 0, kHi: d });
    for (let i = i0; i < i1; i++) {
      const o = (i - i0) * ny;
      const jEnd = strictLower ? i : ny;
      let s = 0;
      for (let j = 0; j < jEnd; j++) {
        const t = g[o + j] / d + 1;
        s += t * t * t;
      }
      total += s;
    }
  }
  return total;
}

/** The listed rows of x as a contiguous float64 matrix (float32 features convert exactly). */
function gatherRows(x: Features, idx: ArrayLike<number>, n: number, d: number): Float64Array {
  const out = new Float64Array(idx.length * d);
  for (let r = 0; r < idx.length; r++) {
    const i = idx[r];
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new RangeError(`KID: subset index ${i} is not a row index in [0, ${n})`);
    for (let k = 0; k < d; k++) out[r * d + k] = x[i * d + k];
  }
  return out;
}

function asFloat64(x: Features): Float64Array {
  return x instanceof Float64Array ? x : Float64Array.from(x);
}

function range(n: number): Int32Array {
  const r = new Int32Array(n);
  for (let i = 0; i < n; i++) r[i] = i;
  return r;
}

/**
 * Unbiased MMD^2 over all rows of x (nx×d) and y (ny×d), sizes may differ:
 * Sxx/(nx(nx-1)) + Syy/(ny(ny-1)) - 2 Sxy/(nx ny), Sxx and Syy without the diagonal.
 */
export function mmdUnbiased(x: Features, nx: number, y: Features, ny: number, d: number): number {
  checkFeatures(x, nx, d, 'x');
  checkFeatures(y, ny, d, 'y');
  if (nx < 2 || ny < 2) throw new RangeError(`KID: the unbiased estimate needs at least 2 rows per set, got ${nx} and ${ny}`);
  const x64 = asFloat64(x);
  const y64 = asFloat64(y);
  const sxx = 2 * kernelSum(x64, nx, x64, nx, d, true);
  const syy = 2 * kernelSum(y64, ny, y64, ny, d, true);
  return sxx / (nx * (nx - 1)) + syy / (ny * (ny - 1)) - (2 * kernelSum(x64, nx, y64, ny, d, false)) / (nx * ny);
}

/**
 * One subset's value for equal-size index lists, in clean-fid's arithmetic:
 * ((Sxx + Syy) / (m - 1) - 2 Sxy / m) / m.
 */
export function kidSubsetValue(x: Features, ix: ArrayLike<number>, y: Features, iy: ArrayLike<number>, d: number): number {
  const m = ix.length;
  if (iy.length !== m) throw new RangeError(`KID: subset index lists must have equal length, got ${m} and ${iy.length}`);
  if (m < 2) throw new RangeError(`KID: subsets need at least 2 rows, got ${m}`);
  const xs = gatherRows(x, ix, x.length / d, d);
  const ys = gatherRows(y, iy, y.length / d, d);
  const a = 2 * (kernelSum(xs, m, xs, m, d, true) + kernelSum(ys, m, ys, m, d, true));
  const b = kernelSum(xs, m, ys, m, d, false);
  return (a / (m - 1) - (2 * b) / m) / m;
}

/**
 * m distinct indices from 0..n-1 by a partial Fisher-Yates shuffle: for i < m, swap idx[i] with
 * idx[i + next() % (n - i)]. The modulo bias is below (n / 2^32), negligible for feature sets.
 * This is exactly the draw the reference vectors use (with mulberry32), so tests can replay it.
 */
export function drawSubset(n: number, m: number, nextUint32: () => number): Int32Array {
  if (!Number.isInteger(m) || m < 0 || m > n) throw new RangeError(`drawSubset: cannot draw ${m} of ${n} without replacement`);
  const idx = range(n);
  for (let i = 0; i < m; i++) {
    const j = i + (nextUint32() % (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, m);
}

/**
 * KID between feature sets x (nx×d) and y (ny×d): numSubsets subsets of subsetSize rows drawn
 * without replacement from each set (x's indices first, then y's, per subset), their mean and
 * population std. Deterministic for a given seed.
 */
export function kernelInceptionDistance(x: Features, nx: number, y: Features, ny: number, d: number, opts: KidOptions = {}): KidResult {
  checkFeatures(x, nx, d, 'x');
  checkFeatures(y, ny, d, 'y');
  const numSubsets = opts.numSubsets ?? 100;
  const m = opts.subsetSize ?? Math.min(1000, nx, ny);
  if (!Number.isInteger(numSubsets) || numSubsets < 1) throw new RangeError(`KID: numSubsets must be a positive integer, got ${numSubsets}`);
  if (!Number.isInteger(m) || m < 2 || m > nx || m > ny) throw new RangeError(`KID: subsetSize must be an integer in [2, min(nx, ny) = ${Math.min(nx, ny)}], got ${m}`);
  let next = opts.nextUint32;
  if (!next) {
    const rng = new Rng(opts.seed ?? 0);
    next = () => rng.nextUint32();
  }
  const values = new Float64Array(numSubsets);
  for (let s = 0; s < numSubsets; s++) {
    const ix = drawSubset(nx, m, next);
    const iy = drawSubset(ny, m, next);
    values[s] = kidSubsetValue(x, ix, y, iy, d);
  }
  let mean = 0;
  for (const v of values) mean += v;
  mean /= numSubsets;
  let v2 = 0;
  for (const v of values) v2 += (v - mean) ** 2;
  return { mean, std: Math.sqrt(v2 / numSubsets), values, subsetSize: m };
}
