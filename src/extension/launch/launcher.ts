/**
 * Starts, stops, resumes and follows trainer processes. Plain Node, no `vscode`.
 *
 * The trainer runs DETACHED and unref'd, so closing or reloading the window does not kill a
 * training run: the run directory (run.json, events.jsonl) is the source of truth, and a new
 * host picks a live run up again with `reattach`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeEvent, parseEvent, type TrainerEvent, type TrainerEventType } from '../../core/protocol/events';
import { RUN_FILES, type RunRecord, type RunStatus } from '../../core/run/format';
import { readRunRecord } from '../../core/run/reader';
import { RunWriter } from '../../core/run/writer';
import { beingTrained, DEFAULT_STALE_MS, heartbeatAgeMs, isPidAlive, isRunBeingTrained } from '../../core/run/liveness';
import { EventsFollower, LineBuffer, fileSize } from './follow';
import { jobMayRun, JobStatePoller, type SlurmJobState } from '../../core/slurm/slurmCommands';
import { jobNotYetSettled, settleQueuedRun, settleStoppedRun, slurmJobOf, stopSlurmRun } from '../../core/slurm/slurmRun';

export type EventOf<T extends TrainerEventType> = Extract<TrainerEvent, { type: T }>;

/** `submit`: `immiscible submit` queues a Slurm job, which the launcher then follows like a reattached run. */
export type JobKind = 'launch' | 'resume' | 'reattach' | 'submit';
export type JobState = 'queued' | 'running' | 'finished';

export interface RunOutcome {
  status: RunStatus;
  step: number | null;
  error: string | null;
  /** The process's exit, when this launcher spawned it. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Removed from the queue by `stop` before it started. */
  cancelled: boolean;
}

export interface RunJob {
  readonly id: number;
  readonly kind: JobKind;
  readonly state: JobState;
  /** Known from the start for resume/reattach; for a launch once the trainer's first event names the run. */
  readonly runDir: string | null;
  readonly runId: string | null;
  readonly pid: number | null;
  /** The Slurm job training the run, once known. */
  readonly slurmJobId: string | null;
  readonly done: Promise<RunOutcome>;
}

export interface LauncherEvents {
  started: (job: RunJob, e: EventOf<'started'>) => void;
  progress: (job: RunJob, e: EventOf<'progress'>) => void;
  sample: (job: RunJob, e: EventOf<'sample'>) => void;
  checkpoint: (job: RunJob, e: EventOf<'checkpoint'>) => void;
  log: (job: RunJob, e: EventOf<'log'>) => void;
  /** Also sent, made up by the launcher, when the trainer ended without sending one (crash, kill, bad config). */
  finished: (job: RunJob, e: EventOf<'finished'>) => void;
  stderr: (job: RunJob, line: string) => void;
  /** queued -> running -> finished. */
  state: (job: RunJob) => void;
  /** A Slurm job was queued for the run (`submit`): the launcher follows it from here. */
  submitted: (job: RunJob, e: EventOf<'submitted'>) => void;
}

export interface LaunchRequest {
  config: string;
  runsDir: string;
  name?: string;
  /** `key=value` overrides, as `--set`. */
  set?: string[];
}

/** sbatch options (`--time=60`), each passed as `--sbatch=OPTION`. */
export interface SlurmRequest {
  sbatchArgs: string[];
  /** `--resubmit N`: new jobs the run may queue itself at its time limits; absent: the run's own setting (none for a new run). */
  resubmits?: number;
  /** Node.js on the compute nodes (`--node`); absent: the one that runs `immiscible submit`. */
  node?: string;
}

const slurmArgs = (r: SlurmRequest): string[] => [
  ...r.sbatchArgs.map((a) => `--sbatch=${a}`),
  ...(r.resubmits !== undefined ? ['--resubmit', String(r.resubmits)] : []),
  ...(r.node ? ['--node', r.node] : []),
];

