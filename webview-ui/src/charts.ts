/**
 * The metric charts (chart.js): one card per metric, one line per run (two for the assignment
 * distances). Long series are decimated (min/max per pixel column) before chart.js sees them;
 * when a run's data grows only that run's datasets are rebuilt and the chart updated without
 * animation.
 */
import {
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  Tooltip,
  type ChartDataset,
  type ScatterDataPoint,
} from 'chart.js';
import { decimateMinMax } from '../../src/core/compare/decimate';
import { meanOverRuns, seedGroups, type SeedGroup } from '../../src/core/compare/seedMean';
import { smoothEma } from '../../src/core/compare/smooth';
import type { MetricColumns } from '../../src/core/webview/messages';
import { el } from './dom';
import { LOSS_ACROSS_MODES, modesDiffer } from './lossNote';
import type { HeldSeries, Store, ViewSettings } from './store';
import { faded, readPalette, type Palette } from './theme';

Chart.register(LineController, LineElement, PointElement, LinearScale, LogarithmicScale, CategoryScale, Legend, Tooltip, Filler);

/**
 * Points a chart draws in all, after decimation: canvas stroking is what a first paint of many
 * long runs costs, so the buckets per line shrink as lines are added (at most 800: about one per
 * horizontal pixel of a wide chart; at least 100).
 */
const POINTS_PER_CHART = 12_000;
const bucketsFor = (lines: number): number => Math.max(100, Math.min(800, Math.floor(POINTS_PER_CHART / (4 * Math.max(1, lines)))));
/** The faint raw line under a smoothed one is drawn for up to this many runs; more is clutter. */
const MAX_RUNS_WITH_RAW = 4;

interface Line {
  label: string;
  /** The step of each point: runs are averaged step by step. */
  step: ArrayLike<number>;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  dashed?: boolean;
}

interface ChartDef {
  id: string;
  title: string;
  /** Log scale allowed (the user's toggle applies). */
  log: boolean;
  smooth: boolean;
  /** Lines drawn per run (sets the decimation budget). */
  linesPerRun: number;
  lines(s: HeldSeries, xAxis: ViewSettings['xAxis']): Line[];
  /** A caption under the chart for these runs, or null. */
  note?: (runIds: readonly string[], store: Store) => string | null;
}

const metricLine =
  (col: keyof MetricColumns, label = '') =>
  (s: HeldSeries, xAxis: ViewSettings['xAxis']): Line[] => [{ label, step: s.metrics.step.view(), x: s.metrics[xAxis].view(), y: s.metrics[col].view() }];

export const BASE_CHARTS: ChartDef[] = [
  { id: 'loss', title: 'Loss', log: true, smooth: true, linesPerRun: 1, lines: metricLine('loss'), note: (runIds, store) => (modesDiffer(runIds, store) ? LOSS_ACROSS_MODES : null) },
  { id: 'lr', title: 'Learning rate', log: false, smooth: false, linesPerRun: 1, lines: metricLine('lr') },
  {
    id: 'dist',
    title: 'Image-noise distance (dashed: before assignment)',
    log: false,
    smooth: false,
    linesPerRun: 2,
    lines: (s, xAxis) => [
      { label: 'after', step: s.metrics.step.view(), x: s.metrics[xAxis].view(), y: s.metrics.distAfter.view() },
      { label: 'before', step: s.metrics.step.view(), x: s.metrics[xAxis].view(), y: s.metrics.distBefore.view(), dashed: true },
    ],
  },
  { id: 'assignMs', title: 'Assignment time (ms)', log: false, smooth: true, linesPerRun: 1, lines: metricLine('assignMs') },
  { id: 'imagesPerSec', title: 'Images/s', log: false, smooth: true, linesPerRun: 1, lines: metricLine('imagesPerSec') },
];

export function evalChart(metric: string): ChartDef {
  return {
    id: `eval:${metric}`,
    title: metric,
    log: true,
    smooth: false,
    linesPerRun: 1,
    lines: (s, xAxis) => {
      const c = s.evals.get(metric);
      return c ? [{ label: '', step: c.step.view(), x: (xAxis === 'step' ? c.step : c.wallTime).view(), y: c.value.view() }] : [];
    },
  };
}

