/**
 * The extension's integration suite: host-side behaviour that needs the `vscode` API, run inside
 * code-server's extension host through its test payload (test/e2e/integration.test.ts starts it).
 * The workspace is the end-to-end one: a git repository with configs/tiny.immiscible.json; the
 * suite adds generated runs under runs/ itself.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { runTests, until, type HostTest } from './runner';

const EXTENSION_ID = 'immiscible-lab.immiscible-lab';

function workspace(): string {
  const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!ws) throw new Error('the suite needs a workspace folder');
  return ws;
}

/** A completed run directory as the trainer leaves it (run.json, config.json, metrics.jsonl). */
function makeRun(id: string, name: string, mode: string): string {
  const dir = path.join(workspace(), 'runs', id);
  fs.mkdirSync(path.join(dir, 'samples'), { recursive: true });
  const config = JSON.parse(fs.readFileSync(path.join(workspace(), 'configs', 'tiny.immiscible.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  config.assignment = { ...config.assignment, mode };
  const now = new Date().toISOString();
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, name, group: 'suite' }, null, 2));
  fs.writeFileSync(
    path.join(dir, 'run.json'),
    JSON.stringify({ formatVersion: 1, id, name, group: 'suite', status: 'completed', createdAt: now, startedAt: now, endedAt: now, updatedAt: now, pid: null, host: 'suite', backend: 'wasm', device: 'cpu', backendReasons: {}, configHash: '0000000000000000', step: 3, totalSteps: 3, error: null }),
  );
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [1, 2, 3].map((s) => JSON.stringify({ step: s, loss: 1 / s, lr: 0.001, gradNorm: 1, assign: { mode, distBefore: 4, distAfter: 3, ms: 1 }, imagesPerSec: 10, wallTime: s, time: now }) + '\n').join(''));
  return dir;
}

const dashboardTabs = (): vscode.Tab[] =>
  vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('immiscible.dashboard'));

async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

