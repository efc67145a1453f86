/**
 * The run list in the panel: filter by name, status and assignment mode, group by any config
 * key, tick runs to show or compare. Virtualised: only the rows in view (and a margin) are in the
 * page, so a folder of thousands of runs costs the same to draw as one of fifty.
 */
import type { DashboardRun } from '../../src/core/webview/messages';
import { clear, el, option } from './dom';
import type { ViewSettings } from './store';

export interface RunListEvents {
  onSettings(patch: Partial<ViewSettings>): void;
  onShow(view: ViewSettings['view'], runIds: string[]): void;
}

const STATUSES = ['running', 'queued', 'completed', 'stopped', 'failed', 'dead', 'broken', 'created'];
/** Every row and group header is this tall (px), so the rows in view follow from the scroll offset. */
const ROW_HEIGHT = 22;
const MARGIN_ROWS = 15;

type Item = { kind: 'header'; text: string } | { kind: 'run'; run: DashboardRun; shown: boolean };

export class RunList {
  readonly root = el('aside', { className: 'run-list' });
  private readonly filter = el('input', { type: 'search', placeholder: 'Filter runs by name', className: 'filter' });
  private readonly status = el('select', { title: 'Status' });
  private readonly mode = el('select', { title: 'Assignment mode' });
  private readonly groupBy = el('select', { title: 'Group by config key' });
  private readonly rows = el('div', { className: 'rows' });
  private readonly spacer = el('div', { className: 'rows-spacer' });
  private items: Item[] = [];
  private window = '';
  private readonly count = el('div', { className: 'count' });
  private readonly ticked = new Set<string>();
  private lastKey = '';
  private shownKey = '';

  constructor(private readonly events: RunListEvents) {
    const showBtn = el('button', { textContent: 'Show', title: 'Show the ticked run' });
    const compareBtn = el('button', { textContent: 'Compare', title: 'Compare the ticked runs' });
    showBtn.addEventListener('click', () => {
      const first = [...this.ticked][0];
      if (first) events.onShow('run', [first]);
    });
    compareBtn.addEventListener('click', () => this.ticked.size >= 2 && events.onShow('compare', [...this.ticked]));
    this.filter.addEventListener('input', () => events.onSettings({ filter: this.filter.value }));
    this.status.addEventListener('change', () => events.onSettings({ statusFilter: this.status.value }));
    this.mode.addEventListener('change', () => events.onSettings({ modeFilter: this.mode.value }));
    this.groupBy.addEventListener('change', () => events.onSettings({ groupBy: this.groupBy.value }));
    this.status.append(option('', 'any status'), ...STATUSES.map((s) => option(s, s)));
    this.rows.append(this.spacer);
    this.rows.addEventListener('scroll', () => this.drawWindow());
    new ResizeObserver(() => this.drawWindow()).observe(this.rows);
    this.root.append(
      el('div', { className: 'list-controls' }, this.filter, this.status, this.mode, el('label', { textContent: 'group by ' }, this.groupBy)),
      el('div', { className: 'list-actions' }, showBtn, compareBtn, this.count),
      this.rows,
    );
  }

