import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assignmentCost,
  linearSumAssignment,
  linearSumAssignmentWith,
  type LsaOptions,
  meanPairDistance,
  nearestOfK,
  pairwiseCost,
  type CostKind,
} from '../../src/trainer/assignment';
import { loadNativeKernels } from '../../src/trainer/backend/nativeAddon';
import { Rng } from '../../src/trainer/rng';
import { smoothImages } from '../../bench/bench-assign-data';

// ---------- helpers ----------

function isPermutation(col: Int32Array, n: number): boolean {
  if (col.length !== n) return false;
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const j = col[i];
    if (!(j >= 0 && j < n) || seen[j]) return false;
    seen[j] = 1;
  }
  return true;
}

/** Minimum total over all n! permutations, by depth-first enumeration. */
function bruteForceMin(cost: Float64Array, n: number): number {
  if (n === 0) return 0;
  const used = new Uint8Array(n);
  let best = Infinity;
  const go = (i: number, acc: number): void => {
    if (i === n) {
      if (acc < best) best = acc;
      return;
    }
    for (let j = 0; j < n; j++) {
      if (used[j]) continue;
      used[j] = 1;
      go(i + 1, acc + cost[i * n + j]);
      used[j] = 0;
    }
  };
  go(0, 0);
  return best;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

interface Case {
  name: string;
  n: number;
  cost: Float64Array;
  /** Integer-valued (times a power of two) with sums below 2^53: totals must match exactly. */
  exact: boolean;
}

const SMALL_KINDS = [
  'uniform',
  'int-ties',
  'binary',
  'equal-rows',
  'all-equal',
  'negative',
  'huge-float',
  'huge-int',
  'huge-plus-small',
  'near-max',
  'low-rank',
  'rank-one',
  'additive',
  'column-cheap',
  'sparse-huge',
  'subnormal',
  'signed-zero',
  'wide-range',
  'image-like',
  'two-values',
] as const;
type SmallKind = (typeof SMALL_KINDS)[number];

function makeMatrix(rng: Rng, kind: SmallKind, n: number): Case {
  const c = new Float64Array(n * n);
  let exact = true;
  switch (kind) {
    case 'uniform':
      for (let k = 0; k < c.length; k++) c[k] = rng.uniform();
      exact = false;
      break;
    case 'int-ties':
      for (let k = 0; k < c.length; k++) c[k] = rng.int(4);
      break;
    case 'binary':
      for (let k = 0; k < c.length; k++) c[k] = rng.int(2);
      break;
    case 'equal-rows': {
      // Every row constant: any permutation is optimal.
      for (let i = 0; i < n; i++) c.fill(rng.int(21) - 10, i * n, (i + 1) * n);
      break;
    }
    case 'all-equal':
      c.fill(rng.int(7) - 3);
      break;
    case 'negative':
      for (let k = 0; k < c.length; k++) c[k] = -1000 * rng.uniform() - 5;
      exact = false;
      break;
    case 'huge-float':
      for (let k = 0; k < c.length; k++) c[k] = (2 * rng.uniform() - 1) * 1e12;
      exact = false;
      break;
    case 'huge-int':
      for (let k = 0; k < c.length; k++) c[k] = (rng.int(2001) - 1000) * 1e9;
      break;
    case 'huge-plus-small':
      // Differences of a few units on top of 1e12: lost by any solver that works in float32.
      for (let k = 0; k < c.length; k++) c[k] = 1e12 * (1 + rng.int(2)) + rng.int(5);
      break;
    case 'near-max':
      // Entries near Number.MAX_VALUE / 10: sums of potentials would overflow without scaling.
      for (let k = 0; k < c.length; k++) c[k] = (rng.int(101) - 50) * 2 ** 1015;
      break;
    case 'low-rank': {
      // Squared distances of 2-D points: the hardest shape for augmenting-path solvers.
      const p = Array.from({ length: 2 * n }, () => rng.normal());
      const q = Array.from({ length: 2 * n }, () => rng.normal());
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          c[i * n + j] = (p[2 * i] - q[2 * j]) ** 2 + (p[2 * i + 1] - q[2 * j + 1]) ** 2;
        }
      }
      exact = false;
      break;
    }
    case 'rank-one':
      // c_ij = a_i b_j with small integers: a product structure full of exact ties.
      {
        const a = Array.from({ length: n }, () => rng.int(7) - 3);
        const b = Array.from({ length: n }, () => rng.int(7) - 3);
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[i * n + j] = a[i] * b[j];
      }
      break;
    case 'additive': {
      // c_ij = a_i + b_j: every permutation has the same total.
      const a = Array.from({ length: n }, () => rng.int(1001) - 500);
      const b = Array.from({ length: n }, () => rng.int(1001) - 500);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[i * n + j] = a[i] + b[j];
      break;
    }
    case 'column-cheap': {
      // One column is the minimum of every row: column reduction offers it to every row.
      const jc = rng.int(n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[i * n + j] = j === jc ? -5 : rng.int(9);
      break;
    }
    case 'sparse-huge':
      // Mostly zeros with a few entries near 1e15: forbidden-ish pairs.
      for (let k = 0; k < c.length; k++) c[k] = rng.uniform() < 0.3 ? 1e15 + rng.int(3) : 0;
      break;
    case 'subnormal':
      // Integers times 2^-1060 are exact subnormals, and so are their small sums.
      for (let k = 0; k < c.length; k++) c[k] = (rng.int(41) - 20) * 2 ** -1060;
      break;
    case 'signed-zero':
      for (let k = 0; k < c.length; k++) c[k] = rng.uniform() < 0.5 ? -0 : rng.int(2);
      break;
    case 'wide-range':
      // Magnitudes from 1e-200 to 1e200: sums lose the small entries, so compare with tolerance.
      for (let k = 0; k < c.length; k++) c[k] = (rng.uniform() < 0.5 ? -1 : 1) * 10 ** (400 * rng.uniform() - 200);
      exact = false;
      break;
    case 'image-like': {
      // a_i + b_j dominated, plus a small interaction: the shape of image-vs-noise costs.
      const a = Array.from({ length: n }, () => 1000 * rng.uniform());
      const b = Array.from({ length: n }, () => 1000 * rng.uniform());
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) c[i * n + j] = a[i] + b[j] + rng.normal();
      exact = false;
      break;
    }
    case 'two-values':
      // Exactly two distinct large values: the optimum is a maximum matching on the cheap ones.
      for (let k = 0; k < c.length; k++) c[k] = rng.uniform() < 0.6 ? 2 ** 40 : 2 ** 40 + 1;
      break;
  }
  return { name: kind, n, cost: c, exact };
}