const tests: HostTest[] = [
  {
    name: 'the extension activates in a workspace with a config, and registers every command it contributes',
    fn: async () => {
      const ext = vscode.extensions.getExtension(EXTENSION_ID);
      assert.ok(ext, `${EXTENSION_ID} is not loaded`);
      await ext.activate();
      assert.equal(ext.isActive, true);
      const pkg = ext.packageJSON as { contributes: { commands: { command: string }[] }; activationEvents: string[] };
      const registered = new Set(await vscode.commands.getCommands(true));
      const missing = pkg.contributes.commands.map((c) => c.command).filter((c) => !registered.has(c));
      assert.deepEqual(missing, [], 'contributed but not registered');
      assert.ok(!pkg.activationEvents.includes('*'), 'activation must not be "*"');
    },
  },
  {
    name: 'settings: the contributed defaults are what the extension reads',
    fn: async () => {
      const c = vscode.workspace.getConfiguration('immiscible');
      assert.equal(c.get('runsFolder'), 'runs');
      assert.equal(c.get('gitTracking'), 'commit');
      assert.equal(c.get('concurrentRuns'), 1);
    },
  },
  {
    name: 'Toggle Immiscible Assignment edits the open config in place, comments kept, and toggles back',
    fn: async () => {
      const file = path.join(workspace(), 'configs', 'toggle.immiscible.json');
      const original = '// a comment the toggle must keep\n{\n  "assignment": { "mode": "none" }, // trailing\n  "training": { "steps": 5 }\n}\n';
      fs.writeFileSync(file, original);
      const doc = await vscode.workspace.openTextDocument(file);
      await vscode.window.showTextDocument(doc);
      await vscode.commands.executeCommand('immiscible.toggleAssignment');
      const toggled = fs.readFileSync(file, 'utf8');
      assert.match(toggled, /"mode": "linear"/);
      assert.match(toggled, /^\/\/ a comment the toggle must keep$/m);
      assert.match(toggled, /\/\/ trailing/);
      await vscode.commands.executeCommand('immiscible.toggleAssignment');
      assert.equal(fs.readFileSync(file, 'utf8'), original);
      await closeAllEditors();
      fs.rmSync(file);
    },
  },
  {
    name: 'the config schema is applied to *.immiscible.json: a bad field gets a diagnostic',
    fn: async () => {
      const file = path.join(workspace(), 'configs', 'bad.immiscible.json');
      fs.writeFileSync(file, JSON.stringify({ training: { batchSize: 0 }, assignment: { mode: 'hungarian' } }, null, 2));
      const doc = await vscode.workspace.openTextDocument(file);
      await vscode.window.showTextDocument(doc);
      const diags = await until('JSON schema diagnostics', () => {
        const d = vscode.languages.getDiagnostics(doc.uri);
        return d.length >= 2 ? d : null;
      }, 30_000);
      const text = diags.map((d) => `${doc.getText(d.range)}: ${d.message}`).join('\n');
      assert.match(text, /0: .*(minimum|1)/i, text);
      assert.match(text, /hungarian.*: .*(none|linear|knn)/i, text);
      await closeAllEditors();
      fs.rmSync(file);
    },
  },
  {
    name: 'Open Dashboard opens one webview panel, and a second call reuses it',
    fn: async () => {
      await closeAllEditors();
      await vscode.commands.executeCommand('immiscible.openDashboard');
      await until('a dashboard tab', () => dashboardTabs().length === 1);
      await vscode.commands.executeCommand('immiscible.openDashboard');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(dashboardTabs().length, 1, 'the panel is reused');
      await closeAllEditors();
      assert.equal(dashboardTabs().length, 0);
    },
  },
  {
    name: 'Compare Selected Runs with two runs selected opens the dashboard on them',
    fn: async () => {
      const a = makeRun('20261126-000001-suite-a-0001', 'suite-a', 'none');
      const b = makeRun('20261126-000002-suite-b-0002', 'suite-b', 'linear');
      await vscode.commands.executeCommand('immiscible.refreshRuns');
      const nodes = [
        { kind: 'run', dir: a },
        { kind: 'run', dir: b },
      ];
      await vscode.commands.executeCommand('immiscible.compareRuns', nodes[1], nodes);
      await until('a dashboard tab', () => dashboardTabs().length === 1);
      await closeAllEditors();
    },
  },
  {
    name: 'Show Config Diff between two runs opens a diff editor of their configs',
    fn: async () => {
      const a = path.join(workspace(), 'runs', '20261126-000001-suite-a-0001');
      const b = path.join(workspace(), 'runs', '20261126-000002-suite-b-0002');
      const nodes = [
        { kind: 'run', dir: a },
        { kind: 'run', dir: b },
      ];
      await vscode.commands.executeCommand('immiscible.showConfigDiff', nodes[1], nodes);
      const tab = await until('a diff tab', () => vscode.window.tabGroups.activeTabGroup.activeTab?.input instanceof vscode.TabInputTextDiff && vscode.window.tabGroups.activeTabGroup.activeTab);
      assert.match(tab.label, /suite-a/);
      assert.match(tab.label, /suite-b/);
      const input = tab.input as vscode.TabInputTextDiff;
      const [left, right] = await Promise.all([vscode.workspace.openTextDocument(input.original), vscode.workspace.openTextDocument(input.modified)]);
      assert.match(left.getText() + right.getText(), /"mode": "none"[\s\S]*"mode": "linear"|"mode": "linear"[\s\S]*"mode": "none"/);
      await closeAllEditors();
    },
  },
];

if (process.env.IMMISCIBLE_SUITE_CANARY === '1') {
  // Proves a failure reaches CI: the harness runs the suite once with this on and expects exit code 1.
  tests.push({
    name: 'canary: fails on purpose',
    fn: async () => assert.equal(1 + 1, 3, 'the canary fails on purpose'),
  });
}

export function run(): Promise<void> {
  return runTests(tests);
}
