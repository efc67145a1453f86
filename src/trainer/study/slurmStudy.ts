/**
 * `immiscible study --slurm`: every run of the study a Slurm job, all queued at once, then
 * followed on disk (run.json, metrics.jsonl) until each has ended, with the same study events as
 * runs trained here. Started again with the same --out, it keeps completed runs, follows the ones
 * still queued or training, and resubmits the rest from their checkpoints.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { parseEvent } from '../../core/protocol/events';
import { makeStudyEvent } from '../../core/protocol/studyEvents';
import { isMetricsLine, RUN_FILES, type RunRecord } from '../../core/run/format';
import { isDeadRun } from '../../core/run/liveness';
import { readRunRecord } from '../../core/run/reader';
import { readLastJsonLine } from '../../core/run/tail';
import { RunWriter } from '../../core/run/writer';
import { jobMayRun, jobState, JobStatePoller } from '../../core/slurm/slurmCommands';
import { jobNotYetSettled, settleQueuedRun, settleStoppedRun, slurmJobOf, stopSlurmRun } from '../../core/slurm/slurmRun';
import type { StudyRunEntry } from '../../core/study/format';
import { runOverrides } from './args';
import { findCreatedRun, finalValue, type Ctx } from './context';

const POLL_MS = 1000;
const poller = new JobStatePoller({ windowMs: 50 });
/** squeue is asked about a queued run at most this often: a cluster's controller is shared. */
const ASK_MS = 5000;

interface Followed {
  e: StudyRunEntry;
  announced: boolean;
  lastStep: number;
  askedAt: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `immiscible submit` as a child process: the run directory and job, or why sbatch refused. */
function submit(args: string[]): Promise<{ runDir: string; jobId: string } | { error: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [process.argv[1], 'submit', ...args], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', (e) => resolve({ error: `cannot start immiscible submit: ${e.message}` }));
    child.on('close', (code) => {
      const e = out.split('\n').map(parseEvent).find((x) => x?.type === 'submitted');
      if (code === 0 && e?.type === 'submitted') resolve({ runDir: e.runDir, jobId: e.jobId });
      else resolve({ error: err.trim().split('\n')[0] || `immiscible submit exited with code ${code}` });
    });
  });
}

/** Whether a run's job may still train it, so it is followed rather than submitted again. */
async function stillOnSlurm(r: RunRecord): Promise<boolean> {
  const job = slurmJobOf(r);
  if (!job || (r.status !== 'queued' && r.status !== 'running')) return false;
  try {
    return jobMayRun(await jobState(job.jobId));
  } catch {
    return r.status === 'running' && !isDeadRun(r);
  }
}

export async function runOnSlurm(c: Ctx): Promise<void> {
  const total = c.rec.runs.length;
  const ref = (e: StudyRunEntry): { index: number; total: number; mode: StudyRunEntry['mode']; seed: number } => ({ index: e.index, total, mode: e.mode, seed: e.seed });
  const followed: Followed[] = [];
  const sbatch = [...c.a.sbatchArgs.map((a) => `--sbatch=${a}`), ...(c.a.resubmits > 0 ? ['--resubmit', String(c.a.resubmits)] : []), ...(c.a.node ? ['--node', c.a.node] : [])];

  for (const e of c.rec.runs) {
    if (e.status === 'completed' || c.stopping.requested) continue;
    const known = e.runDir ?? findCreatedRun(c, e);
    const r = known ? readRunRecord(known).record : null;
    let dir = known;
    if (known && r?.status === 'completed') {
      e.status = 'completed';
      continue;
    }
    if (known && r && (await stillOnSlurm(r))) {
      c.say(`run ${e.index + 1}/${total} still on Slurm (job ${slurmJobOf(r)?.jobId}): ${e.mode}, seed ${e.seed}`);
    } else {
      const args = known ? ['--resume', known, ...sbatch] : ['--config', c.a.configFile, '--runs', c.a.runsDir, '--name', e.name, ...runOverrides(c.a, e.mode, e.seed).flatMap((s) => ['--set', s]), ...sbatch];
      const got = await submit(args);
      if ('error' in got) {
        c.rec.error = `${e.name}: ${got.error}`;
        e.status = 'failed';
        c.save();
        c.say(`run ${e.index + 1}/${total} not submitted: ${got.error}`);
        // One refusal is every refusal (the same options): the runs already queued leave the queue.
        c.stopping.requested = true;
        break;
      }
      e.attempts += 1;
      dir = got.runDir;
      c.say(`run ${e.index + 1}/${total} queued as Slurm job ${got.jobId}: ${e.mode}, seed ${e.seed}`);
    }
    e.runDir = dir;
    e.runId = dir ? path.basename(dir) : null;
    e.status = 'running';
    e.startedAt ??= new Date().toISOString();
    c.save();
    followed.push({ e, announced: false, lastStep: -1, askedAt: 0 });
  }

  let stopSent = false;
  const stopAll = (): void => {
    if (stopSent) return;
    stopSent = true;
    for (const f of followed) if (f.e.runDir) stopSlurmRun(f.e.runDir).catch((err: Error) => c.say(`${f.e.name}: ${err.message}`));
  };
  c.stopping.onStop = stopAll;
  if (c.stopping.requested) stopAll();

  let active = [...followed];
  while (active.length) {
    // Checked together, so the queued runs' squeue questions go out as one call.
    await Promise.all(active.map((f) => check(c, f, ref(f.e))));
    active = active.filter((f) => f.e.status === 'running');
    if (active.length) await sleep(POLL_MS);
  }
  c.stopping.onStop = undefined;
}

