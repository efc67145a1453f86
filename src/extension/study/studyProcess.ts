/**
 * Starts `immiscible study` as its own detached process (it survives a window reload, like a
 * trainer) and follows its study events on stdout. Plain Node, no `vscode`, no TensorFlow.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseStudyEvent, type StudyEvent } from '../../core/protocol/studyEvents';
import { LineBuffer } from '../launch/follow';

export interface StudyRequest {
  config: string;
  modes: string[];
  seeds: number;
  steps?: number;
  runsDir: string;
  outDir: string;
  name?: string;
  /** Default: the config's evaluation metric (fd_lenet). */
  metric?: string;
  set?: string[];
  /** Every run a Slurm job, all queued at once. */
  slurm?: { sbatchArgs: string[]; resubmits?: number; node?: string };
}

export interface StudyProcessOptions {
  /** The bundled CLI (dist/trainer.js). */
  trainerJs: string;
  node?: string;
  cwd: string;
  env?: NodeJS.ProcessEnv;
}

export interface StudyOutcome {
  status: 'completed' | 'stopped' | 'failed';
  report: string | null;
  error: string | null;
  exitCode: number | null;
}

export function studyArgs(r: StudyRequest): string[] {
  const args = ['study', '--config', r.config, '--modes', r.modes.join(','), '--seeds', String(r.seeds), '--runs', r.runsDir, '--out', r.outDir];
  if (r.steps !== undefined) args.push('--steps', String(r.steps));
  if (r.name) args.push('--name', r.name);
  if (r.metric) args.push('--metric', r.metric);
  for (const s of r.set ?? []) args.push('--set', s);
  if (r.slurm) args.push('--slurm', ...r.slurm.sbatchArgs.map((a) => `--sbatch=${a}`));
  if (r.slurm?.resubmits) args.push('--resubmit', String(r.slurm.resubmits));
  if (r.slurm?.node) args.push('--node', r.slurm.node);
  return args;
}

/** One line for a progress notification: "run 2 of 6 (linear, seed 1): step 120/400". */
export function progressMessage(e: StudyEvent): string | null {
  switch (e.type) {
    case 'run-started':
      return `run ${e.index + 1} of ${e.total} (${e.mode}, seed ${e.seed}): ${e.resumed ? 'resumed' : 'started'}`;
    case 'run-progress':
      return `run ${e.index + 1} of ${e.total} (${e.mode}, seed ${e.seed}): step ${e.step}/${e.totalSteps}`;
    case 'run-finished':
      return `run ${e.index + 1} of ${e.total} (${e.mode}, seed ${e.seed}): ${e.status}`;
    case 'study-log':
      return e.message;
    default:
      return null;
  }
}

export class StudyProcess {
  private readonly child: ChildProcess;
  private finished: Extract<StudyEvent, { type: 'study-finished' }> | null = null;
  private readonly stderrTail: string[] = [];
  readonly done: Promise<StudyOutcome>;

  /** `r`: what to run, or the CLI's arguments after `study` (study.json's `argv`: the same study again). */
  constructor(o: StudyProcessOptions, r: StudyRequest | { argv: string[] }, onEvent: (e: StudyEvent) => void) {
    const node = o.node ?? process.execPath;
    const env = { ...(o.env ?? process.env) };
    if (process.versions.electron && node === process.execPath) env.ELECTRON_RUN_AS_NODE = '1';
    const args = 'argv' in r ? ['study', ...r.argv] : studyArgs(r);
    this.child = spawn(node, [o.trainerJs, ...args], { cwd: o.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    // Detached and unref'd: the study outlives this host.
    this.child.unref();
    // The unref'd child does not hold the event loop; this timer does while the study runs.
    const keepAlive = setInterval(() => undefined, 60_000);
    const out = new LineBuffer();
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      for (const line of out.push(chunk)) {
        const e = parseStudyEvent(line);
        if (!e) continue;
        if (e.type === 'study-finished') this.finished = e;
        onEvent(e);
      }
    });
    const err = new LineBuffer();
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderrTail.push(...err.push(chunk));
      this.stderrTail.splice(0, Math.max(0, this.stderrTail.length - 20));
    });
    this.done = new Promise((resolve) => {
      this.child.on('error', (e) => {
        clearInterval(keepAlive);
        resolve({ status: 'failed', report: null, error: `cannot start the study: ${e.message}`, exitCode: null });
      });
      this.child.on('close', (code) => {
        clearInterval(keepAlive);
        const f = this.finished;
        if (f && f.status !== 'running') resolve({ status: f.status, report: f.report, error: f.error, exitCode: code });
        else resolve({ status: 'failed', report: null, error: this.stderrTail.join('\n') || `the study exited with code ${code}`, exitCode: code });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Asks the study to stop: it stops the current run at a checkpoint; the same command resumes it. */
  stop(): void {
    this.child.kill('SIGINT');
  }
}