function assertTotalsMatch(got: number, want: number, cse: Case, what: string): void {
  if (cse.exact) {
    assert.equal(got, want, `${what}: ${cse.name} n=${cse.n}`);
  } else {
    const tol = 1e-12 * Math.max(1, cse.n) * Math.max(1, maxAbs(cse.cost));
    assert.ok(Math.abs(got - want) <= tol, `${what}: ${cse.name} n=${cse.n}: ${got} vs ${want}`);
  }
}

/**
 * Optimality certificate independent of the solver: an assignment is minimum-cost exactly when
 * its residual graph (row i -> column j at +c_ij for unmatched pairs, column -> its row at
 * -c_ij for matched pairs) has no negative cycle. Bellman-Ford from a virtual source either
 * settles within 2n rounds or a negative cycle exists. eps ignores rounding-level "cycles".
 */
function hasNegativeCycle(cost: Float64Array, n: number, col: Int32Array, eps: number): boolean {
  const row4col = new Int32Array(n);
  for (let i = 0; i < n; i++) row4col[col[i]] = i;
  const distRow = new Float64Array(n);
  const distCol = new Float64Array(n);
  for (let round = 0; round <= 2 * n; round++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const di = distRow[i];
      for (let j = 0; j < n; j++) {
        if (j === col[i]) continue;
        const cand = di + cost[i * n + j];
        if (cand < distCol[j] - eps) {
          distCol[j] = cand;
          changed = true;
        }
      }
    }
    for (let j = 0; j < n; j++) {
      const r = row4col[j];
      const cand = distCol[j] - cost[r * n + j];
      if (cand < distRow[r] - eps) {
        distRow[r] = cand;
        changed = true;
      }
    }
    if (!changed) return false;
  }
  return true;
}


function gaussian(rng: Rng, len: number): Float32Array {
  return rng.fillNormal(new Float32Array(len));
}

// ---------- exact solver ----------

