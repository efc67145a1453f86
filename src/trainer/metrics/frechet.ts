/**
 * Frechet distance between two Gaussians N(mu1, S1) and N(mu2, S2) (FID when the statistics
 * are pool3 features of the FID Inception network):
 *
 *   ||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr (S1^(1/2) S2 S1^(1/2))^(1/2)
 *
 * evaluated by the symmetric route in float64: the last trace is sum sqrt(max(0, lambda)) over
 * the eigenvalues of a symmetric PSD matrix, so there is no complex square root and no 1e-6
 * retry as in pytorch-fid's scipy.linalg.sqrtm(S1 S2).
 *
 * For any factorisation S1 = W W^T, W^T S2 W has the non-zero eigenvalues of
 * S1^(1/2) S2 S1^(1/2): with X = S2^(1/2) W, W^T S2 W = X^T X, and both share their non-zero
 * eigenvalues with X X^T = S2^(1/2) S1 S2^(1/2). Two factorisations:
 *   'cholesky' (default): pivoted Cholesky S1 = P L L^T P^T and L^T (P^T S2 P) L. No
 *     eigenvectors are needed anywhere: n^3 + n^3/3 multiply-adds, ~5x less time than 'eigh'
 *     at d = 1024 (1.5 s vs 8 s of CPU on the 2-core dev machine).
 *     The pivoting stops at the numerical rank, the Cholesky counterpart of the PSD clamp.
 *   'eigh': W = V diag(sqrt(max(0, w))) from the eigendecomposition S1 = V diag(w) V^T, the
 *     literal S1^(1/2) of the formula (up to an orthogonal factor that does not change the
 *     spectrum). Kept as the reference route; both match the 40-digit ground truth of
 *     test/fixtures/fid-reference-vectors.json within its tolerances.
 */
import { congruenceLower, pivotedCholesky, symEigRows, symEigvals, symmetricCongruence } from './linalg';

export type FrechetFactor = 'cholesky' | 'eigh';

export interface FrechetOptions {
  factor?: FrechetFactor;
}

export interface FrechetParts {
  /** The distance: meanTerm + trace1 + trace2 - 2 * traceSqrt. Can be ~ -1e-12 for equal inputs. */
  value: number;
  /** ||mu1 - mu2||^2 */
  meanTerm: number;
  trace1: number;
  trace2: number;
  /** tr (S1^(1/2) S2 S1^(1/2))^(1/2) */
  traceSqrt: number;
  /** Numerical rank of S1 as used by the factorisation. */
  rank1: number;
}

/** Bad statistics: `field` names the offending argument (mu1, sigma1, mu2, sigma2 or d). */
export class FrechetInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'FrechetInputError';
  }
}

function checkVector(v: ArrayLike<number>, d: number, field: string): void {
  if (v.length !== d) throw new FrechetInputError(field, `expected ${d} entries, got ${v.length}`);
  for (let i = 0; i < d; i++) {
    if (!Number.isFinite(v[i])) throw new FrechetInputError(field, `entry [${i}] is ${v[i]}, not a finite number`);
  }
}

/**
 * Shape, finiteness and symmetry. The asymmetry bound (1e-8 of the largest diagonal entry) is
 * far above any round-off of a computed covariance and far below a transposed or wrong matrix.
 */
function checkCovariance(s: ArrayLike<number>, d: number, field: string): void {
  if (s.length !== d * d) throw new FrechetInputError(field, `expected ${d}×${d} = ${d * d} entries, got ${s.length}`);
  let maxDiag = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const x = s[i * d + j];
      if (!Number.isFinite(x)) throw new FrechetInputError(field, `entry [${i}][${j}] is ${x}, not a finite number`);
    }
    maxDiag = Math.max(maxDiag, Math.abs(s[i * d + i]));
  }
  const tol = 1e-8 * maxDiag;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const x = s[i * d + j];
      const y = s[j * d + i];
      if (Math.abs(x - y) > tol) throw new FrechetInputError(field, `not symmetric: [${i}][${j}] = ${x} but [${j}][${i}] = ${y}`);
    }
  }
}

/**
 * Neumaier-compensated sum. The distance is a small difference of large terms (at d = 2048,
 * tr S1 + tr S2 ~ 2e6 for an FD of ~700), so the rounding of plain sums over d terms, ~sqrt(d)
 * ulps of the total, would be amplified by that ratio; compensation keeps it at one ulp.
 */
class Sum {
  private s = 0;
  private c = 0;
  add(x: number): void {
    const t = this.s + x;
    this.c += Math.abs(this.s) >= Math.abs(x) ? this.s - t + x : x - t + this.s;
    this.s = t;
  }
  get value(): number {
    return this.s + this.c;
  }
}

