/**
 * The dashboard page: the run list beside one run's view or a comparison. Messages change the
 * store; drawing is coalesced to one pass per animation frame.
 */
import type { DashboardView, HostMessage } from '../../src/core/webview/messages';
import { ChartGrid } from './charts';
import { ConfigTable, SpeedupSummary } from './compareTables';
import { clear, el, option } from './dom';
import { Galleries } from './gallery';
import { ParamChart } from './paramChart';
import { RunList } from './runList';
import { DEFAULT_SETTINGS, Store, type ViewSettings } from './store';
import { loadState, post, saveState } from './vscodeApi';

const SETTLE_MS = 30;
const MAX_WAIT_MS = 150;

export class App {
  readonly store = new Store();
  settings: ViewSettings;
  readonly charts: ChartGrid;
  readonly galleries: Galleries;
  private readonly runList: RunList;
  private readonly configTable = new ConfigTable();
  private readonly speedup: SpeedupSummary;
  readonly paramChart: ParamChart;
  private readonly title = el('h2', { className: 'view-title' });
  private readonly main = el('main', { className: 'view' });
  private readonly xAxis = el('select', { title: 'x axis' }, option('step', 'by step'), option('wallTime', 'by wall time'));
  private readonly smoothing = el('input', { type: 'range', min: '0', max: '0.99', step: '0.01', title: 'Smoothing' });
  private readonly logScale = el('input', { type: 'checkbox', title: 'Log scale for loss and evaluation metrics' });
  private readonly seedMean = el('input', { type: 'checkbox', title: 'One line per setting: the mean over its seeds, with their range (min to max) as a band' });
  private readonly seedMeanLabel = el('label', {}, this.seedMean, ' mean over seeds');
  private frame = 0;
  private timer = 0;
  /** When the oldest message not yet drawn arrived (0: none). */
  private pendingSince = 0;
  private layoutKey = '';
  private watched = '';
  /** Last frame's drawing time, for the benchmark. */
  lastDrawMs = 0;
  /** When the last draws began (the benchmark's debug output; bounded like `timings`). */
  readonly draws: number[] = [];

  constructor(root: HTMLElement) {
    this.settings = { ...DEFAULT_SETTINGS, ...loadState<ViewSettings>() };
    this.charts = new ChartGrid((name, dataUrl) => post({ type: 'exportPng', v: 1, name, dataUrl }));
    this.galleries = new Galleries(this.store, (step) => this.patch({ galleryStep: step }, false));
    this.runList = new RunList({ onSettings: (p) => this.patch(p), onShow: (view, ids) => this.show(view, ids) });
    this.speedup = new SpeedupSummary((p) => this.patch(p));
    this.paramChart = new ParamChart((p) => this.patch(p));
    const csv = el('button', { textContent: 'CSV', title: 'Save the metrics of the shown runs as CSV' });
    csv.addEventListener('click', () => post({ type: 'exportCsv', v: 1, runIds: this.settings.runIds }));
    this.xAxis.addEventListener('change', () => this.patch({ xAxis: this.xAxis.value === 'wallTime' ? 'wallTime' : 'step' }));
    this.smoothing.addEventListener('input', () => this.patch({ smoothing: Number(this.smoothing.value) }));
    this.logScale.addEventListener('change', () => this.patch({ logScale: this.logScale.checked }));
    this.seedMean.addEventListener('change', () => this.patch({ seedMean: this.seedMean.checked }));
    const toolbar = el(
      'div',
      { className: 'toolbar' },
      this.title,
      this.xAxis,
      el('label', { textContent: 'smoothing ' }, this.smoothing),
      el('label', {}, this.logScale, ' log scale'),
      this.seedMeanLabel,
      csv,
    );
    root.append(this.runList.root, el('div', { className: 'content' }, toolbar, this.main));
  }

  /** The last messages' arrival times and handling cost (read by the benchmark). */
  readonly timings: { type: string; at: number; ms: number }[] = [];