function points(x: ArrayLike<number>, y: ArrayLike<number>, buckets: number): ScatterDataPoint[] {
  const idx = decimateMinMax(x, y, buckets);
  const out: ScatterDataPoint[] = new Array(idx.length);
  for (let k = 0; k < idx.length; k++) out[k] = { x: x[idx[k]], y: y[idx[k]] };
  return out;
}

/** Datasets kept out of the legend: a smoothed line's raw one, a mean's band edges. */
const unlisted = (label: string): boolean => label.endsWith(' raw') || label.endsWith(' min') || label.endsWith(' max');

type LineDataset = ChartDataset<'line', ScatterDataPoint[]> & { runId: string };

class ChartCard {
  readonly root: HTMLElement;
  private readonly canvas = el('canvas');
  private readonly note = el('p', { className: 'chart-note', hidden: true });
  /** Made on the first update, once the card is in the page: a chart made detached measures 0x0 and draws again on resize. */
  private chartOrNull: Chart<'line', ScatterDataPoint[]> | null = null;
  private versions = new Map<string, number>();
  private key = '';
  /** The members' data versions the mean lines were drawn from. */
  private groupVersions = '';

  constructor(
    readonly def: ChartDef,
    private readonly onExport: (name: string, dataUrl: string) => void,
  ) {
    const exportBtn = el('button', { className: 'icon-button', textContent: 'PNG', title: `Save the ${def.title} chart as PNG` });
    exportBtn.addEventListener('click', () => this.onExport(def.id.replace(/[^a-z0-9_-]/gi, '_'), this.chart.toBase64Image('image/png', 1)));
    this.root = el('section', { className: 'card chart-card', dataset: { chart: def.id } }, el('header', {}, el('h3', { textContent: def.title }), exportBtn), el('div', { className: 'chart-box' }, this.canvas), this.note);
  }

  /** Shows the definition's caption for these runs, if any. */
  private updateNote(runIds: readonly string[], store: Store): void {
    const text = this.def.note?.(runIds, store) ?? null;
    this.note.hidden = text === null;
    if (text !== null && this.note.textContent !== text) this.note.textContent = text;
  }

  private get chart(): Chart<'line', ScatterDataPoint[]> {
    if (this.chartOrNull) return this.chartOrNull;
    const p = readPalette();
    this.chartOrNull = new Chart(this.canvas, {
      type: 'line',
      data: { datasets: [] },
      options: {
        animation: false,
        parsing: false,
        normalized: true,
        // Resizing is ours (see observeSize): chart.js's own observer redraws every chart once
        // after the first layout even when nothing moved (0.7 s of a 1.7 s first paint).
        responsive: false,
        maintainAspectRatio: false,
        spanGaps: true,
        elements: { point: { radius: 0 }, line: { borderWidth: 1.5 } },
        interaction: { mode: 'nearest', intersect: false },
        plugins: { legend: { display: true, labels: { color: p.foreground, boxWidth: 12, font: { family: p.font }, filter: (item) => !unlisted(item.text) } }, tooltip: { enabled: true } },
        scales: {
          x: { type: 'linear', ticks: { color: p.foreground }, grid: { color: p.grid } },
          y: { type: 'linear', ticks: { color: p.foreground }, grid: { color: p.grid } },
        },
      },
    });
    // Sized to its box now, while it is empty (cheap); later only when the box really changes.
    this.chartOrNull.resize();
    this.observeSize();
    return this.chartOrNull;
  }

  private observeSize(): void {
    const box = this.canvas.parentElement;
    if (!box) return;
    let last = `${box.clientWidth}x${box.clientHeight}`;
    new ResizeObserver(() => {
      const now = `${box.clientWidth}x${box.clientHeight}`;
      if (now === last || !this.chartOrNull) return;
      last = now;
      this.chartOrNull.resize();
    }).observe(box);
  }

