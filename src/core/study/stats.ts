/**
 * The statistics of a paired study: how many steps each run needed to reach a metric level, the
 * ratio to the baseline run of the same seed, and a bootstrap interval of the mean ratio over
 * seeds. Pure functions; the randomness of the bootstrap comes from a seed, so a report is
 * reproducible.
 */
import { stepsToReach, type Goal } from '../compare/threshold';

export interface Curve {
  steps: ArrayLike<number>;
  values: ArrayLike<number>;
}

/** Linear interpolation of a curve at `step` (clamped to its ends); NaN for an empty curve. */
export function valueAt(c: Curve, step: number): number {
  const n = c.steps.length;
  if (n === 0) return NaN;
  if (step <= c.steps[0]) return c.values[0];
  if (step >= c.steps[n - 1]) return c.values[n - 1];
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (c.steps[mid] <= step) lo = mid;
    else hi = mid;
  }
  const f = (step - c.steps[lo]) / (c.steps[hi] - c.steps[lo]);
  return c.values[lo] + f * (c.values[hi] - c.values[lo]);
}

/** Mulberry32: a small seeded generator, enough to resample seeds. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Interval {
  mean: number;
  low: number;
  high: number;
  /** Values the interval is over (after dropping non-finite ones). */
  n: number;
}

/** The q-quantile of sorted values, linear between order statistics (numpy's default). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Percentile bootstrap interval of the mean: `resamples` means of samples drawn with replacement,
 * their (1-level)/2 and (1+level)/2 quantiles. With one value the interval is that value.
 */
export function bootstrapMean(values: readonly number[], o: { resamples?: number; level?: number; seed?: number } = {}): Interval {
  const xs = values.filter(Number.isFinite);
  const n = xs.length;
  if (n === 0) return { mean: NaN, low: NaN, high: NaN, n: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, low: mean, high: mean, n };
  const resamples = o.resamples ?? 10_000;
  const level = o.level ?? 0.95;
  const rnd = seededRandom(o.seed ?? 1);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += xs[Math.floor(rnd() * n)];
    means[r] = s / n;
  }
  means.sort();
  return { mean, low: quantile(means, (1 - level) / 2), high: quantile(means, (1 + level) / 2), n };
}

export interface PairedRatio {
  threshold: number;
  /** Per seed: baseline steps / this mode's steps (NaN where either never reached it). */
  perSeed: number[];
  interval: Interval;
  /** Seeds where this mode reached the threshold, and where the baseline did. */
  reached: number;
  baselineReached: number;
}

/**
 * For each threshold, the ratio of steps the baseline needed to the steps `mode` needed, per seed
 * (runs paired by seed), and its bootstrap interval over seeds. Ratio > 1: `mode` got there in
 * fewer steps.
 */
export function pairedRatios(baseline: readonly Curve[], mode: readonly Curve[], thresholds: readonly number[], goal: Goal = 'below', seed = 1): PairedRatio[] {
  if (baseline.length !== mode.length) throw new RangeError(`pairedRatios: ${baseline.length} baseline curves but ${mode.length} paired ones; runs are paired by seed`);
  return thresholds.map((threshold) => {
    const b = baseline.map((c) => stepsToReach(c.steps, c.values, threshold, goal));
    const m = mode.map((c) => stepsToReach(c.steps, c.values, threshold, goal));
    const perSeed = b.map((bs, i) => {
      const ms = m[i];
      return bs !== null && ms !== null && ms > 0 ? bs / ms : NaN;
    });
    return { threshold, perSeed, interval: bootstrapMean(perSeed, { seed }), reached: m.filter((x) => x !== null).length, baselineReached: b.filter((x) => x !== null).length };
  });
}

/**
 * Default thresholds: levels the baseline's mean curve passes through, at the given fractions of
 * its fall from the first evaluation to its best (0.5: half way down). So every threshold is one
 * the baseline reaches, and the ratio asks how much sooner (or later) the other mode gets there.
 */
export function defaultThresholds(baseline: readonly Curve[], fractions: readonly number[] = [0.5, 0.75, 0.9, 1], goal: Goal = 'below'): number[] {
  if (baseline.length === 0) return [];
  const steps = baseline[0].steps;
  const mean = Array.from(steps, (s) => baseline.reduce((a, c) => a + valueAt(c, s), 0) / baseline.length);
  const first = mean[0];
  const best = goal === 'below' ? Math.max(...baseline.map((c) => Math.min(...Array.from(c.values)))) : Math.min(...baseline.map((c) => Math.max(...Array.from(c.values))));
  // The worst run's best: every baseline seed reaches every threshold. In floats first + 1 * (best
  // - first) can land an ulp beyond best, which that seed would then never reach: clamp to it.
  return fractions.map((f) => {
    const t = first + f * (best - first);
    return goal === 'below' ? Math.max(t, best) : Math.min(t, best);
  });
}