test('lsa: n = 0 and n = 1', () => {
  assert.deepEqual(Array.from(linearSumAssignment(new Float64Array(0), 0)), []);
  assert.equal(assignmentCost(new Float64Array(0), 0, new Int32Array(0)), 0);
  const one = linearSumAssignment(Float64Array.of(-3.5), 1);
  assert.deepEqual(Array.from(one), [0]);
  assert.equal(assignmentCost(Float64Array.of(-3.5), 1, one), -3.5);
});

test('lsa: a known 3x3 optimum', () => {
  const c = Float64Array.of(4, 1, 3, 2, 0, 5, 3, 2, 2);
  const col = linearSumAssignment(c, 3);
  assert.deepEqual(Array.from(col), [1, 0, 2]);
  assert.equal(assignmentCost(c, 3, col), 5);
});

test('lsa: equals brute force on 10,000 small matrices (n = 1..8, ties, degenerate, huge and tiny values)', () => {
  const rng = new Rng(20240617);
  const perKind = 500;
  let count = 0;
  for (const kind of SMALL_KINDS) {
    for (let rep = 0; rep < perKind; rep++) {
      // n = 8 is the most expensive brute force (8! leaves), so it gets 1 in 16 of the cases.
      const n = rep % 16 === 15 ? 8 : 1 + (rep % 7);
      const cse = makeMatrix(rng, kind, n);
      const col = linearSumAssignment(cse.cost, n);
      assert.ok(isPermutation(col, n), `not a permutation: ${cse.name} n=${n} ${Array.from(col)}`);
      assertTotalsMatch(assignmentCost(cse.cost, n, col), bruteForceMin(cse.cost, n), cse, 'brute force');
      count++;
    }
  }
  assert.ok(count >= 10_000, `only ${count} matrices`);
});

/**
 * Independent reference: the textbook shortest-augmenting-path solver (Crouse 2016, scipy's
 * algorithm) from zero potentials, with no initialisation heuristics, so it shares no code path
 * with the solver under test. For moderate values only (no overflow guard).
 */
function referenceLsa(cost: Float64Array, n: number): Int32Array {
  const u = new Float64Array(n);
  const v = new Float64Array(n);
  const col4row = new Int32Array(n).fill(-1);
  const row4col = new Int32Array(n).fill(-1);
  const spc = new Float64Array(n);
  const path = new Int32Array(n);
  const sr = new Uint8Array(n);
  const sc = new Uint8Array(n);
  for (let cur = 0; cur < n; cur++) {
    spc.fill(Infinity);
    sr.fill(0);
    sc.fill(0);
    let minVal = 0;
    let i = cur;
    let sink = -1;
    while (sink === -1) {
      sr[i] = 1;
      let lowest = Infinity;
      let best = -1;
      for (let j = 0; j < n; j++) {
        if (sc[j]) continue;
        const r = minVal + cost[i * n + j] - u[i] - v[j];
        if (r < spc[j]) {
          spc[j] = r;
          path[j] = i;
        }
        if (spc[j] < lowest || (spc[j] === lowest && row4col[j] === -1)) {
          lowest = spc[j];
          best = j;
        }
      }
      minVal = lowest;
      sc[best] = 1;
      if (row4col[best] === -1) sink = best;
      else i = row4col[best];
    }
    u[cur] += minVal;
    for (let r = 0; r < n; r++) if (sr[r] && r !== cur) u[r] += minVal - spc[col4row[r]];
    for (let j = 0; j < n; j++) if (sc[j]) v[j] -= minVal - spc[j];
    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const prev = col4row[r];
      col4row[r] = j;
      if (r === cur) break;
      j = prev;
    }
  }
  return col4row;
}

test('lsa: equals an independent textbook solver on 400 matrices of n = 9..120', () => {
  const rng = new Rng(271828);
  const kinds: SmallKind[] = [
    'uniform',
    'int-ties',
    'binary',
    'negative',
    'huge-plus-small',
    'low-rank',
    'rank-one',
    'column-cheap',
    'sparse-huge',
    'image-like',
    'two-values',
    'equal-rows',
  ];
  for (let rep = 0; rep < 400; rep++) {
    const n = 9 + ((rep * 37) % 112);
    const cse = makeMatrix(rng, kinds[rep % kinds.length], n);
    const col = linearSumAssignment(cse.cost, n);
    assert.ok(isPermutation(col, n), `not a permutation: ${cse.name} n=${n}`);
    const want = assignmentCost(cse.cost, n, referenceLsa(cse.cost, n));
    assertTotalsMatch(assignmentCost(cse.cost, n, col), want, cse, 'reference');
  }
});

