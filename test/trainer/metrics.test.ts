import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Rng } from '../../src/trainer/rng';
import { congruenceLower, matMul, pivotedCholesky, sqrtPsd, symEig, symEigvals, symmetricCongruence, transpose } from '../../src/trainer/metrics/linalg';
import { FrechetInputError, frechetDistance, frechetDistanceParts, type FrechetFactor } from '../../src/trainer/metrics/frechet';
import { FeatureStats, meanAndCovariance } from '../../src/trainer/metrics/stats';
import { drawSubset, kernelInceptionDistance, kidSubsetValue, mmdUnbiased } from '../../src/trainer/metrics/kid';
import { fdCommand } from '../../src/trainer/metrics/fdCommand';

// A copy of shared/data/fid-reference-vectors.json (see its meta for how it was generated).
const REFERENCE = path.resolve(__dirname, '../fixtures/fid-reference-vectors.json');

interface FdCase {
  name: string;
  d: number;
  mu1: number[];
  sigma1: number[][];
  mu2: number[];
  sigma2: number[][];
  fd_mp: number;
  fd_closed_form?: number;
  X?: number[][];
  Y?: number[][];
}

interface KidCase {
  name: string;
  d: number;
  X: number[][];
  Y: number[][];
  kid_full_mp: number;
  subsets: { ix: number[]; iy: number[] }[];
  subset_values: number[];
  subset_mean: number;
  subset_std_ddof0: number;
}

const reference = JSON.parse(fs.readFileSync(REFERENCE, 'utf8')) as { fd: FdCase[]; kid: KidCase[] };

const flat = (m: number[][]): Float64Array => Float64Array.from(m.flat());

function trace(s: Float64Array, d: number): number {
  let t = 0;
  for (let i = 0; i < d; i++) t += s[i * d + i];
  return t;
}

/** The reference file's suggested tolerance, relative to tr(sigma1) + tr(sigma2). */
function relTolerance(name: string): number {
  if (name.startsWith('singular')) return 1e-7;
  if (name.startsWith('ill_conditioned')) return 1e-8;
  return 1e-10;
}

/** mulberry32 as given in the reference file's meta.prng, to replay its subset draws. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.uniform() - 0.5;
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

/** A random orthogonal matrix as a product of n Householder reflectors. */
function randomOrthogonal(n: number, rng: Rng): Float64Array {
  let q: Float64Array = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let r = 0; r < n; r++) {
    const v = new Float64Array(n);
    let norm = 0;
    for (let i = 0; i < n; i++) {
      v[i] = rng.normal();
      norm += v[i] * v[i];
    }
    const h = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / norm;
    q = matMul(q, h, n, n, n);
  }
  return q;
}