  /**
   * Redraws what changed: everything when the run set or a setting changed, else only runs with
   * new data. With `groups` (mean over seeds) one line per group, redrawn when a member's data moved.
   */
  update(runIds: readonly string[], store: Store, s: ViewSettings, palette: Palette, groups: readonly SeedGroup[] | null = null): void {
    this.updateNote(runIds, store);
    const key = JSON.stringify([runIds, s.xAxis, s.smoothing, s.logScale, groups]);
    const all = key !== this.key;
    if (groups) {
      const versions = runIds.map((id) => store.series.get(id)?.version ?? -1).join(',');
      if (!all && versions === this.groupVersions) return;
      this.key = key;
      this.groupVersions = versions;
      this.setAxes(s, palette, all);
      this.chart.data.datasets = groups.flatMap((g, i) => this.meanDatasets(g, store, s, palette.series(i), bucketsFor(groups.length * this.def.linesPerRun)));
      this.chart.update('none');
      return;
    }
    this.groupVersions = '';
    this.setAxes(s, palette, all);
    if (all) {
      this.key = key;
      this.versions = new Map();
    }
    const datasets = all ? [] : [...(this.chart.data.datasets as LineDataset[])];
    let dirty = all;
    const shape = { buckets: bucketsFor(runIds.length * this.def.linesPerRun), raw: runIds.length <= MAX_RUNS_WITH_RAW };
    runIds.forEach((id, i) => {
      const held = store.series.get(id);
      if (!held || this.versions.get(id) === held.version) return;
      this.versions.set(id, held.version);
      dirty = true;
      const name = store.runById.get(id)?.name ?? id;
      const fresh = this.datasetsFor(id, name, held, s, palette.series(i), shape);
      const at = datasets.findIndex((d) => d.runId === id);
      const kept = datasets.filter((d) => d.runId !== id);
      kept.splice(at < 0 ? kept.length : at, 0, ...fresh);
      datasets.length = 0;
      datasets.push(...kept);
    });
    if (!dirty) return;
    this.chart.data.datasets = datasets;
    this.chart.update('none');
  }

  private setAxes(s: ViewSettings, palette: Palette, changed: boolean): void {
    if (!changed) return;
    const log = this.def.log && s.logScale;
    const opts = this.chart.options.scales as Record<string, { type: string; title?: { display: boolean; text: string; color: string } }>;
    opts.y.type = log ? 'logarithmic' : 'linear';
    opts.x.title = { display: true, text: s.xAxis === 'step' ? 'step' : 'wall time (s)', color: palette.foreground };
  }

  /** One group's mean line per line of the chart, over a band from the runs' min to their max. */
  private meanDatasets(g: SeedGroup, store: Store, s: ViewSettings, colour: string, buckets: number): LineDataset[] {
    const held = g.runIds.map((id) => store.series.get(id)).filter((h): h is HeldSeries => h !== undefined);
    if (held.length === 0) return [];
    const perRun = held.map((h) => this.def.lines(h, s.xAxis));
    const smoothing = this.def.smooth ? s.smoothing : 0;
    const smooth = (y: Float64Array): ArrayLike<number> => (smoothing > 0 ? smoothEma(y, smoothing) : y);
    const out: LineDataset[] = [];
    const runId = g.runIds.join(',');
    const count = Math.max(...perRun.map((l) => l.length));
    for (let li = 0; li < count; li++) {
      // Members without this line yet (no evaluation so far) are left out; the label's count says so.
      const lines = perRun.map((l) => l[li]).filter((l): l is Line => l !== undefined);
      const line = lines[0];
      const m = meanOverRuns(lines);
      const label = `${g.label}${line.label ? ` (${line.label})` : ''}: mean of ${lines.length}${lines.length < held.length ? ` of ${held.length}` : ''}`;
      const dash = line.dashed ? [4, 3] : [];
      if (lines.length > 1) {
        // chart.js's area fill costs far more per point than a line (with 6 bands on each of 6
        // charts, 0.45 s of the toggle at full resolution): the band gets a quarter of the points.
        const bandBuckets = Math.max(50, Math.floor(buckets / 4));
        out.push({ runId, label: `${label} min`, data: points(m.x, smooth(m.lo), bandBuckets), borderColor: 'transparent', pointRadius: 0, fill: false });
        out.push({ runId, label: `${label} max`, data: points(m.x, smooth(m.hi), bandBuckets), borderColor: 'transparent', backgroundColor: faded(colour, '30'), pointRadius: 0, fill: '-1' });
      }
      out.push({ runId, label, data: points(m.x, smooth(m.mean), buckets), borderColor: colour, borderDash: dash, pointRadius: 0, fill: false });
    }
    return out;
  }

