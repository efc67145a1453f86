/**
 * Slurm's client commands (sbatch, squeue, sacct, scontrol, scancel), run as processes. Every call names
 * the command and passes its own error text on, so a missing client or a refused job reads as
 * such. SLURM_CONF and the like come from the environment, as for the user's own commands.
 */
import { execFile } from 'node:child_process';

export interface SlurmEnv {
  env?: NodeJS.ProcessEnv;
}

/** Slurm's job states; a job unknown to squeue (purged after MinJobAge) is `null` below. */
export type SlurmJobState = 'PENDING' | 'RUNNING' | 'COMPLETING' | 'SUSPENDED' | 'CONFIGURING' | 'REQUEUED' | 'RESIZING' | 'COMPLETED' | 'CANCELLED' | 'FAILED' | 'TIMEOUT' | 'NODE_FAIL' | 'PREEMPTED' | 'OUT_OF_MEMORY' | 'BOOT_FAIL' | 'DEADLINE' | (string & {});

const WAITING_OR_ACTIVE = new Set(['PENDING', 'RUNNING', 'COMPLETING', 'SUSPENDED', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESIZING', 'SIGNALING', 'STAGE_OUT', 'STOPPED', 'RESV_DEL_HOLD']);

/** A job that may still start or is running: not yet ended. */
export const jobMayRun = (state: SlurmJobState | null): boolean => state !== null && WAITING_OR_ACTIVE.has(state);

export class SlurmError extends Error {}

function run(cmd: string, args: string[], o: SlurmEnv): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: o.env ?? process.env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new SlurmError(`${cmd} not found: Slurm's client commands (sbatch, squeue, scancel) must be on PATH`));
        return;
      }
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ stdout, stderr, code });
    });
  });
}

/** `sbatch --parsable` prints `JOBID` or `JOBID;CLUSTER`. */
export function parseSbatchOutput(stdout: string): string | null {
  const line = stdout.trim().split('\n').pop() ?? '';
  const m = /^(\d+)(;\S+)?$/.exec(line.trim());
  return m ? m[1] : null;
}

/** Submits a batch script; returns the job id. Throws SlurmError with sbatch's own reason. */
export async function sbatch(script: string, args: string[], o: SlurmEnv & { cwd?: string } = {}): Promise<string> {
  const r = await run('sbatch', ['--parsable', ...args, script], o);
  const id = r.code === 0 ? parseSbatchOutput(r.stdout) : null;
  if (id === null) throw new SlurmError(`sbatch refused the job: ${(r.stderr || r.stdout).trim() || `exit ${r.code}`}`);
  return id;
}