/** Q diag(w) Q^T, exactly symmetrised. */
function withSpectrum(w: number[], rng: Rng): Float64Array {
  const n = w.length;
  const q = randomOrthogonal(n, rng);
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * w[j];
  const a = matMul(qd, transpose(q, n, n), n, n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[j * n + i] = a[i * n + j];
  return a;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function checkEigh(a: Float64Array, n: number, what: string): Float64Array {
  const { values, vectors } = symEig(a, n);
  assert.ok(vectors, what);
  for (let i = 1; i < n; i++) assert.ok(values[i - 1] <= values[i], `${what}: eigenvalues ascending`);
  const scale = Math.max(maxAbs(a), 1e-300);
  const vw = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) vw[i * n + k] = vectors[i * n + k] * values[k];
  const recon = matMul(vw, transpose(vectors, n, n), n, n, n);
  assert.ok(maxAbsDiff(recon, a) <= 1e-13 * n * scale, `${what}: V diag(w) V^T = A, off by ${maxAbsDiff(recon, a)}`);
  const vtv = matMul(transpose(vectors, n, n), vectors, n, n, n);
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  assert.ok(maxAbsDiff(vtv, eye) <= 1e-13 * n, `${what}: V^T V = I, off by ${maxAbsDiff(vtv, eye)}`);
  assert.ok(maxAbsDiff(symEigvals(a, n), values) <= 1e-14 * n * scale, `${what}: eigenvalues without vectors agree`);
  return values;
}

test('eigensolver reconstructs random symmetric matrices', () => {
  const rng = new Rng(11);
  for (const n of [1, 2, 3, 5, 16, 33, 80]) checkEigh(randomSymmetric(n, rng), n, `random n=${n}`);
});

test('eigensolver finds known spectra, repeated, zero and negative eigenvalues included', () => {
  const rng = new Rng(12);
  const spectra = [
    [3, 3, 3, 3, 3, 3],
    [-2, -1e-9, 0, 0, 0, 1e-12, 4, 4, 7.5, 1e6],
    Array.from({ length: 40 }, (_, i) => 10 ** (-i / 4)),
    Array.from({ length: 25 }, (_, i) => (i % 3) - 1),
  ];
  for (const w of spectra) {
    const n = w.length;
    const values = checkEigh(withSpectrum(w, rng), n, `spectrum ${w.slice(0, 3).join(',')}…`);
    const sorted = [...w].sort((x, y) => x - y);
    assert.ok(maxAbsDiff(values, sorted) <= 1e-13 * n * maxAbs(w), `known spectrum off by ${maxAbsDiff(values, sorted)}`);
  }
  // Already diagonal and all-zero inputs take the scale === 0 branch of the reduction.
  const diag = new Float64Array(16);
  [5, -1, 2, 0].forEach((v, i) => (diag[i * 4 + i] = v));
  assert.deepEqual(Array.from(symEig(diag, 4).values), [-1, 0, 2, 5]);
  assert.deepEqual(Array.from(symEig(new Float64Array(9), 3).values), [0, 0, 0]);
});

test('blocked eigenvalues (several Householder panels) agree with the EISPACK path', () => {
  const rng = new Rng(16);
  for (const n of [65, 100, 131]) checkEigh(randomSymmetric(n, rng), n, `random n=${n}`);
  // Graded both ways: the QL orientation choice must keep small eigenvalues accurate.
  const w = Array.from({ length: 90 }, (_, i) => 10 ** (-i / 9));
  for (const order of ['descending', 'ascending']) {
    const ws = order === 'descending' ? w : [...w].reverse();
    const n = ws.length;
    const a = withSpectrum(ws, rng);
    const got = symEigvals(a, n);
    const sorted = [...w].sort((x, y) => x - y);
    assert.ok(maxAbsDiff(got, sorted) <= 1e-14 * n, `graded ${order}: off by ${maxAbsDiff(got, sorted)}`);
  }
});

test('eigensolver reads only the lower triangle and rejects wrong shapes', () => {
  const rng = new Rng(13);
  const a = randomSymmetric(6, rng);
  const b = a.slice();
  for (let i = 0; i < 6; i++) for (let j = i + 1; j < 6; j++) b[i * 6 + j] = 99;
  assert.deepEqual(symEigvals(b, 6), symEigvals(a, 6));
  assert.throws(() => symEig(new Float64Array(8), 3), /3×3/);
});

test('sqrtPsd squares back and clamps round-off negatives to zero', () => {
  const rng = new Rng(14);
  const n = 12;
  const w = [0, 0, -1e-15, 1e-3, 0.5, 1, 2, 3, 4, 5, 6, 100];
  const a = withSpectrum(w, rng);
  const s = sqrtPsd(a, n);
  assert.ok(maxAbsDiff(matMul(s, s, n, n, n), a) <= 1e-12 * 100, 'S S = A');
  assert.ok(maxAbsDiff(s, transpose(s, n, n)) === 0, 'exactly symmetric');
  assert.ok(symEigvals(s, n)[0] > -1e-7, 'PSD');
});

test('pivoted Cholesky finds the rank, and L^T A L matches the explicit product', () => {
  const rng = new Rng(15);
  const n = 20;
  const g = new Float64Array(n * 7).map(() => rng.normal());
  const lowRank = matMul(g, transpose(g, n, 7), n, 7, n);
  const ch = pivotedCholesky(lowRank, n);
  assert.equal(ch.rank, 7);
  const llt = matMul(ch.l, transpose(ch.l, n, n), n, n, n);
  const pap = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) pap[i * n + j] = lowRank[ch.perm[i] * n + ch.perm[j]];
  assert.ok(maxAbsDiff(llt, pap) <= 1e-12 * maxAbs(lowRank));
  const a = randomSymmetric(n, rng);
  const explicit = matMul(matMul(transpose(ch.l, n, n), a, n, n, n), ch.l, n, n, n);
  assert.ok(maxAbsDiff(congruenceLower(ch.l, a, n, n), explicit) <= 1e-12 * maxAbs(explicit));
  assert.ok(maxAbsDiff(symmetricCongruence(transpose(ch.l, n, n), a, n, n), explicit) <= 1e-12 * maxAbs(explicit));
});

