/**
 * The analysis of a paired study: from the run directories of every (mode, seed) to the results
 * of study.json. Reads eval.jsonl (or metrics.jsonl for `loss`) and metrics.jsonl; no training,
 * no TensorFlow, so it can be tested on run directories written by hand.
 */
import { stepsToReach, type Goal } from '../compare/threshold';
import { smoothEma } from '../compare/smooth';
import { readEvals, readMetrics } from '../run/reader';
import type { EvalLine, MetricsLine } from '../run/format';
import { BASELINE_MODE, type IntervalJson, type ModeComparison, type OverheadRow, type RunCurve, type StudyMode, type StudyResults, type ThresholdResult } from './format';
import { defaultThresholds, pairedRatios, type Curve } from './stats';
import { studyConclusion } from './conclusion';

export interface StudyRunRef {
  mode: StudyMode;
  seed: number;
  runDir: string;
}

export interface AnalyzeOptions {
  metric: string;
  goal?: Goal;
  modes: readonly StudyMode[];
  seeds: readonly number[];
  runs: readonly StudyRunRef[];
  /** Given thresholds; default: defaultThresholds of the baseline's curves. */
  thresholds?: readonly number[] | null;
  /** Seed of the bootstrap. */
  bootstrapSeed?: number;
}

/** EMA weight of the loss when it is the study's metric. */
export const LOSS_METRIC_SMOOTHING = 0.9;

/** Lower is better for distances and losses; higher for anything else named like a score. */
export function metricGoal(metric: string): Goal {
  return /^(fd|fid|kid|loss)/.test(metric) ? 'below' : 'above';
}

/** The metric's curve of a run: one point per evaluated step (training evaluations only). */
export function metricCurve(metric: string, evals: readonly EvalLine[], metrics: readonly MetricsLine[]): [number, number][] {
  if (metric === 'loss') {
    // A step's loss is one batch's: too noisy for a first crossing, so the curve is smoothed.
    const ms = metrics.filter((m) => Number.isFinite(m.loss));
    const smooth = smoothEma(ms.map((m) => m.loss), LOSS_METRIC_SMOOTHING);
    return ms.map((m, i) => [m.step, smooth[i]]);
  }
  const byStep = new Map<number, number>();
  for (const e of evals) if (e.metric === metric && !e.onDemand && Number.isFinite(e.value)) byStep.set(e.step, e.value);
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]);
}

/**
 * Training seconds per step: the last logged wallTime less the time spent in evaluations (each
 * evaluation's `seconds`, counted once per evaluated step), over the last logged step.
 */
export function secondsPerStep(evals: readonly EvalLine[], metrics: readonly MetricsLine[]): number | null {
  const last = metrics[metrics.length - 1];
  if (!last || last.step <= 0 || !Number.isFinite(last.wallTime)) return null;
  const evalSeconds = new Map<number, number>();
  for (const e of evals) if (!e.onDemand && e.step < last.step) evalSeconds.set(e.step, Math.max(evalSeconds.get(e.step) ?? 0, e.seconds));
  let spent = 0;
  for (const s of evalSeconds.values()) spent += s;
  const train = last.wallTime - spent;
  return train > 0 ? train / last.step : null;
}

export function meanAssignMs(metrics: readonly MetricsLine[]): number | null {
  const ms = metrics.map((m) => m.assign?.ms).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : null;
}

