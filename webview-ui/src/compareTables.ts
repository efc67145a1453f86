/** The compare view's tables: config keys that differ, and the steps each run needed to reach a threshold. */
import { differingKeys } from '../../src/core/compare/configDiff';
import { meanOverRuns, seedGroups } from '../../src/core/compare/seedMean';
import { speedupSummary, type Goal } from '../../src/core/compare/threshold';
import { clear, el, option } from './dom';
import { LOSS_ACROSS_MODES, modesDiffer } from './lossNote';
import type { Store, ViewSettings } from './store';

/** Keys that name a run rather than configure it: the table's column headers already show them. */
const IDENTITY_KEYS = new Set(['name']);

export class ConfigTable {
  readonly root = el('section', { className: 'card config-card' }, el('header', {}, el('h3', { textContent: 'Config: keys that differ' })));
  private readonly table = el('table', { className: 'config-table' });

  constructor() {
    this.root.append(this.table);
  }

  update(runIds: readonly string[], store: Store): void {
    const runs = runIds.map((id) => store.runById.get(id)).filter((r) => r !== undefined);
    const keys = differingKeys(runs.map((r) => r.config)).filter((k) => !IDENTITY_KEYS.has(k));
    clear(this.table);
    this.table.append(el('thead', {}, el('tr', {}, el('th', { textContent: 'key' }), ...runs.map((r) => el('th', { textContent: r.name, title: r.id })))));
    const body = el('tbody');
    if (keys.length === 0) body.append(el('tr', {}, el('td', { textContent: 'The configs are identical.', colSpan: runs.length + 1 })));
    for (const k of keys) body.append(el('tr', { dataset: { key: k } }, el('th', { textContent: k }), ...runs.map((r) => el('td', { textContent: k in r.config ? String(r.config[k]) : '(absent)' }))));
    this.table.append(body);
  }
}

/** Lower is better for losses and distances; KID and FD alike. */
const goalOf = (_metric: string): Goal => 'below';

function minFinite(v: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < v.length; i++) if (v[i] < m) m = v[i];
  return m;
}

export class SpeedupSummary {
  readonly root = el('section', { className: 'card speedup-card' });
  private readonly metric = el('select', { title: 'Metric' });
  private readonly threshold = el('input', { type: 'number', step: 'any', title: 'Threshold', className: 'threshold' });
  private readonly baseline = el('select', { title: 'Baseline run' });
  private readonly table = el('table', { className: 'speedup-table' });
  /** Shown when the loss would compare runs of different assignment modes (docs/results: it misleads there). */
  private readonly lossNote = el('p', { className: 'speedup-note', hidden: true, textContent: LOSS_ACROSS_MODES });

  constructor(private readonly onSettings: (patch: Partial<ViewSettings>) => void) {
    this.metric.addEventListener('change', () => onSettings({ speedupMetric: this.metric.value, threshold: null }));
    this.threshold.addEventListener('change', () => onSettings({ threshold: this.threshold.value === '' ? null : Number(this.threshold.value) }));
    this.baseline.addEventListener('change', () => onSettings({ baseline: this.baseline.value }));
    this.root.append(
      el('header', {}, el('h3', { textContent: 'Steps to reach a threshold' })),
      el('div', { className: 'speedup-controls' }, el('label', { textContent: 'metric ' }, this.metric), el('label', { textContent: ' reaches ' }, this.threshold), el('label', { textContent: ' baseline ' }, this.baseline)),
      this.table,
      this.lossNote,
    );
  }

  update(runIds: readonly string[], store: Store, s: ViewSettings): void {
    const metrics = [...store.evalMetrics(runIds), 'loss'];
    const metric = metrics.includes(s.speedupMetric) ? s.speedupMetric : metrics[0];
    clear(this.metric);
    this.metric.append(...metrics.map((m) => option(m, m, m === metric)));
    const runs = runIds.map((id) => store.runById.get(id)).filter((r) => r !== undefined);
    this.lossNote.hidden = !(metric === 'loss' && modesDiffer(runIds, store));
    const baselineId = runIds.includes(s.baseline) ? s.baseline : (runs.find((r) => r.mode === 'none')?.id ?? runIds[0] ?? '');
    clear(this.baseline);
    this.baseline.append(...runs.map((r) => option(r.id, r.name, r.id === baselineId)));

    const perRun = runIds.map((id) => {
      const held = store.series.get(id);
      const ev = held?.evals.get(metric);
      if (ev) return { runId: id, steps: ev.step.view(), values: ev.value.view(), hasMetric: true };
      return { runId: id, steps: held?.metrics.step.view() ?? [], values: held?.metrics.loss.view() ?? [], hasMetric: metric === 'loss' };
    });
    // Mean over seeds: one row per setting, where its mean curve (the one the charts draw) reaches the threshold.
    const groups = s.seedMean ? seedGroups(runs) : null;
    const rowsOf = groups
      ? groups.map((g, i) => {
          // A member without the metric yet is left out of the mean (never its loss in its place).
          const members = perRun.filter((x) => g.runIds.includes(x.runId) && x.hasMetric);
          const m = meanOverRuns(members.map((x) => ({ step: x.steps, x: x.steps, y: x.values })));
          const of = members.length < g.runIds.length ? `${members.length} of ${g.runIds.length}` : `${g.runIds.length}`;
          return { key: `group:${i}`, name: `${g.label} (${of} run${g.runIds.length === 1 ? '' : 's'})`, mode: store.runById.get(g.runIds[0])?.mode ?? '', series: { runId: `group:${i}`, steps: m.x, values: m.mean } };
        })
      : perRun.map((x) => ({ key: x.runId, name: store.runById.get(x.runId)?.name ?? x.runId, mode: store.runById.get(x.runId)?.mode ?? '', series: x }));
    const baselineKey = groups ? `group:${Math.max(0, groups.findIndex((g) => g.runIds.includes(baselineId)))}` : baselineId;
    const series = rowsOf.map((r) => r.series);
    // Default threshold: the hardest level every run reaches (the worst of the runs' best values).
    const best = series.map((x) => minFinite(x.values));
    const fallback = best.length && best.every(Number.isFinite) ? best.reduce((a, b) => Math.max(a, b)) : NaN;
    const threshold = s.threshold ?? fallback;
    if (document.activeElement !== this.threshold) this.threshold.value = Number.isFinite(threshold) ? String(Number(threshold.toPrecision(4))) : '';

    clear(this.table);
    this.table.append(el('thead', {}, el('tr', {}, ...[groups ? 'setting (mean over seeds)' : 'run', 'mode', 'steps to reach', 'speedup vs baseline'].map((h) => el('th', { textContent: h })))));
    const body = el('tbody');
    if (Number.isFinite(threshold)) {
      for (const row of speedupSummary(series, baselineKey, threshold, goalOf(metric))) {
        const r = rowsOf.find((x) => x.key === row.runId);
        body.append(
          el(
            'tr',
            { dataset: { run: row.runId } },
            el('td', { textContent: r?.name ?? row.runId }),
            el('td', { textContent: r?.mode ?? '' }),
            el('td', { className: 'steps', textContent: row.steps === null ? 'not reached' : String(Math.round(row.steps)) }),
            el('td', { className: 'ratio', textContent: row.runId === baselineKey ? 'baseline' : row.ratio === null ? '-' : `${row.ratio.toFixed(2)}x` }),
          ),
        );
      }
    }
    this.table.append(body);
  }
}
