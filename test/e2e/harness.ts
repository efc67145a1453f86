/**
 * End-to-end harness: the packaged extension in a real VS Code (code-server, offline), driven
 * through Chromium with playwright-core.
 *
 * `startHarness()`:
 *   1. finds Node 24, code-server and Chromium with scripts/e2e-setup.sh (cached after the
 *      first install; see test/e2e/README.md);
 *   2. packages the extension (`npm run package`, which builds first) into a temp folder;
 *   3. creates a workspace that is a real git repository with one commit, holding
 *      configs/tiny.immiscible.json (configs/toy2d.json cut to 300 steps);
 *   4. installs the .vsix into a temp extensions folder, starts code-server on 127.0.0.1 (a free
 *      port) in its own session (setsid), with temp user-data, HOME and XDG folders, and waits
 *      for /healthz;
 *   5. launches Chromium on a fresh profile and opens the workspace.
 * `close()` stops Chromium, kills every process group it started and any process still running
 * from the temp folder (a trainer the extension started detached), then deletes the temp folder
 * (kept on failure, or with IMMISCIBLE_E2E_KEEP=1).
 * `saveFailure(name)` saves a screenshot, the extension host log and the extension's output
 * channels into the artifacts folder (.test-tmp/e2e-artifacts, or IMMISCIBLE_E2E_ARTIFACTS).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '../..');
export const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
export const ARTIFACTS = path.resolve(process.env.IMMISCIBLE_E2E_ARTIFACTS ?? path.join(ROOT, '.test-tmp', 'e2e-artifacts'));

/** Everything the harness waits for is bounded; these are the bounds. */
export const TIMEOUTS = {
  setup: 15 * 60_000,
  healthz: 90_000,
  workbench: 120_000,
  ui: 20_000,
  run: 120_000,
};

/** The Immiscible Lab entry in the activity bar. */
export const ACTIVITY_ICON = '.part.activitybar a.action-label[aria-label^="Immiscible Lab"]';

/** User settings of the test window. */
export const USER_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'security.workspace.trust.enabled': false,
  'github.gitAuthentication': false,
  'git.autofetch': false,
  'git.openRepositoryInParentFolders': 'never',
  // Read at startup only (code-server does not apply later writes to this file): the Slurm
  // scenarios check that runs launched on Slurm carry it.
  'immiscible.slurm.resubmits': 1,
};

export interface Tools {
  node: string;
  codeServer: string;
  chromium: string;
}

export interface Harness {
  readonly page: Page;
  readonly context: BrowserContext;
  readonly workspace: string;
  readonly tmp: string;
  readonly userData: string;
  readonly url: string;
  readonly tools: Tools;
  /** Seconds each start-up phase took. */
  readonly timings: Record<string, number>;
  /** Saves docs/screenshots/<name>.png (and returns its path). */
  screenshot(name: string): Promise<string>;
  /** On a failure: screenshot, extension host log and output channels into ARTIFACTS/<name>/. */
  saveFailure(name: string): Promise<string>;
  /** The extension host's log so far (activation errors land there). */
  extensionHostLog(): string;
  /** Marks the session failed: close() then keeps the temp folder. */
  markFailed(): void;
  /** Present when started with `extensionTests`. */
  readonly suite: SuiteRun | null;
  close(): Promise<void>;
}

function log(msg: string): void {
  process.stderr.write(`[e2e] ${msg}\n`);
}

