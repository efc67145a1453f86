/** Commands on one run: stop, resume, delete, open its folder, show its output. */
import * as vscode from 'vscode';
import type { RunNode } from '../runs';
import type { ExtensionState } from '../state';
import type { TreeNode } from '../tree/runsTreeProvider';

/** The run a command applies to: the clicked item, or one the user picks. */
export async function runArg(state: ExtensionState, arg: TreeNode | undefined, filter: (r: RunNode) => boolean, title: string): Promise<RunNode | null> {
  const clicked = state.tree.runOf(arg);
  if (clicked) return clicked;
  const runs = state.model.runs.filter(filter);
  if (!runs.length) {
    void vscode.window.showInformationMessage(`${title}: no run to apply it to.`);
    return null;
  }
  const pick = await vscode.window.showQuickPick(
    runs.map((r) => ({ label: r.label, description: `${r.status} · ${r.description}`, detail: r.id, run: r })),
    { title },
  );
  return pick?.run ?? null;
}

export async function stopRun(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, (r) => r.status === 'running' || r.status === 'queued', 'Stop Run');
  if (!run) return;
  const job = run.record?.scheduler?.kind === 'slurm' ? run.record.scheduler.jobId : null;
  if (!state.launcher.stop(run.dir)) void vscode.window.showWarningMessage(`${run.label}: no live trainer process to stop.`);
  else if (job && run.status === 'queued') state.channel(run.id, run.label).appendLine(`stop requested: Slurm job ${job} leaves the queue`);
  else state.channel(run.id, run.label).appendLine(`stop requested (SIGTERM${job ? ` through scancel, Slurm job ${job}` : ''}): the trainer finishes its step and writes a checkpoint`);
}

export async function resumeRun(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, (r) => r.status === 'stopped' || r.status === 'dead' || r.status === 'failed', 'Resume Run');
  if (!run) return;
  try {
    state.resume(run.dir);
  } catch (e) {
    void vscode.window.showErrorMessage((e as Error).message);
  }
}

export async function deleteRun(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, () => true, 'Delete Run');
  if (!run) return;
  if (run.status === 'running' || run.status === 'queued') {
    void vscode.window.showWarningMessage(`${run.label} is ${run.status === 'queued' ? 'queued on Slurm' : 'training'}: stop it first.`);
    return;
  }
  const ok = await vscode.window.showWarningMessage(`Move run "${run.label}" (${run.id}) to the trash?`, { modal: true }, 'Move to Trash');
  if (ok !== 'Move to Trash') return;
  await vscode.workspace.fs.delete(vscode.Uri.file(run.dir), { recursive: true, useTrash: true });
  state.tree.refresh();
}

export async function openRunFolder(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, () => true, 'Open Run Folder');
  if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.dir));
}

export async function showRunOutput(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, () => true, 'Show Run Output');
  if (run) state.channel(run.id, run.label).show(true);
}