test('pivoted Cholesky and L^T A L beyond one block, with the rank reached mid-block', () => {
  const rng = new Rng(17);
  const n = 100;
  const k = 45;
  const g = new Float64Array(n * k).map(() => rng.normal());
  const s = matMul(g, transpose(g, n, k), n, k, n);
  const ch = pivotedCholesky(s, n);
  assert.equal(ch.rank, k);
  for (let i = 1; i < n; i++) assert.ok(ch.l[i * n + i] <= ch.l[(i - 1) * n + i - 1] || i >= k, 'pivots decrease');
  const llt = matMul(ch.l, transpose(ch.l, n, n), n, n, n);
  const pap = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) pap[i * n + j] = s[ch.perm[i] * n + ch.perm[j]];
  assert.ok(maxAbsDiff(llt, pap) <= 1e-12 * maxAbs(s));
  const a = randomSymmetric(n, rng);
  const explicit = matMul(matMul(transpose(ch.l, n, n), a, n, n, n), ch.l, n, n, n);
  const lead = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) lead[i * k + j] = explicit[i * n + j];
  assert.ok(maxAbsDiff(congruenceLower(ch.l, a, n, k), lead) <= 1e-12 * maxAbs(explicit));
  assert.ok(maxAbs(explicit.subarray(k * n)) <= 1e-12 * maxAbs(explicit), 'rows >= rank vanish');
});

test('Cholesky and eigh routes agree at d = 150 (several blocks and panels)', () => {
  const rng = new Rng(18);
  const d = 150;
  const make = (n: number, shift: number): { mu: Float64Array; sigma: Float64Array } => {
    const x = new Float64Array(n * d).map(() => rng.normal() + shift);
    return meanAndCovariance(x, n, d);
  };
  const a = make(400, 0);
  const a2 = make(300, 0.2);
  const b = make(120, 0.1); // rank-deficient: 120 samples in 150 dimensions
  // The reference file's tolerances: 1e-10 of the traces when full rank, 1e-7 when singular
  // (sqrt amplifies the ~1e-14 round-off eigenvalues of the null space in every float64 method).
  for (const [s1, s2, rel] of [
    [a, a2, 1e-10],
    [a, b, 1e-7],
    [b, a, 1e-7],
  ] as const) {
    const tol = rel * (trace(s1.sigma, d) + trace(s2.sigma, d));
    const c = frechetDistanceParts(s1.mu, s1.sigma, s2.mu, s2.sigma, d, { factor: 'cholesky' });
    const e = frechetDistanceParts(s1.mu, s1.sigma, s2.mu, s2.sigma, d, { factor: 'eigh' });
    assert.ok(Math.abs(c.value - e.value) <= tol, `cholesky ${c.value} vs eigh ${e.value}`);
  }
  assert.equal(frechetDistanceParts(b.mu, b.sigma, a.mu, a.sigma, d).rank1, 119);
});

for (const c of reference.fd) {
  for (const factor of ['cholesky', 'eigh'] as FrechetFactor[]) {
    test(`Frechet distance ${c.name} (${factor}) matches the 40-digit value`, () => {
      const s1 = flat(c.sigma1);
      const s2 = flat(c.sigma2);
      const ts = frechetDistance(c.mu1, s1, c.mu2, s2, c.d, { factor });
      const tol = relTolerance(c.name) * (trace(s1, c.d) + trace(s2, c.d));
      assert.ok(Math.abs(ts - c.fd_mp) <= tol, `${ts} vs fd_mp ${c.fd_mp}: off by ${Math.abs(ts - c.fd_mp)} > ${tol}`);
      if (c.fd_closed_form !== undefined) assert.ok(Math.abs(ts - c.fd_closed_form) <= tol, `${ts} vs closed form ${c.fd_closed_form}`);
    });
  }
}

