/** report.md: what was run, the step ratios per threshold, the overhead, the plots and the conclusion. */
import * as path from 'node:path';
import { BASELINE_MODE, type StudyRecord, type StudyResults } from '../../core/study/format';
import { fmt } from '../../core/study/conclusion';
import { LOSS_METRIC_SMOOTHING } from '../../core/study/analyze';
import { colourOf, LOSS_SMOOTHING, PLOT_FILES } from './plots';

function duration(s: number): string {
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  return h ? `${h} h ${m} min ${sec} s` : m ? `${m} min ${sec} s` : `${sec} s`;
}

const steps = (xs: (number | null)[]): string => xs.map((x) => (x === null ? 'never' : String(Math.round(x)))).join(', ');

export function renderReport(rec: StudyRecord, r: StudyResults): string {
  const L: string[] = [];
  const better = r.goal === 'below' ? 'lower is better' : 'higher is better';
  L.push(`# Study ${rec.name}: does immiscible assignment speed up training?`, '');
  L.push('## Conclusion', '');
  for (const c of r.conclusion) L.push(`- ${c}`);
  L.push('');
  L.push('## What was run', '');
  L.push(`- Command: \`${rec.command}\` (in \`${rec.cwd}\`)`);
  L.push(`- Config: \`${rec.config.file}\` (sha256 ${rec.config.sha256.slice(0, 16)})${rec.set.length ? `, with ${rec.set.map((s) => `\`${s}\``).join(', ')}` : ''}`);
  L.push(
    `- Modes: ${rec.modes.map((m) => (m === BASELINE_MODE ? `${m} (the baseline)` : m)).join(', ')}; seeds ${rec.seeds.join(', ')} (each seed is shared by every mode: same initialisation and data order, only \`assignment.mode\` differs); ${rec.steps} steps per run`,
  );
  L.push(
    `- Metric: \`${r.metric}\` (${better}), ${r.metric === 'loss' ? `the training loss from metrics.jsonl, smoothed (EMA ${LOSS_METRIC_SMOOTHING}) before thresholds are crossed` : `evaluated every ${rec.evaluation.every} steps${rec.evaluation.defaulted ? ' (chosen by the study: the config had evaluation off)' : ''}`}`,
  );
  L.push(
    `- Thresholds: ${r.thresholds.map(fmt).join(', ')} (${r.thresholdSource === 'given' ? 'given with --thresholds' : `by default: 50%, 75%, 90% and 100% of the way from ${BASELINE_MODE}'s first value to the best value its worst seed reached`})`,
  );
  L.push(`- Machine: ${rec.machine.cpuModel} x ${rec.machine.cpuCount}, ${rec.machine.os}, Node ${rec.machine.node}, host ${rec.machine.hostname}${rec.machine.loadAverage ? `; load average ${rec.machine.loadAverage.join(', ')} (1, 5, 15 min) at the start` : ''}`);
  L.push(`- Started ${rec.startedAt}, ended ${rec.endedAt ?? '-'}; ${duration(rec.durationSeconds)} in all`, '');
  L.push('| run | mode | seed | status | time | final ' + r.metric + ' |', '|---|---|---|---|---|---|');
  for (const e of rec.runs) {
    const c = r.curves.find((x) => x.mode === e.mode && x.seed === e.seed);
    L.push(`| ${e.runId ?? '-'} | ${e.mode} | ${e.seed} | ${e.status} | ${duration(e.seconds)} | ${c?.final ? `${fmt(c.final.value)} at step ${c.final.step}` : '-'} |`);
  }
  L.push('');
  L.push('## Steps to reach each threshold', '');
  L.push(
    `Steps are interpolated between evaluations. The ratio is ${BASELINE_MODE}'s steps / the mode's steps for the same seed (above 1: the mode got there in fewer steps), its mean over seeds with a bootstrap 95% interval over seeds${rec.seeds.length < 2 ? ' (not computable with 1 seed)' : ''}.`,
    '',
  );
  for (const t of r.comparisons) {
    L.push(`### ${r.metric} ${r.goal === 'below' ? '<=' : '>='} ${fmt(t.threshold)}`, '');
    L.push(`| mode | steps per seed | ${BASELINE_MODE}'s steps | ratio per seed | mean ratio | 95% interval |`, '|---|---|---|---|---|---|');
    for (const m of t.modes)
      L.push(`| ${m.mode} | ${steps(m.steps)} | ${steps(m.baselineSteps)} | ${m.ratios.map(fmt).join(', ')} | ${fmt(m.ratio.mean)} | ${m.ratio.low === null ? '- (fewer than 2 seeds with a ratio)' : `${fmt(m.ratio.low)}-${fmt(m.ratio.high)}`} |`);
    L.push('');
  }
  L.push('## Cost of the assignment', '');
  L.push('Training seconds per step (evaluation time excluded), mean over seeds; the time the assignment itself took per step (`assign.ms`). Timings vary with whatever else the machine runs (see the load average above).', '');
  L.push(`| mode | s/step | vs ${BASELINE_MODE} | assignment ms/step |`, '|---|---|---|---|');
  for (const o of r.overhead) L.push(`| ${o.mode} | ${fmt(o.secondsPerStep)} | ${o.ratioToBaseline === null ? '-' : `${fmt(o.ratioToBaseline)}x`} | ${fmt(o.assignMs)} |`);
  L.push('');
  L.push('## Plots', '');
  const colours = r.modes.map((m) => `${m} ${colourOf(r, m)}`).join(', ');
  L.push(`Colours: ${colours}. Each line is the mean over seeds, the shaded band the minimum to maximum over seeds.`, '');
  L.push(`\`${r.metric}\` by step:`, '', `![${r.metric} by step](${PLOT_FILES.metric})`, '');
  L.push(`Training loss by step (log scale, smoothed: EMA ${LOSS_SMOOTHING}):`, '', `![loss by step](${PLOT_FILES.loss})`, '');
  L.push(`Runs: \`${path.normalize(rec.runsDir)}\`, group \`${rec.name}\`. Numbers: \`study.json\`.`, '');
  return L.join('\n');
}
