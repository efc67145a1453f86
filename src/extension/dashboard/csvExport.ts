/** The CSV export: every field of each run's metrics.jsonl at full precision (not what the page holds). */
import { metricsCsv, type CsvSeries } from '../../core/compare/csv';
import type { MetricsLine } from '../../core/run/format';
import { readMetrics } from '../../core/run/reader';

export const CSV_COLUMNS = ['step', 'wallTime', 'loss', 'lr', 'gradNorm', 'imagesPerSec', 'assign.distBefore', 'assign.distAfter', 'assign.ms'] as const;

const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);

const FIELDS: Record<(typeof CSV_COLUMNS)[number], (m: MetricsLine) => number> = {
  step: (m) => num(m.step),
  wallTime: (m) => num(m.wallTime),
  loss: (m) => num(m.loss),
  lr: (m) => num(m.lr),
  gradNorm: (m) => num(m.gradNorm),
  imagesPerSec: (m) => num(m.imagesPerSec),
  'assign.distBefore': (m) => num(m.assign?.distBefore),
  'assign.distAfter': (m) => num(m.assign?.distAfter),
  'assign.ms': (m) => num(m.assign?.ms),
};

export function runsMetricsCsv(runs: readonly { id: string; name: string; dir: string }[]): string {
  const series: CsvSeries[] = runs.map((r) => {
    const lines = readMetrics(r.dir).metrics;
    return { runId: r.id, runName: r.name, columns: Object.fromEntries(CSV_COLUMNS.map((c) => [c, lines.map(FIELDS[c])])) };
  });
  return metricsCsv(series, CSV_COLUMNS);
}