/** Settings that force the solver's rarer paths: lists of 2-3 columns (so most steps read whole
 * rows), list growth on and off, no or one pass of row reduction, the epsilon-scaling auction
 * always or never, a row-reduction budget that runs out, and the reduction transfer through
 * the row lists (the default above n = 512) or through full row reads (the default below). */
const FORCED: LsaOptions[] = [
  { candidates: 2, grow: false, epsScaling: false },
  { candidates: 2, grow: true, rowReductionPasses: 0, epsScaling: false, fullTransfer: false },
  { candidates: 3, grow: false, rowReductionPasses: 1, rowReductionBudget: [0, 1] },
  { candidates: 2, epsScaling: [4, 8, 3], fullTransfer: false },
  { epsScaling: [1, 2, 2], rowReductionPasses: 0 },
  { fullTransfer: false },
  { candidates: 2, fullTransfer: true, rowReductionBudget: [0, 2] },
  // The JS reductions where the native addon would otherwise run them (CI builds it).
  { native: false },
  { candidates: 2, native: false, epsScaling: [4, 8, 3] },
];

test('lsa: forced short lists, list growth, epsilon scaling, no row reduction, either transfer and the JS passes keep brute-force optimality (9 x 4,000 matrices)', () => {
  const rng = new Rng(1618);
  for (const kind of SMALL_KINDS) {
    for (let rep = 0; rep < 200; rep++) {
      const n = 2 + (rep % 7);
      const cse = makeMatrix(rng, kind, n);
      const want = bruteForceMin(cse.cost, n);
      for (const opt of FORCED) {
        const col = linearSumAssignmentWith(cse.cost, n, opt);
        assert.ok(isPermutation(col, n), `not a permutation: ${cse.name} n=${n} ${JSON.stringify(opt)}`);
        assertTotalsMatch(assignmentCost(cse.cost, n, col), want, cse, `brute force ${JSON.stringify(opt)}`);
      }
    }
  }
});

test('lsa: forced solver paths agree with the textbook solver at n = 9..120', () => {
  const rng = new Rng(4669);
  const kinds: SmallKind[] = ['uniform', 'int-ties', 'low-rank', 'image-like', 'rank-one', 'huge-plus-small', 'two-values'];
  for (let rep = 0; rep < 84; rep++) {
    const n = 9 + ((rep * 53) % 112);
    const cse = makeMatrix(rng, kinds[rep % kinds.length], n);
    const want = assignmentCost(cse.cost, n, referenceLsa(cse.cost, n));
    for (const opt of FORCED) {
      const col = linearSumAssignmentWith(cse.cost, n, opt);
      assert.ok(isPermutation(col, n));
      assertTotalsMatch(assignmentCost(cse.cost, n, col), want, cse, `reference ${JSON.stringify(opt)}`);
    }
  }
  assert.throws(() => linearSumAssignmentWith(new Float64Array(4), 2, { candidates: 1 }), RangeError);
});

test('lsa: either reduction transfer is exact on both sides of its size threshold (n = 512, 513)', () => {
  // Full-row transfer is the default up to n = 512 and the listed one above; force each both ways.
  const rng = new Rng(5122);
  const cases: [number, SmallKind][] = [
    [512, 'image-like'],
    [513, 'int-ties'],
  ];
  for (const [n, kind] of cases) {
    const cse = makeMatrix(rng, kind, n);
    const want = assignmentCost(cse.cost, n, referenceLsa(cse.cost, n));
    for (const opt of [{}, { fullTransfer: true }, { fullTransfer: false }]) {
      const col = linearSumAssignmentWith(cse.cost, n, opt);
      assert.ok(isPermutation(col, n));
      assertTotalsMatch(assignmentCost(cse.cost, n, col), want, cse, `reference ${JSON.stringify(opt)}`);
    }
  }
});