/** Runs scripts/e2e-setup.sh (a no-op check once installed) and reads the paths it prints. */
export function setupTools(): Tools {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'e2e-setup.sh')], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: TIMEOUTS.setup,
  });
  if (r.status !== 0) throw new Error(`scripts/e2e-setup.sh failed (${r.status ?? r.signal}); see its output above`);
  const vars = Object.fromEntries(
    r.stdout
      .split('\n')
      .map((l) => /^(\w+)=(.*)$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const tools = { node: vars.IMMISCIBLE_E2E_NODE, codeServer: vars.IMMISCIBLE_E2E_CODE_SERVER, chromium: vars.IMMISCIBLE_E2E_CHROMIUM };
  for (const [k, v] of Object.entries(tools)) if (!v || !fs.existsSync(v)) throw new Error(`e2e-setup.sh gave no usable ${k}: ${v}`);
  return tools;
}

/** The tiny config of the scenarios: configs/toy2d.json, 300 steps, sample/checkpoint every 100. */
export function tinyConfig(): Record<string, unknown> {
  const c = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs', 'toy2d.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  // Its "$schema" points into the repository; in the workspace the extension's schema applies.
  delete c.$schema;
  c.training = { ...c.training, steps: 300, sampleEvery: 100, checkpointEvery: 100 };
  c.sampling = { ...c.sampling, count: 200 };
  return c;
}

/** `node bin/immiscible.js validate FILE` (the CLI's own check, run on the built CLI). */
export function validateWithCli(file: string): { ok: boolean; output: string } {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'immiscible.js'), 'validate', file], { cwd: ROOT, encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}`.trim() };
}

export function git(cwd: string, args: string[]): string {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C', GIT_OPTIONAL_LOCKS: '0' } });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed in ${cwd}: ${r.stderr}`);
  return r.stdout;
}

export interface GitSnapshot {
  head: string;
  status: string;
  indexSha256: string;
  refs: string;
}

/** What a launch must not change in the workspace repository (and the refs it may add). */
export function gitSnapshot(ws: string): GitSnapshot {
  return {
    head: git(ws, ['rev-parse', 'HEAD']).trim(),
    // --porcelain never refreshes the index with GIT_OPTIONAL_LOCKS=0, so it cannot change it.
    status: git(ws, ['status', '--porcelain', '--untracked-files=all']),
    indexSha256: crypto.createHash('sha256').update(fs.readFileSync(path.join(ws, '.git', 'index'))).digest('hex'),
    refs: git(ws, ['for-each-ref', '--format=%(refname) %(objectname)']),
  };
}

function makeWorkspace(ws: string): void {
  fs.mkdirSync(path.join(ws, 'configs'), { recursive: true });
  const tiny = path.join(ws, 'configs', 'tiny.immiscible.json');
  fs.writeFileSync(tiny, JSON.stringify(tinyConfig(), null, 2) + '\n');
  const v = validateWithCli(tiny);
  if (!v.ok) throw new Error(`the tiny config does not validate: ${v.output}`);
  // Runs are outputs: ignored, as in this repository, so a launch leaves `git status` as it was.
  fs.writeFileSync(path.join(ws, '.gitignore'), 'runs/\n');
  fs.writeFileSync(path.join(ws, 'README.md'), '# e2e workspace\n');
  git(ws, ['init', '-q', '-b', 'main']);
  // The identity goes on the command line only: the extension (with a temp HOME) sees none and
  // must use its own fallback identity for the run's config commit.
  git(ws, ['add', '-A']);
  git(ws, ['-c', 'user.name=E2E', '-c', 'user.email=e2e@localhost', '-c', 'commit.gpgSign=false', 'commit', '-q', '-m', 'initial']);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs: number, everyMs = 250): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(everyMs);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends SIGTERM to a process group, then SIGKILL if it is still there after `graceMs`. */
async function killGroup(pgid: number, graceMs = 5000): Promise<void> {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return; // already gone
  }
  const end = Date.now() + graceMs;
  while (Date.now() < end) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    await sleep(100);
  }
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}

/**
 * Processes still running out of `dir` (by command line or working directory): trainers the
 * extension started detached, in sessions of their own, so killing code-server's group misses them.
 */
function processesUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
      let cwd = '';
      try {
        cwd = fs.readlinkSync(`/proc/${name}/cwd`);
      } catch {
        // not ours to read
      }
      if (cmd.includes(dir) || cwd === dir || cwd.startsWith(dir + path.sep)) pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export interface StartOptions {
  /** Extra code-server arguments. */
  codeServerArgs?: string[];
  /** Skip `npm run package` and use this .vsix. */
  vsix?: string;
  /**
   * Run an extension test suite (a bundled module exporting `run()`) in the extension host
   * through code-server's test payload, with the checkout as the extension under development
   * (no .vsix installed). Its exit code arrives in `Harness.suite`.
   */
  extensionTests?: { suiteJs: string; env?: Record<string, string> };
}

