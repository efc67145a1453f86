/**
 * The compare view's "metric vs parameter" card: each compared run's best (or final) value of a
 * metric against a config key that differs between them, one line per assignment mode, so a
 * sweep (lr, batch size, k) shows where the assignment helps.
 */
import { Chart, type ChartDataset, type ScatterDataPoint } from 'chart.js';
import { smoothEma } from '../../src/core/compare/smooth';
import { meanAtEachX, parameterKeys, parameterPlot, summarize, type MeanPoint, type ParamPlot, type ParamPoint, type Summary } from '../../src/core/compare/paramPlot';
import { seedGroups, type SeedGroup } from '../../src/core/compare/seedMean';
import { clear, el, option } from './dom';
import type { Store, ViewSettings } from './store';
import { faded, readPalette } from './theme';

type PointDataset = ChartDataset<'line', (ScatterDataPoint & { name: string })[]>;

const runPoints = (series: ParamPlot['series'][number]): (ScatterDataPoint & { name: string })[] => series.points.map((q) => ({ x: q.x, y: q.y, name: q.name }));

/**
 * Each mode's points averaged per setting (the charts' seed groups), so only seeds of one config
 * are averaged, never runs that differ in a key other than the plotted one; ascending in x.
 */
function settingMeans(plot: ParamPlot, groups: readonly SeedGroup[]): { mode: string; points: MeanPoint[] }[] {
  const groupOf = new Map(groups.flatMap((g, i) => g.runIds.map((id) => [id, i] as const)));
  return plot.series.map((series) => {
    const bySetting = new Map<number | undefined, ParamPoint[]>();
    for (const q of series.points) {
      const setting = groupOf.get(q.runId);
      const pts = bySetting.get(setting);
      if (pts) pts.push(q);
      else bySetting.set(setting, [q]);
    }
    return { mode: series.mode, points: [...bySetting.values()].flatMap(meanAtEachX).sort((a, b) => a.x - b.x) };
  });
}

export class ParamChart {
  readonly root = el('section', { className: 'card param-card' });
  private readonly key = el('select', { title: 'Config key (x axis)' });
  private readonly metric = el('select', { title: 'Metric (y axis)' });
  private readonly summary = el('select', { title: 'Each run\'s value' }, option('best', 'best'), option('final', 'final'));
  private readonly note = el('p', { className: 'param-note' });
  private readonly canvas = el('canvas');
  private chartOrNull: Chart<'line', (ScatterDataPoint & { name: string })[]> | null = null;
  /** What the chart shows (tests read it). */
  plot: ParamPlot | null = null;
  /** With mean over seeds: each mode's means at each x (tests read it). */
  means: { mode: string; points: MeanPoint[] }[] | null = null;
  /** The runs' data versions and the settings last drawn: a live run's append redraws, a gallery move does not. */
  private drawnKey = '';

  constructor(onSettings: (patch: Partial<ViewSettings>) => void) {
    this.key.addEventListener('change', () => onSettings({ paramKey: this.key.value }));
    this.metric.addEventListener('change', () => onSettings({ paramMetric: this.metric.value }));
    this.summary.addEventListener('change', () => onSettings({ paramSummary: this.summary.value === 'final' ? 'final' : 'best' }));
    this.root.append(
      el('header', {}, el('h3', { textContent: 'Metric vs parameter' })),
      el('div', { className: 'param-controls' }, this.metric, el('label', { textContent: ' of each run against ' }, this.key), el('label', { textContent: ' value: ' }, this.summary)),
      el('div', { className: 'chart-box' }, this.canvas),
      this.note,
    );
  }

