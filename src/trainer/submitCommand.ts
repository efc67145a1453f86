/**
 * `immiscible submit`: a run trained by a Slurm job instead of this process. The run directory is
 * made here (config snapshot, `queued` record naming the job), so it shows in the runs tree while
 * the job waits; the job resumes it (src/core/slurm/jobScript.ts). The runs folder must be on a
 * file system the compute nodes share, as it is for the user's own jobs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { makeEvent } from '../core/protocol/events';
import { RUN_FILES, slurmOutputName, type AutoResubmit } from '../core/run/format';
import { writeFileAtomic } from '../core/run/fsAtomic';
import { RunWriter } from '../core/run/writer';
import { resubmitProblem, sbatchArgProblem, slurmJobScript } from '../core/slurm/jobScript';
import { outputDirProblem, queueRunJob } from '../core/slurm/queueJob';
import { settleQueuedRun, slurmJobOf } from '../core/slurm/slurmRun';
import { intOption, UsageError } from './cliOptions';
import { createRunFromConfig, openRunToContinue, RUN_TARGET_OPTIONS } from './runTarget';

export const SUBMIT_USAGE = `immiscible submit --config FILE [--runs DIR] [--name NAME] [--set key=value ...] [--sbatch=OPTION ...] [--resubmit N [--resubmit-warning SECONDS]] [--node PATH]
  immiscible submit --resume RUN_DIR [--sbatch=OPTION ...] [--resubmit N [--resubmit-warning SECONDS]] [--node PATH]`;

/** Seconds before the time limit that the trainer is warned, by default: room to end a step and write a checkpoint. */
export const DEFAULT_RESUBMIT_WARNING_S = 120;
/** Slurm's own bound on --signal's time. */
const MAX_WARNING_S = 65535;

/** `--resubmit N` and `--resubmit-warning S`, or the run's own setting when resubmitting without them. */
function resubmitOption(values: { resubmit?: string; 'resubmit-warning'?: string }, recorded: AutoResubmit | null | undefined): AutoResubmit | null {
  const left = intOption(values.resubmit, 'resubmit', 0);
  const warn = intOption(values['resubmit-warning'], 'resubmit-warning', 1);
  if (warn !== undefined && warn > MAX_WARNING_S) throw new UsageError(`--resubmit-warning: expected at most ${MAX_WARNING_S} seconds (Slurm's limit), found ${warn}`);
  if (left === undefined && warn !== undefined && !recorded) throw new UsageError('--resubmit-warning: only with --resubmit N (how many times the run may be resubmitted)');
  const l = left ?? recorded?.left ?? 0;
  if (l === 0 && left === undefined && !recorded) return null;
  return { left: l, warnSeconds: warn ?? recorded?.warnSeconds ?? DEFAULT_RESUBMIT_WARNING_S };
}

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_TARGET_OPTIONS,
      sbatch: { type: 'string', multiple: true, default: [] },
      node: { type: 'string' },
      resubmit: { type: 'string' },
      'resubmit-warning': { type: 'string' },
    },
  });
  const sbatchArgs = values.sbatch ?? [];
  for (const a of sbatchArgs) {
    const problem = sbatchArgProblem(a);
    if (problem) throw new UsageError(`--sbatch: ${problem}`);
  }
  const node = values.node ?? process.execPath;
  if (!path.isAbsolute(node) || !fs.existsSync(node)) throw new UsageError(`--node: expected the absolute path of Node.js, found ${JSON.stringify(node)}`);
  // Checked before a run is made, so a bad flag leaves nothing behind.
  if (!values.resume) {
    const conflict = resubmitProblem(sbatchArgs, resubmitOption(values, null));
    if (conflict) throw new UsageError(conflict);
  }

  const outputProblem = outputDirProblem(path.resolve(values.resume ?? values.runs ?? 'runs'));
  if (outputProblem) throw new UsageError(outputProblem);

  let run: RunWriter;
  let fresh = false;
  if (values.resume) {
    run = await openRunToContinue(path.resolve(values.resume), undefined, 'submit');
  } else {
    if (!values.config) throw new UsageError('submit needs --config FILE or --resume RUN_DIR');
    run = createRunFromConfig(values.config, values.set ?? [], path.resolve(values.runs ?? 'runs'), values.name).run;
    fresh = true;
  }
  const resubmit = resubmitOption(values, slurmJobOf(run.current)?.resubmit);
  const conflict = resubmitProblem(sbatchArgs, resubmit);
  if (conflict) throw new UsageError(conflict);

  // The job runs in this working directory, where the config's relative paths (data.path) were
  // checked; the script is kept, so a resubmission elsewhere still finds them.
  const script = run.path(RUN_FILES.slurmScript);
  if (!fs.existsSync(script)) {
    const text = slurmJobScript({ node, trainer: path.resolve(process.argv[1]), runDir: run.dir, runId: run.current.id, cwd: process.cwd(), electronAsNode: Boolean(process.versions.electron) });
    writeFileAtomic(script, text);
  }
  let jobId: string;
  try {
    jobId = await queueRunJob(run, { sbatchArgs, resubmit });
  } catch (e) {
    // Nothing was trained: a run made for this job would only be a dead entry in the tree.
    if (fresh) fs.rmSync(run.dir, { recursive: true, force: true });
    else settleQueuedRun(run.dir, 'CANCELLED');
    throw e;
  }
  if (process.stdout.isTTY) process.stdout.write(`run ${run.dir}\nqueued as Slurm job ${jobId}; output: ${run.path(slurmOutputName(jobId))}\n`);
  else process.stdout.write(JSON.stringify(makeEvent('submitted', run.current.id, { runDir: run.dir, scheduler: 'slurm', jobId })) + '\n');
  return 0;
}
