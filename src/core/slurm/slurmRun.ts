/**
 * A run trained by a Slurm job: settling a `queued` run whose job ended before the trainer
 * started and a `stopped` one whose job Slurm requeued, stopping either kind, and the
 * one-trainer rule for queued runs.
 */
import * as path from 'node:path';
import { slurmOutputName, type RunRecord, type SlurmJob } from '../run/format';
import { readRunRecord } from '../run/reader';
import { RunWriter } from '../run/writer';
import { jobMayRun, jobState, scancel, type SlurmEnv, type SlurmJobState } from './slurmCommands';

export const slurmJobOf = (r: RunRecord | null): SlurmJob | null => (r?.scheduler?.kind === 'slurm' ? r.scheduler : null);

/**
 * A `queued` run whose job ended without starting the trainer (cancelled while pending, refused
 * by the node, purged) would read `queued` forever: it becomes `stopped` (cancelled; it can be
 * resumed or resubmitted) or `failed` with the job's state and output file named. Re-reads
 * run.json first, so a trainer that started meanwhile is left alone. Returns the record after.
 */
export function settleQueuedRun(dir: string, state: SlurmJobState | null): RunRecord | null {
  const r = readRunRecord(dir).record;
  const job = slurmJobOf(r);
  if (!r || r.status !== 'queued' || !job || jobMayRun(state)) return r;
  const w = RunWriter.open(dir);
  const now = new Date().toISOString();
  if (state === 'CANCELLED') w.update({ status: 'stopped', endedAt: now, pid: null });
  else {
    const out = path.join(dir, slurmOutputName(job.jobId));
    const how = state === null ? 'is no longer known to Slurm' : `ended ${state}`;
    w.update({ status: 'failed', endedAt: now, pid: null, error: { message: `Slurm job ${job.jobId} ${how} before the trainer started; see ${out}` } });
  }
  return w.current;
}

/** A job Slurm requeued (preemption, `scontrol requeue`, `requeuehold`): it waits to start again. */
const WAITING_AGAIN = new Set(['PENDING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED']);
/** Still ending after its trainer stopped, or started again before its trainer writes `running`. */
const NOT_YET_SETTLED = new Set(['RUNNING', 'COMPLETING', 'CONFIGURING', 'SIGNALING', 'STAGE_OUT', 'RESIZING', 'SUSPENDED']);

/** Whether a `stopped` run's job may yet turn out requeued: ask again shortly. */
export const jobNotYetSettled = (state: SlurmJobState | null): boolean => state !== null && NOT_YET_SETTLED.has(state);

/**
 * A `stopped` run whose own job Slurm requeued: its trainer checkpointed at Slurm's SIGTERM, and
 * the job, waiting to start again under its id, will resume it. It reads `queued` again (a stop
 * of ours leaves the job COMPLETED or CANCELLED, never waiting). Re-reads run.json first.
 * Returns the record after.
 */
export function settleStoppedRun(dir: string, state: SlurmJobState | null): RunRecord | null {
  const r = readRunRecord(dir).record;
  const job = slurmJobOf(r);
  if (!r || r.status !== 'stopped' || !job || state === null || !WAITING_AGAIN.has(state)) return r;
  const w = RunWriter.open(dir);
  w.log(`[info] Slurm requeued job ${job.jobId} (${state}): it continues the run from its checkpoint at step ${r.step} when it starts again`);
  w.update({ status: 'queued', endedAt: null, pid: null });
  return w.current;
}

export type SlurmStopResult = 'cancelled' | 'signalled' | 'not-running';

/**
 * Stops a run's Slurm job: a pending job leaves the queue and the run becomes `stopped`; a
 * running one gets SIGTERM, so the trainer checkpoints and marks the run `stopped` itself.
 */
export async function stopSlurmRun(dir: string, o: SlurmEnv = {}): Promise<SlurmStopResult> {
  const job = slurmJobOf(readRunRecord(dir).record);
  if (!job) return 'not-running';
  const state = await jobState(job.jobId, o);
  if (!jobMayRun(state)) {
    settleQueuedRun(dir, state);
    return 'not-running';
  }
  const pending = state === 'PENDING' || state === 'REQUEUED' || state === 'CONFIGURING';
  await scancel(job.jobId, !pending, o);
  if (pending) settleQueuedRun(dir, 'CANCELLED');
  return pending ? 'cancelled' : 'signalled';
}

/**
 * Whether a trainer may start on a `queued` run: only the run's own job may (SLURM_JOB_ID), or
 * anyone once that job can no longer start it. Returns why not, or null.
 */
export async function queuedRunProblem(dir: string, r: RunRecord, ownJobId: string | undefined, o: SlurmEnv = {}): Promise<string | null> {
  const job = slurmJobOf(r);
  if ((r.status !== 'queued' && r.status !== 'stopped') || !job || ownJobId === job.jobId) return null;
  let state: SlurmJobState | null;
  try {
    state = await jobState(job.jobId, o);
  } catch {
    // No Slurm here (another machine than the cluster's): its job cannot be asked about, and
    // refusing would strand the run.
    return null;
  }
  // A stopped run whose job Slurm requeued is queued again: that job resumes it.
  if (r.status === 'stopped' && settleStoppedRun(dir, state)?.status !== 'queued') return null;
  if (!jobMayRun(state)) return null;
  return `${dir}: queued as Slurm job ${job.jobId} (${state}), which will train it; cancel that job first (scancel ${job.jobId}, or Stop in VS Code), then resume`;
}
