/** The dashboard's comparison maths, against values worked out independently by hand or by brute force. */
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { differingKeys, flattenConfig } from '../../src/core/compare/configDiff';
import { metricsCsv } from '../../src/core/compare/csv';
import { decimateMinMax } from '../../src/core/compare/decimate';
import { smoothEma } from '../../src/core/compare/smooth';
import { nearestStep, unionSteps } from '../../src/core/compare/steps';
import { speedupSummary, stepsToReach } from '../../src/core/compare/threshold';

describe('config diff', () => {
  it('flattens nested configs to dotted keys, arrays as JSON, $schema dropped', () => {
    assert.deepEqual(flattenConfig({ $schema: 'x', seed: 1, model: { channelMults: [1, 2], type: 'unet' }, data: { path: null } }), {
      seed: 1,
      'model.channelMults': '[1,2]',
      'model.type': 'unet',
      'data.path': null,
    });
  });
  it('lists keys that differ, and keys missing from some configs', () => {
    const a = { seed: 1, 'assignment.mode': 'none', 'training.lr': 0.001 };
    const b = { seed: 1, 'assignment.mode': 'linear', 'training.lr': 0.001 };
    const c = { seed: 1, 'assignment.mode': 'none', 'training.lr': 0.001, 'assignment.k': 4 };
    assert.deepEqual(differingKeys([a, b]), ['assignment.mode']);
    assert.deepEqual(differingKeys([a, a]), []);
    assert.deepEqual(differingKeys([a, b, c]), ['assignment.k', 'assignment.mode']);
    assert.deepEqual(differingKeys([a]), []);
  });
});

describe('steps to reach a threshold', () => {
  it('interpolates linearly between the points around the crossing', () => {
    // 60 at 100 and 40 at 200: 50 is crossed half way, at 150.
    assert.equal(stepsToReach([0, 100, 200, 300], [100, 60, 40, 20], 50), 150);
    // 100 at 0, 40 at 100: (50 - 100) / (40 - 100) = 5/6 of the way.
    assert.ok(Math.abs((stepsToReach([0, 100, 200], [100, 40, 20], 50) ?? NaN) - 250 / 3) < 1e-9);
  });
  it('returns the first point when it already meets the threshold, null when never reached', () => {
    assert.equal(stepsToReach([10, 20], [5, 4], 50), 10);
    assert.equal(stepsToReach([10, 20], [60, 55], 50), null);
    assert.equal(stepsToReach([], [], 1), null);
  });
  it('takes the first crossing of a noisy curve and skips non-finite values', () => {
    // The NaN at step 1 is skipped: the crossing is between (0, 10) and (2, 4).
    assert.equal(stepsToReach([0, 1, 2, 3, 4], [10, NaN, 4, 8, 2], 5), (5 / 6) * 2);
    assert.equal(stepsToReach([0, 1, 2], [1, 3, 5], 4, 'above'), 1.5);
  });
  it('gives each run its ratio to the baseline', () => {
    const rows = speedupSummary(
      [
        { runId: 'base', steps: [0, 100, 200, 300], values: [100, 60, 40, 20] },
        { runId: 'imm', steps: [0, 100, 200, 300], values: [100, 40, 20, 10] },
        { runId: 'slow', steps: [0, 100], values: [100, 90] },
      ],
      'base',
      40,
    );
    assert.deepEqual(rows, [
      { runId: 'base', steps: 200, ratio: 1 },
      { runId: 'imm', steps: 100, ratio: 2 },
      { runId: 'slow', steps: null, ratio: null },
    ]);
  });
});

