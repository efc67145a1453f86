/**
 * The study analysis on run directories written by hand (eval.jsonl, metrics.jsonl): exact step
 * ratios, "no measurable difference", a mode that never gets there, one seed, the overhead.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { analyzeStudy, type StudyRunRef } from '../../src/core/study/analyze';
import type { EvalLine, MetricsLine } from '../../src/core/run/format';
import type { StudyMode } from '../../src/core/study/format';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-analysis-'));
let n = 0;

interface RunSpec {
  /** fd_lenet by step. */
  curve: (step: number) => number;
  evalEvery?: number;
  steps?: number;
  secondsPerStep?: number;
  evalSeconds?: number;
  assignMs?: number;
  /** Training loss by step (1 / step by default, the same for every run). */
  loss?: (step: number) => number;
}

/** A run directory as the trainer leaves it: eval.jsonl every `evalEvery` steps, metrics every step. */
function makeRun(spec: RunSpec): string {
  const dir = path.join(root, `run-${n++}`);
  fs.mkdirSync(dir);
  const steps = spec.steps ?? 200;
  const every = spec.evalEvery ?? 10;
  const evalSeconds = spec.evalSeconds ?? 0;
  const evals: EvalLine[] = [];
  for (let s = 0; s <= steps; s += every)
    evals.push({ step: s, metric: 'fd_lenet', value: spec.curve(s), extractor: 'lenet', weightsSha256: '0'.repeat(64), samples: 20, referenceSamples: 100, sampler: 'ddim', samplerSteps: 4, seconds: evalSeconds, time: '' });
  // An on-demand evaluation must not enter the curve.
  evals.push({ ...evals[0], step: steps, value: 1e9, onDemand: true });
  fs.writeFileSync(path.join(dir, 'eval.jsonl'), evals.map((e) => JSON.stringify(e)).join('\n') + '\n{"step": 99');
  const metrics: MetricsLine[] = [];
  const sps = spec.secondsPerStep ?? 0.1;
  for (let s = 1; s <= steps; s++) {
    const evalsSoFar = evals.filter((e) => !e.onDemand && e.step < s).length;
    metrics.push({ step: s, loss: spec.loss ? spec.loss(s) : 1 / s, lr: 1e-3, gradNorm: 1, assign: { mode: 'x', distBefore: 1, distAfter: 1, ms: spec.assignMs ?? 0 }, imagesPerSec: 1, wallTime: s * sps + evalsSoFar * evalSeconds, time: '' });
  }
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), metrics.map((m) => JSON.stringify(m)).join('\n') + '\n');
  return dir;
}

/** Falls linearly from 100 at `slope` per step and stays at `floor`. */
const linear = (slope: number, floor = 20) => (s: number) => Math.max(floor, 100 - slope * s);

function study(specs: Partial<Record<StudyMode, RunSpec[]>>, thresholds?: number[], metric = 'fd_lenet') {
  const modes = Object.keys(specs) as StudyMode[];
  const seeds = (specs.none ?? []).map((_, i) => i);
  const runs: StudyRunRef[] = modes.flatMap((mode) => (specs[mode] ?? []).map((s, seed) => ({ mode, seed, runDir: makeRun(s) })));
  return analyzeStudy({ metric, modes, seeds, runs, thresholds });
}

