/** Activation: the Runs view, the launcher and the commands of Immiscible Lab. */
import * as vscode from 'vscode';
import { launchPaired, launchRun, launchRunOnSlurm } from './commands/launch';
import { launchStudy, reattachStudies } from './commands/study';
import { deleteRun, openRunFolder, resumeRun, showRunOutput, stopRun } from './commands/runActions';
import { RunConfigProvider, restoreConfig, selectBackend, showConfigDiff, toggleAssignmentCommand } from './commands/configCommands';
import { compareRuns, openDashboard } from './commands/dashboard';
import { installNativeTensorflow, nativeTfDir } from './commands/nativeTf';
import { NATIVE_TF_DIR_ENV } from './nativeTf';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboard/panel';
import { createState, type ExtensionState } from './state';
import type { TreeNode } from './tree/runsTreeProvider';

let state: ExtensionState | null = null;

export function activate(context: vscode.ExtensionContext): void {
  // Trainers (spawned with this host's environment) look for native TensorFlow installed by
  // "Install Native TensorFlow Backend" there.
  process.env[NATIVE_TF_DIR_ENV] = nativeTfDir(context);
  state = createState(context);
  const needsFolder = (): ExtensionState | null => {
    if (!state) void vscode.window.showWarningMessage('Immiscible Lab needs an open folder: runs are written inside the workspace.');
    return state;
  };
  const register = (id: string, fn: (s: ExtensionState, ...args: TreeNode[]) => unknown): void => {
    context.subscriptions.push(
      vscode.commands.registerCommand(id, (...args: TreeNode[]) => {
        const s = needsFolder();
        return s ? fn(s, ...args) : undefined;
      }),
    );
  };
  if (state) {
    const s = state;
    context.subscriptions.push(s);
    const view = vscode.window.createTreeView('immiscible.runs', { treeDataProvider: s.tree, canSelectMany: true, showCollapseAll: true });
    context.subscriptions.push(view);
    context.subscriptions.push(vscode.workspace.registerTextDocumentContentProvider(RunConfigProvider.scheme, new RunConfigProvider(s)));
    context.subscriptions.push(vscode.window.onDidChangeActiveTextEditor((e) => s.status.showConfigMode(e?.document)));
    context.subscriptions.push(vscode.workspace.onDidSaveTextDocument((d) => d === vscode.window.activeTextEditor?.document && s.status.showConfigMode(d)));
    s.status.showConfigMode(vscode.window.activeTextEditor?.document);
    // A study outlives a window reload; its notification comes back with the new window.
    reattachStudies(s);
  }
  register('immiscible.launchRun', (s) => launchRun(s));
  register('immiscible.launchRunOnSlurm', (s) => launchRunOnSlurm(s));
  register('immiscible.launchPaired', (s) => launchPaired(s));
  register('immiscible.launchStudy', (s) => launchStudy(s));
  register('immiscible.stopRun', (s, n) => stopRun(s, n));
  register('immiscible.resumeRun', (s, n) => resumeRun(s, n));
  register('immiscible.deleteRun', (s, n) => deleteRun(s, n));
  register('immiscible.openRunFolder', (s, n) => openRunFolder(s, n));
  register('immiscible.showRunOutput', (s, n) => showRunOutput(s, n));
  register('immiscible.toggleAssignment', (s) => toggleAssignmentCommand(s, context));
  register('immiscible.restoreConfig', (s, n) => restoreConfig(s, n));
  context.subscriptions.push(
    vscode.commands.registerCommand('immiscible.showConfigDiff', (n?: TreeNode, selected?: TreeNode[]) => {
      const s = needsFolder();
      return s ? showConfigDiff(s, n, selected) : undefined;
    }),
  );
  register('immiscible.refreshRuns', (s) => s.tree.refresh());
  register('immiscible.openDashboard', (s, n) => openDashboard(s, n));
  context.subscriptions.push(
    vscode.commands.registerCommand('immiscible.compareRuns', (n?: TreeNode, selected?: TreeNode[]) => {
      const s = needsFolder();
      return s ? compareRuns(s, n, selected) : undefined;
    }),
    // A dashboard open before a reload comes back with its runs (the page keeps them in its state).
    vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel) => {
        if (state) DashboardPanel.revive(panel, state);
        else panel.dispose();
      },
    }),
  );
  context.subscriptions.push(vscode.commands.registerCommand('immiscible.selectBackend', () => selectBackend()));
  context.subscriptions.push(vscode.commands.registerCommand('immiscible.installNativeTensorflow', () => installNativeTensorflow(context)));
}

export function deactivate(): void {
  // Trainers are detached: they keep training and the next window reattaches to them.
  state = null;
}
