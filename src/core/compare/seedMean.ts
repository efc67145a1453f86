/**
 * Mean over seeds: runs whose configs differ only in their seed (and name) form one group, drawn
 * as one line, the mean at each step every run of the group logged, with the range (min to max)
 * around it. Three seeds of `none` against three of `linear` then read as two lines, not six.
 */
import type { FlatValue } from './configDiff';
import { differingKeys } from './configDiff';

/** Config keys that tell seeds of one setting apart rather than settings. */
export const SEED_KEYS: readonly string[] = ['seed', 'name'];

export interface SeedGroup {
  /** What sets the group apart from the others (`assignment.mode=linear`), or `all runs`. */
  label: string;
  runIds: string[];
}

/** Groups runs by their config without SEED_KEYS, in the order each group's first run comes. */
export function seedGroups(runs: readonly { id: string; config: Record<string, FlatValue> }[]): SeedGroup[] {
  const strip = (c: Record<string, FlatValue>): Record<string, FlatValue> => Object.fromEntries(Object.entries(c).filter(([k]) => !SEED_KEYS.includes(k)));
  const byKey = new Map<string, { config: Record<string, FlatValue>; runIds: string[] }>();
  for (const r of runs) {
    const config = strip(r.config);
    const key = JSON.stringify(Object.keys(config).sort().map((k) => [k, config[k]]));
    const g = byKey.get(key);
    if (g) g.runIds.push(r.id);
    else byKey.set(key, { config, runIds: [r.id] });
  }
  const groups = [...byKey.values()];
  const keys = differingKeys(groups.map((g) => g.config));
  return groups.map((g) => ({
    label: keys.length ? keys.map((k) => `${k}=${k in g.config ? String(g.config[k]) : '(none)'}`).join(', ') : 'all runs',
    runIds: g.runIds,
  }));
}

export interface StepSeries {
  /** Ascending. */
  step: ArrayLike<number>;
  /** The chart's x at each step (the step itself, or wall time). */
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface MeanSeries {
  x: Float64Array;
  mean: Float64Array;
  lo: Float64Array;
  hi: Float64Array;
}

/**
 * At each step that every series has, with a finite y in each: the mean of the ys, their min and
 * max, and the mean of the xs (wall times differ between runs). One merge pass over the series.
 */
export function meanOverRuns(series: readonly StepSeries[]): MeanSeries {
  const empty = { x: new Float64Array(0), mean: new Float64Array(0), lo: new Float64Array(0), hi: new Float64Array(0) };
  if (series.length === 0) return empty;
  const [first, ...rest] = series;
  const at = rest.map(() => 0);
  // At most the first series' length; filled in place (a chart's series run to 10^5 points).
  const cap = first.step.length;
  const x = new Float64Array(cap);
  const mean = new Float64Array(cap);
  const lo = new Float64Array(cap);
  const hi = new Float64Array(cap);
  let n = 0;
  outer: for (let i = 0; i < first.step.length; i++) {
    const s = first.step[i];
    let sx = first.x[i];
    let sy = first.y[i];
    let min = sy;
    let max = sy;
    if (!Number.isFinite(sy)) continue;
    for (let r = 0; r < rest.length; r++) {
      const o = rest[r];
      let j = at[r];
      while (j < o.step.length && o.step[j] < s) j++;
      at[r] = j;
      if (j >= o.step.length) break outer;
      if (o.step[j] !== s || !Number.isFinite(o.y[j])) continue outer;
      sx += o.x[j];
      sy += o.y[j];
      if (o.y[j] < min) min = o.y[j];
      if (o.y[j] > max) max = o.y[j];
    }
    x[n] = sx / series.length;
    mean[n] = sy / series.length;
    lo[n] = min;
    hi[n] = max;
    n++;
  }
  return { x: x.subarray(0, n), mean: mean.subarray(0, n), lo: lo.subarray(0, n), hi: hi.subarray(0, n) };
}
