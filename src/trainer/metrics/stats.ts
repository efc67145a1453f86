/**
 * Feature statistics for the Frechet distance: mean and unbiased covariance (ddof = 1, as
 * np.cov(rowvar=False) in pytorch-fid and clean-fid), accumulated in float64 over batches.
 *
 * Each batch is centred on its own mean (two-pass within the batch) and merged with Chan et
 * al.'s pairwise update, so the result does not suffer the cancellation of raw sums of x x^T
 * when features have a large mean (Inception pool3 features are all positive).
 */

export interface FeatureStatsJson {
  mu: number[];
  sigma: number[][];
  n: number;
}

function checkRows(x: ArrayLike<number>, rows: number, d: number, what: string): void {
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`${what}: d must be a positive integer, got ${d}`);
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${what}: row count must be a non-negative integer, got ${rows}`);
  if (x.length !== rows * d) throw new RangeError(`${what}: expected ${rows}×${d} = ${rows * d} values, got ${x.length}`);
}

/**
 * Adds sum_r c_r c_r^T to the lower triangle of `m2` (d×d) for the rows c_r of `c` (rows×d).
 * Four rows per pass, so each accumulator element is loaded and stored once per four updates.
 */
function addScatterLower(m2: Float64Array, c: Float64Array, rows: number, d: number): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const o0 = r * d;
    const o1 = o0 + d;
    const o2 = o1 + d;
    const o3 = o2 + d;
    for (let i = 0; i < d; i++) {
      const a0 = c[o0 + i];
      const a1 = c[o1 + i];
      const a2 = c[o2 + i];
      const a3 = c[o3 + i];
      const mi = i * d;
      for (let j = 0; j <= i; j++) m2[mi + j] += a0 * c[o0 + j] + a1 * c[o1 + j] + a2 * c[o2 + j] + a3 * c[o3 + j];
    }
  }
  for (; r < rows; r++) {
    const o = r * d;
    for (let i = 0; i < d; i++) {
      const a = c[o + i];
      const mi = i * d;
      for (let j = 0; j <= i; j++) m2[mi + j] += a * c[o + j];
    }
  }
}

/**
 * Mean and unbiased covariance (d×d row-major, both triangles) of `rows` rows of `x`, by two
 * passes. The batch reference for `FeatureStats`; needs rows >= 2.
 */
export function meanAndCovariance(x: ArrayLike<number>, rows: number, d: number): { mu: Float64Array; sigma: Float64Array } {
  checkRows(x, rows, d, 'meanAndCovariance');
  if (rows < 2) throw new RangeError(`meanAndCovariance: the unbiased covariance needs at least 2 rows, got ${rows}`);
  const mu = new Float64Array(d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) mu[j] += x[r * d + j];
  for (let j = 0; j < d; j++) mu[j] /= rows;
  const c = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) c[r * d + j] = x[r * d + j] - mu[j];
  const sigma = new Float64Array(d * d);
  addScatterLower(sigma, c, rows, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = sigma[i * d + j] / (rows - 1);
      sigma[i * d + j] = v;
      sigma[j * d + i] = v;
    }
  }
  return { mu, sigma };
}

/** Streaming mean / covariance of d-dimensional feature rows. */
export class FeatureStats {
  readonly d: number;
  private n = 0;
  private readonly mu: Float64Array;
  /** Lower triangle of sum (x - mu)(x - mu)^T; the upper triangle is unused. */
  private readonly m2: Float64Array;

  constructor(d: number) {
    if (!Number.isInteger(d) || d < 1) throw new RangeError(`FeatureStats: d must be a positive integer, got ${d}`);
    this.d = d;
    this.mu = new Float64Array(d);
    this.m2 = new Float64Array(d * d);
  }

  /** Number of rows added so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Adds `rows` rows (default: all of `batch`, which must hold a whole number of rows), e.g. a
   * Float32Array of network features. Throws on a non-finite value, naming its row and column,
   * before anything is merged.
   */
  add(batch: Float32Array | Float64Array, rows?: number): this {
    const d = this.d;
    if (rows === undefined) {
      if (batch.length % d !== 0) throw new RangeError(`FeatureStats.add: ${batch.length} values are not a whole number of rows of d = ${d}`);
      rows = batch.length / d;
    }
    checkRows(batch, rows, d, 'FeatureStats.add');
    if (rows === 0) return this;
    const mb = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) {
        const v = batch[o + j];
        if (!Number.isFinite(v)) throw new RangeError(`FeatureStats.add: row ${r} column ${j} is ${v}`);
        mb[j] += v;
      }
    }
    for (let j = 0; j < d; j++) mb[j] /= rows;
    const c = new Float64Array(rows * d);
    for (let r = 0; r < rows; r++) {
      const o = r * d;
      for (let j = 0; j < d; j++) c[o + j] = batch[o + j] - mb[j];
    }
    const batchM2 = new Float64Array(d * d);
    addScatterLower(batchM2, c, rows, d);
    this.merge(mb, batchM2, rows);
    return this;
  }

  /** Merges another accumulator's rows into this one (e.g. from a parallel worker). */
  addStats(other: FeatureStats): this {
    if (other.d !== this.d) throw new RangeError(`FeatureStats.addStats: d ${other.d} != ${this.d}`);
    if (other.n > 0) this.merge(other.mu, other.m2, other.n);
    return this;
  }

  /** Chan et al.: M2 += M2_b + delta delta^T n nb / (n + nb), mu += delta nb / (n + nb). */
  private merge(mb: Float64Array, m2b: Float64Array, nb: number): void {
    const d = this.d;
    const n = this.n;
    const total = n + nb;
    const w = (n * nb) / total;
    const delta = new Float64Array(d);
    for (let j = 0; j < d; j++) delta[j] = mb[j] - this.mu[j];
    for (let i = 0; i < d; i++) {
      const mi = i * d;
      const di = delta[i] * w;
      for (let j = 0; j <= i; j++) this.m2[mi + j] += m2b[mi + j] + di * delta[j];
    }
    for (let j = 0; j < d; j++) this.mu[j] += (delta[j] * nb) / total;
    this.n = total;
  }

  /** The mean (a copy). */
  mean(): Float64Array {
    if (this.n === 0) throw new RangeError('FeatureStats: no rows added');
    return this.mu.slice();
  }

  /** The unbiased covariance, d×d row-major with both triangles. Needs at least 2 rows. */
  covariance(): Float64Array {
    if (this.n < 2) throw new RangeError(`FeatureStats: the unbiased covariance needs at least 2 rows, have ${this.n}`);
    const d = this.d;
    const s = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        const v = this.m2[i * d + j] / (this.n - 1);
        s[i * d + j] = v;
        s[j * d + i] = v;
      }
    }
    return s;
  }

  /** `{"mu": [...], "sigma": [[...]], "n": N}`; the numbers round-trip exactly through JSON. */
  toJSON(): FeatureStatsJson {
    const sigma = this.covariance();
    const d = this.d;
    const rows: number[][] = [];
    for (let i = 0; i < d; i++) rows.push(Array.from(sigma.subarray(i * d, (i + 1) * d)));
    return { mu: Array.from(this.mu), sigma: rows, n: this.n };
  }

  /**
   * Rebuilds an accumulator from `toJSON` output (so more rows can be added later); throws a
   * RangeError naming the bad field otherwise.
   */
  static fromJSON(value: unknown): FeatureStats {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RangeError('FeatureStats.fromJSON: expected an object {"mu", "sigma", "n"}');
    const o = value as Record<string, unknown>;
    const { mu, sigma, n } = o;
    if (!Array.isArray(mu) || mu.length === 0) throw new RangeError('FeatureStats.fromJSON: "mu" must be a non-empty array of numbers');
    const d = mu.length;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) throw new RangeError(`FeatureStats.fromJSON: "n" must be an integer >= 2, got ${JSON.stringify(n)}`);
    if (!Array.isArray(sigma) || sigma.length !== d) throw new RangeError(`FeatureStats.fromJSON: "sigma" must be a ${d}×${d} array of arrays`);
    const s = new FeatureStats(d);
    for (let j = 0; j < d; j++) {
      const v: unknown = mu[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`FeatureStats.fromJSON: "mu"[${j}] is not a finite number`);
      s.mu[j] = v;
    }
    for (let i = 0; i < d; i++) {
      const row: unknown = sigma[i];
      if (!Array.isArray(row) || row.length !== d) throw new RangeError(`FeatureStats.fromJSON: "sigma"[${i}] must be an array of ${d} numbers`);
      for (let j = 0; j < d; j++) {
        const v: unknown = row[j];
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`FeatureStats.fromJSON: "sigma"[${i}][${j}] is not a finite number`);
        if (j <= i) s.m2[i * d + j] = v * (n - 1);
      }
    }
    s.n = n;
    return s;
  }
}