test('lsa: scratch buffers shared between sizes do not leak state between calls', () => {
  // The solver keeps work arrays for the last n; alternating sizes must give the same answers.
  const rng = new Rng(77);
  const mats = [5, 40, 5, 1, 40, 17, 2, 17].map((n) => makeMatrix(rng, 'int-ties', n));
  const first = mats.map((m) => {
    // A call that fails part-way (a NaN found late) must not spoil the next one either.
    const bad = m.cost.slice();
    bad[bad.length - 1] = NaN;
    assert.throws(() => linearSumAssignment(bad, m.n), RangeError);
    return assignmentCost(m.cost, m.n, linearSumAssignment(m.cost, m.n));
  });
  const again = mats
    .slice()
    .reverse()
    .map((m) => assignmentCost(m.cost, m.n, linearSumAssignment(m.cost, m.n)))
    .reverse();
  assert.deepEqual(again, first);
  mats.forEach((m, k) => assert.equal(first[k], assignmentCost(m.cost, m.n, referenceLsa(m.cost, m.n))));
});

test('lsa: exact near Number.MAX_VALUE, where differences of entries overflow', () => {
  // Totals of such matrices overflow, so optimality is judged on the same matrix scaled by an
  // exact power of two.
  const rng = new Rng(4242);
  for (let rep = 0; rep < 210; rep++) {
    const n = 1 + (rep % 7);
    const ints = new Float64Array(n * n);
    for (let k = 0; k < ints.length; k++) ints[k] = rng.int(511) - 255;
    const big = ints.map((v) => v * 2 ** 1016);
    const col = linearSumAssignment(big, n);
    assert.ok(isPermutation(col, n));
    assert.equal(assignmentCost(ints, n, col), bruteForceMin(ints, n), `n=${n}`);
  }
});

test('lsa: input is left untouched', () => {
  const rng = new Rng(7);
  const c = makeMatrix(rng, 'uniform', 6).cost;
  const copy = c.slice();
  linearSumAssignment(c, 6);
  assert.deepEqual(c, copy);
});

test('lsa: negative-cycle certificate holds for n = 30..60 (checker rejects non-optimal ones)', () => {
  const rng = new Rng(99);
  const kinds: SmallKind[] = ['uniform', 'int-ties', 'binary', 'huge-plus-small', 'low-rank', 'negative'];
  for (let rep = 0; rep < 18; rep++) {
    const n = 30 + ((rep * 7) % 31);
    const cse = makeMatrix(rng, kinds[rep % kinds.length], n);
    const col = linearSumAssignment(cse.cost, n);
    assert.ok(isPermutation(col, n));
    const eps = cse.exact ? 0 : 1e-9 * Math.max(1, maxAbs(cse.cost));
    assert.ok(!hasNegativeCycle(cse.cost, n, col, eps), `negative cycle: ${cse.name} n=${n}`);
  }
  // Sanity of the checker itself: a random permutation of a continuous matrix is never optimal.
  const cse = makeMatrix(rng, 'uniform', 40);
  assert.ok(hasNegativeCycle(cse.cost, 40, rng.permutation(40), 1e-9));
});

test('lsa: adding a constant to each column keeps the optimum (image-vs-noise costs)', () => {
  // Adding a per-column constant must not change the chosen permutation's optimality.
  const rng = new Rng(5);
  const b = 48;
  const d = 3 * 8 * 8;
  const c = pairwiseCost(smoothImages(rng, b, 8, 3), gaussian(rng, b * d), b, d, 'sqeuclidean');
  const shifted = c.slice();
  for (let i = 0; i < b; i++) for (let j = 0; j < b; j++) shifted[i * b + j] += 1000 * j;
  const a = linearSumAssignment(c, b);
  const s = linearSumAssignment(shifted, b);
  const tol = 1e-9 * maxAbs(shifted);
  assert.ok(Math.abs(assignmentCost(c, b, a) - assignmentCost(c, b, s)) <= tol);
  assert.ok(!hasNegativeCycle(c, b, a, 1e-9 * maxAbs(c)));
});