/** Lets a job submitted with `--hold` start. */
export async function releaseJob(jobId: string, o: SlurmEnv = {}): Promise<void> {
  const r = await run('scontrol', ['release', jobId], o);
  if (r.code !== 0) throw new SlurmError(`scontrol release ${jobId} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}

/**
 * The job's state, or null when Slurm no longer knows it (ended long enough ago to be purged).
 * `-t all` keeps ended jobs visible for MinJobAge, so a cancelled job reads CANCELLED, not null.
 */
export async function jobState(jobId: string, o: SlurmEnv = {}): Promise<SlurmJobState | null> {
  return (await jobStates([jobId], o)).get(jobId) ?? null;
}

/**
 * The states of several jobs in one squeue call. A job squeue no longer lists (ended more than
 * MinJobAge ago, 300 s by default) is looked up in sacct; a job neither knows maps to null.
 */
export async function jobStates(jobIds: readonly string[], o: SlurmEnv = {}): Promise<Map<string, SlurmJobState | null>> {
  const out = new Map<string, SlurmJobState | null>(jobIds.map((id) => [id, null]));
  if (!jobIds.length) return out;
  const r = await run('squeue', ['-h', '-t', 'all', '-j', jobIds.join(','), '-o', '%i %T'], o);
  if (r.code !== 0 && !/invalid job id/i.test(r.stderr)) throw new SlurmError(`squeue failed for job${jobIds.length > 1 ? 's' : ''} ${jobIds.join(',')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  for (const line of r.stdout.split('\n')) {
    const [id, state] = line.trim().split(/\s+/);
    if (id && state && out.has(id)) out.set(id, state);
  }
  const purged = jobIds.filter((id) => out.get(id) === null);
  if (purged.length) for (const [id, state] of await endedJobStates(purged, o)) out.set(id, state);
  return out;
}

/** The states a job ends in: only these are taken from sacct, whose record of a job the controller lost may stay PENDING or RUNNING. */
const ENDED = new Set(['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE']);

/**
 * How jobs squeue no longer lists ended, from Slurm's accounting (`sacct`) or, on a cluster
 * without it, the job completion log (`sacct -c`, jobcomp/filetxt). Null for a job neither
 * records, for one recorded as not ended, and for all where sacct is missing or fails.
 */
export async function endedJobStates(jobIds: readonly string[], o: SlurmEnv = {}): Promise<Map<string, SlurmJobState | null>> {
  const out = new Map<string, SlurmJobState | null>(jobIds.map((id) => [id, null]));
  for (const source of ['-X', '-c']) {
    const r = await run('sacct', [source, '-n', '-P', '-o', 'JobID,State', '-j', jobIds.join(',')], o).catch(() => null);
    if (!r || r.code !== 0) continue;
    for (const line of r.stdout.split('\n')) {
      const [id, state] = line.trim().split('|');
      // "CANCELLED by 1000": the state is the first word.
      const word = state?.split(/\s+/)[0];
      if (id && word && out.has(id) && ENDED.has(word)) out.set(id, word);
    }
    break;
  }
  return out;
}

/**
 * Seconds in a Slurm duration as squeue's `%L` prints it (`[days-][[hours:]minutes:]seconds`:
 * `45`, `0:56`, `1:02:03`, `2-01:00:00`), or null for none (`UNLIMITED`, `NOT_SET`, `INVALID`).
 */
export function parseSlurmDuration(text: string): number | null {
  const m = /^(?:(\d+)-)?(?:(?:(\d+):)?(\d+):)?(\d+)$/.exec(text.trim());
  if (!m) return null;
  const [days, hours, minutes, seconds] = m.slice(1).map((x) => Number(x ?? 0));
  return ((days * 24 + hours) * 60 + minutes) * 60 + seconds;
}

/** Seconds before the job reaches its time limit, or null when it has none. */
export async function jobTimeLeft(jobId: string, o: SlurmEnv = {}): Promise<number | null> {
  const r = await run('squeue', ['-h', '-j', jobId, '-o', '%L'], o);
  if (r.code !== 0) throw new SlurmError(`squeue failed for job ${jobId}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseSlurmDuration(r.stdout);
}

/**
 * Asks squeue about many jobs with one call per window: a window following a hundred queued runs
 * (or a study's) costs the cluster's shared controller one query every few seconds, not a
 * hundred.
 */
export class JobStatePoller {
  private waiting = new Map<string, { resolve: (s: SlurmJobState | null) => void; reject: (e: Error) => void }[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly o: SlurmEnv & { windowMs?: number } = {}) {}

  state(jobId: string): Promise<SlurmJobState | null> {
    return new Promise((resolve, reject) => {
      const list = this.waiting.get(jobId) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(jobId, list);
      this.timer ??= setTimeout(() => void this.flush(), this.o.windowMs ?? 200);
    });
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const batch = this.waiting;
    this.waiting = new Map();
    try {
      const states = await jobStates([...batch.keys()], this.o);
      for (const [id, list] of batch) for (const w of list) w.resolve(states.get(id) ?? null);
    } catch (e) {
      for (const list of batch.values()) for (const w of list) w.reject(e as Error);
    }
  }
}

/**
 * Cancels a job. A pending one is taken off the queue; a running one is sent SIGTERM only
 * (`--full` reaches the batch step, which is the trainer itself through `exec`), so the trainer
 * ends its step and writes a checkpoint instead of being killed after KillWait.
 */
export async function scancel(jobId: string, running: boolean, o: SlurmEnv = {}): Promise<void> {
  const args = running ? ['--signal=TERM', '--full', jobId] : [jobId];
  const r = await run('scancel', args, o);
  if (r.code !== 0) throw new SlurmError(`scancel ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
}