test('Frechet distance is ~0 for equal inputs and symmetric in its arguments', () => {
  const c = reference.fd.find((x) => x.name === 'random_d32');
  assert.ok(c);
  const s1 = flat(c.sigma1);
  const s2 = flat(c.sigma2);
  const tol = 1e-10 * (trace(s1, c.d) + trace(s2, c.d));
  assert.ok(Math.abs(frechetDistance(c.mu1, s1, c.mu1, s1, c.d)) <= tol);
  assert.ok(Math.abs(frechetDistance(c.mu2, s2, c.mu1, s1, c.d) - c.fd_mp) <= tol);
  const zero = new Float64Array(c.d * c.d);
  const p = frechetDistanceParts(c.mu1, zero, c.mu2, s2, c.d);
  assert.equal(p.rank1, 0);
  assert.equal(p.traceSqrt, 0);
});

test('Frechet distance rejects bad shapes, non-finite and asymmetric input, naming the argument', () => {
  const eye = Float64Array.from([1, 0, 0, 1]);
  const mu = [0, 0];
  const field = (f: string) => (e: unknown) => e instanceof FrechetInputError && e.field === f;
  assert.throws(() => frechetDistance([0, 0, 0], eye, mu, eye, 2), field('mu1'));
  assert.throws(() => frechetDistance(mu, eye, mu, Float64Array.from([1, 0, 0]), 2), field('sigma2'));
  assert.throws(() => frechetDistance(mu, Float64Array.from([1, 0, 0, NaN]), mu, eye, 2), field('sigma1'));
  assert.throws(() => frechetDistance([0, Infinity], eye, mu, eye, 2), field('mu1'));
  assert.throws(() => frechetDistance(mu, eye, mu, Float64Array.from([1, 0.5, 0, 1]), 2), (e: unknown) => field('sigma2')(e) && /not symmetric/.test((e as Error).message));
  assert.throws(() => frechetDistance(mu, eye, mu, eye, 0), field('d'));
});

test('streaming statistics equal the reference np.cov (ddof=1) and the batch computation', () => {
  for (const c of reference.fd) {
    if (!c.X || !c.Y) continue;
    for (const [rows, mu, sigma] of [
      [c.X, c.mu1, c.sigma1],
      [c.Y, c.mu2, c.sigma2],
    ] as const) {
      const d = c.d;
      const x = flat(rows);
      const st = new FeatureStats(d);
      // Uneven batches, including a single row, exercise every merge path.
      const cuts = [0, 1, 6, 17, rows.length];
      for (let i = 1; i < cuts.length; i++) st.add(x.subarray(cuts[i - 1] * d, cuts[i] * d));
      assert.equal(st.count, rows.length);
      const scale = maxAbs(flat(sigma));
      assert.ok(maxAbsDiff(st.mean(), mu) <= 1e-14 * maxAbs(mu), `${c.name} mean`);
      assert.ok(maxAbsDiff(st.covariance(), flat(sigma)) <= 1e-13 * scale, `${c.name} covariance off by ${maxAbsDiff(st.covariance(), flat(sigma))}`);
      const batch = meanAndCovariance(x, rows.length, d);
      assert.ok(maxAbsDiff(st.covariance(), batch.sigma) <= 1e-13 * scale);
    }
  }
});