function trace(s: ArrayLike<number>, d: number): number {
  const t = new Sum();
  for (let i = 0; i < d; i++) t.add(s[i * d + i]);
  return t.value;
}

function sumSqrtClamped(w: Float64Array, count: number): number {
  const t = new Sum();
  for (let i = 0; i < count; i++) if (w[i] > 0) t.add(Math.sqrt(w[i]));
  return t.value;
}

/** tr sqrt(S1^(1/2) S2 S1^(1/2)) via pivoted Cholesky of S1; returns [trace, rank of S1]. */
function traceSqrtCholesky(s1: ArrayLike<number>, s2: ArrayLike<number>, d: number): [number, number] {
  const { l, perm, rank } = pivotedCholesky(s1, d);
  if (rank === 0) return [0, 0];
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const pi = perm[i] * d;
    for (let j = 0; j <= i; j++) a[i * d + j] = s2[pi + perm[j]]; // congruenceLower reads the lower triangle
  }
  const lead = congruenceLower(l, a, d, rank);
  return [sumSqrtClamped(symEigvals(lead, rank), rank), rank];
}

/** The same trace via the eigendecomposition of S1 (the literal S1^(1/2)). */
function traceSqrtEigh(s1: ArrayLike<number>, s2: ArrayLike<number>, d: number): [number, number] {
  const { values, rows } = symEigRows(s1, d);
  // Rows of W^T = diag(sqrt w) V^T for w > 0 only: clamped directions contribute nothing.
  let r = 0;
  for (let k = 0; k < d; k++) if (values[k] > 0) r++;
  if (r === 0) return [0, 0];
  // Largest eigenvalue first, so W^T S2 W is graded large-to-small like the Cholesky route's
  // L^T S2 L, the orientation `symEigvals` resolves accurately (see there).
  const b = new Float64Array(r * d);
  let row = 0;
  for (let k = d - 1; k >= 0; k--) {
    if (!(values[k] > 0)) continue;
    const q = Math.sqrt(values[k]);
    for (let j = 0; j < d; j++) b[row * d + j] = q * rows[k * d + j];
    row++;
  }
  const m = symmetricCongruence(b, s2, r, d);
  return [sumSqrtClamped(symEigvals(m, r), r), r];
}

/** The distance with its terms; see `frechetDistance`. */
export function frechetDistanceParts(
  mu1: ArrayLike<number>,
  sigma1: ArrayLike<number>,
  mu2: ArrayLike<number>,
  sigma2: ArrayLike<number>,
  d: number,
  options: FrechetOptions = {},
): FrechetParts {
  if (!Number.isInteger(d) || d < 1) throw new FrechetInputError('d', `must be a positive integer, got ${d}`);
  checkVector(mu1, d, 'mu1');
  checkVector(mu2, d, 'mu2');
  checkCovariance(sigma1, d, 'sigma1');
  checkCovariance(sigma2, d, 'sigma2');
  const factor = options.factor ?? 'cholesky';
  if (factor !== 'cholesky' && factor !== 'eigh') throw new FrechetInputError('factor', `must be 'cholesky' or 'eigh', got ${String(factor)}`);
  const mean = new Sum();
  for (let i = 0; i < d; i++) mean.add((mu1[i] - mu2[i]) ** 2);
  const meanTerm = mean.value;
  const trace1 = trace(sigma1, d);
  const trace2 = trace(sigma2, d);
  const [traceSqrt, rank1] = factor === 'eigh' ? traceSqrtEigh(sigma1, sigma2, d) : traceSqrtCholesky(sigma1, sigma2, d);
  const value = new Sum();
  for (const x of [meanTerm, trace1, trace2, -2 * traceSqrt]) value.add(x);
  return { value: value.value, meanTerm, trace1, trace2, traceSqrt, rank1 };
}

/**
 * Frechet distance between N(mu1, sigma1) and N(mu2, sigma2): mu vectors of length d, sigmas
 * d×d row-major (symmetric, both triangles stored), all finite; throws FrechetInputError naming
 * the argument otherwise. Equal inputs give 0 up to round-off (possibly a tiny negative value,
 * as pytorch-fid's -7.6e-13): it is not clamped, so that such noise stays visible.
 */
export function frechetDistance(
  mu1: ArrayLike<number>,
  sigma1: ArrayLike<number>,
  mu2: ArrayLike<number>,
  sigma2: ArrayLike<number>,
  d: number,
  options: FrechetOptions = {},
): number {
  return frechetDistanceParts(mu1, sigma1, mu2, sigma2, d, options).value;
}