export interface RunLauncherOptions {
  /** The bundled trainer (dist/trainer.js). */
  trainerJs: string;
  /** Node executable; in VS Code's extension host process.execPath is Electron, run as Node. */
  node?: string;
  nodeArgs?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Trainers running at once (spawned or reattached); more launches wait in a FIFO queue. */
  maxConcurrent?: number;
  /** Heartbeat age past which a `running` run whose process is gone is declared failed. */
  staleMs?: number;
  /** How often a reattached run's process is checked. */
  checkIntervalMs?: number;
  isAlive?: (pid: number) => boolean;
}

const STDERR_KEEP = 20;

interface Job extends RunJob {
  state: JobState;
  runDir: string | null;
  runId: string | null;
  pid: number | null;
  slurmJobId: string | null;
  /** Trains elsewhere (a Slurm job): not counted against the local concurrency limit. */
  remote: boolean;
  /** A squeue query in flight, so checks never overlap. */
  asking: boolean;
  /** squeue's last failure reported, so a machine without Slurm's clients (a synced runs folder) says it once, not every check. */
  slurmError: string | null;
  /** Where a submitted run's new events begin in events.jsonl (a resubmitted run has older ones). */
  eventsOffset: number;
  args: string[];
  runsDir: string | null;
  child: ChildProcess | null;
  follower: EventsFollower | null;
  timer: NodeJS.Timeout | null;
  finishedEvent: EventOf<'finished'> | null;
  /**
   * A followed Slurm run's trainer said `stopped` without a stop of ours: Slurm may have requeued
   * its job (preemption), which resumes the run. Held until squeue tells.
   */
  stoppedBySlurm: EventOf<'finished'> | null;
  /** Stop asked through this launcher: a `stopped` needs no asking Slurm. */
  stopAsked: boolean;
  /** A Slurm run's silent trainer was reported once as still followed while its job runs. */
  silenceNoted: boolean;
  stderrTail: string[];
  gotEvent: boolean;
  stopPending: boolean;
  resolve: (o: RunOutcome) => void;
}

type Listeners = { [K in keyof LauncherEvents]: Set<LauncherEvents[K]> };

export class RunLauncher {
  private readonly node: string;
  private readonly maxConcurrent: number;
  private readonly staleMs: number;
  private readonly checkIntervalMs: number;
  private readonly isAlive: (pid: number) => boolean;
  private readonly queue: Job[] = [];
  private readonly active = new Set<Job>();
  private nextId = 1;
  private disposed = false;
  private keepAlive: NodeJS.Timeout | null = null;
  /** One squeue call for every queued run followed, per check. */
  private readonly slurm: JobStatePoller;
  private readonly listeners: Listeners = {
    started: new Set(),
    progress: new Set(),
    sample: new Set(),
    checkpoint: new Set(),
    log: new Set(),
    finished: new Set(),
    stderr: new Set(),
    state: new Set(),
    submitted: new Set(),
  };

  constructor(private readonly o: RunLauncherOptions) {
    this.node = o.node ?? process.execPath;
    this.maxConcurrent = Math.max(1, o.maxConcurrent ?? 1);
    this.staleMs = o.staleMs ?? DEFAULT_STALE_MS;
    this.checkIntervalMs = o.checkIntervalMs ?? 2000;
    this.isAlive = o.isAlive ?? isPidAlive;
    this.slurm = new JobStatePoller({ env: o.env });
  }

  /** Registers a callback; returns a function that removes it. */
  on<K extends keyof LauncherEvents>(event: K, fn: LauncherEvents[K]): () => void {
    const set = this.listeners[event] as Set<LauncherEvents[K]>;
    set.add(fn);
    return () => set.delete(fn);
  }

  get jobs(): RunJob[] {
    return [...this.active, ...this.queue];
  }

  get queued(): RunJob[] {
    return [...this.queue];
  }

  /** Starts a new run (or queues it behind the concurrency limit). */
  launch(r: LaunchRequest): RunJob {
    const args = ['train', '--config', r.config, '--runs', r.runsDir];
    if (r.name !== undefined) args.push('--name', r.name);
    for (const s of r.set ?? []) args.push('--set', s);
    return this.enqueue(this.newJob('launch', args, null, path.resolve(r.runsDir)));
  }

