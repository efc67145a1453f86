/** What the page holds: the run list, the series of the runs it shows, and the view's settings. */
import { METRIC_COLUMNS, type DashboardRun, type DashboardView, type MetricColumns, type RunSeries, type SampleRef } from '../../src/core/webview/messages';
import { Column } from './column';

export type XAxis = 'step' | 'wallTime';

export interface ViewSettings {
  view: DashboardView;
  runIds: string[];
  xAxis: XAxis;
  smoothing: number;
  logScale: boolean;
  filter: string;
  statusFilter: string;
  modeFilter: string;
  groupBy: string;
  speedupMetric: string;
  threshold: number | null;
  baseline: string;
  galleryStep: number | null;
  /** The compare view's metric-vs-parameter card. */
  paramKey: string;
  paramMetric: string;
  paramSummary: 'best' | 'final';
  /** Compare: one line per setting, the mean over its seeds with their range, instead of one per run. */
  seedMean: boolean;
}

export const DEFAULT_SETTINGS: ViewSettings = {
  view: 'run',
  runIds: [],
  xAxis: 'step',
  smoothing: 0.6,
  logScale: true,
  filter: '',
  statusFilter: '',
  modeFilter: '',
  groupBy: 'group',
  speedupMetric: '',
  threshold: null,
  baseline: '',
  galleryStep: null,
  paramKey: '',
  paramMetric: '',
  paramSummary: 'best',
  seedMean: false,
};

export type HeldColumns = { [K in keyof MetricColumns]: Column };

export interface HeldEval {
  step: Column;
  wallTime: Column;
  value: Column;
}

export interface HeldSeries {
  metrics: HeldColumns;
  evals: Map<string, HeldEval>;
  /** Ascending by step. */
  samples: SampleRef[];
  /** Bumped on every change, so views redraw only the runs whose data moved. */
  version: number;
}


export class Store {
  runs: DashboardRun[] = [];
  runById = new Map<string, DashboardRun>();
  readonly series = new Map<string, HeldSeries>();

  setRuns(runs: DashboardRun[]): void {
    this.runs = runs;
    this.runById = new Map(runs.map((r) => [r.id, r]));
  }

  /** Applies a series message; returns the run id it changed. */
  applySeries(append: boolean, s: RunSeries): string {
    let held = this.series.get(s.runId);
    if (!held || !append) {
      held = { metrics: emptyColumns(), evals: new Map(), samples: [], version: held ? held.version + 1 : 0 };
      this.series.set(s.runId, held);
    }
    for (const c of METRIC_COLUMNS) held.metrics[c].append(s.metrics[c]);
    for (const e of s.evals) {
      let col = held.evals.get(e.metric);
      if (!col) held.evals.set(e.metric, (col = { step: new Column(8), wallTime: new Column(8), value: new Column(8) }));
      col.step.append(e.step);
      col.wallTime.append(e.wallTime);
      col.value.append(e.value);
    }
    if (s.samples.length) {
      pushAll(held.samples, s.samples);
      held.samples.sort((a, b) => a.step - b.step);
    }
    held.version++;
    return s.runId;
  }

  /** Evaluation metric names across the given runs, sorted. */
  evalMetrics(runIds: readonly string[]): string[] {
    const names = new Set<string>();
    for (const id of runIds) for (const k of this.series.get(id)?.evals.keys() ?? []) names.add(k);
    return [...names].sort();
  }
}

/** push(...a) overflows the stack for long arrays (10^5 points and more). */
function pushAll<T>(into: T[], add: readonly T[]): void {
  for (let i = 0; i < add.length; i++) into.push(add[i]);
}

function emptyColumns(): HeldColumns {
  const c = (): Column => new Column();
  return { step: c(), wallTime: c(), loss: c(), lr: c(), distBefore: c(), distAfter: c(), assignMs: c(), imagesPerSec: c() };
}