export interface SuiteRun {
  /** The exit code VS Code reports when the suite's `run()` settles (0: resolved). */
  exit: Promise<number>;
  /** The suite's console lines (those starting with "[suite]"). */
  lines: string[];
}

export async function startHarness(o: StartOptions = {}): Promise<Harness> {
  const timings: Record<string, number> = {};
  const phase = async <T>(name: string, fn: () => T | Promise<T>): Promise<T> => {
    const t0 = Date.now();
    log(`${name}...`);
    const v = await fn();
    timings[name] = (Date.now() - t0) / 1000;
    log(`${name}: ${timings[name].toFixed(1)} s`);
    return v;
  };

  const tools = await phase('setup', setupTools);
  const tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-e2e-')));
  const dirs = {
    workspace: path.join(tmp, 'workspace'),
    home: path.join(tmp, 'home'),
    userData: path.join(tmp, 'user-data'),
    extensions: path.join(tmp, 'extensions'),
    browser: path.join(tmp, 'browser-profile'),
    xdgConfig: path.join(tmp, 'xdg', 'config'),
    xdgData: path.join(tmp, 'xdg', 'data'),
    xdgCache: path.join(tmp, 'xdg', 'cache'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  // A quiet window: no welcome page or chat side bar, nothing that phones home.
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify(USER_SETTINGS, null, 2));
  const csConfig = path.join(tmp, 'code-server.yaml');
  fs.writeFileSync(csConfig, 'auth: none\ncert: false\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    XDG_CACHE_HOME: dirs.xdgCache,
    // Node 24 first: code-server and the extension host (process.execPath) run on it.
    PATH: `${path.dirname(tools.node)}:${process.env.PATH ?? ''}`,
    ...o.extensionTests?.env,
  };
  // Inherited from `npm run` or a git hook, these would point code-server or git elsewhere.
  for (const k of Object.keys(env)) if (/^(npm_|GIT_DIR$|GIT_INDEX_FILE$|GIT_WORK_TREE$|VSCODE_|ELECTRON_RUN_AS_NODE$)/.test(k)) delete env[k];

  const groups: number[] = [];
  const children: ChildProcess[] = [];
  let context: BrowserContext | null = null;
  let failed = false;
  let closed = false;

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (context) await Promise.race([context.close().catch(() => undefined), sleep(15_000)]);
    for (const g of groups) await killGroup(g);
    // Chromium is killed by playwright; anything left from the temp folder goes now.
    for (const pid of processesUnder(tmp)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const c of children) if (c.exitCode === null && c.pid && isAlive(c.pid)) c.kill('SIGKILL');
    if (failed || process.env.IMMISCIBLE_E2E_KEEP === '1') log(`kept ${tmp}`);
    else fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };

  try {
    const testing = o.extensionTests ?? null;
    const vsix = testing
      ? null
      : o.vsix ??
      process.env.IMMISCIBLE_E2E_VSIX ??
      (await phase('package', () => {
        const out = path.join(tmp, 'immiscible-lab.vsix');
        // `npm run package` builds, then runs vsce with --out immiscible-lab.vsix; the second
        // --out (the last one wins) keeps the checkout's own .vsix untouched.
        const r = spawnSync('npm', ['run', 'package', '--silent', '--', '--out', out], { cwd: ROOT, encoding: 'utf8' });
        if (r.status !== 0 || !fs.existsSync(out)) throw new Error(`npm run package failed:\n${r.stdout}\n${r.stderr}`);
        return out;
      }));
    await phase('workspace', () => makeWorkspace(dirs.workspace));

    const csBase = [tools.codeServer, '--config', csConfig, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
    if (vsix) await phase('install-extension', () => {
      const r = spawnSync(tools.node, [...csBase, '--install-extension', vsix], { env, encoding: 'utf8', timeout: 120_000 });
      if (r.status !== 0) throw new Error(`--install-extension failed:\n${r.stdout}\n${r.stderr}`);
      const installed = fs.readdirSync(dirs.extensions).filter((n) => n.startsWith('immiscible-lab.immiscible-lab-'));
      if (!installed.length) throw new Error(`the extension is not in ${dirs.extensions}:\n${r.stdout}\n${r.stderr}`);
    });

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    await phase('code-server', async () => {
      const out = fs.openSync(path.join(tmp, 'code-server.log'), 'a');
      // detached: setsid(), so the whole tree is one process group, killed with kill(-pid).
      const cs = spawn(
        tools.node,
        [
          ...csBase,
          '--auth',
          'none',
          '--disable-telemetry',
          '--disable-update-check',
          '--disable-workspace-trust',
          '--disable-getting-started-override',
          '--bind-addr',
          `127.0.0.1:${port}`,
          ...(o.codeServerArgs ?? []),
          // The test payload is honoured only with the smoke-test driver (which also hides notifications).
          ...(testing ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
          dirs.workspace,
        ],
        { env, detached: true, stdio: ['ignore', out, out] },
      );
      fs.closeSync(out);
      children.push(cs);
      if (cs.pid) groups.push(cs.pid);
      await waitFor(
        'code-server /healthz',
        async () => {
          if (cs.exitCode !== null) throw new Error(`code-server exited with ${cs.exitCode}: ${fs.readFileSync(path.join(tmp, 'code-server.log'), 'utf8').slice(-2000)}`);
          return (await httpStatus(`${base}/healthz`)) === 200;
        },
        TIMEOUTS.healthz,
      );
    });

    const page = await phase('browser', async () => {
      context = await chromium.launchPersistentContext(dirs.browser, {
        executablePath: tools.chromium,
        headless: true,
        env: env as Record<string, string>,
        viewport: { width: 1440, height: 900 },
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        timeout: 60_000,
      });
      const p = context.pages()[0] ?? (await context.newPage());
      p.setDefaultTimeout(TIMEOUTS.ui);
      return p;
    });
    let suite: SuiteRun | null = null;
    let url = `${base}/?folder=${encodeURIComponent(dirs.workspace)}`;
    if (testing) {
      const lines: string[] = [];
      let exited: (code: number) => void = () => undefined;
      const exit = new Promise<number>((r) => (exited = r));
      await page.exposeFunction('codeAutomationExit', (code: number) => exited(code));
      page.on('console', (m) => {
        for (const l of m.text().split('\n')) if (l.includes('[suite]')) lines.push(l.slice(l.indexOf('[suite]')));
      });
      const remote = (p: string): string => `vscode-remote://127.0.0.1:${port}${p}`;
      const payload = [
        ['extensionDevelopmentPath', remote(ROOT)],
        ['extensionTestsPath', remote(testing.suiteJs)],
      ];
      url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
      suite = { exit, lines };
    }
    await phase('workbench', async () => {
      await page.goto(url, { timeout: TIMEOUTS.workbench });
      await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
      await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
      // Our activity-bar entry exists once the extension's contributions are registered; before
      // that the command palette does not list its commands either.
      await page.locator(ACTIVITY_ICON).waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
    });

    const h: Harness = {
      page,
      context: context as unknown as BrowserContext,
      workspace: dirs.workspace,
      tmp,
      userData: dirs.userData,
      url,
      tools,
      timings,
      async screenshot(name) {
        fs.mkdirSync(SCREENSHOTS, { recursive: true });
        const file = path.join(SCREENSHOTS, `${name}.png`);
        await page.screenshot({ path: file });
        return file;
      },
      async saveFailure(name) {
        failed = true;
        const dir = path.join(ARTIFACTS, name.replace(/[^\w.-]+/g, '-'));
        fs.mkdirSync(dir, { recursive: true });
        await page.screenshot({ path: path.join(dir, 'screenshot.png') }).catch((e: Error) => log(`no screenshot: ${e.message}`));
        copyLogs(dirs.userData, tmp, dir);
        log(`failure artifacts in ${dir}`);
        return dir;
      },
      extensionHostLog() {
        return findLogs(dirs.userData)
          .filter((f) => /exthost\d*[\\/](remote)?exthost\.log$/i.test(f))
          .map((f) => fs.readFileSync(f, 'utf8'))
          .join('\n');
      },
      markFailed() {
        failed = true;
      },
      suite,
      close,
    };
    return h;
  } catch (e) {
    failed = true;
    const dir = path.join(ARTIFACTS, 'startup');
    fs.mkdirSync(dir, { recursive: true });
    copyLogs(dirs.userData, tmp, dir);
    log(`start-up failed; logs in ${dir}`);
    await close();
    throw e;
  }
}

/** All *.log files under the user-data dir's logs/ (extension host, output channels) and code-server's. */
function findLogs(userData: string): string[] {
  const walk = (d: string): string[] =>
    fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : [path.join(d, e.name)])) : [];
  return walk(path.join(userData, 'logs')).filter((f) => f.endsWith('.log'));
}