  /**
   * Submits a new run as a Slurm job (`immiscible submit`), then follows it: `queued` until the
   * job starts, then the trainer's events from events.jsonl, until it finishes or its job ends.
   * Not held behind the local concurrency limit: it trains on the cluster.
   */
  submit(r: LaunchRequest & SlurmRequest): RunJob {
    const args = ['submit', '--config', r.config, '--runs', r.runsDir];
    if (r.name !== undefined) args.push('--name', r.name);
    for (const s of r.set ?? []) args.push('--set', s);
    args.push(...slurmArgs(r));
    const job = this.newJob('submit', args, null, path.resolve(r.runsDir));
    job.remote = true;
    return this.enqueue(job);
  }

  /** Resubmits a stopped (or failed) run as a Slurm job, which continues it from its latest checkpoint. */
  submitResume(runDir: string, r: SlurmRequest): RunJob {
    const dir = path.resolve(runDir);
    const existing = this.jobFor(dir);
    if (existing) return existing;
    const record = this.continuable(dir, 'resubmit', '');
    const job = this.newJob('submit', ['submit', '--resume', dir, ...slurmArgs(r)], dir, null);
    job.runId = record.id;
    job.remote = true;
    job.eventsOffset = fileSize(path.join(dir, RUN_FILES.events));
    return this.enqueue(job);
  }

  /** Continues a stopped (or dead) run from its latest checkpoint. */
  resume(runDir: string): RunJob {
    const dir = path.resolve(runDir);
    const existing = this.jobFor(dir);
    if (existing) return existing;
    const record = this.continuable(dir, 'resume', ' (or reattach to it)');
    const job = this.newJob('resume', ['train', '--resume', dir], dir, null);
    job.runId = record.id;
    return this.enqueue(job);
  }

  /** The record of a run that may be continued (readable, not completed, no trainer on it), or why not. */
  private continuable(dir: string, verb: string, beingTrainedHint: string): RunRecord {
    const s = readRunRecord(dir);
    if (!s.record) throw new Error(`cannot ${verb}: ${s.recordError}`);
    if (s.record.status === 'completed') throw new Error(`${dir}: run already completed`);
    if (isRunBeingTrained(s.record, { isAlive: this.isAlive })) throw new Error(`${beingTrained(dir, s.record)}${beingTrainedHint}`);
    return s.record;
  }

