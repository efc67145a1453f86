/**
 * What the extension holds while active: the runs model and its view, the launcher, one output
 * channel per run, progress notifications and git tracking of launched configs.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { RUN_FILES } from '../core/run/format';
import { readRunRecord } from '../core/run/reader';
import { slurmJobOf } from '../core/slurm/slurmRun';
import { writeJsonAtomic } from '../core/run/fsAtomic';
import { trackRunConfig } from './git/configTracker';
import { RunLauncher, type RunJob } from './launch';
import { RunsTreeModel, RunsWatcher } from './runs';
import { readSettings, runsDir, workspaceRoot, type Settings } from './settings';
import { RunsTreeProvider } from './tree/runsTreeProvider';
import { StatusBar } from './statusBar';

/** Where the git record of a run goes: run.json has one writer, the trainer. */
export const GIT_RECORD_FILE = 'git.json';

export interface LaunchOptions {
  config: string;
  name: string;
  set: string[];
}

export class ExtensionState implements vscode.Disposable {
  readonly root: string;
  readonly runsDir: string;
  readonly model: RunsTreeModel;
  readonly tree: RunsTreeProvider;
  readonly launcher: RunLauncher;
  readonly status: StatusBar;
  private readonly watcher: RunsWatcher;
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    readonly extensionPath: string,
    root: string,
  ) {
    this.root = root;
    const s = readSettings();
    this.runsDir = runsDir(s, root);
    fs.mkdirSync(this.runsDir, { recursive: true });
    this.model = new RunsTreeModel(this.runsDir);
    this.tree = new RunsTreeProvider(this.model);
    this.tree.refresh();
    this.watcher = new RunsWatcher(this.runsDir, (dirs) => this.tree.refresh(dirs));
    const node = s.nodeExecutable || process.execPath;
    this.launcher = new RunLauncher({
      trainerJs: path.join(extensionPath, 'dist', 'trainer.js'),
      node,
      cwd: root,
      maxConcurrent: s.concurrentRuns,
    });
    this.status = new StatusBar();
    this.wireLauncher();
    this.reattachLiveRuns();
  }

  settings(): Settings {
    return readSettings();
  }

  channel(runId: string, label?: string): vscode.OutputChannel {
    let c = this.channels.get(runId);
    if (!c) {
      c = vscode.window.createOutputChannel(`Immiscible: ${label ?? runId}`);
      this.channels.set(runId, c);
    }
    return c;
  }

  private wireLauncher(): void {
    const l = this.launcher;
    // Named after the run (its name from run.json) the first time a job's channel is made.
    const chan = (job: RunJob): vscode.OutputChannel | null =>
      job.runId ? this.channel(job.runId, job.runDir ? (this.model.getRun(job.runDir)?.label ?? job.runId) : job.runId) : null;
    l.on('started', (job, e) => {
      this.tree.refresh([e.runDir]);
      chan(job)?.appendLine(`${e.resumed ? 'resumed' : 'started'} on ${e.backend} (${e.device}) at step ${e.step}/${e.totalSteps}: ${e.runDir}`);
    });
    l.on('progress', (job, e) => this.status.progress(job.runId ?? '', e));
    l.on('log', (job, e) => chan(job)?.appendLine(`[${e.level}] ${e.message}`));
    l.on('stderr', (job, line) => chan(job)?.appendLine(line));
    l.on('sample', (job, e) => chan(job)?.appendLine(`sample grid at step ${e.step}: ${e.file}`));
    l.on('checkpoint', (job, e) => chan(job)?.appendLine(`checkpoint at step ${e.step}`));
    l.on('submitted', (job, e) => {
      this.tree.refresh([e.runDir]);
      chan(job)?.appendLine(`queued as Slurm job ${e.jobId}: ${e.runDir} (the job's output: slurm-${e.jobId}.out there)`);
    });
    l.on('finished', (job, e) => {
      chan(job)?.appendLine(`${e.status} at step ${e.step}${e.error ? `: ${e.error}` : ''}`);
      this.status.finished(job.runId ?? '');
      if (job.runDir) this.tree.refresh([job.runDir]);
      if (e.status === 'failed') void vscode.window.showErrorMessage(`Run ${job.runId ?? ''} failed: ${e.error ?? 'see its output'}`);
    });
  }

  /**
   * After a reload: follow runs whose trainer still lives (or whose Slurm job waits, requeued
   * ones included); settle those that died.
   */
  private reattachLiveRuns(): void {
    for (const run of this.model.runs) {
      if (run.record?.status !== 'running' && run.record?.status !== 'queued') continue;
      try {
        this.launcher.reattach(run.dir);
      } catch (e) {
        this.channel(run.id, run.label).appendLine(`cannot reattach: ${(e as Error).message}`);
      }
    }
    const stoppedOnSlurm = this.model.runs.filter((r) => r.record?.status === 'stopped' && r.record.scheduler?.kind === 'slurm').map((r) => r.dir);
    // Where Slurm cannot be asked (runs copied off the cluster), they stay as run.json says.
    if (stoppedOnSlurm.length) this.launcher.reattachRequeued(stoppedOnSlurm).catch(() => undefined);
  }

  /** Starts (or queues) a trainer with progress in a notification; tracks its config in git. */
  launch(o: LaunchOptions): RunJob {
    const job = this.launcher.launch({ config: o.config, runsDir: this.runsDir, name: o.name, set: o.set });
    this.follow(job, `Training ${o.name}`);
    return job;
  }

  /** Submits a run as a Slurm job; followed (queued, then training) like a local one. */
  submit(o: LaunchOptions & { sbatchArgs: string[] }): RunJob {
    const job = this.launcher.submit({ config: o.config, runsDir: this.runsDir, name: o.name, set: o.set, sbatchArgs: o.sbatchArgs, resubmits: this.settings().slurmResubmits || undefined, node: this.settings().slurmNode || undefined });
    this.follow(job, `Slurm: ${o.name}`);
    return job;
  }

  /** A run that a Slurm job trained goes back to Slurm, with the sbatch options it had; others resume here. */
  resume(runDir: string): RunJob {
    const label = this.model.getRun(runDir)?.label ?? path.basename(runDir);
    const slurm = slurmJobOf(readRunRecord(runDir).record);
    // A run that used up its resubmissions gets the setting's again (none set: it keeps its own).
    const job = slurm ? this.launcher.submitResume(runDir, { sbatchArgs: slurm.sbatchArgs, resubmits: this.settings().slurmResubmits || undefined }) : this.launcher.resume(runDir);
    this.follow(job, slurm ? `Slurm: resubmitting ${label}` : `Resuming ${label}`);
    return job;
  }

  private follow(job: RunJob, title: string): void {
    let tracked = false;
    const offStarted = this.launcher.on('started', (j, e) => {
      if (j !== job || tracked || e.resumed) return;
      tracked = true;
      void this.track(e.runId, e.runDir);
    });
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      token.onCancellationRequested(() => this.launcher.stop(job));
      let last = 0;
      const offSubmitted = this.launcher.on('submitted', (j, e) => {
        if (j === job) progress.report({ message: `queued as Slurm job ${e.jobId}` });
      });
      const off = this.launcher.on('progress', (j, e) => {
        if (j !== job) return;
        const pct = (100 * e.step) / Math.max(1, e.totalSteps);
        progress.report({ increment: pct - last, message: `step ${e.step}/${e.totalSteps} · loss ${e.loss.toFixed(4)} · ${e.imagesPerSec.toFixed(1)} img/s` });
        last = pct;
      });
      return job.done.finally(() => {
        off();
        offSubmitted();
        offStarted();
      });
    });
  }

  private async track(runId: string, runDir: string): Promise<void> {
    const mode = this.settings().gitTracking;
    try {
      const configText = fs.readFileSync(path.join(runDir, RUN_FILES.config), 'utf8');
      const r = await trackRunConfig({ workspace: this.root, runId, runDir, configText, mode });
      writeJsonAtomic(path.join(runDir, GIT_RECORD_FILE), r);
      if ('off' in r) this.channel(runId).appendLine(`git: ${r.reason}`);
      else this.channel(runId).appendLine(`git: config committed to ${r.ref} (${r.commit.slice(0, 10)})${r.dirty ? ', uncommitted changes saved in git.patch' : ''}`);
    } catch (e) {
      this.channel(runId).appendLine(`git: tracking failed: ${(e as Error).message}`);
    }
  }

  dispose(): void {
    this.watcher.close();
    this.launcher.dispose();
    this.status.dispose();
    for (const c of this.channels.values()) c.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

export function createState(context: vscode.ExtensionContext): ExtensionState | null {
  const root = workspaceRoot();
  if (!root) return null;
  return new ExtensionState(context.extensionPath, root);
}