function copyLogs(userData: string, tmp: string, dest: string): void {
  const logs = path.join(userData, 'logs');
  for (const f of findLogs(userData)) {
    const rel = path.relative(logs, f);
    const target = path.join(dest, 'logs', rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(f, target);
    // The extension host log at the top, where it is found first.
    if (/exthost/i.test(rel) && /(remoteexthost|exthost)\.log$/i.test(f)) fs.copyFileSync(f, path.join(dest, `exthost-${rel.replace(/[\\/]/g, '_')}`));
  }
  const cs = path.join(tmp, 'code-server.log');
  if (fs.existsSync(cs)) fs.copyFileSync(cs, path.join(dest, 'code-server.log'));
}

// ---- UI helpers ---------------------------------------------------------------------------------

/** A string, not a function: tsx's keepNames helper (__name) does not exist in the page. */
const BLUR_WEBVIEW = `(() => {
  const el = document.activeElement;
  if (el && el.tagName === 'IFRAME') el.blur();
})()`;

/** F1, the command's title, then a click on its row (more robust than Enter). */
export async function runCommand(page: Page, title: string, timeoutMs = TIMEOUTS.ui): Promise<void> {
  const input = page.locator('.quick-input-widget input.input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  const end = Date.now() + timeoutMs;
  // Retried: right after start-up the palette can be computed before the command is registered.
  for (;;) {
    // A focused webview (the dashboard) keeps F1 to itself: the focus goes back to the workbench.
    await page.evaluate(BLUR_WEBVIEW);
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 3000 });
    } catch (e) {
      if (Date.now() >= end) throw new Error(`F1 did not open the command palette: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      // Short: a webview taking the focus back closes the palette under us; then open it again.
      await input.fill(`>${title}`, { timeout: 3000 });
    } catch (e) {
      if (Date.now() >= end) throw new Error(`the command palette closed before "${title}" could be typed: ${(e as Error).message.split('\n')[0]}`);
      continue;
    }
    try {
      await row.waitFor({ state: 'visible', timeout: Math.max(1000, Math.min(5000, end - Date.now())) });
      break;
    } catch (e) {
      if (Date.now() >= end) throw new Error(`the command palette has no "${title}": ${(e as Error).message.split('\n')[0]}`);
      await page.keyboard.press('Escape');
    }
  }
  await row.click();
}

/** The quick input, once its title reads `title`. */
export async function quickInput(page: Page, title: string | RegExp): Promise<Locator> {
  const widget = page.locator('.quick-input-widget');
  await widget.locator('.quick-input-title', { hasText: title }).waitFor({ state: 'visible' });
  return widget;
}

/** The first row of the quick pick titled `title` whose label is exactly `label`. */
async function rowLabelled(page: Page, title: string | RegExp, label: string): Promise<Locator> {
  const w = await quickInput(page, title);
  return w.locator('.quick-input-list .monaco-list-row').filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(label)}$`) }) }).first();
}