  /**
   * Sends SIGTERM to the run's trainer: it finishes the step, writes a checkpoint and marks the
   * run `stopped`. A queued job is just removed. Returns whether anything was stopped.
   */
  stop(target: string | RunJob): boolean {
    const job = typeof target === 'string' ? this.jobFor(path.resolve(target)) : this.queue.find((j) => j === target) ?? [...this.active].find((j) => j === target);
    // `submit` still running: the job is not known yet; stopped as soon as it is.
    if (job?.kind === 'submit' && !job.slurmJobId && job.state !== 'finished') {
      job.stopPending = true;
      return true;
    }
    if (this.stopSlurm(job, typeof target === 'string' ? path.resolve(target) : target.runDir)) return true;
    if (job?.state === 'queued') {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.finish(job, { status: 'stopped', step: null, error: null, exitCode: null, signal: null, cancelled: true });
      return true;
    }
    if (job?.child && job.child.exitCode === null && job.child.signalCode === null) {
      // Until its first event the trainer may not have installed its SIGTERM handler yet, and
      // the signal would kill it without a checkpoint: send it on that event instead. Asking
      // twice sends it at once (a trainer stuck before its first event).
      if (!job.gotEvent && !job.stopPending) {
        job.stopPending = true;
        return true;
      }
      return job.child.kill('SIGTERM');
    }
    // Not ours (another window, a terminal) or reattached: signal the pid run.json names.
    const dir = job?.runDir ?? (typeof target === 'string' ? path.resolve(target) : target.runDir);
    if (!dir) return false;
    const r = readRunRecord(dir).record;
    if (!r || r.status !== 'running' || r.pid === null || !this.isAlive(r.pid)) return false;
    try {
      process.kill(r.pid, 'SIGTERM');
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A run whose Slurm job may still train it: the job leaves the queue (the run becomes
   * `stopped`) or its trainer gets SIGTERM through scancel. Answers at once; what Slurm says
   * arrives through the job's checks, an error through `stderr`.
   */
  private stopSlurm(job: Job | undefined, dir: string | null): boolean {
    if (!dir) return false;
    const r = readRunRecord(dir).record;
    if (!slurmJobOf(r) || (r?.status !== 'queued' && r?.status !== 'running')) return false;
    if (job) job.stopAsked = true;
    stopSlurmRun(dir, { env: this.o.env }).then(
      () => {
        if (job) this.checkReattached(job);
      },
      (e: Error) => {
        if (job) this.emit('stderr', job, e.message);
        else process.emitWarning(e.message);
      },
    );
    return true;
  }

  /**
   * Follows a run some other process started (another launcher, a window since closed, a
   * terminal): tails its events.jsonl and reports the same callbacks until `finished`. A run
   * whose trainer is gone and whose heartbeat is stale is marked `failed`, never left `running`.
   */
  reattach(runDir: string): RunJob {
    return this.reattachRun(runDir, false);
  }

  /**
   * After a reload: the stopped Slurm runs among `dirs` whose jobs Slurm requeued while no window
   * followed them (preemption, `scontrol requeue`) are queued again and followed; one whose job
   * is still ending, or has started again before its trainer says so, is followed until Slurm
   * tells which. One squeue call for them all; rejects when Slurm cannot be asked.
   */
  async reattachRequeued(dirs: readonly string[]): Promise<RunJob[]> {
    const jobs = await Promise.all(
      dirs.map(async (d): Promise<RunJob | null> => {
        const dir = path.resolve(d);
        const r = readRunRecord(dir).record;
        const slurmJob = slurmJobOf(r);
        if (r?.status !== 'stopped' || !slurmJob || this.jobFor(dir)) return null;
        const state = await this.slurm.state(slurmJob.jobId);
        if (this.disposed || this.jobFor(dir)) return null;
        if (settleStoppedRun(dir, state)?.status === 'queued') return this.reattachRun(dir, false);
        return jobNotYetSettled(state) ? this.reattachRun(dir, true) : null;
      }),
    );
    return jobs.filter((j): j is RunJob => j !== null);
  }

  /** `stoppedBySlurm`: a `stopped` run is followed too, its stop held until Slurm says whether it requeued the job. */
  private reattachRun(runDir: string, stoppedBySlurm: boolean): RunJob {
    const dir = path.resolve(runDir);
    const existing = this.jobFor(dir);
    if (existing) return existing;
    // Take the offset before reading run.json: a run that finishes in between then still
    // delivers its `finished` event, which lies after the offset.
    const offset = fileSize(path.join(dir, RUN_FILES.events));
    const s = readRunRecord(dir);
    if (!s.record) throw new Error(`cannot reattach: ${s.recordError}`);
    const job = this.newJob('reattach', [], dir, null);
    job.runId = s.record.id;
    job.pid = s.record.pid;
    job.slurmJobId = slurmJobOf(s.record)?.jobId ?? null;
    job.remote = job.slurmJobId !== null;
    const heldStop = stoppedBySlurm && s.record.status === 'stopped' && job.slurmJobId !== null;
    const followed = s.record.status === 'running' || (s.record.status === 'queued' && job.slurmJobId !== null) || heldStop;
    if (heldStop) job.stoppedBySlurm = makeEvent('finished', s.record.id, { status: 'stopped', step: s.record.step, error: null }) as EventOf<'finished'>;
    if (!followed) {
      job.state = 'finished';
      job.resolve({ status: s.record.status, step: s.record.step, error: s.record.error?.message ?? null, exitCode: null, signal: null, cancelled: false });
      return job;
    }
    job.state = 'running';
    this.active.add(job);
    this.emit('state', job);
    this.follow(job, dir, offset);
    return job;
  }

  /** Tails the run's events from `offset` and checks its trainer (or Slurm job) every period. */
  private follow(job: Job, dir: string, offset: number): void {
    job.follower = new EventsFollower(dir, { offset, onEvent: (e) => this.onEvent(job, e), pollMs: Math.min(1000, this.checkIntervalMs) });
    job.timer = setInterval(() => this.checkReattached(job), this.checkIntervalMs);
    this.holdLoop();
    // Checked at once too: a run found dead and stale is settled without waiting a period.
    queueMicrotask(() => this.checkReattached(job));
  }

  /**
   * Stops following and reading; the trainers keep running (they are detached) and can be
   * reattached. Our ends of their pipes are closed, so a trainer never blocks on a full pipe.
   */
  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    for (const job of this.active) {
      job.follower?.close();
      if (job.timer) clearInterval(job.timer);
      job.child?.stdout?.destroy();
      job.child?.stderr?.destroy();
    }
    this.active.clear();
    this.holdLoop();
    for (const set of Object.values(this.listeners)) set.clear();
  }

  private jobFor(dir: string): Job | undefined {
    return [...this.active, ...this.queue].find((j) => j.runDir === dir);
  }

  private newJob(kind: JobKind, args: string[], runDir: string | null, runsDir: string | null): Job {
    let resolve: (o: RunOutcome) => void = () => {};
    const done = new Promise<RunOutcome>((r) => (resolve = r));
    return {
      id: this.nextId++,
      kind,
      state: 'queued',
      runDir,
      runId: null,
      pid: null,
      slurmJobId: null,
      remote: false,
      asking: false,
      silenceNoted: false,
      slurmError: null,
      eventsOffset: 0,
      done,
      args,
      runsDir,
      child: null,
      follower: null,
      timer: null,
      finishedEvent: null,
      stoppedBySlurm: null,
      stopAsked: false,
      stderrTail: [],
      gotEvent: false,
      stopPending: false,
      resolve,
    };
  }

  private enqueue(job: Job): Job {
    if (this.disposed) throw new Error('RunLauncher is disposed');
    this.queue.push(job);
    this.emit('state', job);
    this.pump();
    return job;
  }

  private pump(): void {
    for (const job of this.queue.filter((j) => j.remote)) {
      this.queue.splice(this.queue.indexOf(job), 1);
      this.spawnJob(job);
    }
    const local = (): number => [...this.active].filter((j) => !j.remote).length;
    while (!this.disposed && local() < this.maxConcurrent && this.queue.length) {
      const job = this.queue.shift() as Job;
      this.spawnJob(job);
    }
  }

  private spawnJob(job: Job): void {
    const env = { ...(this.o.env ?? process.env) };
    // Electron (VS Code's extension host) runs as plain Node only when told to.
    if (process.versions.electron && this.node === process.execPath) env.ELECTRON_RUN_AS_NODE = '1';
    let child: ChildProcess;
    try {
      child = spawn(this.node, [...(this.o.nodeArgs ?? []), this.o.trainerJs, ...job.args], {
        cwd: this.o.cwd,
        env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (e) {
      this.failWithoutRun(job, `cannot start the trainer: ${(e as Error).message}`, null, null);
      return;
    }
    // Detached and unref'd: the trainer outlives this host, which may go away at any time.
    child.unref();
    job.child = child;
    job.pid = child.pid ?? null;
    job.state = 'running';
    this.active.add(job);
    this.holdLoop();
    this.emit('state', job);

    const out = new LineBuffer();
    const err = new LineBuffer();
    const onOut = (lines: string[]): void => {
      for (const line of lines) {
        // Anything else on stdout (a stray console.log in a dependency) is not ours: ignored.
        const e = parseEvent(line);
        if (e) this.onEvent(job, e);
      }
    };
    const onErr = (lines: string[]): void => {
      for (const line of lines) {
        job.stderrTail.push(line);
        if (job.stderrTail.length > STDERR_KEEP) job.stderrTail.shift();
        this.emit('stderr', job, line);
      }
    };
    child.stdout?.on('data', (d: Buffer) => onOut(out.push(d)));
    child.stderr?.on('data', (d: Buffer) => onErr(err.push(d)));
    child.on('error', (e) => {
      // spawn failures (ENOENT for a wrong node path) arrive here, followed by 'close'.
      onErr([`cannot start the trainer: ${e.message}`]);
    });
    child.on('close', (code, signal) => {
      onOut(out.end());
      onErr(err.end());
      this.onChildExit(job, code, signal);
    });
  }

  private onEvent(job: Job, e: TrainerEvent): void {
    if (job.state === 'finished') return;
    if (!job.gotEvent) {
      job.gotEvent = true;
      if (job.stopPending && job.kind !== 'submit') job.child?.kill('SIGTERM');
    }
    if (!job.runId) job.runId = e.runId;
    if (!job.runDir) job.runDir = e.type === 'started' ? path.resolve(e.runDir) : job.runsDir ? path.join(job.runsDir, e.runId) : null;
    switch (e.type) {
      case 'started':
        this.emit('started', job, e);
        break;
      case 'progress':
        this.emit('progress', job, e);
        break;
      case 'sample':
        this.emit('sample', job, e);
        break;
      case 'checkpoint':
        this.emit('checkpoint', job, e);
        break;
      case 'log':
        this.emit('log', job, e);
        break;
      case 'submitted':
        job.slurmJobId = e.jobId;
        job.runDir = path.resolve(e.runDir);
        this.emit('submitted', job, e);
        break;
      case 'finished':
        if (e.status === 'stopped' && job.slurmJobId !== null && !job.child && !job.stopAsked) {
          job.stoppedBySlurm = e;
          this.askSlurm(job);
          break;
        }
        job.finishedEvent = e;
        this.emit('finished', job, e);
        // A followed run is done here; a spawned one when its process has exited.
        if (job.kind === 'reattach' || (job.kind === 'submit' && !job.child)) this.finish(job, { status: e.status, step: e.step, error: e.error, exitCode: null, signal: null, cancelled: false });
        break;
    }
  }

  private onChildExit(job: Job, code: number | null, signal: NodeJS.Signals | null): void {
    // Once disposed, a run belongs to whichever host reattaches to it next, not to us.
    if (this.disposed) return;
    // `submit` has queued the job and ended: from here the run is followed on disk.
    if (job.kind === 'submit' && job.slurmJobId && job.runDir && code === 0) {
      job.child = null;
      job.pid = null;
      this.follow(job, job.runDir, job.eventsOffset);
      if (job.stopPending) this.stopSlurm(job, job.runDir);
      return;
    }
    const f = job.finishedEvent;
    if (f) {
      this.finish(job, { status: f.status, step: f.step, error: f.error, exitCode: code, signal, cancelled: false });
      return;
    }
    // The trainer ended without saying how: killed, crashed hard, or refused its arguments.
    if (job.runDir) {
      const outcome = this.settleDeadRun(job, job.pid, true);
      this.emitFinished(job, outcome.status, outcome.step, outcome.error);
      this.finish(job, { ...outcome, exitCode: code, signal, cancelled: false });
      return;
    }
    const why = job.stderrTail.join('\n').trim() || `trainer exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
    this.failWithoutRun(job, why, code, signal);
  }

  /** No run directory was created (bad config, bad arguments, no Node): the error is all there is. */
  private failWithoutRun(job: Job, error: string, code: number | null, signal: NodeJS.Signals | null): void {
    this.emitFinished(job, 'failed', null, error);
    this.finish(job, { status: 'failed', step: null, error, exitCode: code, signal, cancelled: false });
  }

  private emitFinished(job: Job, status: RunStatus, step: number | null, error: string | null): void {
    const e = makeEvent('finished', job.runId ?? '', { status, step: step ?? 0, error }) as EventOf<'finished'>;
    job.finishedEvent = e;
    this.emit('finished', job, e);
  }

  /**
   * The trainer is known gone: reports what run.json says, after marking a run still `running`
   * as failed. `processKnownGone` (we saw it exit) skips the heartbeat wait.
   */
  private settleDeadRun(job: Job, pid: number | null, processKnownGone: boolean): { status: RunStatus; step: number | null; error: string | null } {
    const dir = job.runDir as string;
    const s = readRunRecord(dir);
    const r = s.record;
    if (!r) return { status: 'failed', step: null, error: s.recordError };
    // Another trainer (a resume from elsewhere) owns the run now: not ours to settle.
    const ours = r.pid === null || pid === null || r.pid === pid;
    if (r.status !== 'running' || !ours) return { status: r.status, step: r.step, error: r.error?.message ?? null };
    if (!processKnownGone && heartbeatAgeMs(r, Date.now()) <= this.staleMs) return { status: 'running', step: r.step, error: null };
    const message = `trainer process ${r.pid ?? pid ?? '?'} ended without finishing`;
    const w = RunWriter.open(dir);
    w.update({ status: 'failed', pid: null, endedAt: new Date().toISOString(), error: { message } });
    return { status: 'failed', step: w.current.step, error: message };
  }

  private checkReattached(job: Job): void {
    if (job.state === 'finished' || this.disposed) return;
    job.follower?.readNew();
    if (job.state !== 'running') return;
    if (job.stoppedBySlurm) {
      this.askSlurm(job);
      return;
    }
    if (job.slurmJobId !== null) {
      const r = readRunRecord(job.runDir as string).record;
      if (r?.status === 'queued') {
        this.askSlurm(job);
        return;
      }
      // Its trainer started: on this host its pid tells, elsewhere its heartbeat; once that is
      // stale, its job does (Slurm may start a trainer lost with its node again: not failed yet).
      if (r?.status === 'running') {
        job.pid = r.host === os.hostname() ? r.pid : null;
        if (!(job.pid !== null && this.isAlive(job.pid)) && heartbeatAgeMs(r, Date.now()) > this.staleMs) {
          this.askSlurm(job);
          return;
        }
      }
    }
    if (job.pid !== null && this.isAlive(job.pid)) return;
    // The process is gone; anything it wrote is read above. Settle from run.json.
    this.finishIfDead(job, false);
  }

  /** Settles a followed run whose trainer is gone (or, unless `processKnownGone`, whose heartbeat is stale) and finishes its job. */
  private finishIfDead(job: Job, processKnownGone: boolean): void {
    const outcome = this.settleDeadRun(job, job.pid, processKnownGone);
    if (outcome.status === 'running') return; // heartbeat still fresh: wait for it to go stale
    // Its trainer handed the run on to its next job between the two reads of run.json (its
    // `submitted` event, read at the next check, names the job): followed on, as a queued run.
    if (outcome.status === 'queued' && job.slurmJobId !== null) return;
    this.emitFinished(job, outcome.status, outcome.step, outcome.error);
    this.finish(job, { ...outcome, exitCode: null, signal: null, cancelled: false });
  }

  /**
   * A queued run's job: once Slurm says it ended without starting the trainer, the run is
   * settled. A run its trainer stopped without a stop of ours: requeued (followed on, as a queued
   * run) or done.
   */
  private askSlurm(job: Job): void {
    if (job.asking) return;
    job.asking = true;
    this.slurm
      .state(job.slurmJobId as string)
      .then((state) => {
        if (job.state === 'finished' || this.disposed) return;
        if (job.stoppedBySlurm) return this.settleStoppedBySlurm(job, state);
        if (readRunRecord(job.runDir as string).record?.status === 'running') return this.settleSilentRun(job, state);
        const r = settleQueuedRun(job.runDir as string, state);
        if (!r || r.status === 'queued' || r.status === 'running') return;
        // The trainer may have started and ended between two checks: its events say so.
        job.follower?.readNew();
        if ((job as RunJob).state === 'finished') return;
        this.emitFinished(job, r.status, r.step, r.error?.message ?? null);
        this.finish(job, { status: r.status, step: r.step, error: r.error?.message ?? null, exitCode: null, signal: null, cancelled: false });
      })
      .then(
        () => {
          job.slurmError = null;
        },
        (e: Error) => {
          // Slurm cannot say whether it requeued the job: the trainer's word stands.
          if (job.stoppedBySlurm) return this.settleStoppedBySlurm(job, null);
          // Nor whether a silent trainer's job still runs: the stale heartbeat decides, as for a local run.
          if (readRunRecord(job.runDir as string).record?.status === 'running') return this.settleSilentRun(job, 'unknown');
          if (job.slurmError === e.message) return;
          job.slurmError = e.message;
          this.emit('stderr', job, `${e.message} (the run stays queued until Slurm can be asked)`);
        },
      )
      .finally(() => {
        job.asking = false;
      });
  }

  /**
   * A `running` Slurm run whose trainer has gone silent (heartbeat stale): followed on while its
   * job may still run (a node lost and the job requeued, a trainer stalled), else settled from
   * run.json like a dead local run. `unknown`: Slurm could not be asked.
   */
  private settleSilentRun(job: Job, state: SlurmJobState | null | 'unknown'): void {
    if (state !== 'unknown' && jobMayRun(state)) {
      if (!job.silenceNoted) {
        job.silenceNoted = true;
        const r = readRunRecord(job.runDir as string).record;
        const age = r ? Math.round(heartbeatAgeMs(r, Date.now()) / 1000) : '?';
        this.emit('log', job, makeEvent('log', job.runId ?? '', { level: 'warn', message: `no heartbeat from the trainer for ${age} s, but Slurm job ${job.slurmJobId} is ${state}: still followed` }) as EventOf<'log'>);
      }
      return;
    }
    job.silenceNoted = false;
    this.finishIfDead(job, state !== 'unknown');
  }

  private settleStoppedBySlurm(job: Job, state: SlurmJobState | null): void {
    const e = job.stoppedBySlurm;
    if (!e || job.state === 'finished' || this.disposed) return;
    const r = settleStoppedRun(job.runDir as string, state);
    if (r?.status === 'stopped' && jobNotYetSettled(state)) return; // asked again at the next check
    job.stoppedBySlurm = null;
    if (r?.status === 'queued' || r?.status === 'running') {
      this.emit('log', job, makeEvent('log', job.runId ?? '', { level: 'info', message: `Slurm requeued job ${job.slurmJobId}: it continues the run from step ${r.step} when it starts again` }) as EventOf<'log'>);
      if (r.status === 'queued') this.emit('submitted', job, makeEvent('submitted', job.runId ?? '', { runDir: job.runDir as string, scheduler: 'slurm', jobId: job.slurmJobId as string }) as EventOf<'submitted'>);
      return;
    }
    job.finishedEvent = e;
    this.emit('finished', job, e);
    this.finish(job, { status: e.status, step: e.step, error: e.error, exitCode: null, signal: null, cancelled: false });
  }

  private finish(job: Job, outcome: RunOutcome): void {
    if (job.state === 'finished' && !this.active.has(job)) return;
    job.state = 'finished';
    job.follower?.close();
    job.follower = null;
    if (job.timer) clearInterval(job.timer);
    job.timer = null;
    this.active.delete(job);
    this.emit('state', job);
    job.resolve(outcome);
    this.pump();
    this.holdLoop();
  }

  /**
   * The child is unref'd so a host can exit while trainers run on; but then nothing keeps the
   * event loop alive to see a child's exit, and `done` would never settle in a host that has
   * nothing else to do. So the launcher holds the loop while it has active jobs, until dispose.
   */
  private holdLoop(): void {
    const want = !this.disposed && this.active.size > 0;
    if (want && !this.keepAlive) this.keepAlive = setInterval(() => {}, 1 << 30);
    if (!want && this.keepAlive) {
      clearInterval(this.keepAlive);
      this.keepAlive = null;
    }
  }

  private emit<K extends keyof LauncherEvents>(event: K, ...args: Parameters<LauncherEvents[K]>): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (...a: Parameters<LauncherEvents[K]>) => void)(...args);
      } catch (e) {
        // A faulty listener must not break event delivery to the others or the launcher's state.
        process.emitWarning(`RunLauncher ${event} listener threw: ${(e as Error).message}`);
      }
    }
  }
}
