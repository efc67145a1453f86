/**
 * A metric against a config parameter across runs (a sweep of lr, batch size, k ...): one point
 * per run, one series per assignment mode, so a mode's effect reads across the whole sweep.
 */
import { differingKeys, type FlatValue } from './configDiff';

export interface ParamRun {
  id: string;
  name: string;
  mode: string;
  config: Record<string, FlatValue>;
  /** The run's summary of the metric (its best or final value); null when it has none yet. */
  value: number | null;
}

export interface ParamPoint {
  /** A number on a linear axis, or the index into `categories`. */
  x: number;
  y: number;
  runId: string;
  name: string;
}

export interface ParamPlot {
  key: string;
  /** Numeric when every run that has the key holds a number; otherwise categories (sorted). */
  axis: 'linear' | 'category';
  categories: string[];
  /** One per mode, modes in first-seen order, points ascending in x. */
  series: { mode: string; points: ParamPoint[] }[];
  /** Runs left out: no value yet, or no such key. */
  missing: string[];
}

export type Summary = 'best' | 'final';

/** The lowest finite value (losses, distances: lower is better), or the last finite one. */
export function summarize(values: ArrayLike<number>, how: Summary): number | null {
  let out: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (how === 'final' || out === null || v < out) out = v;
  }
  return out;
}

/**
 * The keys worth plotting against: those that differ between the runs, without the run's own
 * name, numeric ones first (a sweep), then the rest, each group sorted.
 */
export function parameterKeys(configs: readonly Record<string, FlatValue>[]): string[] {
  const keys = differingKeys(configs).filter((k) => k !== 'name');
  const numeric = (k: string): boolean => configs.every((c) => !(k in c) || typeof c[k] === 'number');
  return [...keys.filter(numeric), ...keys.filter((k) => !numeric(k))];
}

const label = (v: FlatValue): string => (v === null ? 'null' : String(v));

export function parameterPlot(runs: readonly ParamRun[], key: string): ParamPlot {
  const has = runs.filter((r) => key in r.config);
  const axis = has.length > 0 && has.every((r) => typeof r.config[key] === 'number') ? 'linear' : 'category';
  const categories = axis === 'category' ? [...new Set(has.map((r) => label(r.config[key])))].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) : [];
  const byMode = new Map<string, ParamPoint[]>();
  const missing: string[] = [];
  for (const r of runs) {
    if (!(key in r.config) || r.value === null || !Number.isFinite(r.value)) {
      missing.push(r.id);
      continue;
    }
    const x = axis === 'linear' ? (r.config[key] as number) : categories.indexOf(label(r.config[key]));
    let pts = byMode.get(r.mode);
    if (!pts) byMode.set(r.mode, (pts = []));
    pts.push({ x, y: r.value, runId: r.id, name: r.name });
  }
  const series = [...byMode].map(([mode, points]) => ({ mode, points: points.sort((a, b) => a.x - b.x || a.runId.localeCompare(b.runId)) }));
  return { key, axis, categories, series, missing };
}

export interface MeanPoint {
  x: number;
  /** The mean of the points at this x; `lo` and `hi` their min and max, `n` how many. */
  y: number;
  lo: number;
  hi: number;
  n: number;
}

/** Points at the same x (seeds of one setting, with mean over seeds) as one: mean, min, max; ascending in x. */
export function meanAtEachX(points: readonly { x: number; y: number }[]): MeanPoint[] {
  const at = new Map<number, number[]>();
  for (const q of points) {
    const ys = at.get(q.x);
    if (ys) ys.push(q.y);
    else at.set(q.x, [q.y]);
  }
  return [...at]
    .sort((a, b) => a[0] - b[0])
    .map(([x, ys]) => ({ x, y: ys.reduce((a, v) => a + v, 0) / ys.length, lo: Math.min(...ys), hi: Math.max(...ys), n: ys.length }));
}
