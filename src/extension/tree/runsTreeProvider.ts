/** Adapts the plain runs model (src/extension/runs) to VS Code's tree view. */
import * as vscode from 'vscode';
import type { GroupNode, RunChildNode, RunNode, RunsTreeModel } from '../runs';

export type TreeNode = GroupNode | RunNode | (RunChildNode & { run: RunNode });

const STATUS_ICON: Record<RunNode['status'], [string, string | undefined]> = {
  created: ['circle-outline', undefined],
  running: ['sync~spin', 'charts.blue'],
  stopped: ['debug-pause', 'charts.yellow'],
  completed: ['pass', 'charts.green'],
  failed: ['error', 'charts.red'],
  broken: ['warning', 'charts.red'],
  dead: ['debug-disconnect', 'charts.orange'],
};

const CHILD_ICON: Record<RunChildNode['kind'], string> = {
  config: 'settings-gear',
  metrics: 'graph-line',
  samples: 'file-media',
  checkpoints: 'save-all',
  log: 'output',
};

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: RunsTreeModel) {}

  /** Refreshes the model (only `changedDirs` when given) and the view. */
  refresh(changedDirs?: string[]): void {
    const r = this.model.refresh(changedDirs);
    if (r.added.length || r.removed.length || r.changed.length) this.changed.fire(undefined);
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      const groups = this.model.groups;
      // A single unnamed group shows its runs at the top level.
      if (groups.length === 1 && groups[0].group === '') return groups[0].runs;
      return [...groups];
    }
    if (node.kind === 'group') return node.runs;
    if (node.kind === 'run') return node.children.map((c) => ({ ...c, run: node }));
    return [];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${node.runs.length} run${node.runs.length === 1 ? '' : 's'}`;
      item.iconPath = new vscode.ThemeIcon('folder-library');
      item.contextValue = 'group';
      item.id = `group:${node.group}`;
      return item;
    }
    if (node.kind === 'run') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `run:${node.dir}`;
      item.description = node.description;
      item.tooltip = new vscode.MarkdownString(['```text', node.tooltip, ...(node.error ? ['', node.error] : []), '```'].join('\n'));
      const [icon, color] = STATUS_ICON[node.status];
      item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
      item.contextValue = `run.${node.status}`;
      item.resourceUri = vscode.Uri.file(node.dir);
      return item;
    }
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.description = node.description;
    item.iconPath = new vscode.ThemeIcon(CHILD_ICON[node.kind]);
    item.contextValue = `child.${node.kind}`;
    item.resourceUri = vscode.Uri.file(node.path);
    const target =
      node.kind === 'samples' && node.latest ? node.latest.file : node.kind === 'checkpoints' ? null : node.path;
    if (target) item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(target)] };
    else if (node.kind === 'checkpoints') item.command = { command: 'revealFileInOS', title: 'Reveal', arguments: [vscode.Uri.file(node.path)] };
    return item;
  }
}
