/**
 * The run a training command works on: a new one made from a config file, or an existing one to
 * continue, checked first (one trainer per run). Shared by `train` and `submit`.
 */
import * as path from 'node:path';
import type { RunConfig } from '../core/config/types';
import { beingTrained, isRunBeingTrained } from '../core/run/liveness';
import { readRunRecord } from '../core/run/reader';
import { RunWriter } from '../core/run/writer';
import { queuedRunProblem } from '../core/slurm/slurmRun';
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

/**
 * Opens `dir` to continue it, or refuses naming why: unreadable, completed, a live trainer on it,
 * or queued for a Slurm job other than `ownJobId` (the job's own trainer passes its SLURM_JOB_ID).
 */
export async function openRunToContinue(dir: string, ownJobId: string | undefined, verb: string): Promise<RunWriter> {
  const s = readRunRecord(dir);
  if (!s.record) throw new UsageError(`cannot ${verb}: ${s.recordError}`);
  if (s.record.status === 'completed') throw new UsageError(`${dir}: run already completed`);
  // Two trainers writing one run would interleave its logs and checkpoints.
  if (isRunBeingTrained(s.record)) throw new UsageError(beingTrained(dir, s.record));
  const queued = await queuedRunProblem(dir, s.record, ownJobId);
  if (queued) throw new UsageError(queued);
  return RunWriter.open(dir);
}

/** Makes a run from a config file with its `--set` overrides, refusing a config naming files that are not there. */
export function createRunFromConfig(configFile: string, set: string[], runsDir: string, name: string | undefined): { run: RunWriter; config: RunConfig } {
  const loaded = loadConfigFile(configFile, set);
  requireNamedFiles(loaded, configFile);
  const runName = name ?? (loaded.name || path.basename(configFile).replace(/(\.immiscible)?\.json$/, ''));
  const config = { ...loaded, name: runName };
  return { run: RunWriter.create(runsDir, config, runName), config };
}