describe('nearest step', () => {
  it('finds the closest available step, ties to the earlier, and says whether it is exact', () => {
    const steps = [0, 100, 150, 300];
    assert.deepEqual(nearestStep(steps, 100), { step: 100, exact: true });
    assert.deepEqual(nearestStep(steps, 120), { step: 100, exact: false });
    assert.deepEqual(nearestStep(steps, 125), { step: 100, exact: false });
    assert.deepEqual(nearestStep(steps, 126), { step: 150, exact: false });
    assert.deepEqual(nearestStep(steps, -5), { step: 0, exact: false });
    assert.deepEqual(nearestStep(steps, 1e9), { step: 300, exact: false });
    assert.equal(nearestStep([], 3), null);
  });
  it('agrees with a brute-force search on random inputs', () => {
    let s = 7;
    const rnd = (n: number): number => ((s = (s * 1103515245 + 12345) & 0x7fffffff), s % n);
    for (let trial = 0; trial < 200; trial++) {
      const steps = unionSteps([Array.from({ length: 1 + rnd(20) }, () => rnd(1000))]);
      const t = rnd(1100) - 50;
      let best = steps[0];
      for (const x of steps) if (Math.abs(x - t) < Math.abs(best - t)) best = x;
      assert.equal(nearestStep(steps, t)?.step, best, `${steps} ${t}`);
    }
  });
  it('unites the steps of several runs', () => {
    assert.deepEqual(unionSteps([[0, 100, 200], [0, 150], []]), [0, 100, 150, 200]);
  });
});

describe('smoothing', () => {
  it('is the debiased EMA: the first value unchanged, then the weighted running mean', () => {
    const w = 0.5;
    const out = smoothEma([2, 4, 8], w);
    // Raw EMA from 0: 1, 2.5, 5.25; divided by 1 - w^n: 0.5, 0.75, 0.875.
    assert.deepEqual(Array.from(out), [2, 2.5 / 0.75, 5.25 / 0.875]);
    assert.deepEqual(Array.from(smoothEma([3, 1], 0)), [3, 1]);
  });
  it('keeps a constant series constant and passes NaN through', () => {
    const out = smoothEma([5, 5, NaN, 5], 0.9);
    assert.ok(Math.abs(out[0] - 5) < 1e-12 && Math.abs(out[1] - 5) < 1e-12 && Math.abs(out[3] - 5) < 1e-12);
    assert.ok(Number.isNaN(out[2]));
    assert.throws(() => smoothEma([1], 1), /smoothing weight/);
  });
});

describe('min/max decimation', () => {
  it('keeps short series whole', () => {
    assert.deepEqual(decimateMinMax([0, 1, 2], [1, NaN, 3], 10), [0, 2]);
  });
  it('bounds the points and keeps every bucket extreme, spikes included', () => {
    const n = 100_000;
    const x = Float64Array.from({ length: n }, (_, i) => i);
    const y = Float64Array.from({ length: n }, (_, i) => Math.sin(i / 1000));
    y[54_321] = 50;
    y[77_777] = -50;
    const idx = decimateMinMax(x, y, 500);
    assert.ok(idx.length <= 2000, `${idx.length}`);
    assert.ok(idx.includes(54_321) && idx.includes(77_777));
    assert.equal(idx[0], 0);
    assert.equal(idx[idx.length - 1], n - 1);
    for (let i = 1; i < idx.length; i++) assert.ok(idx[i] > idx[i - 1]);
    // Brute force: each bucket's max is among the kept points.
    for (let b = 0; b < 500; b++) {
      let hi = b * 200;
      for (let i = b * 200; i < (b + 1) * 200; i++) if (y[i] > y[hi]) hi = i;
      assert.ok(idx.includes(hi), `bucket ${b}`);
    }
  });
});

describe('metrics CSV', () => {
  it('writes one row per run and step, empty cells for missing values, quoted names', () => {
    const csv = metricsCsv(
      [
        { runId: 'r1', runName: 'a, "b"', columns: { step: [1, 2], loss: [0.5, NaN] } },
        { runId: 'r2', runName: 'c', columns: { step: [1], loss: [0.25] } },
      ],
      ['step', 'loss'],
    );
    assert.equal(csv, 'run_id,run_name,step,loss\nr1,"a, ""b""",1,0.5\nr1,"a, ""b""",2,\nr2,c,1,0.25\n');
  });
});