export function readRunCurve(ref: StudyRunRef, metric: string): RunCurve {
  const evals = readEvals(ref.runDir).evals;
  const metrics = readMetrics(ref.runDir).metrics;
  const curve = metricCurve(metric, evals, metrics);
  const lastPoint = curve[curve.length - 1];
  return {
    mode: ref.mode,
    seed: ref.seed,
    runDir: ref.runDir,
    metric: curve,
    loss: metrics.filter((m) => Number.isFinite(m.loss)).map((m) => [m.step, m.loss]),
    secondsPerStep: secondsPerStep(evals, metrics),
    assignMs: meanAssignMs(metrics),
    final: lastPoint ? { step: lastPoint[0], value: lastPoint[1] } : null,
  };
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const mean = (xs: readonly number[]): number | null => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

function asCurve(c: RunCurve): Curve {
  return { steps: c.metric.map((p) => p[0]), values: c.metric.map((p) => p[1]) };
}

/** Analyses curves already read (the pure part; `analyzeStudy` reads the runs first). */
export function analyzeCurves(o: Omit<AnalyzeOptions, 'runs'>, curves: readonly RunCurve[]): StudyResults {
  const goal = o.goal ?? metricGoal(o.metric);
  const of = (mode: StudyMode): RunCurve[] =>
    o.seeds.map((seed) => {
      const c = curves.find((x) => x.mode === mode && x.seed === seed);
      if (!c) throw new RangeError(`study analysis: no run for mode ${mode}, seed ${seed}`);
      return c;
    });
  const baseline = of(BASELINE_MODE).map(asCurve);
  const given = o.thresholds && o.thresholds.length > 0;
  // Default levels strictly better than the baseline's start: a level every run meets at step 0 has no ratio.
  const first = baseline.length ? baseline.reduce((a, c) => a + (c.values[0] ?? NaN), 0) / baseline.length : NaN;
  const better = (t: number): boolean => (goal === 'below' ? t < first : t > first);
  const thresholds = given ? [...(o.thresholds as number[])] : [...new Set(defaultThresholds(baseline, undefined, goal))].filter((t) => Number.isFinite(t) && better(t));
  const others = o.modes.filter((m) => m !== BASELINE_MODE);
  const byMode = new Map(others.map((m) => [m, pairedRatios(baseline, of(m).map(asCurve), thresholds, goal, o.bootstrapSeed ?? 1)]));
  const stepsOf = (cs: RunCurve[], t: number): (number | null)[] => cs.map((c) => stepsToReachOrNull(asCurve(c), t, goal));
  const comparisons: ThresholdResult[] = thresholds.map((threshold, ti) => ({
    threshold,
    modes: others.map((mode): ModeComparison => {
      const r = (byMode.get(mode) ?? [])[ti];
      const n = r.interval.n;
      const ratio: IntervalJson = { mean: finite(r.interval.mean), low: n >= 2 ? finite(r.interval.low) : null, high: n >= 2 ? finite(r.interval.high) : null, n };
      return { mode, steps: stepsOf(of(mode), threshold), baselineSteps: stepsOf(of(BASELINE_MODE), threshold), ratios: r.perSeed.map(finite), ratio, reached: r.reached, baselineReached: r.baselineReached };
    }),
  }));
  const baseSps = mean(of(BASELINE_MODE).map((c) => c.secondsPerStep).filter((x): x is number => x !== null));
  const overhead: OverheadRow[] = o.modes.map((mode) => {
    const cs = of(mode);
    const sps = mean(cs.map((c) => c.secondsPerStep).filter((x): x is number => x !== null));
    const ms = mean(cs.map((c) => c.assignMs).filter((x): x is number => x !== null));
    return { mode, secondsPerStep: sps, ratioToBaseline: sps !== null && baseSps ? sps / baseSps : null, assignMs: ms };
  });
  const results: StudyResults = {
    metric: o.metric,
    goal,
    baseline: BASELINE_MODE,
    modes: [...o.modes],
    seeds: [...o.seeds],
    curves: [...curves],
    thresholds,
    thresholdSource: given ? 'given' : 'default',
    comparisons,
    overhead,
    conclusion: [],
  };
  results.conclusion = studyConclusion(results);
  return results;
}

function stepsToReachOrNull(c: Curve, t: number, goal: Goal): number | null {
  return stepsToReach(c.steps, c.values, t, goal);
}

/** Reads every run of the study and analyses it. */
export function analyzeStudy(o: AnalyzeOptions): StudyResults {
  return analyzeCurves(o, o.runs.map((r) => readRunCurve(r, o.metric)));
}
