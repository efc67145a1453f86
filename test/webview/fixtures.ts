/** Constructed runs and series for the dashboard's tests and benchmark (no trainer needed). */
import type { DashboardRun, EvalColumns, HostMessage, RunSeries, SampleRef } from '../../src/core/webview/messages';

export function makeRun(id: string, over: Partial<DashboardRun> & { config?: Record<string, string | number | boolean | null> } = {}): DashboardRun {
  const mode = over.mode ?? 'none';
  return {
    id,
    name: over.name ?? id,
    group: over.group ?? 'study',
    status: over.status ?? 'completed',
    step: over.step ?? 1000,
    totalSteps: over.totalSteps ?? 1000,
    mode,
    createdAt: over.createdAt ?? '2026-11-26T10:00:00.000Z',
    config: { seed: 0, 'training.batchSize': 32, 'training.lr': 0.001, 'model.baseChannels': 16, 'assignment.mode': mode, ...over.config },
  };
}

/** `n` logged steps of a decaying loss with noise (deterministic), every column filled. */
export function makeSeries(runId: string, n: number, o: { evals?: EvalColumns[]; samples?: SampleRef[]; firstStep?: number; seed?: number } = {}): RunSeries {
  let s = o.seed ?? 1;
  const rnd = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const first = o.firstStep ?? 1;
  const axis = (f: (i: number) => number): Float64Array => Float64Array.from({ length: n }, (_, i) => f(i));
  const col = (f: (i: number) => number): Float32Array => Float32Array.from({ length: n }, (_, i) => f(i));
  return {
    runId,
    metrics: {
      step: axis((i) => first + i),
      wallTime: axis((i) => (first + i) * 0.5),
      loss: col((i) => 0.05 + 1 / Math.sqrt(first + i) + 0.02 * rnd()),
      lr: col(() => 0.001),
      distBefore: col(() => 40 + rnd()),
      distAfter: col(() => 36 + rnd()),
      assignMs: col(() => 2 + rnd()),
      imagesPerSec: col(() => 60 + 5 * rnd()),
    },
    evals: o.evals ?? [],
    samples: o.samples ?? [],
  };
}

export const runsMessage = (runs: DashboardRun[]): HostMessage => ({ type: 'runs', v: 1, runs });
export const seriesMessage = (series: RunSeries, append = false): HostMessage => ({ type: 'series', v: 1, append, series });

/** An evaluation metric's columns from plain arrays (wall time: half the step). */
export const evalColumns = (metric: string, steps: number[], values: number[]): EvalColumns => ({
  metric,
  step: Float64Array.from(steps),
  wallTime: Float64Array.from(steps, (x) => x / 2),
  value: Float64Array.from(values),
});

/**
 * Messages cross into the page as JSON (Playwright's evaluate): typed arrays travel tagged and
 * are rebuilt in the page before they are posted, so the page sees what VS Code delivers.
 */
export const toWire = (m: unknown): string =>
  JSON.stringify(m, (_k, v: unknown) =>
    v instanceof Float64Array ? { __f64: Array.from(v, (x) => (Number.isNaN(x) ? 'NaN' : x)) } : v instanceof Float32Array ? { __f32: Array.from(v, (x) => (Number.isNaN(x) ? 'NaN' : x)) } : v,
  );

