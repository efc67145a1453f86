/**
 * `immiscible study`: the paired runs of every (seed, mode), one after another as child trainer
 * processes, then the analysis, study.json, report.md and the plots. Interrupted (Ctrl-C) and
 * started again with the same --out, it keeps completed runs, resumes the stopped one and runs
 * the rest.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseEvent } from '../../core/protocol/events';
import { makeStudyEvent } from '../../core/protocol/studyEvents';
import { appendJsonLine, writeFileAtomic } from '../../core/run/fsAtomic';
import type { RunStatus } from '../../core/run/format';
import { readRunRecord } from '../../core/run/reader';
import { beingTrained, isRunBeingTrained } from '../../core/run/liveness';
import { analyzeStudy } from '../../core/study/analyze';
import { fmt } from '../../core/study/conclusion';
import { STUDY_FILES, type StudyRunEntry } from '../../core/study/format';
import { parseStudyArgs, runOverrides, StudyUsageError } from './args';
import { PLOT_FILES, studyPlots } from './plots';
import { checkSameStudy, newStudyRecord, readStudyRecord, saveStudyRecord, studyRunningNow } from './record';
import { renderReport } from './report';
import { findCreatedRun, finalValue, type Ctx } from './context';
import { runOnSlurm } from './slurmStudy';

export { STUDY_USAGE, StudyUsageError } from './args';

async function runOne(c: Ctx, e: StudyRunEntry): Promise<RunStatus> {
  const total = c.rec.runs.length;
  const ref = { index: e.index, total, mode: e.mode, seed: e.seed };
  const known = e.runDir ?? findCreatedRun(c, e);
  let args: string[];
  if (known) {
    const r = readRunRecord(known).record;
    if (r?.status === 'completed') return 'completed';
    if (r && isRunBeingTrained(r)) throw new Error(beingTrained(known, r));
    e.runDir = known;
    e.runId = path.basename(known);
    args = ['train', '--resume', known];
  } else {
    const sets = runOverrides(c.a, e.mode, e.seed).flatMap((s) => ['--set', s]);
    args = ['train', '--config', c.a.configFile, '--runs', c.a.runsDir, '--name', e.name, ...sets];
  }
  const started = Date.now();
  e.attempts += 1;
  e.status = 'running';
  e.startedAt ??= new Date().toISOString();
  c.save();
  const child = spawn(process.execPath, [process.argv[1], ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true });
  c.stopping.child = child;
  let finished: RunStatus | null = null;
  let runError: string | null = null;
  const stderrTail: string[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const ev = parseEvent(line);
      if (!ev) continue;
      if (ev.type === 'started') {
        e.runDir = ev.runDir;
        e.runId = ev.runId;
        c.save();
        c.emit(makeStudyEvent('run-started', c.a.name, { ...ref, runDir: ev.runDir, resumed: ev.resumed }));
        c.say(`run ${e.index + 1}/${total} ${ev.resumed ? 'resumed' : 'started'}: ${e.mode}, seed ${e.seed} (${ev.runDir})`);
      } else if (ev.type === 'progress') {
        c.emit(makeStudyEvent('run-progress', c.a.name, { ...ref, step: ev.step, totalSteps: ev.totalSteps, loss: ev.loss }));
        if (c.tty) process.stderr.write(`\r  step ${ev.step}/${ev.totalSteps}, loss ${fmt(ev.loss)}   `);
      } else if (ev.type === 'finished') {
        finished = ev.status;
        runError = ev.error;
      }
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail.push(...chunk.split('\n').filter(Boolean));
    stderrTail.splice(0, Math.max(0, stderrTail.length - 20));
  });
  const code = await new Promise<number | null>((resolve) => {
    child.on('error', (err) => {
      runError = `cannot start the trainer: ${err.message}`;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  c.stopping.child = null;
  if (c.tty) process.stderr.write('\r\x1b[K');
  const fromRecord = e.runDir ? readRunRecord(e.runDir).record?.status : undefined;
  const status: 'completed' | 'stopped' | 'failed' = finished === 'completed' || finished === 'stopped' ? finished : fromRecord === 'completed' || fromRecord === 'stopped' ? fromRecord : 'failed';
  e.status = status;
  e.seconds += (Date.now() - started) / 1000;
  e.endedAt = new Date().toISOString();
  if (status === 'failed') c.rec.error = `${e.name}: ${runError ?? (stderrTail.length ? stderrTail.slice(-3).join(' / ') : `trainer exited with code ${code}`)}`;
  c.save();
  const value = finalValue(c, e);
  c.emit(makeStudyEvent('run-finished', c.a.name, { ...ref, runDir: e.runDir, status, metric: c.a.metric, value, seconds: e.seconds }));
  c.say(`run ${e.index + 1}/${total} ${status}: ${e.mode}, seed ${e.seed}, ${c.a.metric} ${fmt(value)}, ${Math.round(e.seconds)} s`);
  if (status === 'failed' && stderrTail.length) c.say(stderrTail.slice(-5).join('\n'));
  return status;
}

function finish(c: Ctx): string {
  const { rec } = c;
  const results = analyzeStudy({
    metric: c.a.metric,
    modes: rec.modes,
    seeds: rec.seeds,
    runs: rec.runs.map((e) => ({ mode: e.mode, seed: e.seed, runDir: e.runDir as string })),
    thresholds: c.a.thresholds,
  });
  rec.results = results;
  rec.thresholds = c.a.thresholds;
  rec.metric = c.a.metric;
  rec.goal = results.goal;
  rec.status = 'completed';
  rec.endedAt = new Date().toISOString();
  c.save();
  const plots = studyPlots(results);
  writeFileAtomic(path.join(c.a.outDir, PLOT_FILES.metric), plots.metric);
  writeFileAtomic(path.join(c.a.outDir, PLOT_FILES.loss), plots.loss);
  const report = path.join(c.a.outDir, STUDY_FILES.report);
  writeFileAtomic(report, renderReport(rec, results));
  return report;
}

export async function studyCommand(argv: string[]): Promise<number> {
  const a = parseStudyArgs(argv);
  for (const [flag, dir] of [['out', a.outDir], ['runs', a.runsDir]])
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new StudyUsageError(`--${flag}: ${dir} is a file, expected a folder`);
  const previous = readStudyRecord(a.outDir);
  if (previous) checkSameStudy(previous, a);
  // A second study process on the same folder would overwrite study.json under the first.
  if (previous && studyRunningNow(previous))
    throw new StudyUsageError(`--out: ${a.outDir} is a study running now (pid ${previous.pid ?? '?'} on ${previous.host ?? os.hostname()}); stop it first (SIGINT or SIGTERM: its current run writes a checkpoint), then run the same command to resume`);
  fs.mkdirSync(a.outDir, { recursive: true });
  const rec = previous ?? newStudyRecord(a, argv);
  const tty = process.stdout.isTTY === true;
  const eventsFile = path.join(a.outDir, STUDY_FILES.events);
  const base = rec.durationSeconds;
  const t0 = Date.now();
  const c: Ctx = {
    a,
    rec,
    tty,
    emit: (e) => {
      if (e.type !== 'run-progress') appendJsonLine(eventsFile, e);
      if (!tty) process.stdout.write(JSON.stringify(e) + '\n');
    },
    say: (line) => {
      if (tty) process.stdout.write(line + '\n');
    },
    save: () => {
      rec.durationSeconds = base + (Date.now() - t0) / 1000;
      // Lets an editor window opened later find the study while it runs (and follow it).
      rec.pid = rec.status === 'running' ? process.pid : null;
      rec.host = rec.status === 'running' ? os.hostname() : null;
      saveStudyRecord(a.outDir, rec);
    },
    stopping: { requested: false, child: null },
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    c.stopping.requested = true;
    c.say(`${sig}: stopping the current run after its step (it writes a checkpoint); run the same command again to resume`);
    c.stopping.child?.kill(sig);
    c.stopping.onStop?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    rec.status = 'running';
    rec.error = null;
    rec.endedAt = null;
    c.save();
    const completed = rec.runs.filter((e) => e.status === 'completed').length;
    c.emit(makeStudyEvent('study-started', a.name, { studyDir: a.outDir, total: rec.runs.length, completed, resumed: previous !== null }));
    c.say(`study ${a.outDir}: ${rec.runs.length} runs (${rec.modes.join(', ')} x seeds ${rec.seeds.join(', ')}, ${rec.steps} steps)${completed ? `, ${completed} already completed` : ''}`);
    if (a.evaluationDefaulted) {
      const msg = `the config has evaluation off (evaluation.every 0): the study evaluates every ${a.evaluationEvery} steps`;
      c.emit(makeStudyEvent('study-log', a.name, { level: 'info', message: msg }));
      c.say(msg);
    }
    if (a.slurm) {
      // All at once on the cluster; the study ends as its worst run.
      await runOnSlurm(c);
      if (rec.runs.some((e) => e.status === 'failed')) rec.status = 'failed';
      else if (rec.runs.some((e) => e.status !== 'completed')) rec.status = 'stopped';
    } else
      for (const e of rec.runs) {
        if (c.stopping.requested) break;
        const status = e.status === 'completed' ? 'completed' : await runOne(c, e);
        e.status = status === 'completed' ? 'completed' : e.status;
        if (status === 'failed' || status === 'stopped') {
          rec.status = status === 'failed' ? 'failed' : 'stopped';
          break;
        }
      }
    if (c.stopping.requested && rec.status === 'running') rec.status = 'stopped';
    if (rec.status !== 'running') {
      rec.endedAt = new Date().toISOString();
      c.save();
      c.emit(makeStudyEvent('study-finished', a.name, { status: rec.status, report: null, error: rec.error }));
      c.say(rec.status === 'stopped' ? `study stopped; resume with: ${rec.command}` : `study failed: ${rec.error}`);
      return rec.status === 'stopped' ? 130 : 1;
    }
    const report = finish(c);
    c.emit(makeStudyEvent('study-finished', a.name, { status: 'completed', report, error: null }));
    c.say(`report: ${report}`);
    for (const line of rec.results?.conclusion ?? []) c.say(`  ${line}`);
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
