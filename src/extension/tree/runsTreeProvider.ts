/**
 * Adapts the plain runs model (src/extension/runs) to VS Code's tree view.
 *
 * Tree elements are small, long-lived handles (one per group, run and child), looked up in the
 * model when drawn. A refresh then fires only the runs that changed: a whole-tree refresh makes
 * VS Code drop every item handle until it re-fetches, and a click in that gap (a training run
 * refreshes several times a second) would reach the command without its item.
 */
import * as vscode from 'vscode';
import type { GroupNode, RefreshResult, RunChildNode, RunNode, RunsTreeModel } from '../runs';

export type GroupElement = { readonly kind: 'group'; readonly group: string };
export type RunElement = { readonly kind: 'run'; readonly dir: string };
export type ChildElement = { readonly kind: 'child'; readonly dir: string; readonly child: RunChildNode['kind'] };
export type TreeNode = GroupElement | RunElement | ChildElement;

const STATUS_ICON: Record<RunNode['status'], [string, string | undefined]> = {
  created: ['circle-outline', undefined],
  queued: ['clock', 'charts.purple'],
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
  jobOutput: 'server-environment',
};

export class RunsTreeProvider implements vscode.TreeDataProvider<TreeNode> {
  private readonly changed = new vscode.EventEmitter<TreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly refreshed = new vscode.EventEmitter<{ result: RefreshResult; dirs: readonly string[] | null }>();
  /**
   * After every refresh, with what changed and the dirs it was asked to look at (null: all). The
   * dashboard follows the runs it shows by these dirs: an appended eval.jsonl or a new grid does
   * not change a tree node, but it is in `dirs`.
   */
  readonly onDidRefresh = this.refreshed.event;
  private readonly groupEls = new Map<string, GroupElement>();
  private readonly runEls = new Map<string, RunElement>();
  private readonly childEls = new Map<string, ChildElement>();
  private layout = '';

  constructor(private readonly model: RunsTreeModel) {}

  /** Refreshes the model (only `changedDirs` when given) and redraws only what changed. */
  refresh(changedDirs?: string[]): void {
    const r = this.model.refresh(changedDirs);
    this.refreshed.fire({ result: r, dirs: changedDirs ?? null });
    const layout = this.model.groups.map((g) => `${g.group}\0${g.runs.map((x) => x.dir).join('\0')}`).join('\n');
    if (layout !== this.layout) {
      this.layout = layout;
      for (const dir of r.removed) this.runEls.delete(dir);
      this.changed.fire(undefined);
      return;
    }
    for (const node of r.changed) this.changed.fire(this.runElement(node.dir));
  }

  /** The run a tree element stands for, if it still exists. */
  runOf(el: TreeNode | undefined): RunNode | undefined {
    return el && el.kind !== 'group' ? this.model.getRun(el.dir) : undefined;
  }

  private groupElement(group: string): GroupElement {
    let e = this.groupEls.get(group);
    if (!e) this.groupEls.set(group, (e = { kind: 'group', group }));
    return e;
  }

  private runElement(dir: string): RunElement {
    let e = this.runEls.get(dir);
    if (!e) this.runEls.set(dir, (e = { kind: 'run', dir }));
    return e;
  }

  private childElement(dir: string, child: RunChildNode['kind']): ChildElement {
    const key = `${dir}\0${child}`;
    let e = this.childEls.get(key);
    if (!e) this.childEls.set(key, (e = { kind: 'child', dir, child }));
    return e;
  }

  getParent(el: TreeNode): TreeNode | undefined {
    if (el.kind === 'group') return undefined;
    if (el.kind === 'child') return this.runElement(el.dir);
    const groups = this.model.groups;
    if (groups.length === 1 && groups[0].group === '') return undefined;
    const run = this.model.getRun(el.dir);
    return run ? this.groupElement(groups.find((g) => g.runs.some((r) => r.dir === run.dir))?.group ?? '') : undefined;
  }

  getChildren(el?: TreeNode): TreeNode[] {
    if (!el) {
      const groups = this.model.groups;
      // A single unnamed group shows its runs at the top level.
      if (groups.length === 1 && groups[0].group === '') return groups[0].runs.map((r) => this.runElement(r.dir));
      return groups.map((g) => this.groupElement(g.group));
    }
    if (el.kind === 'group') return (this.findGroup(el.group)?.runs ?? []).map((r) => this.runElement(r.dir));
    if (el.kind === 'run') return (this.model.getRun(el.dir)?.children ?? []).map((c) => this.childElement(el.dir, c.kind));
    return [];
  }

  private findGroup(group: string): GroupNode | undefined {
    return this.model.groups.find((g) => g.group === group);
  }

  getTreeItem(el: TreeNode): vscode.TreeItem {
    if (el.kind === 'group') {
      const g = this.findGroup(el.group);
      const n = g?.runs.length ?? 0;
      const item = new vscode.TreeItem(g?.label ?? el.group, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${n} run${n === 1 ? '' : 's'}`;
      item.iconPath = new vscode.ThemeIcon('folder-library');
      item.contextValue = 'group';
      item.id = `group:${el.group}`;
      return item;
    }
    const run = this.model.getRun(el.dir);
    if (!run) return new vscode.TreeItem('(removed)');
    if (el.kind === 'run') {
      const item = new vscode.TreeItem(run.label, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `run:${run.dir}`;
      item.description = run.description;
      item.tooltip = new vscode.MarkdownString(['```text', run.tooltip, ...(run.error ? ['', run.error] : []), '```'].join('\n'));
      const [icon, color] = STATUS_ICON[run.status];
      item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
      item.contextValue = `run.${run.status}`;
      item.resourceUri = vscode.Uri.file(run.dir);
      return item;
    }
    const node = run.children.find((c) => c.kind === el.child);
    if (!node) return new vscode.TreeItem('(removed)');
    const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
    item.id = `child:${run.dir}:${node.kind}`;
    item.description = node.description;
    item.iconPath = new vscode.ThemeIcon(CHILD_ICON[node.kind]);
    item.contextValue = `child.${node.kind}`;
    item.resourceUri = vscode.Uri.file(node.path);
    if (node.kind === 'checkpoints') item.command = { command: 'revealFileInOS', title: 'Reveal', arguments: [vscode.Uri.file(node.path)] };
    else {
      const target = node.kind === 'samples' ? node.latest?.file : node.path;
      if (target) item.command = { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(target)] };
    }
    return item;
  }
}
