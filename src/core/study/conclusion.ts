/**
 * The plain-language conclusion of a study, computed from its numbers: it says what the 95%
 * intervals say and no more (an interval that includes 1 is no measurable difference; with one
 * seed there is no interval at all).
 */
import { BASELINE_MODE, type ModeComparison, type StudyResults } from './format';

/** 3 significant digits, no exponent for ordinary magnitudes. */
export function fmt(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-';
  if (x !== 0 && (Math.abs(x) >= 1e6 || Math.abs(x) < 1e-3)) return x.toExponential(2);
  return String(Number(x.toPrecision(3)));
}

const level = (r: StudyResults, t: number): string => `${r.metric} ${r.goal === 'below' ? '<=' : '>='} ${fmt(t)}`;

function sentenceFor(r: StudyResults, c: ModeComparison, t: number): string {
  const i = c.ratio;
  const seeds = `${i.n} seeds`;
  const mean = i.mean ?? NaN;
  const ci = `95% CI ${fmt(i.low)}-${fmt(i.high)}`;
  if ((i.low ?? 0) > 1)
    return `${c.mode} needed fewer steps than ${BASELINE_MODE} to reach ${level(r, t)}: ${BASELINE_MODE}'s steps / ${c.mode}'s = ${fmt(mean)} (${ci}, ${seeds}), about ${fmt(1 / mean)}x the steps.`;
  return `${c.mode} needed more steps than ${BASELINE_MODE} to reach ${level(r, t)}: ${BASELINE_MODE}'s steps / ${c.mode}'s = ${fmt(mean)} (${ci}, ${seeds}), about ${fmt(1 / mean)}x the steps.`;
}

/** The share of a run's logged steps, at its end, whose loss stands for its loss. */
const LATE_FRACTION = 0.1;

const average = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Mean training loss over a run's last LATE_FRACTION of logged steps (null without loss). */
function lateLoss(loss: readonly (readonly [number, number])[]): number | null {
  if (loss.length === 0) return null;
  const last = loss[loss.length - 1][0];
  const from = last - (last - loss[0][0]) * LATE_FRACTION;
  return average(loss.filter(([s]) => s >= from).map(([, v]) => v));
}

/**
 * Where a mode's training loss and sample metric disagree with the baseline's in every seed (lower
 * loss but a worse metric, or the reverse): a sentence saying so. With assignment the training
 * noise is partly predictable from the image, so a loss curve alone would mislead.
 */
function lossDisagreement(r: StudyResults, mode: string): string | null {
  if (r.metric === 'loss') return null;
  const pairs = r.seeds.map((seed) => {
    const m = r.curves.find((c) => c.mode === mode && c.seed === seed);
    const b = r.curves.find((c) => c.mode === BASELINE_MODE && c.seed === seed);
    const ml = m ? lateLoss(m.loss) : null;
    const bl = b ? lateLoss(b.loss) : null;
    return m?.final && b?.final && ml !== null && bl !== null ? { ml, bl, mv: m.final.value, bv: b.final.value } : null;
  });
  if (pairs.length === 0 || pairs.some((p) => p === null)) return null;
  const ps = pairs as { ml: number; bl: number; mv: number; bv: number }[];
  const worse = (v: number, than: number): boolean => (r.goal === 'below' ? v > than : v < than);
  const lowerLossWorse = ps.every((p) => p.ml < p.bl && worse(p.mv, p.bv));
  const higherLossBetter = ps.every((p) => p.ml > p.bl && worse(p.bv, p.mv));
  if (!lowerLossWorse && !higherLossBetter) return null;
  const avg = (pick: (p: (typeof ps)[number]) => number): string => fmt(average(ps.map(pick)));
  const seeds = ps.length === 1 ? 'its seed' : `every seed (${ps.length})`;
  return (
    `Training loss and ${r.metric} disagree for ${mode}: its loss was ${lowerLossWorse ? 'lower' : 'higher'} than ${BASELINE_MODE}'s in ${seeds} ` +
    `(mean over the last ${LATE_FRACTION * 100}% of steps ${avg((p) => p.ml)} against ${avg((p) => p.bl)}) while its ${r.metric} was ${lowerLossWorse ? 'worse' : 'better'} ` +
    `(final ${avg((p) => p.mv)} against ${avg((p) => p.bv)}). With assignment the training noise is partly predictable from the image, ` +
    `so the loss does not compare across modes; ${r.metric} does.`
  );
}