describe('study analysis on constructed runs', () => {
  it('a mode exactly twice as fast: ratio 2 at every threshold, a tight interval, and says so', () => {
    const slopes = [0.4, 0.5, 0.6];
    const r = study({ none: slopes.map((a) => ({ curve: linear(a) })), linear: slopes.map((a) => ({ curve: linear(2 * a) })) });
    assert.equal(r.goal, 'below');
    assert.equal(r.thresholdSource, 'default');
    // From 100 to the worst seed's best (20): 60, 40, 28, 20.
    assert.deepEqual(r.thresholds.map((t) => Math.round(t * 1e9) / 1e9), [60, 40, 28, 20]);
    for (const t of r.comparisons) {
      const m = t.modes[0];
      assert.equal(m.mode, 'linear');
      for (const x of m.ratios) assert.ok(x !== null && Math.abs(x - 2) < 1e-9, `ratio ${x}`);
      assert.ok(Math.abs((m.ratio.low as number) - 2) < 1e-9 && Math.abs((m.ratio.high as number) - 2) < 1e-9);
      assert.equal(m.ratio.n, 3);
      assert.equal(m.reached, 3);
    }
    // Threshold 60 on seed 0: the baseline (0.4/step) needs 100 steps, linear 50.
    assert.deepEqual(r.comparisons[0].modes[0].steps[0], 50);
    assert.deepEqual(r.comparisons[0].modes[0].baselineSteps[0], 100);
    assert.equal(r.conclusion.length, 4);
    for (const c of r.conclusion) assert.match(c, /^linear needed fewer steps than none to reach fd_lenet <= [\d.]+: none's steps \/ linear's = 2 \(95% CI 2-2, 3 seeds\), about 0\.5x the steps\.$/);
  });

  it('identical curves: ratio 1 everywhere and "no measurable difference"', () => {
    const slopes = [0.4, 0.5, 0.6];
    const r = study({ none: slopes.map((a) => ({ curve: linear(a) })), knn: slopes.map((a) => ({ curve: linear(a) })) });
    for (const t of r.comparisons) assert.deepEqual([t.modes[0].ratio.mean, t.modes[0].ratio.low, t.modes[0].ratio.high], [1, 1, 1]);
    assert.deepEqual(r.conclusion, ['knn vs none: no measurable difference: the 95% interval of the step ratio includes 1 at every threshold (60, 40, 28, 20).']);
  });

  it('ratios scattered around 1 over seeds: the interval includes 1, so no difference is claimed', () => {
    const r = study({ none: [0.5, 0.5, 0.5].map((a) => ({ curve: linear(a) })), linear: [0.75, 0.4, 0.55].map((a) => ({ curve: linear(a) })) });
    const m = r.comparisons[0].modes[0];
    assert.ok((m.ratio.low as number) < 1 && (m.ratio.high as number) > 1, JSON.stringify(m.ratio));
    assert.match(r.conclusion.join(' '), /no measurable difference/);
    assert.doesNotMatch(r.conclusion.join(' '), /fewer steps|more steps/);
  });

  it('a mode that never reaches a threshold is reported as such, not given a ratio', () => {
    const r = study({ none: [0.5, 0.5].map((a) => ({ curve: linear(a) })), linear: [0.5, 0.5].map((a) => ({ curve: linear(a, 50) })) });
    // Thresholds 60, 40, 28, 20: linear stops at 50.
    const [t60, t40] = r.comparisons;
    assert.equal(t60.modes[0].reached, 2);
    assert.equal(t40.modes[0].reached, 0);
    assert.deepEqual(t40.modes[0].steps, [null, null]);
    assert.deepEqual(t40.modes[0].ratios, [null, null]);
    assert.deepEqual(t40.modes[0].ratio, { mean: null, low: null, high: null, n: 0 });
    const text = r.conclusion.join('\n');
    assert.match(text, /linear did not reach fd_lenet <= 40 within the study's steps in 2 of the 2 seeds where none did\./);
    assert.match(text, /linear did not reach fd_lenet <= 20 /);
    assert.doesNotMatch(text, /no measurable difference: the 95% interval of the step ratio includes 1 at every/);
    assert.doesNotMatch(text, /needed (fewer|more) steps/);
  });

  it('a mode that misses a threshold in one seed gets no speedup claim there from the seeds that reached it', () => {
    const r = study({ none: [0.5, 0.5, 0.5].map((a) => ({ curve: linear(a) })), linear: [1, 1, 0.35].map((a) => ({ curve: linear(a) })) });
    const text = r.conclusion.join('\n');
    assert.match(text, /linear did not reach fd_lenet <= 28 within the study's steps in 1 of the 3 seeds where none did\./);
    assert.doesNotMatch(text, /needed fewer steps than none to reach fd_lenet <= (28|20)/);
  });

  it('one seed: ratios are given but no interval, and the conclusion says it cannot be computed', () => {
    const r = study({ none: [{ curve: linear(0.4) }], linear: [{ curve: linear(0.8) }] }, [60]);
    assert.equal(r.thresholdSource, 'given');
    assert.deepEqual(r.comparisons[0].modes[0].ratio, { mean: 2, low: null, high: null, n: 1 });
    assert.match(r.conclusion[0], /^With 1 seed no interval can be computed/);
    assert.match(r.conclusion[1], /linear: none's steps \/ linear's, one seed, no interval: 2 at 60\./);
    assert.doesNotMatch(r.conclusion.join(' '), /needed fewer steps|no measurable difference/);
  });

  it('a baseline that never improves leaves no threshold, and the conclusion says why', () => {
    const r = study({ none: [0, 1].map(() => ({ curve: () => 50 })), linear: [0, 1].map(() => ({ curve: linear(0.5) })) });
    assert.deepEqual(r.thresholds, []);
    assert.deepEqual(r.comparisons, []);
    assert.deepEqual(r.conclusion, ["No threshold to compare at: the baseline's fd_lenet never improved on its first value, so no step ratio can be computed."]);
  });

  it('two seeds: ratios are listed, never a conclusion, even when both seeds agree', () => {
    const r = study({ none: [0.4, 0.5].map((a) => ({ curve: linear(a) })), linear: [0.8, 1].map((a) => ({ curve: linear(a) })) }, [60]);
    assert.deepEqual(r.comparisons[0].modes[0].ratio, { mean: 2, low: 2, high: 2, n: 2 });
    assert.match(r.conclusion[0], /^With 2 seeds the bootstrap interval is just the range of the two ratios, too rough to show a difference/);
    assert.equal(r.conclusion[1], "linear: none's steps / linear's, mean of 2 seeds (each seed's): 2 at 60 (2 and 2).");
    assert.doesNotMatch(r.conclusion.join(' '), /needed fewer steps|no measurable difference/);
  });

  it('a threshold only 2 of 3 baseline seeds reach: its ratios are listed, no speedup is claimed there', () => {
    const none = [0.4, 0.5, 0.6].map((a, i) => ({ curve: linear(a, i === 0 ? 50 : 20) }));
    const r = study({ none, linear: [0.4, 0.5, 0.6].map((a) => ({ curve: linear(2 * a) })) }, [60, 40]);
    const at40 = r.comparisons[1].modes[0];
    assert.equal(at40.ratio.n, 2);
    const text = r.conclusion.join('\n');
    assert.match(text, /linear needed fewer steps than none to reach fd_lenet <= 60: .*3 seeds/);
    assert.doesNotMatch(text, /to reach fd_lenet <= 40/);
    assert.match(text, /linear at fd_lenet <= 40: only 2 seeds have a ratio \(2 and 2\), too few for an interval: a measurement, not a conclusion\./);
  });

  it('with the training loss as the metric, the conclusion says the loss does not compare across assignment modes', () => {
    const none = [0.5, 0.6, 0.7].map((a) => ({ curve: linear(1), loss: (s: number) => a / s }));
    const faster = [0.5, 0.6, 0.7].map((a) => ({ curve: linear(1), loss: (s: number) => (0.5 * a) / s }));
    const r = study({ none, linear: faster, knn: faster }, undefined, 'loss');
    assert.equal(r.metric, 'loss');
    const said = r.conclusion.filter((c) => c.startsWith('The metric here is the training loss'));
    assert.equal(said.length, 1, r.conclusion.join('\n'));
    assert.match(said[0], /so linear and knn can reach a lower loss with samples no better, or worse/);
    // Not with an evaluation metric, nor with the baseline alone.
    assert.equal(study({ none, linear: faster }).conclusion.filter((c) => c.startsWith('The metric here')).length, 0);
    assert.equal(study({ none }, undefined, 'loss').conclusion.filter((c) => c.startsWith('The metric here')).length, 0);
  });

  it('a mode with the lower training loss but the worse metric in every seed: the conclusion says they disagree', () => {
    const none = [0.4, 0.5, 0.6].map((a) => ({ curve: linear(a) }));
    const slower = (scale: number) => [0.4, 0.5, 0.6].map((a) => ({ curve: linear(a, 40), loss: (s: number) => scale / s }));
    const r = study({ none, linear: slower(0.6) });
    const said = r.conclusion.filter((c) => c.startsWith('Training loss'));
    assert.equal(said.length, 1, r.conclusion.join('\n'));
    assert.match(said[0], /^Training loss and fd_lenet disagree for linear: its loss was lower than none's in every seed \(3\) \(mean over the last 10% of steps [\d.e-]+ against [\d.e-]+\) while its fd_lenet was worse \(final 40 against 20\)\./);
    // Lower loss and a better (or equal) metric agree; so does a lower loss in only some seeds.
    const agree = study({ none, linear: [0.8, 1, 1.2].map((a) => ({ curve: linear(a), loss: (s: number) => 0.6 / s })) });
    assert.equal(agree.conclusion.filter((c) => c.startsWith('Training loss')).length, 0);
    const mixed = [0.4, 0.5, 0.6].map((a, i) => ({ curve: linear(a, 40), loss: (s: number) => (i === 1 ? 1.4 : 0.6) / s }));
    assert.equal(study({ none, linear: mixed }).conclusion.filter((c) => c.startsWith('Training loss')).length, 0);
    // The reverse: a higher loss with a better metric.
    const better = study({ none: [0.4, 0.5, 0.6].map((a) => ({ curve: linear(a, 40) })), knn: [0.4, 0.5, 0.6].map((a) => ({ curve: linear(a, 20), loss: (s: number) => 1.5 / s })) });
    assert.match(better.conclusion.join('\n'), /Training loss and fd_lenet disagree for knn: its loss was higher than none's in every seed .* while its fd_lenet was better \(final 20 against 40\)/);
  });

  it('overhead: training seconds per step without the evaluations, its ratio to none, the mean assignment time', () => {
    const r = study({
      none: [0, 1].map(() => ({ curve: linear(0.5), secondsPerStep: 0.1, evalSeconds: 3, assignMs: 0 })),
      linear: [0, 1].map(() => ({ curve: linear(0.5), secondsPerStep: 0.15, evalSeconds: 3, assignMs: 12 })),
    });
    const [none, lin] = r.overhead;
    assert.ok(Math.abs((none.secondsPerStep as number) - 0.1) < 1e-9, String(none.secondsPerStep));
    assert.ok(Math.abs((lin.secondsPerStep as number) - 0.15) < 1e-9, String(lin.secondsPerStep));
    assert.ok(Math.abs((lin.ratioToBaseline as number) - 1.5) < 1e-9);
    assert.equal(lin.assignMs, 12);
    assert.equal(none.ratioToBaseline, 1);
  });

  it('the curves skip on-demand evaluations and a torn last line', () => {
    const r = study({ none: [{ curve: linear(0.5) }], linear: [{ curve: linear(0.5) }] });
    const c = r.curves[0];
    assert.equal(c.metric.length, 21);
    assert.deepEqual(c.final, { step: 200, value: 20 });
  });
});