test('streaming statistics stay accurate for a large mean, merge, and round-trip through JSON', () => {
  const rng = new Rng(21);
  const d = 9;
  const n = 500;
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = 1000 + rng.normal();
  const batch = meanAndCovariance(x, n, d);
  const a = new FeatureStats(d).add(x.subarray(0, 130 * d));
  const b = new FeatureStats(d).add(x.subarray(130 * d, 377 * d)).add(x.subarray(377 * d));
  a.addStats(b);
  assert.equal(a.count, n);
  assert.ok(maxAbsDiff(a.mean(), batch.mu) <= 1e-12 * 1000);
  assert.ok(maxAbsDiff(a.covariance(), batch.sigma) <= 1e-12, `covariance off by ${maxAbsDiff(a.covariance(), batch.sigma)}`);
  const json = JSON.parse(JSON.stringify(a)) as unknown;
  const back = FeatureStats.fromJSON(json);
  assert.deepEqual(back.mean(), a.mean());
  assert.deepEqual(back.covariance(), a.covariance());
  // Continue streaming after a reload: same result as never having saved.
  const more = new Float32Array(40 * d).map(() => 1000 + rng.normal());
  back.add(more);
  a.add(more);
  assert.ok(maxAbsDiff(back.covariance(), a.covariance()) <= 1e-13);
  assert.throws(() => FeatureStats.fromJSON({ mu: [1, 2], sigma: [[1, 0]], n: 5 }), /sigma/);
  assert.throws(() => FeatureStats.fromJSON({ mu: [1], sigma: [[1]], n: 1 }), /"n"/);
  assert.throws(() => new FeatureStats(2).add(Float32Array.from([1, NaN])), /row 0 column 1/);
  assert.throws(() => new FeatureStats(2).add(new Float32Array(3)), /not a whole number of rows of d = 2/);
  assert.throws(() => new FeatureStats(2).add(new Float32Array(4), 3), /3×2 = 6 values, got 4/);
  assert.throws(() => new FeatureStats(2).add(new Float32Array(2)).covariance(), /at least 2 rows/);
});

for (const c of reference.kid) {
  test(`KID ${c.name}: full-set value and replayed subsets`, () => {
    const d = c.d;
    const x = flat(c.X);
    const y = flat(c.Y);
    const full = mmdUnbiased(x, c.X.length, y, c.Y.length, d);
    assert.ok(Math.abs(full - c.kid_full_mp) <= 1e-12, `full ${full} vs ${c.kid_full_mp}`);
    const next = mulberry32(4242);
    c.subsets.forEach((s, i) => {
      // The file's draws: partial Fisher-Yates, one mulberry32(4242) stream, x then y per subset.
      assert.deepEqual(Array.from(drawSubset(c.X.length, s.ix.length, next)), s.ix);
      assert.deepEqual(Array.from(drawSubset(c.Y.length, s.iy.length, next)), s.iy);
      assert.ok(Math.abs(kidSubsetValue(x, s.ix, y, s.iy, d) - c.subset_values[i]) <= 1e-12);
    });
    const r = kernelInceptionDistance(x, c.X.length, y, c.Y.length, d, { numSubsets: c.subsets.length, subsetSize: c.subsets[0].ix.length, nextUint32: mulberry32(4242) });
    assert.ok(Math.abs(r.mean - c.subset_mean) <= 1e-12);
    assert.ok(Math.abs(r.std - c.subset_std_ddof0) <= 1e-12);
  });
}

test('KID defaults: seeded, min(1000, n) subsets, float32 features, clear errors', () => {
  const c = reference.kid[0];
  const d = c.d;
  const x = Float32Array.from(c.X.flat());
  const y = Float32Array.from(c.Y.flat());
  const a = kernelInceptionDistance(x, c.X.length, y, c.Y.length, d, { numSubsets: 10, seed: 3 });
  const b = kernelInceptionDistance(x, c.X.length, y, c.Y.length, d, { numSubsets: 10, seed: 3 });
  assert.equal(a.subsetSize, 40);
  assert.deepEqual(a, b);
  // Subsets of the whole set are the whole set, so every value is the full-set estimate.
  const full = mmdUnbiased(x, c.X.length, y, c.Y.length, d);
  for (const v of a.values) assert.ok(Math.abs(v - full) <= 1e-12);
  assert.ok(a.std <= 1e-12);
  assert.throws(() => kernelInceptionDistance(x, c.X.length, y, c.Y.length, d, { subsetSize: 41 }), /subsetSize/);
  assert.throws(() => mmdUnbiased(x, c.X.length, y, c.Y.length - 1, d), /y must hold/);
  assert.throws(() => drawSubset(3, 4, () => 0), /without replacement/);
});

function capture(): { io: { stdout: { write(s: string): boolean }; stderr: { write(s: string): boolean } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true) },
      stderr: { write: (s: string) => ((err += s), true) },
    },
    out: () => out,
    err: () => err,
  };
}

