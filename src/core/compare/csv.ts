/** Metrics of several runs as one CSV (long format: one row per run and step), RFC 4180 quoting. */

export interface CsvSeries {
  runId: string;
  runName: string;
  columns: Record<string, ArrayLike<number>>;
}

const quote = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
const cell = (v: number): string => (Number.isFinite(v) ? String(v) : '');

export function metricsCsv(series: readonly CsvSeries[], columns: readonly string[]): string {
  const lines = [['run_id', 'run_name', ...columns].map(quote).join(',')];
  for (const s of series) {
    const n = Math.max(0, ...columns.map((c) => s.columns[c]?.length ?? 0));
    for (let i = 0; i < n; i++) {
      const row = [quote(s.runId), quote(s.runName)];
      for (const c of columns) row.push(cell(s.columns[c]?.[i] ?? NaN));
      lines.push(row.join(','));
    }
  }
  return lines.join('\n') + '\n';
}
