/**
 * Queues a run's job script (`slurm-job.sh`) as a Slurm job and records the job in run.json
 * (`queued`). Shared by `immiscible submit` and by a trainer that, near its job's time limit,
 * hands its run on to the next job (automatic resubmission).
 */
import * as path from 'node:path';
import { RUN_FILES, slurmOutputName, type AutoResubmit } from '../run/format';
import type { RunWriter } from '../run/writer';
import { releaseJob, sbatch, scancel, type SlurmEnv } from './slurmCommands';
import { slurmJobOf } from './slurmRun';

export interface JobRequest {
  /** The user's own sbatch options, recorded for later submissions. */
  sbatchArgs: string[];
  resubmit: AutoResubmit | null;
  /** Start only once this job has ended: the trainer handing its run on runs inside it. */
  after?: string;
}

/** The signal a job with resubmissions left gets before its time limit; its trainer hands the run on. */
export const RESUBMIT_SIGNAL = 'SIGUSR1';
export const resubmitSignalArg = (warnSeconds: number): string => `--signal=B:USR1@${warnSeconds}`;

/** The user's options are whole words (sbatchArgProblem): `--dependency=...` or `-d...`. */
const isDependency = (a: string): boolean => a.startsWith('--dependency') || a.startsWith('-d');

/** Everything passed to sbatch for the run's next job, besides `--hold`. */
export function jobSbatchArgs(runName: string, outputPattern: string, r: JobRequest): string[] {
  // The user's dependency (a data-preparation job, say) held the first job; a continuation
  // waits for its predecessor instead, and the old dependency may have been purged by now.
  const own = r.after ? r.sbatchArgs.filter((a) => !isDependency(a)) : r.sbatchArgs;
  return [
    `--job-name=immiscible-${runName}`.slice(0, 120),
    `--output=${outputPattern}`,
    ...(r.resubmit && r.resubmit.left > 0 ? [resubmitSignalArg(r.resubmit.warnSeconds)] : []),
    ...(r.after ? [`--dependency=afterany:${r.after}`] : []),
    ...own,
  ];
}

/**
 * Why sbatch cannot write a job's output into `dir`, or null. Its `--output` is a pattern whose
 * backslashes turn its replacements off and are not kept, so `slurm-%j.out` would not name the job.
 */
export function outputDirProblem(dir: string): string | null {
  return dir.includes('\\') ? `${dir}: sbatch cannot write a job's output into a folder whose path has a backslash (its --output pattern does not keep them); use a runs folder without one` : null;
}

/** `dir/slurm-%j.out` as sbatch's --output pattern: a `%` of the path doubled, so `runs-100%` or `%x` stay as written. */
export function jobOutputPattern(dir: string): string {
  const problem = outputDirProblem(dir);
  if (problem) throw new Error(problem);
  return path.join(dir.replace(/%/g, '%%'), slurmOutputName('%j'));
}

/**
 * Submits the run's job script, records the job (`queued`, the earlier job moved to
 * `previousJobs`) and lets it start. The job is held until run.json names it: a job that started
 * at once would otherwise race this write. If recording or releasing fails the job is cancelled
 * and the error thrown; the caller settles the run (its record may name that cancelled job).
 */
export async function queueRunJob(run: RunWriter, r: JobRequest, o: SlurmEnv = {}): Promise<string> {
  const previous = slurmJobOf(run.current);
  const args = jobSbatchArgs(run.current.name, jobOutputPattern(run.dir), r);
  const jobId = await sbatch(run.path(RUN_FILES.slurmScript), ['--hold', ...args], o);
  try {
    const previousJobs = previous ? [...(previous.previousJobs ?? []), previous.jobId] : [];
    run.update({
      status: 'queued',
      pid: null,
      error: null,
      endedAt: null,
      scheduler: {
        kind: 'slurm',
        jobId,
        submittedAt: new Date().toISOString(),
        script: RUN_FILES.slurmScript,
        sbatchArgs: r.sbatchArgs,
        ...(r.resubmit ? { resubmit: r.resubmit } : {}),
        ...(previousJobs.length ? { previousJobs } : {}),
      },
    });
    const extra = [...r.sbatchArgs, ...(r.resubmit?.left ? [`${r.resubmit.left} automatic resubmission${r.resubmit.left === 1 ? '' : 's'} left`] : [])];
    run.log(`[info] queued as Slurm job ${jobId}${r.after ? ` after job ${r.after}` : ''}${extra.length ? ` (${extra.join(', ')})` : ''}; its output: ${slurmOutputName(jobId)}`);
    await releaseJob(jobId, o);
  } catch (e) {
    await scancel(jobId, false, o).catch(() => undefined);
    throw e;
  }
  return jobId;
}

/**
 * From inside the run's own job, near its time limit: queues the job that continues the run once
 * this one has ended, with one resubmission fewer. Returns its id.
 */
export async function queueNextJob(run: RunWriter, o: SlurmEnv = {}): Promise<string> {
  const job = slurmJobOf(run.current);
  if (!job?.resubmit || job.resubmit.left < 1) throw new Error(`${run.dir}: no automatic resubmission left`);
  return queueRunJob(run, { sbatchArgs: job.sbatchArgs, resubmit: { ...job.resubmit, left: job.resubmit.left - 1 }, after: job.jobId }, o);
}
