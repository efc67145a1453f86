/** Study statistics on constructed curves, against values worked out by hand or by brute force. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepsToReach } from '../../src/core/compare/threshold';
import { bootstrapMean, defaultThresholds, pairedRatios, quantile, seededRandom, valueAt } from '../../src/core/study/stats';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

describe('study statistics', () => {
  it('interpolates a curve linearly and clamps at its ends', () => {
    const c = { steps: [0, 100, 300], values: [10, 6, 2] };
    assert.equal(valueAt(c, 50), 8);
    assert.equal(valueAt(c, 200), 4);
    assert.equal(valueAt(c, -5), 10);
    assert.equal(valueAt(c, 1e6), 2);
    assert.ok(Number.isNaN(valueAt({ steps: [], values: [] }, 1)));
  });

  it('quantiles follow numpy (linear between order statistics)', () => {
    // numpy.quantile([1, 2, 3, 4], [0, 0.25, 0.5, 0.9, 1]) = [1, 1.75, 2.5, 3.7, 4]
    const xs = [1, 2, 3, 4];
    for (const [q, v] of [[0, 1], [0.25, 1.75], [0.5, 2.5], [0.9, 3.7], [1, 4]]) close(quantile(xs, q), v, 1e-12);
  });

  it('pairs runs by seed and takes baseline steps over mode steps at each threshold', () => {
    // Baseline falls linearly 100 -> 0 over 1000 steps; the mode twice as fast (seed 0) and 4/3 as fast (seed 1).
    const base = [
      { steps: [0, 1000], values: [100, 0] },
      { steps: [0, 1000], values: [100, 0] },
    ];
    const mode = [
      { steps: [0, 500, 1000], values: [100, 0, 0] },
      { steps: [0, 750, 1000], values: [100, 0, 0] },
    ];
    const [r] = pairedRatios(base, mode, [50]);
    // Threshold 50: baseline at 500; mode at 250 and 375.
    close(r.perSeed[0], 2);
    close(r.perSeed[1], 500 / 375);
    close(r.interval.mean, (2 + 4 / 3) / 2);
    assert.ok(r.interval.low >= 4 / 3 - 1e-12 && r.interval.high <= 2 + 1e-12);
    assert.equal(r.reached, 2);
    assert.equal(r.baselineReached, 2);
  });

  it('marks a seed whose run never reaches the threshold, and refuses unpaired inputs', () => {
    const [r] = pairedRatios([{ steps: [0, 10], values: [5, 1] }], [{ steps: [0, 10], values: [5, 4] }], [2]);
    assert.ok(Number.isNaN(r.perSeed[0]));
    assert.equal(r.reached, 0);
    assert.ok(Number.isNaN(r.interval.mean));
    assert.throws(() => pairedRatios([], [{ steps: [0], values: [1] }], [1]), /paired by seed/);
  });

  it('the bootstrap interval matches a brute-force enumeration of all resamples for small n', () => {
    // n = 3: the 27 equally likely resamples give the exact distribution of the resampled mean.
    const xs = [1, 2, 6];
    const all: number[] = [];
    for (const a of xs) for (const b of xs) for (const c of xs) all.push((a + b + c) / 3);
    all.sort((p, q) => p - q);
    const iv = bootstrapMean(xs, { resamples: 200_000, seed: 7 });
    close(iv.mean, 3);
    // The Monte Carlo quantiles land on (or between) the exact distribution's atoms near 2.5% / 97.5%.
    assert.ok(iv.low >= all[0] && iv.low <= quantile(all, 0.05), `${iv.low}`);
    assert.ok(iv.high <= all[26] && iv.high >= quantile(all, 0.95), `${iv.high}`);
    assert.deepEqual(bootstrapMean([4]), { mean: 4, low: 4, high: 4, n: 1 });
    assert.deepEqual(bootstrapMean(xs, { seed: 3 }), bootstrapMean(xs, { seed: 3 }), 'seeded: reproducible');
  });

  it('the seeded generator is uniform enough for resampling', () => {
    const r = seededRandom(42);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) bins[Math.floor(r() * 10)]++;
    for (const b of bins) assert.ok(Math.abs(b - 10_000) < 500, `${bins}`);
  });

  it('default thresholds lie on the baseline mean curve between its start and the worst seed best', () => {
    const base = [
      { steps: [0, 100, 200], values: [100, 50, 20] },
      { steps: [0, 100, 200], values: [100, 60, 30] },
    ];
    // first = 100, worst best = 30: fractions 0.5 and 1 give 65 and 30.
    assert.deepEqual(defaultThresholds(base, [0.5, 1]), [65, 30]);
  });

  it('every baseline seed reaches the last default threshold, also where float rounding would put it beyond the worst best', () => {
    // A study's numbers (flow matching on MNIST): 57.99... + (8.63... - 57.99...) is an ulp below 8.63...
    const first = 57.990716488331344;
    const bests = [7.7732998607745625, 8.634537705407244, 7.95576872856614];
    const base = bests.map((b) => ({ steps: [0, 750, 1500], values: [first, (first + b) / 2, b] }));
    const below = defaultThresholds(base);
    for (const c of base) assert.notEqual(stepsToReach(c.steps, c.values, below[below.length - 1], 'below'), null, `${below}`);
    assert.equal(below[below.length - 1], 8.634537705407244);
    // The same for a metric to raise (its negatives).
    const up = base.map((c) => ({ steps: c.steps, values: c.values.map((v) => -v) }));
    const above = defaultThresholds(up, undefined, 'above');
    for (const c of up) assert.notEqual(stepsToReach(c.steps, c.values, above[above.length - 1], 'above'), null, `${above}`);
  });
});