  private datasetsFor(runId: string, name: string, held: HeldSeries, s: ViewSettings, colour: string, shape: { buckets: number; raw: boolean }): LineDataset[] {
    const out: LineDataset[] = [];
    for (const line of this.def.lines(held, s.xAxis)) {
      const label = line.label ? `${name} (${line.label})` : name;
      const smoothing = this.def.smooth ? s.smoothing : 0;
      const dash = line.dashed ? [4, 3] : [];
      if (smoothing > 0 && shape.raw) out.push({ runId, label: `${label} raw`, data: points(line.x, line.y, shape.buckets), borderColor: faded(colour), borderDash: dash, pointRadius: 0 });
      const y = smoothing > 0 ? smoothEma(line.y, smoothing) : line.y;
      out.push({ runId, label, data: points(line.x, y, shape.buckets), borderColor: colour, borderDash: dash, pointRadius: 0 });
    }
    return out;
  }

  /** Labels of the lines in the legend (tests read it). */
  labels(): string[] {
    return (this.chartOrNull?.data.datasets ?? []).map((d) => String(d.label)).filter((l) => !unlisted(l));
  }

  /** The listed lines and their points (tests read it). */
  lineData(): { label: string; points: ScatterDataPoint[] }[] {
    return (this.chartOrNull?.data.datasets ?? []).filter((d) => !unlisted(String(d.label))).map((d) => ({ label: String(d.label), points: d.data }));
  }

  /** Points currently drawn (tests and the benchmark read it). */
  pointCount(): number {
    return this.chartOrNull?.data.datasets.reduce((a, d) => a + d.data.length, 0) ?? 0;
  }

  destroy(): void {
    this.chartOrNull?.destroy();
    this.root.remove();
  }
}

export class ChartGrid {
  readonly root = el('div', { className: 'chart-grid' });
  private readonly cards = new Map<string, ChartCard>();

  constructor(private readonly onExport: (name: string, dataUrl: string) => void) {}

  update(runIds: readonly string[], store: Store, s: ViewSettings): void {
    const groups = s.view === 'compare' && s.seedMean ? seedGroups(runIds.map((id) => ({ id, config: store.runById.get(id)?.config ?? {} }))) : null;
    const defs = [...BASE_CHARTS, ...store.evalMetrics(runIds).map(evalChart)];
    // Evaluation charts first: they are what a comparison is decided on.
    defs.sort((a, b) => Number(b.id.startsWith('eval:')) - Number(a.id.startsWith('eval:')));
    const wanted = new Set(defs.map((d) => d.id));
    for (const [id, card] of this.cards)
      if (!wanted.has(id)) {
        card.destroy();
        this.cards.delete(id);
      }
    const palette = readPalette();
    defs.forEach((d, i) => {
      let card = this.cards.get(d.id);
      if (!card) {
        card = new ChartCard(d, this.onExport);
        this.cards.set(d.id, card);
      }
      if (this.root.children[i] !== card.root) this.root.insertBefore(card.root, this.root.children[i] ?? null);
      card.update(runIds, store, s, palette, groups);
    });
  }

  datasetLabels(): Record<string, string[]> {
    return Object.fromEntries([...this.cards].map(([id, c]) => [id, c.labels()]));
  }

  lineData(chartId: string): { label: string; points: ScatterDataPoint[] }[] {
    return this.cards.get(chartId)?.lineData() ?? [];
  }

  pointCounts(): Record<string, number> {
    return Object.fromEntries([...this.cards].map(([id, c]) => [id, c.pointCount()]));
  }
}