test('lsa: matches scipy.optimize.linear_sum_assignment at n = 50 and 200', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import scipy.optimize'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3-scipy not installed: apt-get install python3-scipy');
    return;
  }
  const rng = new Rng(31337);
  const cases: Case[] = [];
  for (const n of [50, 200]) {
    for (const kind of ['uniform', 'int-ties', 'huge-float', 'low-rank'] as const) cases.push(makeMatrix(rng, kind, n));
    const d = 3 * 8 * 8;
    for (const kind of ['l2', 'sqeuclidean'] as const) {
      const cost = pairwiseCost(smoothImages(rng, n, 8, 3), gaussian(rng, n * d), n, d, kind);
      cases.push({ name: `image-noise-${kind}`, n, cost, exact: false });
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'lsa-'));
  try {
    const args: string[] = [];
    cases.forEach((cse, idx) => {
      const file = join(dir, `m${idx}.f64`);
      const buf = Buffer.alloc(cse.cost.length * 8);
      for (let k = 0; k < cse.cost.length; k++) buf.writeDoubleLE(cse.cost[k], k * 8);
      writeFileSync(file, buf);
      args.push(file, String(cse.n));
    });
    const py = [
      'import sys, math, numpy as np',
      'from scipy.optimize import linear_sum_assignment',
      'a = sys.argv[1:]',
      'for k in range(0, len(a), 2):',
      '    n = int(a[k + 1])',
      "    c = np.fromfile(a[k], dtype='<f8').reshape(n, n)",
      '    r, j = linear_sum_assignment(c)',
      '    print(repr(math.fsum(c[r, j].tolist())))',
    ].join('\n');
    const res = spawnSync('/usr/bin/python3', ['-c', py, ...args], { encoding: 'utf8' });
    assert.equal(res.status, 0, res.stderr);
    const totals = res.stdout.trim().split('\n').map(Number);
    assert.equal(totals.length, cases.length);
    cases.forEach((cse, idx) => {
      const col = linearSumAssignment(cse.cost, cse.n);
      assert.ok(isPermutation(col, cse.n));
      assertTotalsMatch(assignmentCost(cse.cost, cse.n, col), totals[idx], cse, 'scipy');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lsa: the native reductions give the JS ones\' assignment, tie for tie (image-like, low-rank, ties, n = 2..300)', { skip: loadNativeKernels().ok ? false : 'native addon not built' }, () => {
  const rng = new Rng(2718);
  const kinds: SmallKind[] = ['image-like', 'low-rank', 'int-ties', 'uniform', 'two-values'];
  for (let rep = 0; rep < 60; rep++) {
    const n = 2 + ((rep * 37) % 299);
    const cse = makeMatrix(rng, kinds[rep % kinds.length], n);
    // The same list length on both sides: the default differs (native bids are cheaper).
    for (const opt of [{ candidates: 6 }, { candidates: 8 }, { candidates: 2, epsScaling: [4, 8, 3] as [number, number, number] }]) {
      const js = linearSumAssignmentWith(cse.cost, n, { ...opt, native: false });
      const native = linearSumAssignmentWith(cse.cost, n, opt);
      // The same arithmetic in the same order (no fast-math in lsa.cc): the same permutation.
      assert.deepEqual([...native], [...js], `${cse.name} n=${n} ${JSON.stringify(opt)}`);
    }
  }
  const native = loadNativeKernels();
  assert.ok(native.ok);
  assert.ok(Number.isNaN(native.kernels.lsaReduce(Float64Array.of(1, 2, NaN, 4), 2, new Float64Array(2), new Int32Array(2))));
  assert.throws(() => native.kernels.lsaReduce(new Float64Array(3), 2, new Float64Array(2), new Int32Array(2)), /lsaReduce c: expected 4 entries, got 3/);
});

test('lsa: rejects NaN, infinities and a wrong length with a RangeError naming the place', () => {
  const c = new Float64Array(16);
  c[2 * 4 + 1] = NaN;
  c[3 * 4 + 3] = Infinity;
  assert.throws(() => linearSumAssignment(c, 4), (e: unknown) => {
    assert.ok(e instanceof RangeError);
    assert.match(e.message, /row 2, column 1/);
    assert.match(e.message, /NaN/);
    return true;
  });
  const d = new Float64Array(9);
  d[5] = -Infinity;
  assert.throws(() => linearSumAssignment(d, 3), { name: 'RangeError', message: /row 1, column 2.*-Infinity/ });
  d[5] = Infinity;
  assert.throws(() => linearSumAssignment(d, 3), { name: 'RangeError', message: /row 1, column 2.*Infinity/ });
  assert.throws(() => linearSumAssignment(new Float64Array(10), 3), {
    name: 'RangeError',
    message: /expected n\*n = 9 .*found 10/,
  });
  assert.throws(() => linearSumAssignment(new Float64Array(0), -1), RangeError);
  assert.throws(() => linearSumAssignment(new Float64Array(4), 2.5), RangeError);
  assert.throws(() => assignmentCost(new Float64Array(4), 2, Int32Array.of(0, 2)), RangeError);
});

// ---------- costs ----------

function directSq(a: Float32Array, ai: number, bArr: Float32Array, bi: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const e = a[ai * d + k] - bArr[bi * d + k];
    s += e * e;
  }
  return s;
}

test('pairwiseCost: matches a direct double loop for both kinds, edges and chunking', () => {
  const rng = new Rng(11);
  for (const [b, d] of [
    [0, 5],
    [1, 1],
    [3, 0],
    [5, 7],
    [8, 300],
    [9, 513],
    [12, 64],
  ] as const) {
    const x = gaussian(rng, b * d);
    const noise = gaussian(rng, b * d);
    if (b > 2) noise.set(x.subarray(0, d), 2 * d); // identical pair: must give 0, never NaN
    for (const kind of ['l2', 'sqeuclidean'] as const) {
      const c = pairwiseCost(x, noise, b, d, kind);
      assert.equal(c.length, b * b);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) {
          const sq = directSq(x, i, noise, j, d);
          const got = c[i * b + j];
          assert.ok(got >= 0, `negative or NaN at ${i},${j}`);
          const gotSq = kind === 'l2' ? got * got : got;
          assert.ok(Math.abs(gotSq - sq) <= 1e-9 * (1 + 2 * d), `${kind} b=${b} d=${d} (${i},${j}): ${gotSq} vs ${sq}`);
        }
      }
      if (b > 2 && kind === 'sqeuclidean') assert.ok(c[0 * b + 2] < 1e-9);
    }
  }
  assert.throws(() => pairwiseCost(new Float32Array(5), new Float32Array(6), 2, 3, 'l2'), RangeError);
  assert.throws(() => pairwiseCost(new Float32Array(6), new Float32Array(6), 2, 3, 'l1' as CostKind), RangeError);
});

