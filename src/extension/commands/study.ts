/**
 * Launch Study: pick a config, the modes (none always included), seeds and steps; run
 * `immiscible study` detached in the workspace with its progress in a notification, and open
 * report.md when it is done. The runs appear in the Runs tree under the study's name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DashboardPanel } from '../dashboard/panel';
import type { ExtensionState } from '../state';
import type { StudyEvent } from '../../core/protocol/studyEvents';
import { findRunningStudies, StudyFollower } from '../study/studyFollower';
import { StudyProgress } from '../study/studyProgress';
import { progressMessage, StudyProcess, type StudyOutcome, type StudyProcessOptions, type StudyRequest } from '../study/studyProcess';
import { pickConfig } from './configPicker';
import { askInteger, askMany, askOne } from './prompts';
import { askSbatchArgs } from './launch';

const MODES = [
  { label: 'none', description: 'the baseline: plain diffusion, always included', picked: true },
  { label: 'linear', description: 'exact linear sum assignment over the batch', picked: true },
  { label: 'knn', description: 'nearest of k fresh noise draws per image', picked: false },
];

const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'study';
const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);

export async function launchStudy(state: ExtensionState): Promise<void> {
  const s = state.settings();
  const picked = await pickConfig(state.extensionPath, s.defaultConfig, 'Launch Study');
  if (!picked) return;
  const { config, file } = picked;
  const chosen = await askMany(MODES, 'Modes to compare with the baseline (none is always run)');
  if (!chosen) return;
  const modes = ['none', ...chosen.map((m) => m.label).filter((m) => m !== 'none')];
  if (modes.length < 2) {
    void vscode.window.showWarningMessage('A study compares none with linear or knn: pick at least one of them.');
    return;
  }
  const seeds = await askInteger('Seeds (each seed is one paired run per mode)', 3, 1);
  if (seeds === undefined) return;
  const steps = await askInteger('Training steps per run', config.training.steps, 1);
  if (steps === undefined) return;
  const slurm = await askWhere(state);
  if (slurm === undefined) return;
  const name = slug(config.name || path.basename(file).replace(/(\.immiscible)?\.json$/, ''));
  const request: StudyRequest = {
    config: file,
    modes,
    seeds,
    steps,
    runsDir: state.runsDir,
    outDir: path.join(state.root, 'studies', `${stamp(new Date())}-${name}`),
    name,
    metric: config.data.source === 'toy2d' ? 'loss' : undefined,
    set: s.backend === 'auto' ? [] : [`backend=${s.backend}`],
    ...(slurm ? { slurm } : {}),
  };
  runStudy(state, request);
}

/** Where the runs train: here one after another, or (where sbatch is on PATH) all at once as Slurm jobs. Null: here. */
async function askWhere(state: ExtensionState): Promise<{ sbatchArgs: string[]; resubmits: number; node?: string } | null | undefined> {
  if (!onPath('sbatch')) return null;
  const where = await askOne(
    [
      { label: 'This machine', description: 'one run after another' },
      { label: 'Slurm', description: 'every run a job, all queued at once' },
    ],
    { title: 'Where the study\'s runs train' },
  );
  if (!where) return undefined;
  if (where.label === 'This machine') return null;
  const sbatchArgs = await askSbatchArgs(state);
  if (!sbatchArgs) return undefined;
  const s = state.settings();
  return { sbatchArgs, resubmits: s.slurmResubmits, ...(s.slurmNode ? { node: s.slurmNode } : {}) };
}

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && fs.existsSync(path.join(d, cmd)));
}

/** Starts (or resumes: the same request) a study and follows it in a notification. */
export function runStudy(state: ExtensionState, request: StudyRequest): void {
  followStudy(state, request.name ?? path.basename(request.outDir), request.outDir, (onEvent) => new StudyProcess(cliOptions(state, state.root), request, onEvent), () => runStudy(state, request));
}

/** How the extension starts the bundled CLI for a study, in `cwd`. */
function cliOptions(state: ExtensionState, cwd: string): StudyProcessOptions {
  return { trainerJs: path.join(state.extensionPath, 'dist', 'trainer.js'), node: state.settings().nodeExecutable || undefined, cwd };
}

/**
 * Studies still running from before a window reload (study.json names a live pid): followed in a
 * notification again, from their events file, with the same ending (report and comparison).
 */
export function reattachStudies(state: ExtensionState): void {
  for (const study of findRunningStudies(path.join(state.root, 'studies'))) {
    const { outDir, record, pid } = study;
    const resume = (): void => followStudy(state, record.name, outDir, (onEvent) => new StudyProcess(cliOptions(state, record.cwd), { argv: record.argv }, onEvent), resume);
    followStudy(state, record.name, outDir, (onEvent) => new StudyFollower(outDir, pid, onEvent), resume);
  }
}

interface FollowedStudy {
  readonly done: Promise<StudyOutcome>;
  readonly pid?: number;
  stop(): void;
}

/** A study's progress notification, its output channel, and what follows its end. */
function followStudy(state: ExtensionState, name: string, outDir: string, start: (onEvent: (e: StudyEvent) => void) => FollowedStudy, resume: () => void): void {
  const channel = state.channel(`study:${outDir}`, `study ${path.basename(outDir)}`);
  // Until the notification exists, the latest message waits: a follower replays a study's events at once.
  let waiting: [string, number] | null = null;
  let report: (m: string, fraction: number) => void = (m, fraction) => (waiting = [m, fraction]);
  const progress = new StudyProgress();
  const proc = start((e) => {
    const msg = progressMessage(e);
    if (e.type === 'run-started') state.tree.refresh([e.runDir]);
    if (e.type !== 'run-progress' && msg) channel.appendLine(msg);
    const shown = progress.update(e);
    if (shown) report(shown.message, shown.fraction);
  });
  channel.appendLine(`study ${outDir} (pid ${proc.pid ?? '?'})`);
  void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Study ${name}`, cancellable: true }, (bar, token) => {
    token.onCancellationRequested(() => proc.stop());
    let last = 0;
    report = (message, fraction) => {
      const pct = 100 * fraction;
      bar.report({ message, increment: Math.max(0, pct - last) });
      last = Math.max(last, pct);
    };
    if (waiting) report(...waiting);
    return proc.done;
  });
  void proc.done.then(async (o) => {
    channel.appendLine(`study ${o.status}${o.error ? `: ${o.error}` : ''}`);
    if (o.status === 'completed' && o.report) {
      // The study as one view: its runs compared in the dashboard, its report beside it.
      state.tree.refresh();
      const runIds = state.model.runs.filter((r) => r.group === name).map((r) => r.id);
      if (runIds.length >= 2) DashboardPanel.show(state, 'compare', runIds);
      const uri = vscode.Uri.file(path.isAbsolute(o.report) ? o.report : path.join(state.root, o.report));
      await vscode.commands.executeCommand('markdown.showPreviewToSide', uri).then(undefined, () => vscode.window.showTextDocument(uri, { viewColumn: vscode.ViewColumn.Beside }));
    } else if (o.status === 'stopped') {
      const again = await vscode.window.showInformationMessage(`Study stopped; its completed runs are kept (${outDir}).`, 'Resume Study');
      if (again) resume();
    } else void vscode.window.showErrorMessage(`Study failed: ${o.error ?? 'see its output'}`);
  });
}
