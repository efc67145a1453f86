import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { meanOverRuns, seedGroups, type StepSeries } from '../../src/core/compare/seedMean';

/** An independent reference: every step's values collected in a map, kept where all runs have a finite one. */
function reference(series: StepSeries[]): { x: number[]; mean: number[]; lo: number[]; hi: number[] } {
  const at = new Map<number, { x: number[]; y: number[] }>();
  series.forEach((s, r) => {
    for (let i = 0; i < s.step.length; i++) {
      if (!Number.isFinite(s.y[i])) continue;
      const e = at.get(s.step[i]) ?? { x: [], y: [] };
      e.x[r] = s.x[i];
      e.y[r] = s.y[i];
      at.set(s.step[i], e);
    }
  });
  const out = { x: [] as number[], mean: [] as number[], lo: [] as number[], hi: [] as number[] };
  for (const step of [...at.keys()].sort((a, b) => a - b)) {
    const e = at.get(step)!;
    const ys = series.map((_, r) => e.y[r]);
    if (ys.some((v) => v === undefined)) continue;
    out.x.push(series.reduce((a, _, r) => a + e.x[r], 0) / series.length);
    out.mean.push(ys.reduce((a, v) => a + v, 0) / ys.length);
    out.lo.push(Math.min(...ys));
    out.hi.push(Math.max(...ys));
  }
  return out;
}

test('meanOverRuns: the mean, min and max at every step all runs logged with a finite value, against a map-based reference', () => {
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let trial = 0; trial < 200; trial++) {
    const runs = 1 + Math.floor(rand() * 4);
    const series: StepSeries[] = Array.from({ length: runs }, () => {
      const steps: number[] = [];
      for (let s = 1 + Math.floor(rand() * 3); s < 60; s += 1 + Math.floor(rand() * 3)) steps.push(s);
      return {
        step: Float64Array.from(steps),
        x: Float64Array.from(steps, (s) => s * 0.1 + rand()),
        y: Float64Array.from(steps, () => (rand() < 0.05 ? NaN : rand() * 10 - 5)),
      };
    });
    const got = meanOverRuns(series);
    const want = reference(series);
    assert.equal(got.mean.length, want.mean.length, `trial ${trial}`);
    for (const k of ['x', 'mean', 'lo', 'hi'] as const) for (let i = 0; i < want[k].length; i++) assert.ok(Math.abs(got[k][i] - want[k][i]) < 1e-9, `trial ${trial} ${k}[${i}]`);
  }
});

test('meanOverRuns: worked values; no series, no points', () => {
  const m = meanOverRuns([
    { step: [1, 2, 3], x: [1, 2, 3], y: [1, 4, 9] },
    { step: [2, 3, 4], x: [2, 4, 6], y: [2, 3, 5] },
  ]);
  assert.deepEqual([...m.x], [2, 3.5]);
  assert.deepEqual([...m.mean], [3, 6]);
  assert.deepEqual([...m.lo], [2, 3]);
  assert.deepEqual([...m.hi], [4, 9]);
  assert.equal(meanOverRuns([]).mean.length, 0);
});

test('seedGroups: seeds (and names) of one setting form a group, labelled by what sets it apart', () => {
  const run = (id: string, mode: string, seed: number, lr = 0.001): { id: string; config: Record<string, string | number> } => ({ id, config: { name: `r-${id}`, seed, 'assignment.mode': mode, 'training.lr': lr } });
  const groups = seedGroups([run('a', 'none', 0), run('b', 'linear', 0), run('c', 'none', 1), run('d', 'linear', 1), run('e', 'linear', 2, 0.01)]);
  assert.deepEqual(groups, [
    { label: 'assignment.mode=none, training.lr=0.001', runIds: ['a', 'c'] },
    { label: 'assignment.mode=linear, training.lr=0.001', runIds: ['b', 'd'] },
    { label: 'assignment.mode=linear, training.lr=0.01', runIds: ['e'] },
  ]);
  assert.deepEqual(seedGroups([run('a', 'none', 0), run('b', 'none', 1)]), [{ label: 'all runs', runIds: ['a', 'b'] }]);
  const missing = seedGroups([run('a', 'none', 0), { id: 'old', config: { seed: 3, 'assignment.mode': 'none' } }]);
  assert.deepEqual(missing.map((g) => g.label), ['training.lr=0.001', 'training.lr=(none)'], 'a key an old run lacks sets it apart, named');
});
