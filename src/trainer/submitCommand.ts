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
import { RUN_FILES, slurmOutputName } from '../core/run/format';
import { writeFileAtomic } from '../core/run/fsAtomic';
import { RunWriter } from '../core/run/writer';
import { sbatchArgProblem, slurmJobScript } from '../core/slurm/jobScript';
import { releaseJob, sbatch, scancel } from '../core/slurm/slurmCommands';
import { settleQueuedRun } from '../core/slurm/slurmRun';
import { UsageError } from './cliOptions';
import { createRunFromConfig, openRunToContinue, RUN_TARGET_OPTIONS } from './runTarget';

export const SUBMIT_USAGE = `immiscible submit --config FILE [--runs DIR] [--name NAME] [--set key=value ...] [--sbatch=OPTION ...] [--node PATH]
  immiscible submit --resume RUN_DIR [--sbatch=OPTION ...] [--node PATH]`;

export async function submitCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...RUN_TARGET_OPTIONS,
      sbatch: { type: 'string', multiple: true, default: [] },
      node: { type: 'string' },
    },
  });
  const sbatchArgs = values.sbatch ?? [];
  for (const a of sbatchArgs) {
    const problem = sbatchArgProblem(a);
    if (problem) throw new UsageError(`--sbatch: ${problem}`);
  }
  const node = values.node ?? process.execPath;
  if (!path.isAbsolute(node) || !fs.existsSync(node)) throw new UsageError(`--node: expected the absolute path of Node.js, found ${JSON.stringify(node)}`);

  let run: RunWriter;
  let fresh = false;
  if (values.resume) {
    run = await openRunToContinue(path.resolve(values.resume), undefined, 'submit');
  } else {
    if (!values.config) throw new UsageError('submit needs --config FILE or --resume RUN_DIR');
    run = createRunFromConfig(values.config, values.set ?? [], path.resolve(values.runs ?? 'runs'), values.name).run;
    fresh = true;
  }

  // The job runs in this working directory, where the config's relative paths (data.path) were
  // checked; the script is kept, so a resubmission elsewhere still finds them.
  const script = run.path(RUN_FILES.slurmScript);
  if (!fs.existsSync(script)) {
    const text = slurmJobScript({ node, trainer: path.resolve(process.argv[1]), runDir: run.dir, runId: run.current.id, cwd: process.cwd(), electronAsNode: Boolean(process.versions.electron) });
    writeFileAtomic(script, text);
  }
  const jobArgs = [`--job-name=immiscible-${run.current.name}`.slice(0, 120), `--output=${run.path(slurmOutputName('%j'))}`, ...sbatchArgs];
  // Held until run.json names the job: a job that started at once would otherwise race this
  // write (its trainer marking the run running, then this marking it queued again).
  let jobId: string;
  try {
    jobId = await sbatch(script, ['--hold', ...jobArgs]);
  } catch (e) {
    // Nothing was trained: a run made for this job would only be a dead entry in the tree.
    if (fresh) fs.rmSync(run.dir, { recursive: true, force: true });
    throw e;
  }
  try {
    run.update({
      status: 'queued',
      pid: null,
      error: null,
      endedAt: null,
      scheduler: { kind: 'slurm', jobId, submittedAt: new Date().toISOString(), script: RUN_FILES.slurmScript, sbatchArgs },
    });
    run.log(`[info] queued as Slurm job ${jobId}${sbatchArgs.length ? ` (${sbatchArgs.join(' ')})` : ''}; its output: ${slurmOutputName(jobId)}`);
    await releaseJob(jobId);
  } catch (e) {
    await scancel(jobId, false).catch(() => undefined);
    if (fresh) fs.rmSync(run.dir, { recursive: true, force: true });
    else settleQueuedRun(run.dir, 'CANCELLED');
    throw e;
  }
  if (process.stdout.isTTY) process.stdout.write(`run ${run.dir}\nqueued as Slurm job ${jobId}; output: ${run.path(slurmOutputName(jobId))}\n`);
  else process.stdout.write(JSON.stringify(makeEvent('submitted', run.current.id, { runDir: run.dir, scheduler: 'slurm', jobId })) + '\n');
  return 0;
}