export function studyConclusion(r: StudyResults): string[] {
  const out: string[] = [];
  const nSeeds = r.seeds.length;
  if (r.thresholds.length === 0) return [`No threshold to compare at: the baseline's ${r.metric} never improved on its first value, so no step ratio can be computed.`];
  if (nSeeds === 1) out.push('With 1 seed no interval can be computed: the ratios below are single measurements and cannot show a difference; run more seeds (--seeds 3 or more).');
  if (nSeeds === 2) out.push('With 2 seeds the bootstrap interval is just the range of the two ratios, too rough to show a difference: the ratios below are measurements, not conclusions; run 3 or more seeds.');
  const others = r.modes.filter((m) => m !== BASELINE_MODE);
  for (const mode of others) {
    const rows = r.comparisons.map((t) => ({ t: t.threshold, c: t.modes.find((m) => m.mode === mode) as ModeComparison }));
    const missed = rows.filter((x) => x.c.reached < x.c.baselineReached);
    for (const x of missed)
      out.push(`${mode} did not reach ${level(r, x.t)} within the study's steps in ${x.c.baselineReached - x.c.reached} of the ${x.c.baselineReached} seeds where ${BASELINE_MODE} did.`);
    if (missed.length)
      out.push(`Not reaching a level within the steps run gives no step ratio and no interval for it: run longer, or give thresholds every run reaches (--thresholds), before reading it as a slowdown of ${mode}.`);
    if (nSeeds === 1) {
      const singles = rows.filter((x) => x.c.ratio.mean !== null).map((x) => `${fmt(x.c.ratio.mean)} at ${fmt(x.t)}`);
      if (singles.length) out.push(`${mode}: ${BASELINE_MODE}'s steps / ${mode}'s, one seed, no interval: ${singles.join(', ')}.`);
      continue;
    }
    if (nSeeds === 2) {
      const pairs = rows.filter((x) => x.c.ratio.mean !== null && !missed.includes(x)).map((x) => `${fmt(x.c.ratio.mean)} at ${fmt(x.t)} (${x.c.ratios.map(fmt).join(' and ')})`);
      if (pairs.length) out.push(`${mode}: ${BASELINE_MODE}'s steps / ${mode}'s, mean of 2 seeds (each seed's): ${pairs.join(', ')}.`);
      continue;
    }
    // Where the mode missed in some seeds, the ratio of the other seeds would flatter it: no claim.
    // A 2-seed interval is just the two ratios' range (as in a 2-seed study): listed, not concluded.
    const withCi = rows.filter((x) => x.c.ratio.low !== null && x.c.ratio.high !== null && x.c.ratio.n >= 3 && !missed.includes(x));
    const twoSeeds = rows.filter((x) => x.c.ratio.n === 2 && !missed.includes(x));
    const noCi = rows.filter((x) => x.c.ratio.low === null && x.c.reached >= x.c.baselineReached);
    const differs = withCi.filter((x) => (x.c.ratio.low as number) > 1 || (x.c.ratio.high as number) < 1);
    const same = withCi.filter((x) => !differs.includes(x));
    if (differs.length === 0 && missed.length === 0 && noCi.length === 0 && twoSeeds.length === 0)
      out.push(`${mode} vs ${BASELINE_MODE}: no measurable difference: the 95% interval of the step ratio includes 1 at every threshold (${rows.map((x) => fmt(x.t)).join(', ')}).`);
    else {
      for (const x of differs) out.push(sentenceFor(r, x.c, x.t));
      if (same.length) out.push(`${mode} vs ${BASELINE_MODE} at ${r.metric} ${same.map((x) => fmt(x.t)).join(', ')}: the 95% interval includes 1, no measurable difference there.`);
    }
    for (const x of twoSeeds)
      out.push(`${mode} at ${level(r, x.t)}: only 2 seeds have a ratio (${x.c.ratios.filter((v) => v !== null).map(fmt).join(' and ')}), too few for an interval: a measurement, not a conclusion.`);
    for (const x of noCi.filter((y) => !missed.includes(y)))
      out.push(`${mode} at ${level(r, x.t)}: fewer than 2 seeds have a ratio, so no interval can be computed.`);
  }
  for (const mode of others) {
    const s = lossDisagreement(r, mode);
    if (s) out.push(s);
  }
  if (r.metric === 'loss' && others.length > 0)
    out.push(
      `The metric here is the training loss, which does not compare across assignment modes: assignment makes the training noise partly predictable from the image, ` +
        `so ${others.join(' and ')} can reach a lower loss with samples no better, or worse. With image data, an evaluation metric (--metric fd_lenet, or fid) compares the samples.`,
    );
  return out;
}