test('fd command prints the distance, and --json its terms', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-fd-'));
  try {
    const c = reference.fd.find((x) => x.name === 'random_d16');
    assert.ok(c);
    const a = path.join(dir, 'a.json');
    const b = path.join(dir, 'b.json');
    fs.writeFileSync(a, JSON.stringify({ mu: c.mu1, sigma: c.sigma1, n: 96 }));
    fs.writeFileSync(b, JSON.stringify({ mu: c.mu2, sigma: c.sigma2 }));
    let cap = capture();
    assert.equal(await fdCommand([a, b], cap.io), 0);
    const printed = Number(cap.out().trim());
    assert.equal(printed, frechetDistance(c.mu1, flat(c.sigma1), c.mu2, flat(c.sigma2), c.d));
    assert.ok(Math.abs(printed - c.fd_mp) <= 1e-10 * 10);
    assert.equal(cap.err(), '');
    cap = capture();
    assert.equal(await fdCommand([a, b, '--json', '--factor', 'eigh'], cap.io), 0);
    const j = JSON.parse(cap.out()) as { fd: number; d: number; n1: number; n2: number | null; factor: string };
    assert.equal(j.d, 16);
    assert.equal(j.n1, 96);
    assert.equal(j.n2, null);
    assert.equal(j.factor, 'eigh');
    assert.ok(Math.abs(j.fd - c.fd_mp) <= 1e-9);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('fd command exits 2 naming the file and field on bad input', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-fd-'));
  try {
    const write = (name: string, content: unknown): string => {
      const p = path.join(dir, name);
      fs.writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
      return p;
    };
    const good = write('good.json', { mu: [0, 0], sigma: [[1, 0], [0, 1]] });
    const cases: [string, string[], RegExp][] = [
      ['missing file', [path.join(dir, 'nope.json'), good], /nope\.json: cannot read the file \(no such file\)/],
      ['bad JSON', [write('bad.json', '{"mu": [1,'), good], /bad\.json: not valid JSON/],
      ['not an object', [write('arr.json', [1, 2]), good], /arr\.json: expected a JSON object/],
      ['missing sigma', [good, write('nosig.json', { mu: [0, 0] })], /nosig\.json: field "sigma": missing/],
      ['mu not numbers', [write('mustr.json', { mu: [0, 'x'], sigma: [[1, 0], [0, 1]] }), good], /mustr\.json: field "mu\[1\]": expected a finite number/],
      ['sigma row too short', [write('short.json', { mu: [0, 0], sigma: [[1, 0], [0]] }), good], /short\.json: field "sigma\[1\]": has 1 entries, expected 2/],
      ['non-square sigma', [write('rect.json', { mu: [0, 0], sigma: [[1, 0], [0, 1], [0, 0]] }), good], /rect\.json: field "sigma": has 3 rows but "mu" has 2 entries/],
      ['null entry', [good, write('nul.json', { mu: [0, 0], sigma: [[1, null], [0, 1]] })], /nul\.json: field "sigma\[0\]\[1\]": expected a finite number, found null/],
      ['mismatched d', [good, write('d3.json', { mu: [0, 0, 0], sigma: [[1, 0, 0], [0, 1, 0], [0, 0, 1]] })], /dimension mismatch: .*good\.json has d = 2 .*d3\.json has d = 3/],
      ['asymmetric', [good, write('asym.json', { mu: [0, 0], sigma: [[1, 0.5], [0, 1]] })], /asym\.json: field "sigma": not symmetric/],
      ['bad n', [write('badn.json', { mu: [0, 0], sigma: [[1, 0], [0, 1]], n: 1.5 }), good], /badn\.json: field "n"/],
      ['one file', [good], /exactly two statistics files[\s\S]*usage: immiscible fd/],
      ['bad factor', [good, good, '--factor', 'jacobi'], /--factor must be cholesky or eigh/],
      ['unknown option', [good, good, '--bogus'], /bogus/],
    ];
    for (const [what, argv, message] of cases) {
      const cap = capture();
      assert.equal(await fdCommand(argv, cap.io), 2, what);
      assert.match(cap.err(), message, what);
      assert.equal(cap.out(), '', what);
    }
    // A rank-deficient (n <= d) input is allowed but flagged.
    const cap = capture();
    assert.equal(await fdCommand([write('small.json', { mu: [0, 0], sigma: [[1, 0], [0, 1]], n: 2 }), good], cap.io), 0);
    assert.match(cap.err(), /warning: .*small\.json has n = 2 <= d = 2/);
    assert.equal(cap.out(), '0\n');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
