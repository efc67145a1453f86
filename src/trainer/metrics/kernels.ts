/**
 * The two inner loops that carry almost all of the O(n^3) work of the Frechet distance, written
 * for V8's scalar float64 code: there is no SIMD in plain JS, so speed comes from doing several
 * multiply-adds per array load and keeping accumulators in registers.
 *
 * - `ntProduct`: out[i][j] += / -= sum_k x[i][k] y[j][k] over row-major x and y (both read
 *   along rows, i.e. "A B^T"). 3×3 output tiles: 6 loads feed 9 multiply-adds, against 2 or 3
 *   loads per multiply-add in an axpy loop; measured ~1.0 GMadd/s vs ~0.3 on one core here.
 * - `symvLower`: w = A v for a symmetric A stored in its lower triangle, four rows at a time.
 */

export interface NtSpec {
  out: Float64Array;
  ldo: number;
  x: ArrayLike<number>;
  ldx: number;
  y: ArrayLike<number>;
  ldy: number;
  /** Output rows i in [rowStart, rowEnd) and columns j in [colStart, colEnd). */
  rowStart: number;
  rowEnd: number;
  colStart: number;
  colEnd: number;
  /** Which (i, j) are written: all, j <= i, or j >= i. */
  shape: 'full' | 'lower' | 'upper';
  /** Dot range k in [kLo, kHi) ... */
  kLo: number;
  kHi: number;
  /**
   * ... narrowed per 3×3 tile for triangular operands: 'row' starts it at the tile's first row,
   * 'max' at max(first row, first column); `kHiFromCol` ends it after the tile's last column.
   * Callers use these only where the skipped terms are stored zeros, so results are unchanged.
   */
  kLoFrom?: 'row' | 'max';
  kHiFromCol?: boolean;
  subtract?: boolean;
}

function dot3x3(
  x: ArrayLike<number>,
  x0: number,
  x1: number,
  x2: number,
  y: ArrayLike<number>,
  y0: number,
  y1: number,
  y2: number,
  len: number,
  acc: Float64Array,
): void {
  let c00 = 0;
  let c01 = 0;
  let c02 = 0;
  let c10 = 0;
  let c11 = 0;
  let c12 = 0;
  let c20 = 0;
  let c21 = 0;
  let c22 = 0;
  for (let k = 0; k < len; k++) {
    const a0 = x[x0 + k];
    const a1 = x[x1 + k];
    const a2 = x[x2 + k];
    const b0 = y[y0 + k];
    const b1 = y[y1 + k];
    const b2 = y[y2 + k];
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
  }
  acc[0] = c00;
  acc[1] = c01;
  acc[2] = c02;
  acc[3] = c10;
  acc[4] = c11;
  acc[5] = c12;
  acc[6] = c20;
  acc[7] = c21;
  acc[8] = c22;
}

/**
 * Tiled "A B^T" accumulation (see NtSpec). Edge tiles repeat their last row/column instead of
 * branching in the inner loop; the duplicates are computed and dropped.
 */
export function ntProduct(s: NtSpec): void {
  const { out, ldo, x, ldx, y, ldy, rowStart, rowEnd, colStart, colEnd, shape } = s;
  const sign = s.subtract ? -1 : 1;
  const acc = new Float64Array(9);
  for (let i = rowStart; i < rowEnd; i += 3) {
    const iLast = Math.min(i + 2, rowEnd - 1);
    const ib = Math.min(i + 1, iLast);
    let jFirst = colStart;
    let jEnd = colEnd;
    if (shape === 'lower') jEnd = Math.min(colEnd, iLast + 1);
    else if (shape === 'upper') jFirst = Math.max(colStart, i);
    for (let j = jFirst; j < jEnd; j += 3) {
      const jLast = Math.min(j + 2, jEnd - 1);
      const jb = Math.min(j + 1, jLast);
      let lo = s.kLo;
      if (s.kLoFrom === 'row') lo = Math.max(lo, i);
      else if (s.kLoFrom === 'max') lo = Math.max(lo, i, j);
      const hi = s.kHiFromCol ? Math.min(s.kHi, jLast + 1) : s.kHi;
      if (hi <= lo) continue;
      dot3x3(x, i * ldx + lo, ib * ldx + lo, iLast * ldx + lo, y, j * ldy + lo, jb * ldy + lo, jLast * ldy + lo, hi - lo, acc);
      for (let p = 0; p < 3 && i + p <= iLast; p++) {
        const r = i + p;
        const o = r * ldo;
        for (let q = 0; q < 3 && j + q <= jLast; q++) {
          const c = j + q;
          if ((shape === 'lower' && c > r) || (shape === 'upper' && c < r)) continue;
          out[o + c] += sign * acc[3 * p + q];
        }
      }
    }
  }
}

/**
 * w[r] = sum_{c in [s, n)} A[r][c] v[c] for r in [s, n), A symmetric n×n row-major with only its
 * lower triangle read. Each stored entry serves twice (row dot and column axpy), and four rows
 * share every load of v[c] and w[c].
 */
export function symvLower(a: Float64Array, n: number, s: number, v: Float64Array, w: Float64Array): void {
  for (let r = s; r < n; r++) w[r] = 0;
  let r = s;
  for (; r + 3 < n; r += 4) {
    const o0 = r * n;
    const o1 = o0 + n;
    const o2 = o1 + n;
    const o3 = o2 + n;
    const v0 = v[r];
    const v1 = v[r + 1];
    const v2 = v[r + 2];
    const v3 = v[r + 3];
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let c = s; c < r; c++) {
      const a0 = a[o0 + c];
      const a1 = a[o1 + c];
      const a2 = a[o2 + c];
      const a3 = a[o3 + c];
      const vc = v[c];
      s0 += a0 * vc;
      s1 += a1 * vc;
      s2 += a2 * vc;
      s3 += a3 * vc;
      w[c] += a0 * v0 + a1 * v1 + a2 * v2 + a3 * v3;
    }
    // The 4×4 diagonal block, lower part.
    const a10 = a[o1 + r];
    const a20 = a[o2 + r];
    const a21 = a[o2 + r + 1];
    const a30 = a[o3 + r];
    const a31 = a[o3 + r + 1];
    const a32 = a[o3 + r + 2];
    w[r] += s0 + a[o0 + r] * v0 + a10 * v1 + a20 * v2 + a30 * v3;
    w[r + 1] += s1 + a10 * v0 + a[o1 + r + 1] * v1 + a21 * v2 + a31 * v3;
    w[r + 2] += s2 + a20 * v0 + a21 * v1 + a[o2 + r + 2] * v2 + a32 * v3;
    w[r + 3] += s3 + a30 * v0 + a31 * v1 + a32 * v2 + a[o3 + r + 3] * v3;
  }
  for (; r < n; r++) {
    const o = r * n;
    const vr = v[r];
    let sr = 0;
    for (let c = s; c < r; c++) {
      const x = a[o + c];
      sr += x * v[c];
      w[c] += x * vr;
    }
    w[r] += sr + a[o + r] * vr;
  }
}