test('meanPairDistance: mean of the paired Euclidean distances', () => {
  const rng = new Rng(12);
  const b = 6;
  const d = 33;
  const x = gaussian(rng, b * d);
  const noise = gaussian(rng, b * d);
  let want = 0;
  for (let i = 0; i < b; i++) want += Math.sqrt(directSq(x, i, noise, i, d));
  assert.ok(Math.abs(meanPairDistance(x, noise, b, d) - want / b) < 1e-12);
  assert.equal(meanPairDistance(x, x, b, d), 0);
});

// ---------- k nearest ----------

test('nearestOfK: keeps the nearest candidate, first on ties; k = 1 gives zeros', () => {
  const rng = new Rng(13);
  for (const [b, k, d] of [
    [1, 2, 3],
    [7, 4, 16],
    [5, 9, 1],
  ] as const) {
    const x = gaussian(rng, b * d);
    const cand = gaussian(rng, b * k * d);
    for (const kind of ['l2', 'sqeuclidean'] as const) {
      const got = nearestOfK(x, cand, b, k, d, kind);
      for (let i = 0; i < b; i++) {
        let best = 0;
        let bestD = Infinity;
        for (let c = 0; c < k; c++) {
          const dist = directSq(x, i, cand, i * k + c, d);
          if (dist < bestD) {
            bestD = dist;
            best = c;
          }
        }
        assert.equal(got[i], best, `${kind} b=${b} k=${k} image ${i}`);
      }
    }
  }
  // Ties: candidates 1 and 3 are the same nearest vector; the first one wins.
  const x = Float32Array.of(0, 0);
  const cand = Float32Array.of(5, 5, 1, 0, 2, 2, 1, 0);
  assert.deepEqual(Array.from(nearestOfK(x, cand, 1, 4, 2, 'l2')), [1]);
  assert.deepEqual(Array.from(nearestOfK(x, cand, 1, 4, 2, 'sqeuclidean')), [1]);
  assert.deepEqual(Array.from(nearestOfK(gaussian(rng, 12), gaussian(rng, 12), 4, 1, 3, 'l2')), [0, 0, 0, 0]);
  assert.throws(() => nearestOfK(x, cand, 1, 3, 2, 'l2'), RangeError);
  assert.throws(() => nearestOfK(x, cand, 1, 0, 2, 'l2'), RangeError);
});