/** Clicks the quick pick row whose label is exactly `label`. */
export async function pickRow(page: Page, title: string | RegExp, label: string): Promise<void> {
  await (await rowLabelled(page, title, label)).click();
}

/**
 * Runs a command that asks for a run, and picks `label`. Retried as a whole: a notification or
 * a webview taking the focus closes the quick pick under the click (seen on a loaded machine,
 * the pick's rows "not stable", then gone).
 */
export async function commandPick(page: Page, command: string, title: string | RegExp, label: string, timeoutMs = TIMEOUTS.ui): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    await runCommand(page, command);
    const row = await rowLabelled(page, title, label);
    try {
      await row.click({ timeout: Math.max(1000, Math.min(5000, end - Date.now())) });
      return;
    } catch (e) {
      if (Date.now() >= end) throw new Error(`"${command}": could not pick "${label}": ${(e as Error).message.split('\n')[0]}`);
      await page.keyboard.press('Escape');
    }
  }
}

/** Accepts an input box's default value (Enter), once its title reads `title`; returns that value. */
export async function acceptInputBox(page: Page, title: string | RegExp): Promise<string> {
  const w = await quickInput(page, title);
  const input = w.locator('input.input');
  const value = await input.inputValue();
  await input.press('Enter');
  return value;
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Texts of all status bar entries, left to right. */
export async function statusBarTexts(page: Page): Promise<string[]> {
  return page.locator('.part.statusbar .statusbar-item').evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.trim()).filter(Boolean));
}

