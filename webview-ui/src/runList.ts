/**
 * The run list in the panel: filter by name, status and assignment mode, group by any config
 * key, tick runs to show or compare. Rows are rebuilt only when the list or a filter changes.
 */
import type { DashboardRun } from '../../src/core/webview/messages';
import { clear, el, option } from './dom';
import type { ViewSettings } from './store';

export interface RunListEvents {
  onSettings(patch: Partial<ViewSettings>): void;
  onShow(view: ViewSettings['view'], runIds: string[]): void;
}

const STATUSES = ['running', 'completed', 'stopped', 'failed', 'dead', 'broken', 'created'];

export class RunList {
  readonly root = el('aside', { className: 'run-list' });
  private readonly filter = el('input', { type: 'search', placeholder: 'Filter runs by name', className: 'filter' });
  private readonly status = el('select', { title: 'Status' });
  private readonly mode = el('select', { title: 'Assignment mode' });
  private readonly groupBy = el('select', { title: 'Group by config key' });
  private readonly rows = el('div', { className: 'rows' });
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
    const frag = document.createDocumentFragment();
    for (const [g, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0], undefined, { numeric: true }))) {
      frag.append(el('div', { className: 'group-header', textContent: `${s.groupBy} = ${g} (${list.length})` }));
      for (const r of list) frag.append(this.row(r, s.runIds.includes(r.id)));
    }
    clear(this.rows);
    this.rows.append(frag);
    this.count.textContent = `${shown.length} of ${runs.length} runs`;
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
