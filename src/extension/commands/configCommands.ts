/** Toggle Immiscible Assignment, Restore Config from Run, Show Config Diff, Select Compute Backend. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { AssignmentMode } from '../../core/config/types';
import { RUN_FILES } from '../../core/run/format';
import { readRunConfigFromRef } from '../git/configTracker';
import type { RunNode } from '../runs';
import type { ExtensionState } from '../state';
import type { TreeNode } from '../tree/runsTreeProvider';
import { toggleAssignment } from '../config/toggleAssignment';
import { runArg } from './runActions';
import { findConfigs } from './configPicker';

const LAST_MODE_KEY = 'immiscible.lastAssignmentMode';

export async function toggleAssignmentCommand(state: ExtensionState, context: vscode.ExtensionContext): Promise<void> {
  let doc = vscode.window.activeTextEditor?.document;
  if (!doc || !/\.json$/.test(doc.uri.fsPath)) {
    const items = (await findConfigs(state.extensionPath)).filter((i) => i.description !== 'built-in preset');
    const pick = await vscode.window.showQuickPick(items, { title: 'Toggle Immiscible Assignment: which config?' });
    if (!pick) return;
    doc = await vscode.workspace.openTextDocument(pick.file);
    await vscode.window.showTextDocument(doc);
  }
  const last = context.workspaceState.get<AssignmentMode>(LAST_MODE_KEY, 'linear');
  let r;
  try {
    r = toggleAssignment(doc.getText(), doc.uri.fsPath, last);
  } catch (e) {
    void vscode.window.showErrorMessage((e as Error).message);
    return;
  }
  if (r.previous !== 'none') await context.workspaceState.update(LAST_MODE_KEY, r.previous);
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), r.text);
  await vscode.workspace.applyEdit(edit);
  await doc.save();
  state.status.showConfigMode(doc);
  void vscode.window.setStatusBarMessage(`Immiscible assignment: ${r.previous} → ${r.mode}`, 4000);
}

/** The run's config: from its git ref when tracked, else its config.json. */
export async function runConfigText(state: ExtensionState, run: RunNode): Promise<string> {
  try {
    return await readRunConfigFromRef(state.root, run.id);
  } catch {
    return fs.readFileSync(path.join(run.dir, RUN_FILES.config), 'utf8');
  }
}

export async function restoreConfig(state: ExtensionState, arg?: TreeNode): Promise<void> {
  const run = await runArg(state, arg, (r) => r.status !== 'broken', 'Restore Config from Run');
  if (!run) return;
  const target = await vscode.window.showSaveDialog({
    title: `Restore the config of ${run.label}`,
    defaultUri: vscode.Uri.file(path.join(state.root, `${run.label}.immiscible.json`)),
    filters: { 'Immiscible config': ['json'] },
  });
  if (!target) return;
  const text = await runConfigText(state, run);
  await vscode.workspace.fs.writeFile(target, Buffer.from(text));
  await vscode.window.showTextDocument(target);
}

/** Serves run configs to the diff editor: immiscible-config:/<run id>.json?<run dir>. */
export class RunConfigProvider implements vscode.TextDocumentContentProvider {
  static readonly scheme = 'immiscible-config';
  constructor(private readonly state: ExtensionState) {}
  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const run = this.state.model.getRun(decodeURIComponent(uri.query));
    if (!run) throw new Error(`no run ${uri.query}`);
    return runConfigText(this.state, run);
  }
}

export async function showConfigDiff(state: ExtensionState, arg?: TreeNode, selected?: TreeNode[]): Promise<void> {
  // Entries can be undefined while the view re-fetches its items.
  const chosen = (selected ?? []).filter((n) => n?.kind === 'run').map((n) => state.tree.runOf(n)).filter((r): r is RunNode => r !== undefined);
  let a: RunNode | null = chosen[0] ?? state.tree.runOf(arg) ?? null;
  let b: RunNode | null = chosen[1] ?? null;
  if (!a) a = await runArg(state, undefined, (r) => r.status !== 'broken', 'Show Config Diff: first run');
  if (!a) return;
  const first = a;
  if (!b) b = await runArg(state, undefined, (r) => r.status !== 'broken' && r.dir !== first.dir, `Show Config Diff: compare ${first.label} with`);
  if (!b) return;
  const uri = (r: RunNode): vscode.Uri => vscode.Uri.from({ scheme: RunConfigProvider.scheme, path: `/${r.id}.json`, query: encodeURIComponent(r.dir) });
  await vscode.commands.executeCommand('vscode.diff', uri(first), uri(b), `${first.label} ↔ ${b.label} (config)`);
}

export async function selectBackend(): Promise<void> {
  const items: { label: string; description: string }[] = [
    { label: 'auto', description: 'the fastest available; the run records which and why' },
    { label: 'tensorflow', description: 'native TensorFlow (@tensorflow/tfjs-node-gpu or -node: "Install Native TensorFlow Backend")' },
    { label: 'webgpu', description: 'GPU through WebGPU (Dawn over Vulkan); requested by name, a software adapter too (slow)' },
    { label: 'wasm', description: 'WebAssembly with XNNPACK, on the CPU (default here)' },
    { label: 'cpu', description: 'plain JavaScript (very slow for convolutions)' },
  ];
  const current = vscode.workspace.getConfiguration('immiscible').get<string>('backend', 'auto');
  const pick = await vscode.window.showQuickPick(
    items.map((i) => ({ ...i, detail: i.label === current ? 'current' : undefined })),
    { title: 'Compute backend for new runs' },
  );
  if (pick) await vscode.workspace.getConfiguration('immiscible').update('backend', pick.label, vscode.ConfigurationTarget.Workspace);
}