async function check(c: Ctx, f: Followed, ref: { index: number; total: number; mode: StudyRunEntry['mode']; seed: number }): Promise<void> {
  const dir = f.e.runDir as string;
  let r = readRunRecord(dir).record;
  if (!r) return;
  if (r.status === 'queued' && Date.now() - f.askedAt >= ASK_MS) {
    f.askedAt = Date.now();
    const job = slurmJobOf(r);
    if (job) r = settleQueuedRun(dir, await poller.state(job.jobId).catch(() => 'PENDING')) ?? r;
  }
  const job = slurmJobOf(r);
  if (r.status === 'stopped' && job && !c.stopping.requested) {
    // Stopped by Slurm, not by us: a requeued job (preemption) resumes the run; follow it on.
    const state = await poller.state(job.jobId).catch(() => null);
    r = settleStoppedRun(dir, state) ?? r;
    if (r.status === 'stopped' && jobNotYetSettled(state)) return;
    if (r.status === 'queued') {
      const msg = `run ${ref.index + 1}/${ref.total} requeued by Slurm as job ${job.jobId}: ${ref.mode}, seed ${ref.seed}; it continues from step ${r.step}`;
      c.emit(makeStudyEvent('study-log', c.a.name, { level: 'info', message: msg }));
      c.say(msg);
    }
  }
  if (r.status === 'running' && isDeadRun(r)) {
    // Its node went away (or the job was killed past its grace time): never left `running`.
    RunWriter.open(dir).update({ status: 'failed', pid: null, endedAt: new Date().toISOString(), error: { message: `trainer on ${r.host} stopped sending its heartbeat` } });
    r = readRunRecord(dir).record ?? r;
  }
  if ((r.status === 'running' || r.status === 'completed' || r.status === 'stopped') && !f.announced && (r.status === 'running' || r.step > 0)) {
    f.announced = true;
    c.emit(makeStudyEvent('run-started', c.a.name, { ...ref, runDir: dir, resumed: f.e.attempts > 1 || r.step > 0 }));
    c.say(`run ${ref.index + 1}/${ref.total} started on ${r.host}: ${ref.mode}, seed ${ref.seed} (${dir})`);
  }
  const last = readLastJsonLine(path.join(dir, RUN_FILES.metrics), isMetricsLine).value;
  if (last && last.step !== f.lastStep) {
    f.lastStep = last.step;
    c.emit(makeStudyEvent('run-progress', c.a.name, { ...ref, step: last.step, totalSteps: r.totalSteps, loss: last.loss }));
  }
  if (r.status !== 'completed' && r.status !== 'stopped' && r.status !== 'failed') return;
  f.e.status = r.status;
  // Training time, not time in the queue: the trainer's own sum over its resumes.
  f.e.seconds = last?.wallTime ?? 0;
  f.e.endedAt = new Date().toISOString();
  if (r.status === 'failed') c.rec.error ??= `${f.e.name}: ${r.error?.message ?? 'failed'}`;
  c.save();
  const value = finalValue(c, f.e);
  c.emit(makeStudyEvent('run-finished', c.a.name, { ...ref, runDir: dir, status: r.status, metric: c.a.metric, value, seconds: f.e.seconds }));
  c.say(`run ${ref.index + 1}/${ref.total} ${r.status}: ${ref.mode}, seed ${ref.seed}, ${c.a.metric} ${value ?? 'n/a'}, ${Math.round(f.e.seconds)} s`);
}
