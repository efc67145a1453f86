/** The study's PNG plots: the metric and the loss by step, one line per mode (mean over seeds, min-max band). */
import { smoothEma } from '../../core/compare/smooth';
import type { RunCurve, StudyMode, StudyResults } from '../../core/study/format';
import { valueAt } from '../../core/study/stats';
import { plotLines, SERIES_COLOURS, type PlotSeries } from '../report/plotPng';

export const PLOT_FILES = { metric: 'metric.png', loss: 'loss.png' } as const;
export const LOSS_SMOOTHING = 0.9;

/** Mean, min and max over seeds at the first seed's steps (curves interpolated where steps differ). */
export function bandOf(curves: readonly { steps: number[]; values: ArrayLike<number> }[]): PlotSeries {
  const x = curves[0]?.steps ?? [];
  const at = x.map((s) => curves.map((c) => valueAt({ steps: c.steps, values: c.values }, s)));
  return {
    x,
    y: at.map((vs) => vs.reduce((a, b) => a + b, 0) / vs.length),
    low: at.map((vs) => Math.min(...vs)),
    high: at.map((vs) => Math.max(...vs)),
  };
}

export function colourOf(r: StudyResults, mode: StudyMode): string {
  return SERIES_COLOURS[r.modes.indexOf(mode) % SERIES_COLOURS.length].name;
}

function seriesFor(r: StudyResults, pick: (c: RunCurve) => { steps: number[]; values: ArrayLike<number> }): PlotSeries[] {
  return r.modes.map((mode) => bandOf(r.curves.filter((c) => c.mode === mode).map(pick)));
}

export function studyPlots(r: StudyResults): { metric: Buffer; loss: Buffer } {
  const names = r.modes;
  const metric = plotLines(
    seriesFor(r, (c) => ({ steps: c.metric.map((p) => p[0]), values: c.metric.map((p) => p[1]) })),
    { names, xLabel: 'step', yLabel: r.metric },
  );
  const loss = plotLines(
    seriesFor(r, (c) => ({ steps: c.loss.map((p) => p[0]), values: smoothEma(c.loss.map((p) => p[1]), LOSS_SMOOTHING) })),
    { logY: true, names, xLabel: 'step', yLabel: `loss (ema ${LOSS_SMOOTHING}, log scale)` },
  );
  return { metric, loss };
}
