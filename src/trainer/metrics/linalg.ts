/**
 * Dense float64 linear algebra for the evaluation metrics (Frechet distance, KID).
 *
 * - `symEig` / `symEigRows`: symmetric eigendecomposition with vectors by Householder
 *   tridiagonalisation + implicit QL (EISPACK tred2/tql2, as transcribed in JAMA), not Jacobi,
 *   which needs ~15 minutes at d = 2048 in JS.
 * - `symEigvals`: eigenvalues only, by a blocked Householder reduction (LAPACK dsytrd) + QL.
 * - `pivotedCholesky` and `congruenceLower` (L^T A L): the cheap route to the spectrum of
 *   S1^(1/2) S2 S1^(1/2) used by the Frechet distance, with no eigenvectors at all.
 * - `sqrtPsd`, `matMul`, `symmetricCongruence`, `transpose`: helpers.
 *
 * Storage: every n×n matrix is a row-major Float64Array; symmetric inputs are read from their
 * lower triangle (numpy's `eigh` default), so an input whose upper triangle is stale still works.
 * The EISPACK loops walk columns of a lower triangle; in a row-major buffer that is a stride-n
 * access, so the reduction runs on the transpose (the same matrix, for a symmetric input) and
 * every inner loop is contiguous. For the same reason eigenvectors live in rows while QL rotates
 * them and are transposed once at the end. The O(n^3) parts of the blocked routines go through
 * the tiled kernels of ./kernels.
 */

import { ntProduct, symvLower } from './kernels';

/** 2^-52: the relative spacing of float64 at 1, EISPACK's convergence threshold. */
const EPS = 2 ** -52;

export interface SymEigResult {
  /** Ascending eigenvalues. */
  values: Float64Array;
  /** n×n row-major, column k is the unit eigenvector of values[k] (numpy's layout); null if not requested. */
  vectors: Float64Array | null;
}

