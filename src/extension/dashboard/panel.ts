/**
 * The dashboard webview panel: one panel, reused, restored after a reload by its serializer.
 * Strict Content-Security-Policy: scripts only with this page's nonce, no eval, no inline
 * styles; resources only from the extension's dist/ and media/ and from the runs folder.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { writeFileAtomic } from '../../core/run/fsAtomic';
import { checkWebviewMessage, type DashboardView, type HostMessage, type WebviewMessage } from '../../core/webview/messages';
import type { ExtensionState } from '../state';
import { DashboardRunList } from './runList';
import { runsMetricsCsv } from './csvExport';
import { RunSeriesFollower } from './seriesFollower';

export const DASHBOARD_VIEW_TYPE = 'immiscible.dashboard';

export class DashboardPanel implements vscode.Disposable {
  private static current: DashboardPanel | null = null;
  private readonly followers = new Map<string, RunSeriesFollower>();
  private readonly runList = new DashboardRunList();
  private readonly disposables: vscode.Disposable[] = [];
  private ready = false;
  private disposed = false;
  private pendingShow: HostMessage | null = null;
  private runsTimer: NodeJS.Timeout | null = null;
  private readonly log: vscode.OutputChannel;

  /** Opens (or reveals) the dashboard, showing `runIds` in `view` when given. */
  static show(state: ExtensionState, view?: DashboardView, runIds?: string[]): DashboardPanel {
    let p = DashboardPanel.current;
    if (!p) {
      const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'Immiscible Dashboard', vscode.ViewColumn.Active, DashboardPanel.options(state));
      p = new DashboardPanel(panel, state);
    } else {
      p.panel.reveal();
    }
    if (view && runIds) p.send({ type: 'show', v: 1, view, runIds });
    return p;
  }

  static revive(panel: vscode.WebviewPanel, state: ExtensionState): DashboardPanel {
    panel.webview.options = DashboardPanel.options(state);
    return new DashboardPanel(panel, state);
  }

  static options(state: ExtensionState): vscode.WebviewOptions & vscode.WebviewPanelOptions {
    return {
      enableScripts: true,
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.file(path.join(state.extensionPath, 'dist')), vscode.Uri.file(path.join(state.extensionPath, 'media')), vscode.Uri.file(state.runsDir)],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly state: ExtensionState,
  ) {
    DashboardPanel.current?.dispose();
    DashboardPanel.current = this;
    this.log = state.channel('dashboard', 'Dashboard');
    panel.webview.html = this.html();
    panel.iconPath = vscode.Uri.file(path.join(state.extensionPath, 'media', 'icon.svg'));
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)),
      state.tree.onDidRefresh(({ result, dirs }) => {
        for (const dir of result.removed) this.runList.forget(dir);
        this.onRunsChanged(dirs);
      }),
      // A hidden webview is destroyed (retainContextWhenHidden is off, to save memory); when shown
      // again it reloads, says `ready`, and asks for its runs afresh.
      panel.onDidChangeViewState(() => {
        if (!panel.visible) this.ready = false;
      }),
    );
  }

  private html(): string {
    const w = this.panel.webview;
    const nonce = crypto.randomBytes(16).toString('base64');
    const asset = (f: string): string => w.asWebviewUri(vscode.Uri.file(path.join(this.state.extensionPath, 'dist', f))).toString();
    const csp = [`default-src 'none'`, `img-src ${w.cspSource} data:`, `style-src ${w.cspSource}`, `font-src ${w.cspSource}`, `script-src 'nonce-${nonce}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('webview-style.css')}">
<title>Immiscible Dashboard</title>
</head>
<body>
<div id="app"></div>
<script nonce="${nonce}" src="${asset('webview.js')}"></script>
</body>
</html>`;
  }

  private send(m: HostMessage): void {
    if (!this.ready && m.type === 'show') {
      this.pendingShow = m;
      return;
    }
    if (!this.ready) return;
    void this.panel.webview.postMessage(m);
  }

  private receive(raw: unknown): void {
    const r = checkWebviewMessage(raw);
    if (!r.ok) {
      this.log.appendLine(`[error] rejected a message from the dashboard page: ${r.problem}`);
      return;
    }
    void this.handle(r.message);
  }

  private async handle(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready':
        this.ready = true;
        this.followers.clear();
        this.sendRuns();
        if (this.pendingShow) this.send(this.pendingShow);
        this.pendingShow = null;
        return;
      case 'watch':
        this.watch(m.runIds);
        return;
      case 'exportCsv':
        return this.exportCsv(m.runIds);
      case 'exportPng':
        return this.exportPng(m.name, m.dataUrl);
      case 'openRun': {
        const run = this.state.model.getRun(m.runId);
        if (run) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(run.dir));
        return;
      }
      case 'log':
        this.log.appendLine(`[${m.level}] ${m.message}`);
        return;
    }
  }

  private sendRuns(): void {
    this.send({ type: 'runs', v: 1, runs: this.runList.toMessage(this.state.model.runs) });
  }

  /** Follows exactly these runs; a newly followed run gets its whole series. */
  private watch(runIds: string[]): void {
    const want = new Set(runIds);
    for (const id of this.followers.keys()) if (!want.has(id)) this.followers.delete(id);
    for (const id of runIds) {
      if (this.followers.has(id)) continue;
      const run = this.state.model.getRun(id);
      if (!run) continue;
      const f = new RunSeriesFollower(id, run.dir, (file) => this.panel.webview.asWebviewUri(vscode.Uri.file(file)).toString());
      this.followers.set(id, f);
      this.pushSeries(f);
    }
  }

  private pushSeries(f: RunSeriesFollower): void {
    try {
      const r = f.read();
      if (r.changed) this.send({ type: 'series', v: 1, append: r.append, series: r.series });
    } catch (e) {
      this.log.appendLine(`[error] ${f.dir}: ${(e as Error).message}`);
    }
  }

  private onRunsChanged(dirs: readonly string[] | null): void {
    if (!this.ready) return;
    const touched = dirs ? new Set(dirs.map((d) => path.resolve(this.state.runsDir, d))) : null;
    for (const f of this.followers.values()) if (!touched || touched.has(path.resolve(f.dir))) this.pushSeries(f);
    // The run list (status, step) at most twice a second: with hundreds of runs it is the bigger message.
    if (!this.runsTimer)
      this.runsTimer = setTimeout(() => {
        this.runsTimer = null;
        this.sendRuns();
      }, 500);
  }

  private async exportCsv(runIds: string[]): Promise<void> {
    const runs = runIds.flatMap((id) => {
      const run = this.state.model.getRun(id);
      return run ? [{ id, name: run.label, dir: run.dir }] : [];
    });
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.state.root, 'immiscible-metrics.csv')),
      filters: { CSV: ['csv'] },
      title: 'Save metrics as CSV',
    });
    if (!target) return;
    writeFileAtomic(target.fsPath, runsMetricsCsv(runs));
    this.send({ type: 'exported', v: 1, file: target.fsPath });
    void vscode.window.showInformationMessage(`Metrics of ${runs.length} runs saved to ${target.fsPath}`);
  }

  private async exportPng(name: string, dataUrl: string): Promise<void> {
    const target = await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.file(path.join(this.state.root, `${name}.png`)),
      filters: { PNG: ['png'] },
      title: 'Save chart as PNG',
    });
    if (!target) return;
    const bytes = Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64');
    fs.mkdirSync(path.dirname(target.fsPath), { recursive: true });
    writeFileAtomic(target.fsPath, bytes);
    this.send({ type: 'exported', v: 1, file: target.fsPath });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (DashboardPanel.current === this) DashboardPanel.current = null;
    if (this.runsTimer) clearTimeout(this.runsTimer);
    for (const d of this.disposables) d.dispose();
    this.panel.dispose();
  }
}