/** Toasts (notifications) currently shown, as text. */
export async function notificationTexts(page: Page): Promise<string[]> {
  return page.locator('.notifications-toasts .notification-toast').evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.trim()));
}

/** Replaces an input box's value with `value` and accepts it (Enter); returns the value it offered. */
export async function fillInputBox(page: Page, title: string | RegExp, value: string): Promise<string> {
  const w = await quickInput(page, title);
  const input = w.locator('input.input');
  const offered = await input.inputValue();
  await input.fill(value);
  await input.press('Enter');
  return offered;
}

/** Accepts a quick pick's first (active) row with Enter, once its title reads `title`; returns its label. */
export async function acceptActiveRow(page: Page, title: string | RegExp): Promise<string> {
  const w = await quickInput(page, title);
  const active = w.locator('.quick-input-list .monaco-list-row.focused .label-name').first();
  await active.waitFor({ state: 'visible' });
  const label = (await active.innerText()).trim();
  await w.locator('input.input').press('Enter');
  return label;
}

/** Clicks the entry of the open context menu (rendered in a shadow root; locators pierce it). */
export async function clickContextMenuItem(page: Page, label: string): Promise<void> {
  const item = page.locator('.context-view .monaco-menu .action-item a.action-menu-item', { hasText: new RegExp(`^\\s*${escapeRe(label)}\\s*$`) }).first();
  await item.waitFor({ state: 'visible' });
  // A menu entry listens for the mouse only 100 ms after it is rendered (so the release of the
  // right-click that opened the menu does not pick an entry): a click sooner is ignored.
  await page.waitForTimeout(300);
  await item.click();
  await item.waitFor({ state: 'hidden', timeout: 5000 });
}

/**
 * "Developer: Reload Window" from the palette, then waits for the new workbench (and our
 * activity-bar entry) to be back. Anything installed in the page (status bar recorders) is gone.
 */
export async function reloadWindow(page: Page): Promise<void> {
  await page.evaluate('window.__immBeforeReload = true');
  await runCommand(page, 'Developer: Reload Window');
  // Evaluating throws while the page navigates; waitFor retries until the new document answers.
  await waitFor('the window to reload', () => page.evaluate('!window.__immBeforeReload && document.readyState === "complete"'), TIMEOUTS.workbench);
  await page.locator('.monaco-workbench .part.activitybar').waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
  await page.locator('.part.statusbar').waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
  await page.locator(ACTIVITY_ICON).waitFor({ state: 'visible', timeout: TIMEOUTS.workbench });
}