  handle(m: HostMessage): void {
    const t0 = performance.now();
    this.apply(m);
    if (this.timings.length >= 100) this.timings.shift();
    this.timings.push({ type: m.type, at: t0, ms: performance.now() - t0 });
    this.schedule();
  }

  private apply(m: HostMessage): void {
    switch (m.type) {
      case 'runs':
        this.store.setRuns(m.runs);
        if (this.settings.runIds.length === 0 && m.runs.length > 0) this.show('run', [m.runs[0].id]);
        break;
      case 'show':
        this.show(m.view, m.runIds);
        break;
      case 'series':
        this.store.applySeries(m.append, m.series);
        break;
      case 'exported':
        break;
    }
  }

  /** After `ready`: a page restored with runs in its state asks for their series again. */
  resume(): void {
    if (this.settings.runIds.length === 0) return;
    this.watched = this.settings.runIds.join('\0');
    post({ type: 'watch', v: 1, runIds: this.settings.runIds });
  }

  show(view: DashboardView, runIds: string[]): void {
    this.patch({ view, runIds, galleryStep: null });
  }

  private patch(p: Partial<ViewSettings>, redraw = true): void {
    this.settings = { ...this.settings, ...p };
    saveState(this.settings);
    const ids = this.settings.runIds.join('\0');
    if (ids !== this.watched) {
      this.watched = ids;
      post({ type: 'watch', v: 1, runIds: this.settings.runIds });
    }
    if (redraw) this.schedule();
  }

  /**
   * Draws once a burst of messages is over: SETTLE_MS after the last one, but never more than
   * MAX_WAIT_MS after the first undrawn one, so a live run still redraws several times a second.
   * Opening a comparison sends one message per run; drawing after each would redo the charts
   * once per run.
   */
  private schedule(): void {
    const now = performance.now();
    if (this.pendingSince === 0) this.pendingSince = now;
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(SETTLE_MS, this.pendingSince + MAX_WAIT_MS - now));
    this.timer = window.setTimeout(() => {
      this.timer = 0;
      if (this.frame) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        this.pendingSince = 0;
        this.draw();
      });
    }, wait);
  }

  /** No draw pending: what the page shows reflects every message received (tests wait for it). */
  get settled(): boolean {
    return this.timer === 0 && this.frame === 0 && this.pendingSince === 0;
  }

  /** Draws now (tests and the benchmark call it to time one pass). */
  draw(): void {
    const t0 = performance.now();
    if (this.draws.length >= 100) this.draws.shift();
    this.draws.push(t0);
    const s = this.settings;
    const ids = s.runIds.filter((id) => this.store.runById.has(id) || this.store.series.has(id));
    this.runList.render(this.store.runs, s);
    this.xAxis.value = s.xAxis;
    this.smoothing.value = String(s.smoothing);
    this.logScale.checked = s.logScale;
    this.seedMean.checked = s.seedMean;
    this.seedMeanLabel.hidden = s.view !== 'compare';
    const names = ids.map((id) => this.store.runById.get(id)?.name ?? id);
    this.title.textContent = ids.length === 0 ? 'No run selected' : s.view === 'compare' ? `Compare ${names.length} runs` : names[0];

    const layout = `${s.view}:${ids.join(',')}`;
    if (layout !== this.layoutKey) {
      this.layoutKey = layout;
      clear(this.main);
      document.body.dataset.view = s.view;
      if (s.view === 'compare') this.main.append(el('div', { className: 'compare-top' }, this.speedup.root, this.configTable.root));
      this.main.append(this.galleries.root, this.charts.root);
      // After the curves: it summarises each run to one point, for sweeps over many runs.
      if (s.view === 'compare') this.main.append(this.paramChart.root);
    }
    if (s.view === 'compare') {
      this.configTable.update(ids, this.store);
      this.speedup.update(ids, this.store, s);
    }
    this.galleries.update(ids, s.galleryStep);
    this.charts.update(ids, this.store, s);
    // Drawn once the card is in the page (a chart made detached measures 0x0).
    if (s.view === 'compare') this.paramChart.update(ids, this.store, s);
    this.lastDrawMs = performance.now() - t0;
  }
}
