/**
 * A run's own Slurm job with resubmissions left (`submit --resubmit`) hands the run on to its next
 * job before the time limit: the step ends, a checkpoint is written and the next job is queued.
 *
 * Two triggers, whichever comes first:
 * - Slurm's SIGUSR1 (`--signal=B:USR1@warn`), which follows a time limit changed later on;
 * - a timer at `warn` seconds before the limit squeue gives at start. Slurm checks time limits
 *   about every 30 s and may signal up to that much early, so with a short limit the signal can
 *   come in the first second, before Node listens for it; Node then takes it as a request to
 *   start its inspector and the signal is spent. The timer hands on regardless.
 *
 * A stop (SIGTERM, SIGINT) asked for during the hand-off wins: no next job is queued, or the one
 * being queued is cancelled, and the run stops at its checkpoint.
 */
import * as inspector from 'node:inspector';
import { readRunRecord } from '../core/run/reader';
import type { RunWriter } from '../core/run/writer';
import { queueNextJob, RESUBMIT_SIGNAL } from '../core/slurm/queueJob';
import { jobTimeLeft, scancel, type SlurmEnv } from '../core/slurm/slurmCommands';
import { slurmJobOf } from '../core/slurm/slurmRun';

/** Returns the trainer's hand-off (the next job's id once triggered, else null), or null when this process is not the run's job. */
export function slurmHandOff(run: RunWriter, controller: AbortController, o: SlurmEnv = {}): (() => Promise<string | null>) | null {
  const job = slurmJobOf(run.current);
  const env = o.env ?? process.env;
  if (!job?.resubmit || job.resubmit.left < 1 || !env.SLURM_JOB_ID || env.SLURM_JOB_ID !== job.jobId) return null;
  const { left, warnSeconds } = job.resubmit;
  const plan = `writing a checkpoint and queueing the run's next job (${left} resubmission${left === 1 ? '' : 's'} left)`;
  let triggered = false;
  let stopAsked = false;
  let timer: NodeJS.Timeout | null = null;
  const trigger = (why: string): void => {
    // A stop asked for first (SIGTERM, SIGINT) stays a stop.
    if (triggered || controller.signal.aborted) return;
    triggered = true;
    if (timer) clearTimeout(timer);
    run.log(`[info] ${why}; ${plan}`);
    closeStrayInspector(run);
    controller.abort();
  };
  process.on(RESUBMIT_SIGNAL, () => trigger(`${RESUBMIT_SIGNAL}: Slurm job ${job.jobId} nears its time limit`));
  const onStop = (sig: NodeJS.Signals): void => {
    if (!triggered || stopAsked) return;
    stopAsked = true;
    run.log(`[info] ${sig} during the hand-off: the run stops at its checkpoint instead of going on in a next job`);
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  jobTimeLeft(job.jobId, o).then(
    (secondsLeft) => {
      if (secondsLeft === null || triggered) return;
      const wait = handOffDelayMs(secondsLeft, warnSeconds);
      if (wait === null) return;
      if (wait === 0) run.log(`[warn] Slurm job ${job.jobId} has ${secondsLeft} s left, within its ${warnSeconds}-s warning: the run is handed on after this step; give the job a time limit well above the warning`);
      timer = setTimeout(() => trigger(`Slurm job ${job.jobId} is ${warnSeconds} s from its time limit (${secondsLeft} s left at start, by squeue)`), wait);
      timer.unref();
    },
    (e: Error) => run.log(`[warn] the time left to Slurm job ${job.jobId} is unknown (${e.message}); the run is handed on at Slurm's ${RESUBMIT_SIGNAL} alone`),
  );
  return async () => {
    if (!triggered || stopAsked) return null;
    let next: string;
    try {
      next = await queueNextJob(run, o);
    } catch (e) {
      // A stop from elsewhere (`immiscible stop`, VS Code) found run.json naming the job being
      // queued, took it off the queue and marked the run stopped: a stop, not a failed hand-off.
      if (readRunRecord(run.dir).record?.status !== 'stopped') throw e;
      run.log(`[info] the run was stopped while its next job was being queued (${(e as Error).message})`);
      return null;
    }
    if (!stopAsked) return next;
    // The stop came while sbatch ran: the job that would resume the run leaves the queue.
    try {
      await scancel(next, false, o);
    } catch (e) {
      run.log(`[warn] Slurm job ${next} could not be cancelled (${(e as Error).message}): it continues the run; cancel it with scancel ${next}`);
      return next;
    }
    run.log(`[info] Slurm job ${next} cancelled: the stop came while it was being queued`);
    return null;
  };
}

/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * How long after start to hand on by the timer: `warn` seconds before the limit, at once when the
 * limit is already that close, or null (Slurm's signal alone) when it lies beyond a timer's reach.
 */
export function handOffDelayMs(secondsLeft: number, warnSeconds: number): number | null {
  const ms = Math.max(0, secondsLeft - warnSeconds) * 1000;
  return ms > MAX_TIMER_MS ? null : ms;
}

/** A SIGUSR1 that came before the trainer listened opened Node's inspector on a port: close it. */
function closeStrayInspector(run: RunWriter): void {
  if (!inspector.url() || process.execArgv.some((a) => a.startsWith('--inspect'))) return;
  inspector.close();
  run.log(`[info] closed Node's inspector, which an early ${RESUBMIT_SIGNAL} had opened`);
}
