/**
 * Steps needed to reach a metric threshold, and the speedup of each run over a baseline: the
 * number a researcher wants from a paired comparison ("immiscible reached FD 20 in 0.6x the steps").
 */

export type Goal = 'below' | 'above';

/**
 * The first step at which the series reaches `threshold` (<= for `below`, >= for `above`),
 * linearly interpolated between the last point short of it and the first point that reaches it.
 * Null if it never does. Points with a non-finite value are skipped; steps must ascend.
 */
export function stepsToReach(steps: ArrayLike<number>, values: ArrayLike<number>, threshold: number, goal: Goal = 'below'): number | null {
  const reached = (v: number): boolean => (goal === 'below' ? v <= threshold : v >= threshold);
  let prevStep = NaN;
  let prevValue = NaN;
  for (let i = 0; i < steps.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (reached(v)) {
      if (Number.isNaN(prevValue) || v === prevValue) return steps[i];
      const f = (threshold - prevValue) / (v - prevValue);
      return prevStep + f * (steps[i] - prevStep);
    }
    prevStep = steps[i];
    prevValue = v;
  }
  return null;
}

export interface SpeedupRow {
  runId: string;
  steps: number | null;
  /** baseline steps / this run's steps: 2 means this run needed half the steps. Null if either never reached it. */
  ratio: number | null;
}

export interface SeriesForSpeedup {
  runId: string;
  steps: ArrayLike<number>;
  values: ArrayLike<number>;
}

export function speedupSummary(series: readonly SeriesForSpeedup[], baselineId: string, threshold: number, goal: Goal = 'below'): SpeedupRow[] {
  const rows = series.map((s) => ({ runId: s.runId, steps: stepsToReach(s.steps, s.values, threshold, goal) }));
  const base = rows.find((r) => r.runId === baselineId)?.steps ?? null;
  return rows.map((r) => ({ ...r, ratio: base !== null && r.steps !== null && r.steps > 0 ? base / r.steps : null }));
}