  render(runs: readonly DashboardRun[], s: ViewSettings): void {
    const key = JSON.stringify([runs.length, runs.map((r) => `${r.id}:${r.status}:${r.step}`).join(','), s.filter, s.statusFilter, s.modeFilter, s.groupBy, s.runIds]);
    if (key === this.lastKey) return;
    this.lastKey = key;
    this.filter.value = s.filter;
    this.fillModes(runs, s.modeFilter);
    this.fillGroupKeys(runs, s.groupBy);
    this.status.value = s.statusFilter;
    // The ticks follow what is shown whenever that changes (a Compare from the sidebar, a click).
    const shownKey = s.runIds.join('\0');
    if (shownKey !== this.shownKey) {
      this.shownKey = shownKey;
      this.ticked.clear();
      for (const id of s.runIds) this.ticked.add(id);
    }

    const needle = s.filter.trim().toLowerCase();
    const shown = runs.filter(
      (r) =>
        (!needle || r.name.toLowerCase().includes(needle) || r.id.toLowerCase().includes(needle)) &&
        (!s.statusFilter || r.status === s.statusFilter) &&
        (!s.modeFilter || r.mode === s.modeFilter),
    );
    const groups = new Map<string, DashboardRun[]>();
    for (const r of shown) {
      const v = s.groupBy === 'group' ? r.group : r.config[s.groupBy];
      const g = v === undefined || v === null || v === '' ? '(none)' : String(v);
      let list = groups.get(g);
      if (!list) groups.set(g, (list = []));
      list.push(r);
    }
    const items: Item[] = [];
    const showing = new Set(s.runIds);
    for (const [g, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))) {
      items.push({ kind: 'header', text: `${s.groupBy} = ${g} (${list.length})` });
      for (const run of list) items.push({ kind: 'run', run, shown: showing.has(run.id) });
    }
    this.items = items;
    this.spacer.style.height = `${items.length * ROW_HEIGHT}px`;
    this.window = '';
    this.drawWindow();
    this.count.textContent = `${shown.length} of ${runs.length} runs`;
  }

  /** Puts the items in view (plus a margin) in the page, positioned by their index. */
  private drawWindow(): void {
    const first = Math.max(0, Math.floor(this.rows.scrollTop / ROW_HEIGHT) - MARGIN_ROWS);
    const visible = Math.ceil((this.rows.clientHeight || 800) / ROW_HEIGHT);
    const last = Math.min(this.items.length, first + visible + 2 * MARGIN_ROWS);
    const key = `${first}:${last}`;
    if (key === this.window) return;
    this.window = key;
    clear(this.spacer);
    for (let i = first; i < last; i++) {
      const item = this.items[i];
      const e = item.kind === 'header' ? el('div', { className: 'group-header', textContent: item.text }) : this.row(item.run, item.shown);
      e.style.top = `${i * ROW_HEIGHT}px`;
      this.spacer.append(e);
    }
  }

  private row(r: DashboardRun, shown: boolean): HTMLElement {
    const box = el('input', { type: 'checkbox', checked: this.ticked.has(r.id), title: 'Tick to compare' });
    box.addEventListener('change', () => (box.checked ? this.ticked.add(r.id) : this.ticked.delete(r.id)));
    const name = el('button', { className: 'run-name link', textContent: r.name, title: r.id });
    name.addEventListener('click', () => this.events.onShow('run', [r.id]));
    const progress = r.totalSteps ? `${r.step}/${r.totalSteps}` : '';
    return el(
      'div',
      { className: `run-row${shown ? ' shown' : ''}`, dataset: { run: r.id, status: r.status } },
      box,
      el('span', { className: `status status-${r.status}`, textContent: r.status, title: r.status }),
      name,
      el('span', { className: 'mode', textContent: r.mode }),
      el('span', { className: 'progress', textContent: progress }),
    );
  }

  private fillModes(runs: readonly DashboardRun[], current: string): void {
    const modes = [...new Set(runs.map((r) => r.mode).filter(Boolean))].sort();
    const want = ['', ...modes].join('\0');
    if (this.mode.dataset.options !== want) {
      clear(this.mode);
      this.mode.append(option('', 'any mode'), ...modes.map((m) => option(m, m)));
      this.mode.dataset.options = want;
    }
    this.mode.value = current;
  }

  private fillGroupKeys(runs: readonly DashboardRun[], current: string): void {
    const keys = new Set<string>();
    // The first runs are enough to learn the config's keys; every run has the same schema.
    for (const r of runs.slice(0, 50)) for (const k of Object.keys(r.config)) keys.add(k);
    const list = ['group', ...[...keys].sort()];
    const want = list.join('\0');
    if (this.groupBy.dataset.options !== want) {
      clear(this.groupBy);
      this.groupBy.append(...list.map((k) => option(k, k)));
      this.groupBy.dataset.options = want;
    }
    this.groupBy.value = current;
  }
}