function checkSquare(a: ArrayLike<number>, n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what}: n must be a non-negative integer, got ${n}`);
  if (a.length !== n * n) throw new RangeError(`${what}: expected ${n}×${n} = ${n * n} entries, got ${a.length}`);
}

/**
 * Copies the lower triangle of `a` (row-major) into the upper triangle of a new buffer, i.e.
 * t[j][k] = a[k][j] for k >= j. The transposed EISPACK loops below read only that part.
 */
function lowerToUpperCopy(a: ArrayLike<number>, n: number): Float64Array {
  const t = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let j = 0; j <= k; j++) t[j * n + k] = a[rk + j];
  }
  return t;
}

/** sqrt(a^2 + b^2) without overflow; Math.hypot is exact but several times slower in V8. */
function hypot(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  if (x < y) {
    const t = x;
    x = y;
    y = t;
  }
  if (x === 0) return 0;
  const r = y / x;
  return x * Math.sqrt(1 + r * r);
}

/**
 * Householder reduction to tridiagonal form (EISPACK tred2, JAMA's transcription) run on the
 * transpose: JAMA's V[r][c] is t[c*n + r] here. On entry the upper triangle of `t` holds the
 * matrix; on exit d holds the diagonal and e[1..n-1] the sub-diagonal of the tridiagonal form.
 * With `accumulate`, `t` then holds Q^T (row k = column k of the orthogonal Q with A = Q T Q^T);
 * without it the back-accumulation (a third of the work) is skipped and `t` is scratch.
 */
function tridiagonalise(t: Float64Array, n: number, d: Float64Array, e: Float64Array, accumulate: boolean): void {
  for (let j = 0; j < n; j++) d[j] = t[j * n + n - 1];
  for (let i = n - 1; i > 0; i--) {
    // Scaling the Householder column by its 1-norm keeps h = |x|^2 from under/overflowing.
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = t[j * n + i - 1];
        t[j * n + i] = 0;
        t[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      // p = A u over the leading i×i block (its upper triangle, row by row).
      const ri = i * n;
      for (let j = 0; j < i; j++) {
        f = d[j];
        t[ri + j] = f; // keep u for the back-accumulation
        const rj = j * n;
        g = e[j] + t[rj + j] * f;
        for (let k = j + 1; k < i; k++) {
          const v = t[rj + k];
          g += v * d[k];
          e[k] += v * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      // Rank-2 update A -= u q^T + q u^T of the same block; d picks up the next column.
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        const rj = j * n;
        for (let k = j; k < i; k++) t[rj + k] -= f * e[k] + g * d[k];
        d[j] = t[rj + i - 1];
        t[rj + i] = 0;
      }
    }
    d[i] = h;
  }
  if (accumulate) {
    for (let i = 0; i < n - 1; i++) {
      const ri = i * n;
      t[ri + n - 1] = t[ri + i];
      t[ri + i] = 1;
      const h = d[i + 1];
      const ri1 = (i + 1) * n;
      if (h !== 0) {
        for (let k = 0; k <= i; k++) d[k] = t[ri1 + k] / h;
        for (let j = 0; j <= i; j++) {
          const rj = j * n;
          let g = 0;
          for (let k = 0; k <= i; k++) g += t[ri1 + k] * t[rj + k];
          for (let k = 0; k <= i; k++) t[rj + k] -= g * d[k];
        }
      }
      for (let k = 0; k <= i; k++) t[ri1 + k] = 0;
    }
    for (let j = 0; j < n; j++) {
      d[j] = t[j * n + n - 1];
      t[j * n + n - 1] = 0;
    }
    if (n > 0) t[n * n - 1] = 1;
  } else {
    for (let j = 0; j < n; j++) d[j] = t[j * n + j];
  }
  if (n > 0) e[0] = 0;
}

/**
 * Implicit QL on the tridiagonal (d, e) from `tridiagonalise` (EISPACK tql2). With `rows`
 * (= Q^T from the reduction) the rotations are applied to its rows, which then become the
 * eigenvectors. Eigenvalues come out ascending, with the vector rows permuted alongside.
 */
function tridiagonalQl(d: Float64Array, e: Float64Array, n: number, rows: Float64Array | null): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  if (n > 0) e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        // QL converges in ~2 iterations per eigenvalue; a finite input never needs 60, so more
        // means NaNs slipped in, and looping forever would be worse than an error.
        if (++iter > 60) throw new Error('symmetric eigensolver: QL iteration did not converge');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (rows) {
            const a = i * n;
            const b = a + n;
            for (let k = 0; k < n; k++) {
              const x = rows[a + k];
              const y = rows[b + k];
              rows[b + k] = s * x + c * y;
              rows[a + k] = c * x - s * y;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // Selection sort, as in EISPACK: O(n^2) comparisons but only n row swaps.
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      if (rows) {
        const a = i * n;
        const b = k * n;
        for (let j = 0; j < n; j++) {
          const x = rows[a + j];
          rows[a + j] = rows[b + j];
          rows[b + j] = x;
        }
      }
    }
  }
}

/**
 * Eigenvalues and eigenvectors of a symmetric matrix as rows: returns ascending `values` and
 * `rows` (row k = unit eigenvector of values[k]). Reads the lower triangle of `a`.
 */
export function symEigRows(a: ArrayLike<number>, n: number): { values: Float64Array; rows: Float64Array } {
  checkSquare(a, n, 'symEigRows');
  const t = lowerToUpperCopy(a, n);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonalise(t, n, d, e, true);
  tridiagonalQl(d, e, n, t);
  return { values: d, rows: t };
}

/**
 * Householder panel width: wide enough that the trailing update is mostly tile work, narrow
 * enough that the panel's own O(n^2 nb) bookkeeping stays small.
 */
const PANEL = 32;

/**
 * Blocked Householder tridiagonalisation, top-down on the lower triangle (LAPACK dsytrd/dlatrd
 * with uplo = 'L'); eigenvalues only, so no Q is formed. Each panel of PANEL columns is reduced
 * with the rest of the matrix left stale except for one symmetric matrix-vector product per
 * column; the panel's reflectors V and their images W are then applied to the trailing matrix
 * at once, A -= V W^T + W V^T, as a tiled "A B^T" product. That halves the passes over the
 * trailing matrix and turns half of the O(n^3) work into the fast tile kernel.
 * On entry `a` (row-major) holds the matrix in its lower triangle and is destroyed; on exit
 * d is the diagonal and e[g] the coupling of g and g+1 (g < n-1).
 */
function tridiagonaliseBlocked(a: Float64Array, n: number, d: Float64Array, e: Float64Array): void {
  const nb = PANEL;
  // The panel's reflectors u_c and images w_c, one per row (vt[c][r], wt[c][r]) so that every
  // panel loop runs along r over long contiguous stretches instead of along c over <= nb.
  const vt = new Float64Array(nb * n);
  const wt = new Float64Array(nb * n);
  const v = new Float64Array(n);
  const w = new Float64Array(n);
  for (let i0 = 0; i0 < n - 1; i0 += nb) {
    const pb = Math.min(nb, n - 1 - i0);
    vt.fill(0);
    wt.fill(0);
    for (let i = 0; i < pb; i++) {
      const g = i0 + i;
      // Column g, brought up to date with this panel's earlier reflectors (A -= V W^T + W V^T).
      for (let r = g; r < n; r++) v[r] = a[r * n + g];
      for (let c = 0; c < i; c++) {
        const vc = c * n;
        const wgc = wt[vc + g];
        const vgc = vt[vc + g];
        for (let r = g; r < n; r++) v[r] -= vt[vc + r] * wgc + wt[vc + r] * vgc;
      }
      d[g] = v[g];
      // Reflector I - tau u u^T, u = [1, x / (alpha - beta)], mapping column g below the
      // sub-diagonal to zero (LAPACK dlarfg; the norm is scaled so tiny entries cannot underflow).
      const alpha = v[g + 1];
      let scale = 0;
      for (let r = g + 2; r < n; r++) scale = Math.max(scale, Math.abs(v[r]));
      let tau = 0;
      let beta = alpha;
      if (scale > 0) {
        let ss = 0;
        for (let r = g + 2; r < n; r++) {
          const q = v[r] / scale;
          ss += q * q;
        }
        const h = hypot(alpha, scale * Math.sqrt(ss));
        beta = alpha >= 0 ? -h : h;
        tau = (beta - alpha) / beta;
        const inv = 1 / (alpha - beta);
        for (let r = g + 2; r < n; r++) v[r] *= inv;
      }
      e[g] = beta;
      if (tau === 0) continue; // H = I: u_i and w_i stay 0, so the panel updates skip it
      v[g + 1] = 1;
      const vi = i * n;
      for (let r = g + 1; r < n; r++) vt[vi + r] = v[r];
      symvLower(a, n, g + 1, v, w);
      // w -= V (W^T u) + W (V^T u): the panel's updates that A22 has not received yet.
      for (let c = 0; c < i; c++) {
        const vc = c * n;
        let t1 = 0;
        let t2 = 0;
        for (let r = g + 1; r < n; r++) {
          t1 += wt[vc + r] * v[r];
          t2 += vt[vc + r] * v[r];
        }
        for (let r = g + 1; r < n; r++) w[r] -= vt[vc + r] * t1 + wt[vc + r] * t2;
      }
      let wu = 0;
      for (let r = g + 1; r < n; r++) {
        w[r] *= tau;
        wu += w[r] * v[r];
      }
      const shift = -0.5 * tau * wu;
      for (let r = g + 1; r < n; r++) wt[vi + r] = w[r] + shift * v[r];
    }
    const s = i0 + pb;
    if (s < n) {
      // A22 -= V W^T + W V^T as one product [V W] [W V]^T over 2·pb columns.
      const k2 = 2 * pb;
      const z = new Float64Array(n * k2);
      const zt = new Float64Array(n * k2);
      for (let c = 0; c < pb; c++) {
        const vc = c * n;
        for (let r = s; r < n; r++) {
          const rz = r * k2;
          z[rz + c] = vt[vc + r];
          z[rz + pb + c] = wt[vc + r];
          zt[rz + c] = wt[vc + r];
          zt[rz + pb + c] = vt[vc + r];
        }
      }
      ntProduct({ out: a, ldo: n, x: z, ldx: k2, y: zt, ldy: k2, rowStart: s, rowEnd: n, colStart: s, colEnd: n, shape: 'lower', kLo: 0, kHi: k2, subtract: true });
    }
  }
  // The last diagonal entry was never a panel column; the final trailing update brought it up to date.
  if (n > 0) d[n - 1] = a[(n - 1) * n + n - 1];
}

/**
 * Ascending eigenvalues of a symmetric matrix (lower triangle read), no vectors: blocked
 * Householder + implicit QL, about 2/3 n^3 multiply-adds.
 *
 * QL resolves small eigenvalues of a graded matrix to high relative accuracy only when the
 * large entries sit at the bottom of the tridiagonal, so it is flipped when they sit at the top
 * (LAPACK dsterf's QL/QR choice). This matters for the Frechet distance, where sqrt amplifies
 * the absolute error of tiny eigenvalues: on the reference's cond-1e10 case the wrong
 * orientation is off by 1e-7, the right one by 1e-13.
 */
export function symEigvals(a: ArrayLike<number>, n: number): Float64Array {
  checkSquare(a, n, 'symEigvals');
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) t[i * n + j] = a[i * n + j];
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  tridiagonaliseBlocked(t, n, d, e);
  // tridiagonalQl wants e[i] = coupling of i-1 and i.
  const dq = new Float64Array(n);
  const eq = new Float64Array(n);
  const flip = n > 1 && Math.abs(d[n - 1]) < Math.abs(d[0]);
  for (let i = 0; i < n; i++) {
    dq[i] = flip ? d[n - 1 - i] : d[i];
    if (i > 0) eq[i] = flip ? e[n - 1 - i] : e[i - 1];
  }
  tridiagonalQl(dq, eq, n, null);
  return dq;
}

/**
 * Symmetric eigendecomposition A = V diag(values) V^T, values ascending (numpy.linalg.eigh).
 * Reads the lower triangle of `a`; `a` is not modified.
 */
export function symEig(a: ArrayLike<number>, n: number, opts: { vectors?: boolean } = {}): SymEigResult {
  if (opts.vectors === false) return { values: symEigvals(a, n), vectors: null };
  const { values, rows } = symEigRows(a, n);
  return { values, vectors: transpose(rows, n, n) };
}

/** Transpose of an m×k row-major matrix (k×m result). */
export function transpose(a: ArrayLike<number>, m: number, k: number): Float64Array {
  if (a.length !== m * k) throw new RangeError(`transpose: expected ${m * k} entries, got ${a.length}`);
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const ri = i * k;
    for (let j = 0; j < k; j++) out[j * m + i] = a[ri + j];
  }
  return out;
}

/**
 * C = A B for row-major A (m×k) and B (k×n). Four rows of B per pass over a row of C, so each
 * C element is loaded and stored once per four multiply-adds instead of once per one.
 */
export function matMul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  if (a.length !== m * k) throw new RangeError(`matMul: A must be ${m}×${k}, got ${a.length} entries`);
  if (b.length !== k * n) throw new RangeError(`matMul: B must be ${k}×${n}, got ${b.length} entries`);
  const c = new Float64Array(m * n);
  const k4 = k - (k % 4);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    const ai = i * k;
    let p = 0;
    for (; p < k4; p += 4) {
      const a0 = a[ai + p];
      const a1 = a[ai + p + 1];
      const a2 = a[ai + p + 2];
      const a3 = a[ai + p + 3];
      const b0 = p * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) c[ci + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
    }
    for (; p < k; p++) {
      const a0 = a[ai + p];
      const b0 = p * n;
      for (let j = 0; j < n; j++) c[ci + j] += a0 * b[b0 + j];
    }
  }
  return c;
}

/**
 * B S B^T for row-major B (r×n) and symmetric S (n×n, both triangles stored). Since S = S^T,
 * B S is the tiled "A B^T" product of B and S, and B S B^T that of (B S) and B. The result is
 * exactly symmetric: only its lower triangle is computed and then mirrored.
 */
export function symmetricCongruence(b: ArrayLike<number>, s: ArrayLike<number>, r: number, n: number): Float64Array {
  if (b.length !== r * n) throw new RangeError(`symmetricCongruence: B must be ${r}×${n}, got ${b.length} entries`);
  checkSquare(s, n, 'symmetricCongruence');
  const g = new Float64Array(r * n);
  ntProduct({ out: g, ldo: n, x: b, ldx: n, y: s, ldy: n, rowStart: 0, rowEnd: r, colStart: 0, colEnd: n, shape: 'full', kLo: 0, kHi: n });
  const out = new Float64Array(r * r);
  ntProduct({ out, ldo: r, x: g, ldx: n, y: b, ldy: n, rowStart: 0, rowEnd: r, colStart: 0, colEnd: r, shape: 'lower', kLo: 0, kHi: n });
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) out[j * r + i] = out[i * r + j];
  return out;
}

/**
 * Square root of a symmetric positive semi-definite matrix, V diag(sqrt(max(0, w))) V^T.
 * Negative eigenvalues are clamped to 0: for a covariance they are round-off, and clamping is
 * what makes the square root of a rank-deficient covariance well defined.
 */
export function sqrtPsd(a: ArrayLike<number>, n: number): Float64Array {
  const { values, rows } = symEigRows(a, n);
  // sum_k sqrt(w_k) v_k v_k^T = sum_k u_k u_k^T with u_k = w_k^(1/4) v_k: one symmetric pass.
  for (let k = 0; k < n; k++) {
    const q = Math.sqrt(Math.sqrt(Math.max(0, values[k])));
    const rk = k * n;
    for (let j = 0; j < n; j++) rows[rk + j] *= q;
  }
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const rk = k * n;
    for (let i = 0; i < n; i++) {
      const u = rows[rk + i];
      if (u === 0) continue;
      const oi = i * n;
      for (let j = 0; j <= i; j++) out[oi + j] += u * rows[rk + j];
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) out[j * n + i] = out[i * n + j];
  return out;
}

export interface PivotedCholesky {
  /** n×n row-major, lower-trapezoidal: columns >= rank are zero. */
  l: Float64Array;
  /** (P^T A P)[i][j] = A[perm[i]][perm[j]] ≈ (L L^T)[i][j]. */
  perm: Int32Array;
  /** Number of pivots above the tolerance. */
  rank: number;
}

/** Block width of the pivoted Cholesky: its trailing updates are tiled products of this depth. */
const CHOL_BLOCK = 32;

/**
 * Swaps index j < p of a symmetric matrix stored in the lower triangle of row-major `w`
 * (LAPACK dpstrf's swap): rows' left parts, diagonals, the column j / row p stretch between
 * them, and the two columns below p.
 */
function swapSymmetricLower(w: Float64Array, n: number, j: number, p: number): void {
  const rj = j * n;
  const rp = p * n;
  let x: number;
  for (let k = 0; k < j; k++) {
    x = w[rj + k];
    w[rj + k] = w[rp + k];
    w[rp + k] = x;
  }
  x = w[rj + j];
  w[rj + j] = w[rp + p];
  w[rp + p] = x;
  for (let k = j + 1; k < p; k++) {
    x = w[k * n + j];
    w[k * n + j] = w[rp + k];
    w[rp + k] = x;
  }
  for (let k = p + 1; k < n; k++) {
    const rk = k * n;
    x = w[rk + j];
    w[rk + j] = w[rk + p];
    w[rk + p] = x;
  }
}

/**
 * Cholesky factorisation with diagonal pivoting of a symmetric positive semi-definite matrix
 * (LAPACK dpstrf's blocked algorithm; lower triangle of `a` read): P^T A P = L L^T. It stops
 * when the largest remaining pivot is <= tol (default n * eps * max diag, as dpstrf): what is
 * left is round-off of a rank-deficient covariance, and dropping it is the Cholesky counterpart
 * of clamping negative eigenvalues to 0. Pivoting largest-first also grades L (and L^T S L)
 * from large to small, which `symEigvals` exploits.
 */
export function pivotedCholesky(a: ArrayLike<number>, n: number, tol?: number): PivotedCholesky {
  checkSquare(a, n, 'pivotedCholesky');
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) w[i * n + j] = a[i * n + j];
  const perm = new Int32Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    perm[i] = i;
    maxDiag = Math.max(maxDiag, w[i * n + i]);
  }
  const stop = tol ?? n * EPS * maxDiag;
  // Within a block the trailing matrix is stale; work[i] holds the squares of row i's entries
  // in the block's finished columns, so w[i][i] - work[i] is the current pivot candidate.
  const work = new Float64Array(n);
  // The block's finished columns of L, one per row (bt[c][i] = L[i][j0 + c]), so that a new
  // column is a few long contiguous axpys rather than n short dot products.
  const bt = new Float64Array(CHOL_BLOCK * n);
  const col = new Float64Array(n);
  let rank = n;
  outer: for (let j0 = 0; j0 < n; j0 += CHOL_BLOCK) {
    const j1 = Math.min(n, j0 + CHOL_BLOCK);
    work.fill(0);
    for (let j = j0; j < j1; j++) {
      let p = j;
      let best = w[j * n + j] - work[j];
      for (let i = j + 1; i < n; i++) {
        const c = w[i * n + i] - work[i];
        if (c > best) {
          best = c;
          p = i;
        }
      }
      if (!(best > stop)) {
        rank = j;
        break outer;
      }
      if (p !== j) {
        swapSymmetricLower(w, n, j, p);
        let t = perm[j];
        perm[j] = perm[p];
        perm[p] = t;
        t = work[j];
        work[j] = work[p];
        work[p] = t;
        for (let c = 0; c < j - j0; c++) {
          const o = c * n;
          t = bt[o + j];
          bt[o + j] = bt[o + p];
          bt[o + p] = t;
        }
      }
      const ljj = Math.sqrt(best);
      const rj = j * n;
      w[rj + j] = ljj;
      for (let i = j + 1; i < n; i++) col[i] = w[i * n + j];
      for (let c = 0; c < j - j0; c++) {
        const o = c * n;
        const ljc = bt[o + j];
        for (let i = j + 1; i < n; i++) col[i] -= bt[o + i] * ljc;
      }
      const o = (j - j0) * n;
      bt[o + j] = ljj;
      for (let i = j + 1; i < n; i++) {
        const x = col[i] / ljj;
        w[i * n + j] = x;
        bt[o + i] = x;
        work[i] += x * x;
      }
    }
    if (j1 < n) {
      ntProduct({ out: w, ldo: n, x: w, ldx: n, y: w, ldy: n, rowStart: j1, rowEnd: n, colStart: j1, colEnd: n, shape: 'lower', kLo: j0, kHi: j1, subtract: true });
    }
  }
  // The upper triangle never held L, and columns >= rank hold an unfinished Schur complement.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = Math.min(i + 1, rank); j < n; j++) w[ri + j] = 0;
  }
  return { l: w, perm, rank };
}

/**
 * The leading rank×rank block of L^T A L, for lower-trapezoidal L (n×n row-major, columns
 * >= rank zero, as from `pivotedCholesky`) and symmetric A (lower triangle read); the other rows
 * and columns of L^T A L are zero. With A = T + T^T, T = tril(A) with the diagonal halved,
 * L^T A L = P + P^T for P = L^T (T L): two triangular products, n^3/6 + n^3/3 multiply-adds
 * at full rank (the count of LAPACK dsygst), both as tiled "A B^T" products of L^T, (T L)^T and T.
 */
export function congruenceLower(l: ArrayLike<number>, a: ArrayLike<number>, n: number, rank: number = n): Float64Array {
  checkSquare(l, n, 'congruenceLower (L)');
  checkSquare(a, n, 'congruenceLower (A)');
  if (!Number.isInteger(rank) || rank < 0 || rank > n) throw new RangeError(`congruenceLower: rank must be an integer in [0, ${n}], got ${rank}`);
  const r = rank;
  const t = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < i; j++) t[ri + j] = a[ri + j];
    t[ri + i] = 0.5 * a[ri + i];
  }
  const lt = new Float64Array(r * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j < Math.min(i + 1, r); j++) lt[j * n + i] = l[ri + j];
  }
  // (T L)^T[j][k] = sum_{i=j..k} L[i][j] T[k][i]: zero below the diagonal, like L^T.
  const yt = new Float64Array(r * n);
  ntProduct({ out: yt, ldo: n, x: lt, ldx: n, y: t, ldy: n, rowStart: 0, rowEnd: r, colStart: 0, colEnd: n, shape: 'upper', kLo: 0, kHi: n, kLoFrom: 'row', kHiFromCol: true });
  // P[i][j] = sum_{k >= max(i, j)} L[k][i] (T L)[k][j].
  const p = new Float64Array(r * r);
  ntProduct({ out: p, ldo: r, x: lt, ldx: n, y: yt, ldy: n, rowStart: 0, rowEnd: r, colStart: 0, colEnd: r, shape: 'full', kLo: 0, kHi: n, kLoFrom: 'max' });
  for (let i = 0; i < r; i++) {
    for (let j = 0; j <= i; j++) {
      const v = p[i * r + j] + p[j * r + i];
      p[i * r + j] = v;
      p[j * r + i] = v;
    }
  }
  return p;
}
