/**
 * The batch script `immiscible submit` writes into a run directory: it resumes that run (a
 * `queued` run starts from step 0), so a job that is requeued or resubmitted continues from the
 * latest checkpoint instead of starting over.
 */

export interface JobScriptInput {
  /** Node.js on the compute nodes (the submitting one's by default: clusters share software trees). */
  node: string;
  /** The trainer's entry point (dist/trainer.js or bin/immiscible.js). */
  trainer: string;
  runDir: string;
  runId: string;
  /** Where the config's relative paths (data.path) were checked: the job runs there. */
  cwd: string;
  /** Set when the submitter is VS Code's Electron run as Node, which needs it to stay Node. */
  electronAsNode: boolean;
}

/** Quotes one word for bash, so paths with spaces or quotes reach the command unchanged. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function slurmJobScript(i: JobScriptInput): string {
  const q = shellQuote;
  return [
    '#!/bin/bash',
    `# Written by \`immiscible submit\` for run ${i.runId}. It resumes the run from its latest`,
    '# checkpoint, so a requeued or resubmitted job continues instead of starting over.',
    '# exec: the trainer itself receives scancel\'s SIGTERM (bash would hold it until its child',
    '# exits), finishes its step, writes a checkpoint and marks the run stopped.',
    '# Slurm\'s early time-limit warning (SIGUSR1, --resubmit) would end bash before the exec; the',
    '# trainer, which hands the run on at it, sets its own handling.',
    "trap '' USR1",
    ...(i.electronAsNode ? ['export ELECTRON_RUN_AS_NODE=1'] : []),
    `cd ${q(i.cwd)} || { echo "immiscible: cannot enter ${i.cwd.replace(/["$`\\]/g, '\\$&')}, where the run was submitted from" >&2; exit 1; }`,
    `exec ${q(i.node)} ${q(i.trainer)} train --resume ${q(i.runDir)}`,
    '',
  ].join('\n');
}

/**
 * sbatch options the submitter sets itself, so a user's copy would silently lose: the job's
 * output file (beside the run, where the extension shows it), its name and `--parsable`.
 */
const RESERVED = ['--output', '-o', '--job-name', '-J', '--parsable', '--wrap'];

/** Why sbatch options cannot go with automatic resubmission (it sets --signal itself), or null. */
export function resubmitProblem(sbatchArgs: readonly string[], resubmit: { left: number } | null): string | null {
  if (!resubmit || resubmit.left < 1) return null;
  const own = sbatchArgs.find((a) => a.startsWith('--signal'));
  return own ? `--sbatch: ${own.split('=')[0]} is set by --resubmit (SIGUSR1 --resubmit-warning seconds before the time limit); drop one of them` : null;
}

/** Why a user's sbatch argument cannot be used, or null. */
export function sbatchArgProblem(arg: string): string | null {
  if (!arg.startsWith('-')) return `expected an sbatch option starting with "-", found ${JSON.stringify(arg)} (write --time=10, not --time 10)`;
  // A short option carries its value glued on (-ox.out) or after '='.
  const name = arg.startsWith('--') ? arg.split('=')[0] : arg.slice(0, 2);
  if (RESERVED.includes(name)) return `${name} is set by immiscible submit (the output goes beside the run as slurm-<job>.out)`;
  return null;
}
