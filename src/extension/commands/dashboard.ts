/** Open Dashboard and Compare Selected Runs. */
import * as vscode from 'vscode';
import { DashboardPanel } from '../dashboard/panel';
import type { ExtensionState } from '../state';
import type { TreeNode } from '../tree/runsTreeProvider';

export function openDashboard(state: ExtensionState, arg?: TreeNode): void {
  const run = state.tree.runOf(arg);
  if (run) DashboardPanel.show(state, 'run', [run.id]);
  else DashboardPanel.show(state);
}

/** The runs selected in the tree (two or more), or the ones the user picks. */
export async function compareRuns(state: ExtensionState, arg?: TreeNode, selected?: TreeNode[]): Promise<void> {
  const fromTree = (selected && selected.length ? selected : arg ? [arg] : []).map((n) => state.tree.runOf(n)).filter((r) => r !== undefined);
  let ids = [...new Set(fromTree.map((r) => r.id))];
  if (ids.length < 2) {
    const runs = state.model.runs;
    if (runs.length < 2) {
      void vscode.window.showInformationMessage('Compare Selected Runs needs at least two runs.');
      return;
    }
    const picks = await vscode.window.showQuickPick(
      runs.map((r) => ({ label: r.label, description: `${r.status} · ${r.description}`, detail: r.id, picked: ids.includes(r.id), id: r.id })),
      { title: 'Compare Runs: pick two or more', canPickMany: true },
    );
    if (!picks) return;
    ids = picks.map((p) => p.id);
    if (ids.length < 2) {
      void vscode.window.showWarningMessage('Compare Selected Runs: pick at least two runs.');
      return;
    }
  }
  DashboardPanel.show(state, 'compare', ids);
}