  update(runIds: readonly string[], store: Store, s: ViewSettings): void {
    const drawKey = JSON.stringify([runIds.map((id) => `${id}:${store.series.get(id)?.version ?? -1}`), s.paramKey, s.paramMetric, s.paramSummary, s.smoothing, s.seedMean, store.runs.length]);
    if (drawKey === this.drawnKey) return;
    this.drawnKey = drawKey;
    const runs = runIds.map((id) => store.runById.get(id)).filter((r) => r !== undefined);
    const keys = parameterKeys(runs.map((r) => r.config));
    // The first numeric key that is not the seed: seeds are replicates, not a sweep.
    const key = keys.includes(s.paramKey) ? s.paramKey : (keys.find((k) => k !== 'seed' && runs.every((r) => typeof r.config[k] === 'number')) ?? keys[0] ?? '');
    clear(this.key);
    this.key.append(...keys.map((k) => option(k, k, k === key)));
    const metrics = [...store.evalMetrics(runIds), 'loss'];
    const metric = metrics.includes(s.paramMetric) ? s.paramMetric : metrics[0];
    clear(this.metric);
    this.metric.append(...metrics.map((m) => option(m, m, m === metric)));
    this.summary.value = s.paramSummary;

    const plot = parameterPlot(
      runs.map((r) => {
        const held = store.series.get(r.id);
        // The loss is noisy step to step: its best or final value is taken on the charts' smoothing.
        // A run without the metric has no point (never another metric's value in its place).
        const values = !held ? [] : metric === 'loss' ? smoothEma(held.metrics.loss.view(), Math.min(0.99, s.smoothing)) : (held.evals.get(metric)?.value.view() ?? []);
        return { id: r.id, name: r.name, mode: r.mode, config: r.config, value: summarize(values, s.paramSummary as Summary) };
      }),
      key,
    );
    this.plot = plot;
    const missing = plot.missing.map((id) => store.runById.get(id)?.name ?? id);
    this.note.textContent = !key ? 'The compared runs have the same config: nothing to plot against.' : missing.length ? `Not plotted (no ${metric} yet, or no ${key}): ${missing.join(', ')}` : '';
    this.means = s.seedMean ? settingMeans(plot, seedGroups(runs)) : null;
    this.draw(plot, metric);
  }

  private draw(plot: ParamPlot, metric: string): void {
    const p = readPalette();
    const chart = (this.chartOrNull ??= new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        responsive: true,
        maintainAspectRatio: false,
        elements: { point: { radius: 4 }, line: { borderWidth: 1.5 } },
        plugins: {
          legend: { display: true, labels: { color: p.foreground, boxWidth: 12, font: { family: p.font } } },
          tooltip: { callbacks: { label: (c) => `${(c.raw as { name: string }).name}: ${Number(c.parsed.y).toPrecision(4)}` } },
        },
        scales: { x: { type: 'linear', ticks: { color: p.foreground }, grid: { color: p.grid } }, y: { type: 'linear', ticks: { color: p.foreground }, grid: { color: p.grid } } },
      },
    }));
    const x = chart.options.scales?.x as { min?: number; max?: number; ticks: { stepSize?: number; callback?: (v: number | string) => string }; title?: unknown };
    const cats = plot.categories;
    // Categories on a linear axis at 0, 1, 2 ...: chart.js's category axis would drop points whose x is not a label.
    x.min = plot.axis === 'category' ? -0.5 : undefined;
    x.max = plot.axis === 'category' ? cats.length - 0.5 : undefined;
    x.ticks.stepSize = plot.axis === 'category' ? 1 : undefined;
    x.ticks.callback = plot.axis === 'category' ? (v) => cats[Number(v)] ?? '' : (v) => String(Number(Number(v).toPrecision(6)));
    x.title = { display: true, text: plot.key, color: p.foreground };
    (chart.options.scales?.y as { title?: unknown }).title = { display: true, text: metric, color: p.foreground };
    const means = this.means;
    chart.data.datasets = means
      ? // Mean over seeds: a line through each setting's mean, its seeds as faint points around it.
        plot.series.flatMap((s, i): PointDataset[] => [
          { label: `${s.mode}: mean over seeds`, data: (means[i]?.points ?? []).map((q) => ({ x: q.x, y: q.y, name: `mean of ${q.n} (${q.lo.toPrecision(4)} to ${q.hi.toPrecision(4)})` })), borderColor: p.series(i), backgroundColor: p.series(i), showLine: plot.axis === 'linear' },
          { label: `${s.mode} seeds`, data: runPoints(s), borderColor: faded(p.series(i), '66'), backgroundColor: faded(p.series(i), '66'), pointRadius: 2.5, showLine: false },
        ])
      : plot.series.map(
          (s, i): PointDataset => ({ label: s.mode, data: runPoints(s), borderColor: p.series(i), backgroundColor: p.series(i), showLine: plot.axis === 'linear' }),
        );
    chart.update('none');
  }
}
