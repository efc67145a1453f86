/**
 * The run a training command works on: a new one made from a config file, or an existing one to
 * continue, checked first (one trainer per run). Shared by `train` and `submit`.
 */
import * as path from 'node:path';
import type { RunConfig } from '../core/config/types';
import type { RunRecord } from '../core/run/format';
import { beingTrained, DEFAULT_STALE_MS, heartbeatAgeMs, isRunBeingTrained } from '../core/run/liveness';
import { readRunRecord } from '../core/run/reader';
import { RunWriter } from '../core/run/writer';
import { queuedRunProblem, slurmJobOf } from '../core/slurm/slurmRun';
import { UsageError } from './cliOptions';
import { loadConfigFile, requireNamedFiles } from './configFile';

/** The flags naming that run, shared by `train` and `submit` (node:util parseArgs options). */
export const RUN_TARGET_OPTIONS = {
  config: { type: 'string' },
  resume: { type: 'string' },
  runs: { type: 'string', default: 'runs' },
  name: { type: 'string' },
  set: { type: 'string', multiple: true, default: [] as string[] },
} as const;

export interface EarlierTrainerWait {
  staleMs?: number;
  /** How long the run's own restarted job waits for its earlier trainer; twice the stale age by default. */
  maxWaitMs?: number;
  pollMs?: number;
}

/**
 * Opens `dir` to continue it, or refuses naming why: unreadable, completed, a live trainer on it,
 * or queued for a Slurm job other than `ownJobId` (the job's own trainer passes its SLURM_JOB_ID).
 */
export async function openRunToContinue(dir: string, ownJobId: string | undefined, verb: string, wait: EarlierTrainerWait = {}): Promise<RunWriter> {
  const s = readRunRecord(dir);
  if (!s.record) throw new UsageError(`cannot ${verb}: ${s.recordError}`);
  let record = s.record;
  let waited: string | null = null;
  const live = (r: RunRecord): boolean => isRunBeingTrained(r, { staleMs: wait.staleMs });
  if (live(record) && ownJobId !== undefined && slurmJobOf(record)?.jobId === ownJobId) {
    const started = Date.now();
    const earlier = record;
    record = await earlierIncarnationGone(dir, record, live, wait);
    if (!live(record)) waited = `Slurm restarted job ${ownJobId}: waited ${((Date.now() - started) / 1000).toFixed(1)} s for its earlier trainer (pid ${earlier.pid ?? '?'} on ${earlier.host}) to ${record.status === 'running' ? 'fall silent' : `end (${record.status})`}`;
  }
  // Two trainers writing one run would interleave its logs and checkpoints.
  if (live(record)) throw new UsageError(beingTrained(dir, record));
  if (record.status === 'completed') throw new UsageError(`${dir}: run already completed`);
  const queued = await queuedRunProblem(dir, record, ownJobId);
  if (queued) throw new UsageError(queued);
  const w = RunWriter.open(dir);
  if (waited) w.log(`[info] ${waited}`);
  return w;
}

/**
 * A job Slurm requeued after its node failed may start again on another node within seconds,
 * while run.json still says `running` with the failed node's fresh heartbeat. Slurm runs one
 * incarnation of a job at a time, so that trainer is gone: its heartbeat goes stale within the
 * stale age. The restarted job waits for that instead of refusing; a heartbeat still fresh after
 * the wait (a node cut off from the controller but still training) is refused as before.
 */
async function earlierIncarnationGone(dir: string, record: RunRecord, live: (r: RunRecord) => boolean, o: EarlierTrainerWait): Promise<RunRecord> {
  const staleMs = o.staleMs ?? DEFAULT_STALE_MS;
  const end = Date.now() + (o.maxWaitMs ?? 2 * staleMs);
  process.stderr.write(`${dir}: run.json says running (pid ${record.pid ?? '?'} on ${record.host}, last heartbeat ${Math.round(heartbeatAgeMs(record, Date.now()) / 1000)} s ago) under this job's id: waiting for that earlier trainer to end\n`);
  let r = record;
  while (live(r) && Date.now() < end) {
    await new Promise((done) => setTimeout(done, o.pollMs ?? 500));
    r = readRunRecord(dir).record ?? r;
  }
  return r;
}

/** Makes a run from a config file with its `--set` overrides, refusing a config naming files that are not there. */
export function createRunFromConfig(configFile: string, set: string[], runsDir: string, name: string | undefined): { run: RunWriter; config: RunConfig } {
  const loaded = loadConfigFile(configFile, set);
  requireNamedFiles(loaded, configFile);
  const runName = name ?? (loaded.name || path.basename(configFile).replace(/(\.immiscible)?\.json$/, ''));
  const config = { ...loaded, name: runName };
  return { run: RunWriter.create(runsDir, config, runName), config };
}
