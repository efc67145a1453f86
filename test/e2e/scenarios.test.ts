/**
 * End-to-end scenarios: the packaged extension in a real VS Code (code-server 4.139.1, VS Code
 * 1.139.1, offline) driven through Chromium, as a user would, against a temp git workspace.
 *
 *   npm run test:e2e
 *   (or: bash scripts/e2e-setup.sh && node --import tsx --test test/e2e/scenarios.test.ts)
 *
 * Each scenario ends in an assertion on what the user sees and saves docs/screenshots/<name>.png;
 * a failing one leaves a screenshot, the extension host log and the output channels in
 * .test-tmp/e2e-artifacts/<scenario>/. The scenarios run in order in one window and build on each
 * other (the launched run is the one the git scenario inspects, the paired runs the ones Show
 * Config Diff compares; the toggle leaves the tiny config at `linear`, the paired default).
 *
 * Under `npm test` / `npm run test:unit` (scripts/run-tests.mjs picks up every *.test.ts) they are
 * skipped unless IMMISCIBLE_E2E=1: they need several minutes and a one-time install.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Frame, Page } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { RUN_FILES } from '../../src/core/run/format';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../fixtures/slurmCluster';
import {
  ACTIVITY_ICON,
  ROOT,
  TIMEOUTS,
  acceptActiveRow,
  acceptInputBox,
  clickContextMenuItem,
  escapeRe,
  fillInputBox,
  git,
  gitSnapshot,
  notificationTexts,
  pickRow,
  quickInput,
  reloadWindow,
  runCommand,
  startHarness,
  statusBarTexts,
  tinyConfig,
  validateWithCli,
  waitFor,
  type GitSnapshot,
  type Harness,
  commandPick,
} from './harness';

function skipReason(): string | false {
  if (process.env.IMMISCIBLE_E2E === '0') return 'IMMISCIBLE_E2E=0';
  const underUnitTests = ['test', 'test:unit'].includes(process.env.npm_lifecycle_event ?? '');
  if (underUnitTests && process.env.IMMISCIBLE_E2E !== '1') return 'end-to-end tests run with npm run test:e2e (or IMMISCIBLE_E2E=1)';
  if (process.platform !== 'linux') return 'the end-to-end harness is written for Linux';
  return false;
}

const RUN_NAME = 'toy2d-gaussians8';
const MODE = 'linear';

interface Launched {
  runId: string;
  runDir: string;
  before: GitSnapshot;
}

function runDirs(ws: string): string[] {
  const d = path.join(ws, 'runs');
  return fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort() : [];
}

function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** The Runs view's tree row for a run, by its label. */
function runRow(page: Page, label: string) {
  return page
    .locator('.part.sidebar .pane-body .monaco-list-row')
    .filter({ has: page.locator('.label-name', { hasText: new RegExp(`^${escapeRe(label)}$`) }) })
    .first();
}

/**
 * Records every status bar text from now on (a 300-step run can be over between two polls).
 * A string, not a function: tsx's keepNames helper (__name) does not exist in the page.
 */
const RECORD_STATUS_BAR = `(() => {
  window.__immStatus = [];
  if (window.__immObserver) window.__immObserver.disconnect();
  const bar = document.querySelector('.part.statusbar');
  if (!bar) throw new Error('no status bar');
  const snap = () => {
    for (const el of bar.querySelectorAll('.statusbar-item')) {
      const t = el.innerText.trim();
      if (t && !window.__immStatus.includes(t)) window.__immStatus.push(t);
    }
  };
  window.__immObserver = new MutationObserver(snap);
  window.__immObserver.observe(bar, { subtree: true, childList: true, characterData: true, attributes: true });
  snap();
})()`;

async function recordStatusBar(page: Page): Promise<void> {
  await page.evaluate(RECORD_STATUS_BAR);
}

async function recordedStatusBar(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __immStatus?: string[] }).__immStatus ?? []);
}

/** The run directory (under runs/) whose run.json names it `name`; null if none. */
function runDirByName(ws: string, name: string): string | null {
  for (const id of runDirs(ws)) {
    const file = path.join(ws, 'runs', id, 'run.json');
    try {
      if (readJson(file).name === name) return path.join(ws, 'runs', id);
    } catch {
      // being written: the next poll reads it
    }
  }
  return null;
}

interface RunRecordLike {
  id: string;
  name: string;
  group: string;
  status: string;
  step: number;
  totalSteps: number;
  pid: number | null;
  scheduler?: { jobId: string; sbatchArgs: string[]; resubmit?: { left: number; warnSeconds: number } } | null;
  [k: string]: unknown;
}

const runRecord = (dir: string): RunRecordLike => readJson(path.join(dir, 'run.json')) as RunRecordLike;

/** Steps shown by status bar texts like "$(sync~spin) 123/3000 · 41.2 img/s · ETA 1m05s". */
function progressSteps(texts: string[], total: number): number[] {
  const re = new RegExp(`(?:^|\\s)(\\d+)/${total} · [\\d.]+ img/s`);
  return texts.map((t) => re.exec(t)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1]));
}

const checkpointDir = (runDir: string, step: number): string => path.join(runDir, 'checkpoints', `step-${String(step).padStart(7, '0')}`);

/** Clicks an inline action (the icons shown on the right of a hovered tree row). */
async function inlineAction(page: Page, row: ReturnType<typeof runRow>, label: string): Promise<void> {
  const action = row.locator(`.actions a.action-label[aria-label^="${label}"]`);
  await waitFor(
    `the inline action "${label}"`,
    async () => {
      await row.hover();
      return action.isVisible();
    },
    TIMEOUTS.ui,
  );
  await action.click();
}

/** Whether the run's trainer got a stop signal (its train.log says so) or has already ended. */
function stopReached(runDir: string): boolean {
  const log = path.join(runDir, RUN_FILES.log);
  if (fs.existsSync(log) && /\bSIG(TERM|INT): stopping\b/.test(fs.readFileSync(log, 'utf8'))) return true;
  try {
    return runRecord(runDir).status !== 'running';
  } catch {
    return false;
  }
}

/** What the window shows: the Runs view's rows and the notifications (for a failure's message). */
async function windowState(page: Page): Promise<string> {
  const rows = await page.locator('.part.sidebar .pane-body .monaco-list-row').evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, ' ').trim()));
  return `rows: ${JSON.stringify(rows)}; notifications: ${JSON.stringify(await notificationTexts(page))}`;
}

/**
 * Stop Run from the inline action of a training run's row. The command must receive the row's
 * item: a picker here means the view lost its item handles in a refresh (the Runs view keeps
 * long-lived elements and fires only changed runs so that this cannot happen). The signal must
 * reach the trainer (its train.log says so): a click that moved nothing is reported with what the
 * window showed, and clicked once more, as a user would; a trainer that got the signal but did
 * not stop fails the caller's wait for `stopped`.
 */
async function stopFromRow(page: Page, row: ReturnType<typeof runRow>, label: string, runDir: string): Promise<'inline'> {
  const picker = page.locator('.quick-input-widget .quick-input-title', { hasText: /^Stop Run$/ });
  for (let attempt = 1; ; attempt++) {
    await inlineAction(page, row, 'Stop Run');
    const fellBack = await picker.waitFor({ state: 'visible', timeout: 2000 }).then(
      () => true,
      () => false,
    );
    assert.equal(fellBack, false, `the inline Stop Run of "${label}" reached the command without its tree item`);
    const reached = await waitFor(`the stop of "${label}" to reach its trainer`, async () => stopReached(runDir) || null, 10_000).then(
      () => true,
      () => false,
    );
    if (reached) return 'inline';
    const seen = await windowState(page);
    if (attempt === 2) assert.fail(`the inline Stop Run of "${label}" never reached its trainer (no SIGTERM in train.log); ${seen}`);
    process.stderr.write(`[e2e] the inline Stop Run of "${label}" did not reach its trainer in 10 s; clicking again. ${seen}\n`);
  }
}

/** The text shown in the panel's output editor (non-breaking spaces as spaces). */
async function outputPanelText(page: Page): Promise<string> {
  return (await page.locator('.part.panel .monaco-editor .view-lines').innerText()).replace(/\u00a0/g, ' ');
}

/**
 * The lines of the open diff editor, each side's rendered lines with whether a line-insert /
 * line-delete decoration covers them (the overlay and the text line share their `top`).
 */
const DIFF_LINES = `(() => {
  const side = (sel) => {
    const ed = document.querySelector('.monaco-diff-editor ' + sel);
    if (!ed) return null;
    const tops = new Set([...ed.querySelectorAll('.view-overlays .line-insert, .view-overlays .line-delete')].map((d) => d.parentElement.style.top));
    return [...ed.querySelectorAll('.view-lines .view-line')]
      .map((l) => ({ top: parseFloat(l.style.top), text: l.textContent.replace(/\\u00a0/g, ' '), changed: tops.has(l.style.top) }))
      .sort((a, b) => a.top - b.top)
      .map((l) => ({ text: l.text, changed: l.changed }));
  };
  return { original: side('.editor.original'), modified: side('.editor.modified') };
})()`;

interface DiffLine {
  text: string;
  changed: boolean;
}

describe('Immiscible Lab in a real VS Code', { skip: skipReason() }, () => {
  let h: Harness;
  let launched: Launched | null = null;
  let pairedDone = false;

  // A real one-node Slurm for the Launch Run on Slurm scenario: VS Code (and so the extension
  // host) inherits its SLURM_CONF, as on a cluster's login node.
  const noSlurm = slurmUnavailable();
  let slurm: SlurmCluster | null = null;

  before(
    async () => {
      if (!noSlurm) {
        slurm = await startSlurm();
        process.env.SLURM_CONF = slurm.env.SLURM_CONF;
      }
      h = await startHarness();
      process.stderr.write(`[e2e] start-up timings (s): ${JSON.stringify(h.timings)}\n`);
    },
    { timeout: TIMEOUTS.setup + 5 * 60_000 },
  );

  after(async () => {
    await h?.close();
    await slurm?.stop();
  });

  /** The extension host's record of our activation failing, if it did. */
  const activationError = (): string | null =>
    /Activating extension immiscible-lab\.immiscible-lab failed[^\n]*\n[^\n]*/.exec(h.extensionHostLog())?.[0] ?? null;

  /** A scenario: on failure its screenshot and logs are saved before the error is reported. */
  const scenario = (name: string, timeoutMs: number, fn: () => Promise<void>, o: { checkActivation?: boolean } = {}): void => {
    test(name, { timeout: timeoutMs }, async () => {
      const t0 = Date.now();
      try {
        // Whatever an earlier failure left open (a dialog, a quick pick) goes first.
        for (let i = 0; i < 2; i++) await h.page.keyboard.press('Escape');
        // Every scenario needs the extension: say why at once instead of timing out in the UI.
        const activation = o.checkActivation === false ? null : activationError();
        assert.equal(activation, null, `the extension failed to activate (extension host log):\n${activation}`);
        await fn();
      } catch (e) {
        if (h) await h.saveFailure(name).catch(() => undefined);
        throw e;
      } finally {
        process.stderr.write(`[e2e] ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      }
    });
  };

  scenario('first start: the Runs view shows its welcome content', 60_000, async () => {
    const { page } = h;
    await page.locator(ACTIVITY_ICON).click();
    const welcome = page.locator('.part.sidebar .welcome-view-content');
    await welcome.waitFor({ state: 'visible' });
    await page.locator('.part.sidebar .pane-header h3.title', { hasText: 'Runs' }).first().waitFor({ state: 'attached' });
    const text = await welcome.innerText();
    assert.match(text, /No runs yet\./);
    const buttons = await welcome.locator('.monaco-button').allInnerTexts();
    assert.ok(buttons.map((b) => b.trim()).includes('Launch Run'), `welcome buttons: ${JSON.stringify(buttons)}`);
    await h.screenshot('first-start-runs-welcome');
    // The welcome content is static (package.json): it shows even when the extension failed to
    // activate. The link working is what proves the extension is alive.
    await welcome.locator('.monaco-button', { hasText: /^Launch Run$/ }).click();
    try {
      const picker = await quickInput(page, 'Launch Run');
      await picker.locator('.quick-input-list .monaco-list-row', { hasText: 'tiny.immiscible.json' }).first().waitFor({ state: 'visible' });
      await page.keyboard.press('Escape');
      await picker.waitFor({ state: 'hidden' });
    } catch (e) {
      const activation = activationError();
      const dialog = (await page.locator('.monaco-dialog-box').allInnerTexts()).join(' | ');
      throw new Error(
        `the Launch Run link opened no config picker${dialog ? ` (dialog: ${dialog.replace(/\s+/g, ' ')})` : ''}` +
          `${activation ? `; extension host log: ${activation}` : ''}: ${(e as Error).message.split('\n')[0]}`,
      );
    }
  }, { checkActivation: false });

  scenario('Launch Run from the command palette trains the tiny config to completion', TIMEOUTS.run + 90_000, async () => {
    const { page, workspace } = h;
    const before = gitSnapshot(workspace);
    const dirsBefore = runDirs(workspace);
    await recordStatusBar(page);

    await runCommand(page, 'Immiscible: Launch Run...');
    await pickRow(page, 'Launch Run', 'tiny.immiscible.json');
    assert.equal(await acceptInputBox(page, 'Run name'), RUN_NAME);
    assert.equal(await acceptInputBox(page, 'Seed'), '0');
    assert.equal(await acceptInputBox(page, 'Training steps'), '300');
    await pickRow(page, 'Assignment mode', MODE);

    // The run directory appears, then its row in the Runs view.
    const runId = await waitFor('a new run directory', () => runDirs(workspace).find((d) => !dirsBefore.includes(d)), 30_000);
    const runDir = path.join(workspace, 'runs', runId);
    launched = { runId, runDir, before };
    const row = runRow(page, RUN_NAME);
    await row.waitFor({ state: 'visible', timeout: 30_000 });

    // Step progress in the status bar while it trains.
    const progress = await waitFor(
      'step progress in the status bar',
      async () => (await recordedStatusBar(page)).find((t) => /(^|\s)\d+\/300 · [\d.]+ img\/s/.test(t)),
      TIMEOUTS.run,
      100,
    );
    if ((await statusBarTexts(page)).some((t) => /\d+\/300 ·/.test(t))) await h.screenshot('launch-run-progress');

    // Completed: the row's icon turns to a check and its description to 300/300.
    await row.locator('.codicon-pass').waitFor({ state: 'visible', timeout: TIMEOUTS.run });
    await waitFor('the row description "step 300/300"', async () => /step 300\/300/.test(await row.innerText()), 10_000);
    const record = readJson(path.join(runDir, 'run.json'));
    assert.equal(record.status, 'completed', `run.json: ${JSON.stringify(record)}`);
    assert.equal(record.step, 300);
    const config = readJson(path.join(runDir, 'config.json')) as { assignment: { mode: string }; training: { steps: number } };
    assert.equal(config.assignment.mode, MODE);
    assert.equal(config.training.steps, 300);
    // The status bar no longer shows the run's progress.
    await waitFor('the status bar progress to go', async () => !(await statusBarTexts(page)).some((t) => /\d+\/300 ·/.test(t)), 10_000);
    assert.match(progress, /\d+\/300/);
    await row.click();
    await h.screenshot('launch-run-completed');
  });

  scenario('git: the config is on refs/immiscible/runs/<id>; HEAD, index and status untouched', 60_000, async () => {
    const { page, workspace } = h;
    assert.ok(launched, 'no run was launched by the previous scenario');
    const { runId, runDir, before } = launched;
    const ref = `refs/immiscible/runs/${runId}`;
    // Tracking runs right after the trainer's first event; it is long done when the run is.
    await waitFor(`git.json in ${runDir}`, () => fs.existsSync(path.join(runDir, 'git.json')), 20_000);
    const record = readJson(path.join(runDir, 'git.json'));
    assert.equal(record.ref, ref, `git.json: ${JSON.stringify(record)}`);
    const commit = git(workspace, ['rev-parse', '--verify', `${ref}^{commit}`]).trim();
    assert.equal(commit, record.commit);
    assert.equal(git(workspace, ['rev-parse', `${ref}^`]).trim(), before.head, 'the config commit sits on HEAD');
    assert.equal(git(workspace, ['cat-file', 'blob', `${ref}:.immiscible/runs/${runId}/config.json`]), fs.readFileSync(path.join(runDir, 'config.json'), 'utf8'));

    const now = gitSnapshot(workspace);
    assert.equal(now.head, before.head, 'HEAD moved');
    assert.equal(now.status, before.status, 'git status --porcelain changed');
    assert.equal(now.indexSha256, before.indexSha256, 'the index changed');
    const newRefs = now.refs.split('\n').filter((l) => l && !before.refs.split('\n').includes(l));
    assert.deepEqual(newRefs, [`${ref} ${commit}`]);

    // What the user sees: the run's output channel names the ref.
    await commandPick(page, 'Immiscible: Show Run Output', 'Show Run Output', RUN_NAME);
    const output = page.locator('.part.panel .monaco-editor .view-lines');
    const line = `git: config committed to ${ref} (${commit.slice(0, 10)})`;
    await waitFor(`"${line}" in the output panel`, async () => (await output.innerText()).replace(/\u00a0/g, ' ').includes(line), 15_000);
    const author = git(workspace, ['log', '-1', '--format=%an <%ae>', ref]).trim();
    process.stderr.write(`[e2e] ${ref} = ${commit}, author ${author}\n`);
    // The channel scrolls to its end: a maximized panel shows the whole of it, git line included.
    const maximize = page.locator('.part.panel a.action-label[aria-label="Maximize Panel"]');
    if (await maximize.isVisible()) await maximize.click();
    await page.waitForTimeout(500);
    await h.screenshot('git-run-output');
    const restore = page.locator('.part.panel a.action-label[aria-label^="Restore Panel"]');
    if (await restore.isVisible()) await restore.click();
  });

  scenario('Toggle Immiscible Assignment flips assignment.mode on disk and in the status bar', 60_000, async () => {
    const { page, workspace } = h;
    const file = path.join(workspace, 'configs', 'tiny.immiscible.json');
    const modeOnDisk = (): string => (readJson(file) as { assignment: { mode: string } }).assignment.mode;
    assert.equal(modeOnDisk(), 'none');
    // Quick Open (F1, then the file name without the leading '>').
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.fill('tiny.immiscible.json');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'tiny.immiscible.json' }).first().click();
    await page.locator('.tabs-container .tab.active', { hasText: 'tiny.immiscible.json' }).waitFor({ state: 'visible' });
    await waitFor('"Immiscible: none" in the status bar', async () => (await statusBarTexts(page)).includes('Immiscible: none'), 15_000);

    await runCommand(page, 'Immiscible: Toggle Immiscible Assignment');
    await waitFor('assignment.mode "linear" on disk', () => modeOnDisk() === 'linear', 15_000);
    await waitFor('"Immiscible: linear" in the status bar', async () => (await statusBarTexts(page)).includes('Immiscible: linear'), 15_000);
    // Only that field changed.
    const expected = tinyConfig() as { assignment: Record<string, unknown> };
    expected.assignment = { ...expected.assignment, mode: 'linear' };
    assert.deepEqual(readJson(file), expected);
    await h.screenshot('toggle-assignment');
  });

  scenario('a broken config: Launch Run shows the field in an error and creates no run', 60_000, async () => {
    const { page, workspace } = h;
    const broken = tinyConfig() as { name: string; training: Record<string, unknown> };
    broken.name = 'broken';
    broken.training = { ...broken.training, batchSize: 0 };
    const file = path.join(workspace, 'configs', 'broken.immiscible.json');
    fs.writeFileSync(file, JSON.stringify(broken, null, 2) + '\n');
    const cli = validateWithCli(file);
    assert.ok(!cli.ok && /training\.batchSize/.test(cli.output), `the CLI accepts it: ${cli.output}`);
    const dirsBefore = runDirs(workspace);

    await runCommand(page, 'Immiscible: Launch Run...');
    await pickRow(page, 'Launch Run', 'broken.immiscible.json');
    const toast = await waitFor('an error notification naming training.batchSize', async () => (await notificationTexts(page)).find((t) => /training\.batchSize/.test(t)), 15_000);
    // A long message shows on one line, cut: expand it as a user would, for the picture.
    const toastEl = page.locator('.notifications-toasts .notification-toast', { hasText: 'training.batchSize' }).first();
    await toastEl.hover();
    const expand = toastEl.locator('a.codicon-notifications-expand');
    if (await expand.count()) {
      await expand.click();
      await toastEl.locator('a.codicon-notifications-collapse').waitFor({ state: 'attached', timeout: 5000 }).catch(() => undefined);
    }
    assert.match(toast, /broken\.immiscible\.json/);
    assert.match(toast, /expected an integer >= 1/);
    assert.equal(await page.locator('.notifications-toasts .notification-toast .codicon-error').count() > 0, true, 'the notification is not an error');
    // Nothing asked further, nothing started.
    await page.waitForTimeout(3000);
    assert.deepEqual(runDirs(workspace), dirsBefore);
    assert.equal(await page.locator('.quick-input-widget .quick-input-title', { hasText: 'Run name' }).isVisible(), false);
    await h.screenshot('broken-config-error');
  });
  // ---- Paired comparison, config diff, stop/resume, reload ---------------------------------------

  const PAIRED_GROUP = `${RUN_NAME}-paired-seed0`;
  const BASELINE = `${RUN_NAME}-baseline`;
  const TREATED = `${RUN_NAME}-${MODE}`;

  /** Selects the paired runs in the Runs view (click, ctrl-click) and picks `item` from their context menu. */
  const onPairedRuns = async (page: Page, item: string): Promise<void> => {
    const [baseline, treated] = [runRow(page, BASELINE), runRow(page, TREATED)];
    await baseline.click();
    await treated.click({ modifiers: ['ControlOrMeta'] });
    await waitFor(
      'both runs selected in the Runs view',
      async () => (await baseline.getAttribute('aria-selected')) === 'true' && (await treated.getAttribute('aria-selected')) === 'true',
      5000,
    );
    await treated.click({ button: 'right' });
    await clickContextMenuItem(page, item);
  };
  /** Steps of the runs that must still be training well after a reload (over 2 minutes of work here). */
  const LONG_STEPS = 10_000;

  /** Launch Run on the tiny config with a name of its own, LONG_STEPS steps, no assignment. */
  const launchLong = async (name: string): Promise<void> => {
    const { page } = h;
    await runCommand(page, 'Immiscible: Launch Run...');
    await pickRow(page, 'Launch Run', 'tiny.immiscible.json');
    assert.equal(await fillInputBox(page, 'Run name', name), RUN_NAME);
    assert.equal(await acceptInputBox(page, 'Seed'), '0');
    assert.equal(await fillInputBox(page, 'Training steps', String(LONG_STEPS)), '300');
    await pickRow(page, 'Assignment mode', 'none');
  };

  const waitStatus = (runDir: string, status: string, timeoutMs = 30_000, also: (r: RunRecordLike) => boolean = () => true): Promise<RunRecordLike> =>
    waitFor(
      `run.json of ${path.basename(runDir)} to say ${status}`,
      () => {
        const r = runRecord(runDir);
        return r.status === status && also(r) ? r : null;
      },
      timeoutMs,
    );

  const noProgressInStatusBar = (): Promise<boolean> =>
    waitFor('the status bar progress to go', async () => !(await statusBarTexts(h.page)).some((t) => new RegExp(`\\d+/${LONG_STEPS} ·`).test(t)), 15_000);

  /** Maximizes the panel (the output channel shows its last lines), runs `fn`, restores it. */
  const withMaximizedPanel = async <T>(fn: () => Promise<T>): Promise<T> => {
    const { page } = h;
    const maximize = page.locator('.part.panel a.action-label[aria-label="Maximize Panel"]');
    if (await maximize.isVisible()) await maximize.click();
    try {
      return await fn();
    } finally {
      const restore = page.locator('.part.panel a.action-label[aria-label^="Restore Panel"]');
      if (await restore.isVisible()) await restore.click();
    }
  };

  scenario('Launch Paired Comparison: a baseline and a linear run in one group, same seed, both complete', 2 * TIMEOUTS.run + 60_000, async () => {
    const { page, workspace } = h;
    await recordStatusBar(page);
    await runCommand(page, 'Immiscible: Launch Paired Comparison...');
    await pickRow(page, 'Launch Paired Comparison', 'tiny.immiscible.json');
    // The defaults: linear (the assignment modes without "none"), the config's seed.
    assert.equal(await acceptActiveRow(page, 'Assignment mode'), MODE);
    assert.equal(await acceptInputBox(page, 'Seed (shared by both runs)'), '0');

    const group = runRow(page, PAIRED_GROUP);
    await group.waitFor({ state: 'visible', timeout: 30_000 });
    const rows = [runRow(page, BASELINE), runRow(page, TREATED)];
    // One after the other (immiscible.concurrentRuns is 1): both end with a check.
    for (const row of rows) await row.locator('.codicon-pass').waitFor({ state: 'visible', timeout: 2 * TIMEOUTS.run });
    for (const row of rows) await waitFor('the row description "step 300/300"', async () => /step 300\/300/.test(await row.innerText()), 10_000);
    // Both rows sit in the group: one level down, right below its row, which counts them.
    assert.match(await group.innerText(), /2 runs/);
    assert.equal(await group.getAttribute('aria-level'), '1');
    const groupIndex = Number(await group.getAttribute('data-index'));
    const indices: number[] = [];
    for (const row of rows) {
      assert.equal(await row.getAttribute('aria-level'), '2');
      indices.push(Number(await row.getAttribute('data-index')));
    }
    assert.deepEqual(indices.sort((a, b) => a - b), [groupIndex + 1, groupIndex + 2]);
    assert.ok(progressSteps(await recordedStatusBar(page), 300).length > 0, 'no step progress in the status bar');

    // On disk: the same config and seed but for assignment.mode (and the run's name).
    const baselineDir = runDirByName(workspace, BASELINE);
    const treatedDir = runDirByName(workspace, TREATED);
    assert.ok(baselineDir && treatedDir, `run directories: ${runDirs(workspace).join(', ')}`);
    const records = [runRecord(baselineDir), runRecord(treatedDir)];
    for (const r of records) {
      assert.equal(r.status, 'completed', `run.json: ${JSON.stringify(r)}`);
      assert.equal(r.step, 300);
      assert.equal(r.group, PAIRED_GROUP);
    }
    const keys = [...new Set([...Object.keys(records[0]), ...Object.keys(records[1])])];
    const differing = keys.filter((k) => JSON.stringify(records[0][k]) !== JSON.stringify(records[1][k])).sort();
    // Besides the name: what identifies or times a run, and the hash of its (different) config.
    const perRun = ['configHash', 'createdAt', 'endedAt', 'id', 'name', 'startedAt', 'updatedAt'];
    assert.deepEqual(differing.filter((k) => !perRun.includes(k)), [], `run.json fields that differ: ${differing.join(', ')}`);
    assert.ok(differing.includes('name') && differing.includes('configHash'), `run.json fields that differ: ${differing.join(', ')}`);

    type Cfg = { name: string; seed: number; group: string; assignment: { mode: string } };
    const configs = [readJson(path.join(baselineDir, 'config.json')), readJson(path.join(treatedDir, 'config.json'))] as unknown as Cfg[];
    assert.deepEqual(
      configs.map((c) => [c.name, c.assignment.mode, c.seed, c.group]),
      [
        [BASELINE, 'none', 0, PAIRED_GROUP],
        [TREATED, MODE, 0, PAIRED_GROUP],
      ],
    );
    const rest = (c: Cfg): unknown => ({ ...c, name: '', assignment: { ...c.assignment, mode: '' } });
    assert.deepEqual(rest(configs[0]), rest(configs[1]), 'config.json differs beyond name and assignment.mode');
    pairedDone = true;
    await h.screenshot('paired-comparison');
  });

  scenario('Show Config Diff on the paired runs (multi-select, context menu): assignment.mode changed', 60_000, async () => {
    const { page } = h;
    assert.ok(pairedDone, 'the paired comparison scenario did not complete');
    await onPairedRuns(page, 'Show Config Diff');

    // The diff editor's title names both runs, the first one being the left (original) side.
    const tab = page.locator('.tabs-container .tab.active');
    const title = await waitFor(
      'a diff editor tab naming both runs',
      async () => {
        const t = (await tab.innerText()).trim();
        return t.includes(BASELINE) && t.includes(TREATED) && t.includes('(config)') ? t : null;
      },
      15_000,
    );
    const [left, right] = title.indexOf(BASELINE) < title.indexOf(TREATED) ? ['none', MODE] : [MODE, 'none'];
    await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible' });
    // The resolved config is long: Go to Line (Quick Open, ":N") brings the assignment.mode line
    // into view, on both sides (they scroll together).
    const configLines = fs.readFileSync(path.join(runDirByName(h.workspace, TREATED) as string, 'config.json'), 'utf8').split('\n');
    const modeLineNo = configLines.findIndex((l) => /^\s*"mode": /.test(l)) + 1;
    assert.ok(modeLineNo > 0, 'no "mode" line in config.json');
    await page.keyboard.press('F1');
    const quickOpen = page.locator('.quick-input-widget input.input');
    await quickOpen.fill(`:${modeLineNo}`);
    // Under load the Enter can reach the widget before its go-to-line provider has answered the
    // text: then the widget stays open, and one more Enter goes to the line.
    await quickOpen.press('Enter');
    if (!(await quickOpen.waitFor({ state: 'hidden', timeout: 5000 }).then(() => true, () => false))) {
      await quickOpen.press('Enter');
      await quickOpen.waitFor({ state: 'hidden' });
    }

    const modeLine = (l: DiffLine): boolean => /"mode": "\w+"/.test(l.text);
    let diff: { original: DiffLine[] | null; modified: DiffLine[] | null } = { original: null, modified: null };
    try {
      await waitFor(
        'the assignment.mode line marked changed in the diff',
        async () => {
          diff = (await page.evaluate(DIFF_LINES)) as typeof diff;
          return diff.modified?.find(modeLine)?.changed === true;
        },
        15_000,
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}\ndiff editor lines: ${JSON.stringify(diff)}`);
    }
    const modified = diff.modified as DiffLine[];
    assert.match(modified.find(modeLine)?.text ?? '', new RegExp(`"mode": "${right}"`));
    // Side by side (the editor is wide enough): the left side has the old value, marked too.
    if (diff.original) {
      const old = diff.original.find(modeLine);
      assert.ok(old?.changed, `original side: ${JSON.stringify(diff.original)}`);
      assert.match(old.text, new RegExp(`"mode": "${left}"`));
    }
    // Only what differs is marked: the line below it (assignment.cost) is not.
    const cost = modified.find((l) => /"cost": "l2"/.test(l.text));
    assert.equal(cost?.changed, false, `modified side: ${JSON.stringify(modified)}`);
    await h.screenshot('config-diff');
  });

  /** The dashboard page's frame (the webview's inner frame holding #app), once it has drawn. */
  const dashboardFrame = async (page: Page, ready: string): Promise<Frame> =>
    waitFor(
      `the dashboard webview showing ${ready}`,
      async () => {
        for (const f of page.frames()) {
          try {
            if (await f.$(ready)) return f;
          } catch {
            // a frame navigating away: the next poll sees its successor
          }
        }
        return null;
      },
      30_000,
    );

  /** What the dashboard shows: the charts' drawn points, each gallery's step and loaded image. */
  const dashboardState = (f: Frame): Promise<{ title: string; points: Record<string, number>; datasets: Record<string, string[]>; tiles: { run: string; step: string; loaded: boolean; inexact: boolean }[]; configKeys: string[] }> =>
    f.evaluate(`(() => {
      const app = window.immiscibleDashboard;
      const tiles = [...document.querySelectorAll('.tile')].map((t) => {
        const img = t.querySelector('img');
        return { run: t.querySelector('figcaption')?.textContent ?? '', step: t.dataset.step ?? '', loaded: !!img && img.complete && img.naturalWidth > 0, inexact: t.classList.contains('inexact') };
      });
      const datasets = {};
      for (const c of document.querySelectorAll('.chart-card')) datasets[c.dataset.chart] = [...c.querySelectorAll('h3')].map((h) => h.textContent);
      return {
        title: document.querySelector('.view-title')?.textContent ?? '',
        points: app.charts.pointCounts(),
        datasets: app.charts.datasetLabels(),
        tiles,
        configKeys: [...document.querySelectorAll('.config-table tbody tr')].map((r) => r.dataset.key ?? ''),
      };
    })()`);

  /**
   * Switches the colour theme through the user settings file (VS Code applies it live). Only
   * once, to light, in the last scenario: in this code-server a later switch back is not applied.
   */
  const setLightTheme = async (dashboard: Frame): Promise<void> => {
    const file = path.join(h.userData, 'User', 'settings.json');
    fs.writeFileSync(file, JSON.stringify({ ...readJson(file), 'workbench.colorTheme': 'Default Light Modern' }, null, 2));
    // The dashboard's background is the theme's editor background: white in the light theme.
    await waitFor('the light theme in the dashboard', async () => (await dashboard.evaluate(() => getComputedStyle(document.body).backgroundColor)) === 'rgb(255, 255, 255)', 15_000);
    await h.page.waitForTimeout(500);
  };

  scenario('Open Dashboard on a run: the loss chart has points, the gallery shows its grid', 90_000, async () => {
    const { page } = h;
    // The dashboard gets the whole editor area (the Output panel of earlier scenarios goes).
    if (await page.locator('.part.panel').isVisible()) await runCommand(page, 'View: Hide Panel');
    assert.ok(launched, 'the Launch Run scenario did not complete');
    const row = runRow(page, RUN_NAME);
    await row.click({ button: 'right' });
    await clickContextMenuItem(page, 'Open Dashboard');
    await page.locator('.tabs-container .tab', { hasText: 'Immiscible Dashboard' }).first().waitFor({ state: 'visible', timeout: 15_000 });
    const f = await dashboardFrame(page, '.chart-card[data-chart="loss"] canvas');
    const s = await waitFor(
      'loss points and a loaded sample grid',
      async () => {
        const st = await dashboardState(f);
        return (st.points.loss ?? 0) > 0 && st.tiles.length === 1 && st.tiles[0].loaded ? st : null;
      },
      20_000,
    );
    assert.equal(s.title, RUN_NAME);
    assert.equal(s.tiles[0].step, '300', 'the latest grid is shown first');
    // Every logged step of the 300 is drawn (under the decimation budget).
    assert.equal(s.points.lr, 300);
    await page.mouse.move(1100, 85); // away from the tree's hover tooltips
    await h.screenshot('dashboard-run-dark');
  });

  scenario('Compare Selected Runs: overlaid charts, only assignment.mode in the config table, one slider for both galleries', 120_000, async () => {
    const { page } = h;
    assert.ok(pairedDone, 'the paired comparison scenario did not complete');
    await onPairedRuns(page, 'Compare Selected Runs');
    const f = await dashboardFrame(page, '.config-table tbody tr');
    const s = await waitFor(
      'both runs charted with their grids',
      async () => {
        const st = await dashboardState(f);
        return st.tiles.length === 2 && st.tiles.every((t) => t.loaded) && (st.datasets.loss ?? []).length >= 2 ? st : null;
      },
      20_000,
    );
    assert.equal(s.title, 'Compare 2 runs');
    assert.deepEqual(s.configKeys, ['assignment.mode']);
    for (const name of [BASELINE, TREATED]) assert.ok(s.datasets.loss.some((l) => l === name), `loss chart lines: ${s.datasets.loss.join(', ')}`);
    assert.deepEqual(s.tiles.map((t) => t.step), ['300', '300']);
    // Grids at steps 0, 100, 200, 300: the shared slider's second position is step 100, and both
    // galleries follow.
    await f.locator('.step-slider').fill('1');
    const moved = await waitFor('both galleries at step 100', async () => {
      const st = await dashboardState(f);
      return st.tiles.every((t) => t.step === '100' && !t.inexact && t.loaded) ? st : null;
    }, 10_000);
    assert.equal(moved.tiles.length, 2);
    await f.locator('.step-slider').fill('3');
    await page.mouse.move(1100, 85);
    await h.screenshot('dashboard-compare-dark');
  });

  scenario('Dashboard exports: the compared runs as CSV and the loss chart as PNG, through the save dialog', 90_000, async () => {
    const { page } = h;
    assert.ok(pairedDone, 'the paired comparison scenario did not complete');
    const f = await dashboardFrame(page, '.config-table tbody tr');
    const csvFile = path.join(h.workspace, 'exported-metrics.csv');
    /** Saves through VS Code's save dialog (a quick input in this code-server) once it offers `offered`. */
    const saveAs = async (title: string, offered: RegExp, file: string): Promise<void> => {
      const input = (await quickInput(page, title)).locator('input.input');
      // The dialog fills in its default path after it opens: typing earlier would be overwritten.
      await waitFor(`the save dialog to offer ${offered}`, async () => offered.test(await input.inputValue()) || null, 10_000);
      await input.fill(file);
      await input.press('Enter');
    };
    await f.locator('button', { hasText: /^CSV$/ }).click();
    await saveAs('Save metrics as CSV', /immiscible-metrics\.csv$/, csvFile);
    const toast = await waitFor('the CSV saved notification', async () => (await notificationTexts(page)).find((t) => /Metrics of 2 runs saved to/.test(t)), 15_000);
    assert.ok(toast.includes('exported-metrics.csv'), toast);
    const lines = fs.readFileSync(csvFile, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'run_id,run_name,step,wallTime,loss,lr,gradNorm,imagesPerSec,assign.distBefore,assign.distAfter,assign.ms');
    // Every logged step of both runs (300 each), at full precision, the treated run with its assignment figures.
    const rows = lines.slice(1).map((l) => l.split(','));
    const idOf = (name: string): string => path.basename(runDirByName(h.workspace, name) as string);
    for (const name of [BASELINE, TREATED]) assert.equal(rows.filter((r) => r[0] === idOf(name)).length, 300, `rows of ${name}`);
    const treated = rows.filter((r) => r[0] === idOf(TREATED));
    assert.ok(treated.every((r) => r[9] !== '' && Number(r[9]) <= Number(r[8]) * (1 + 1e-9)), 'the assignment never lengthens the pairing');
    assert.ok(rows.every((r) => Number.isFinite(Number(r[4]))), 'every row has a loss');
    const pngFile = path.join(h.workspace, 'exported-loss.png');
    await f.locator('.chart-card[data-chart="loss"] button', { hasText: /^PNG$/ }).click();
    await saveAs('Save chart as PNG', /\.png$/, pngFile);
    const png = await waitFor('the PNG file', async () => (fs.existsSync(pngFile) ? fs.readFileSync(pngFile) : null), 15_000);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
    assert.ok(png.length > 2000, `a drawn chart, not an empty canvas: ${png.length} bytes`);
  });

  scenario('Reload Window with the dashboard open: it comes back with its runs', 120_000, async () => {
    const { page } = h;
    const before = await dashboardState(await dashboardFrame(page, '.chart-card'));
    await reloadWindow(page);
    const f = await dashboardFrame(page, '.chart-card[data-chart="loss"] canvas');
    const after = await waitFor('the restored dashboard with its charts', async () => {
      const st = await dashboardState(f);
      return (st.points.loss ?? 0) > 0 && st.tiles.every((t) => t.loaded) ? st : null;
    }, 30_000);
    assert.equal(after.title, before.title);
  });

  scenario('Stop Run (inline) then Resume Run: stopped with a checkpoint, resumed from that step', TIMEOUTS.run + 90_000, async () => {
    const { page, workspace } = h;
    const name = 'stop-resume';
    await recordStatusBar(page);
    await launchLong(name);
    const row = runRow(page, name);
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    const runDir = await waitFor(`the run directory of ${name}`, () => runDirByName(workspace, name), 30_000);
    await waitFor('step progress in the status bar', async () => progressSteps(await recordedStatusBar(page), LONG_STEPS).some((s) => s > 0), TIMEOUTS.run, 100);
    await row.locator('.codicon-sync').waitFor({ state: 'visible', timeout: 15_000 });

    // The inline Stop action of its row.
    await stopFromRow(page, row, name, runDir);
    const stopped = await waitStatus(runDir, 'stopped');
    const stopStep = stopped.step;
    assert.ok(stopStep > 0 && stopStep < LONG_STEPS, `stopped at step ${stopStep}`);
    assert.equal(stopped.pid, null);
    assert.ok(fs.existsSync(checkpointDir(runDir, stopStep)), `no checkpoint at step ${stopStep}: ${fs.readdirSync(path.join(runDir, 'checkpoints')).join(', ')}`);
    await row.locator('.codicon-debug-pause').waitFor({ state: 'visible', timeout: 15_000 });
    await waitFor(`the row description "step ${stopStep}/${LONG_STEPS}"`, async () => (await row.innerText()).includes(`step ${stopStep}/${LONG_STEPS}`), 10_000);
    await noProgressInStatusBar();

    // Resume Run, the inline action of a stopped run.
    await recordStatusBar(page);
    await inlineAction(page, row, 'Resume Run');
    const resumed = await waitStatus(runDir, 'running', 60_000, (r) => r.step > stopStep);
    const shown = await waitFor(
      `status bar progress past step ${stopStep}`,
      async () => progressSteps(await recordedStatusBar(page), LONG_STEPS).find((s) => s > stopStep),
      30_000,
      100,
    );
    // Resumed, not restarted: no progress below the stop step was shown.
    const below = progressSteps(await recordedStatusBar(page), LONG_STEPS).filter((s) => s <= stopStep);
    assert.deepEqual(below, [], `progress after Resume Run: ${JSON.stringify(await recordedStatusBar(page))}`);
    await row.locator('.codicon-sync').waitFor({ state: 'visible', timeout: 15_000 });

    // The run's output channel says so.
    await commandPick(page, 'Immiscible: Show Run Output', 'Show Run Output', name);
    await withMaximizedPanel(async () => {
      // The run goes on writing (a line per sample grid): the Output view's own filter keeps the
      // lines that matter in sight, as a user would do.
      const filter = page.locator('.part.panel').getByPlaceholder('Filter (e.g. text, !excludeText, text1,text2)');
      await filter.fill('resumed,stopped at step');
      try {
        const resumedLine = new RegExp(`resumed on .*? at step ${stopStep}/${LONG_STEPS}`);
        await waitFor(
          `"resumed ... at step ${stopStep}/${LONG_STEPS}" in the output panel`,
          async () => {
            // Long lines wrap into several rendered lines: join them.
            const text = (await outputPanelText(page)).replace(/\n/g, '');
            return resumedLine.test(text) && text.includes(`resumed from checkpoint at step ${stopStep}`) && text.includes(`stopped at step ${stopStep}`);
          },
          15_000,
        );
        await h.screenshot('resume-run-output');
      } finally {
        await filter.fill('');
      }
    });
    process.stderr.write(`[e2e] stopped at ${stopStep}; resumed, run.json step ${resumed.step}, status bar ${shown}\n`);

    // Stopped again (Stop Run from the palette this time): the suite stays short.
    await commandPick(page, 'Immiscible: Stop Run', 'Stop Run', name);
    const again = await waitStatus(runDir, 'stopped');
    assert.ok(again.step > stopStep, `stopped again at ${again.step}`);
    assert.ok(fs.existsSync(checkpointDir(runDir, again.step)));
    await row.locator('.codicon-debug-pause').waitFor({ state: 'visible', timeout: 15_000 });
    await noProgressInStatusBar();
  });

  scenario('Reload Window during a run: still running in the Runs view, progress followed again', TIMEOUTS.run + 90_000, async () => {
    const { page, workspace } = h;
    const name = 'reload';
    await recordStatusBar(page);
    await launchLong(name);
    await runRow(page, name).waitFor({ state: 'visible', timeout: 30_000 });
    const runDir = await waitFor(`the run directory of ${name}`, () => runDirByName(workspace, name), 30_000);
    const before = await waitFor(
      'step progress in the status bar',
      async () => {
        const steps = progressSteps(await recordedStatusBar(page), LONG_STEPS);
        return steps.length ? Math.max(...steps) : null;
      },
      TIMEOUTS.run,
      100,
    );
    const pid = runRecord(runDir).pid;
    assert.ok(pid, 'run.json has no pid');

    await reloadWindow(page);
    await recordStatusBar(page);
    // The window comes back with the Runs view open (restored a moment after the workbench); a
    // click on the activity bar icon could close it again, so it is opened by command if need be.
    const runsHeader = page.locator('.part.sidebar .pane-header h3.title', { hasText: 'Runs' }).first();
    const restored = await runsHeader.waitFor({ state: 'visible', timeout: 10_000 }).then(
      () => true,
      () => false,
    );
    if (!restored) await runCommand(page, 'Immiscible Lab: Focus on Runs View');
    const row = runRow(page, name);
    await row.locator('.codicon-sync').waitFor({ state: 'visible', timeout: 30_000 });
    // Reattached: the status bar progress moves again, past where it was before the reload.
    const steps = await waitFor(
      'the status bar progress to move after the reload',
      async () => {
        const s = [...new Set(progressSteps(await recordedStatusBar(page), LONG_STEPS))].filter((x) => x > before);
        return s.length >= 2 ? s : null;
      },
      60_000,
      100,
    );
    const record = runRecord(runDir);
    assert.equal(record.status, 'running');
    assert.equal(record.pid, pid, 'the same trainer process');
    process.stderr.write(`[e2e] before the reload: step ${before}; after: ${steps.slice(0, 5).join(', ')}\n`);
    await h.screenshot('reload-reattached');

    // Stopped from its row (the new window never spawned it: the pid in run.json gets SIGTERM).
    await stopFromRow(page, row, name, runDir);
    const stopped = await waitStatus(runDir, 'stopped');
    assert.ok(stopped.step > Math.max(...steps) - 1, `stopped at ${stopped.step}`);
    await row.locator('.codicon-debug-pause').waitFor({ state: 'visible', timeout: 15_000 });
    await noProgressInStatusBar();
  });

  scenario('the dashboard in the light theme (screenshots)', 90_000, async () => {
    const { page } = h;
    assert.ok(pairedDone, 'the paired comparison scenario did not complete');
    // The panel goes first: once the dashboard's webview has the focus, F1 does not reach the palette.
    if (await page.locator('.part.panel').isVisible()) await runCommand(page, 'View: Hide Panel');
    await onPairedRuns(page, 'Compare Selected Runs');
    const f = await dashboardFrame(page, '.config-table tbody tr');
    await setLightTheme(f);
    await waitFor('both galleries loaded', async () => {
      const st = await dashboardState(f);
      return st.tiles.length === 2 && st.tiles.every((t) => t.loaded);
    }, 20_000);
    await page.mouse.move(1100, 85);
    await h.screenshot('dashboard-compare-light');
    await f.locator('.run-row .run-name', { hasText: RUN_NAME }).first().click();
    await waitFor('the single-run view with its grid', async () => {
      const st = await dashboardState(f);
      return st.title === RUN_NAME && st.tiles.length === 1 && st.tiles[0].loaded;
    }, 10_000);
    await h.screenshot('dashboard-run-light');
  });

  /** Records the text of every notification toast from now on (a short study can end between polls). */
  const RECORD_TOASTS = `(() => {
    window.__immToasts = [];
    if (window.__immToastObserver) window.__immToastObserver.disconnect();
    const snap = () => {
      for (const el of document.querySelectorAll('.notifications-toasts .notification-toast')) {
        const t = el.innerText.trim();
        if (t && !window.__immToasts.includes(t)) window.__immToasts.push(t);
      }
    };
    window.__immToastObserver = new MutationObserver(snap);
    window.__immToastObserver.observe(document.body, { subtree: true, childList: true, characterData: true });
    snap();
  })()`;

  /** Where sbatch is on PATH (as for the extension host, which inherits it), Launch Study asks where to train. */
  const sbatchOnPath = (process.env.PATH ?? '').split(path.delimiter).some((d) => d !== '' && fs.existsSync(path.join(d, 'sbatch')));

  /** Launch Study on the tiny config: none and linear (picked by default), `seeds` seeds, `steps` a run. */
  const launchTinyStudy = async (page: Page, steps: number, where: 'This machine' | 'Slurm' = 'This machine', seeds = 1): Promise<void> => {
    await runCommand(page, 'Immiscible: Launch Study...');
    await pickRow(page, 'Launch Study', 'tiny.immiscible.json');
    const modes = await quickInput(page, /^Modes to compare/);
    await modes.locator('input.input').press('Enter');
    assert.equal(await fillInputBox(page, /^Seeds/, String(seeds)), '3');
    assert.equal(await fillInputBox(page, 'Training steps per run', String(steps)), '300');
    if (sbatchOnPath) await pickRow(page, "Where the study's runs train", where);
    if (where === 'Slurm') assert.equal(await fillInputBox(page, /^sbatch options/, '--time=10'), '');
  };

  // After the light theme scenario (code-server does not switch back): this one asserts no colours.
  scenario('Launch Study: none vs linear, two seeds; progress for the whole study, then its runs compared (and averaged over seeds) and its report', TIMEOUTS.run + 60_000, async () => {
    const { page, workspace } = h;
    const studies = path.join(workspace, 'studies');
    const before = fs.existsSync(studies) ? fs.readdirSync(studies) : [];
    await page.evaluate(RECORD_TOASTS);
    await launchTinyStudy(page, 150, 'This machine', 2);

    // The end: the report beside the dashboard comparing the study's two runs.
    await page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: TIMEOUTS.run });
    const created = fs.readdirSync(studies).filter((d) => !before.includes(d));
    assert.equal(created.length, 1, `new study folders: ${created.join(', ')}`);
    const dir = path.join(studies, created[0]);
    assert.ok(fs.existsSync(path.join(dir, 'report.md')), 'no report.md');
    const study = readJson(path.join(dir, 'study.json'));
    assert.match(JSON.stringify(study), /"none"/);
    assert.match(JSON.stringify(study), /"linear"/);
    const toasts = await page.evaluate(() => (window as unknown as { __immToasts?: string[] }).__immToasts ?? []);
    assert.ok(toasts.some((t) => /Study toy2d-gaussians8/.test(t) && /of 4/.test(t)), `progress notifications: ${JSON.stringify(toasts)}`);
    const f = await dashboardFrame(page, '.config-table tbody tr');
    const st = await waitFor('the study\'s four runs compared', async () => {
      const s2 = await dashboardState(f);
      return s2.title === 'Compare 4 runs' && (s2.datasets.loss ?? []).length >= 4 ? s2 : null;
    }, 20_000);
    assert.deepEqual([...st.configKeys].sort(), ['assignment.mode', 'seed']);
    // The report rendered in the Markdown preview (a webview of its own): its title and a table.
    const preview = await waitFor('the report rendered in the Markdown preview', async () => {
      for (const fr of page.frames()) {
        try {
          const h1 = await fr.$('h1');
          if (h1 && /^Study toy2d-gaussians8: does immiscible assignment speed up training\?/.test((await h1.innerText()).trim())) return fr;
        } catch {
          // a frame navigating away: the next poll sees its successor
        }
      }
      return null;
    }, 20_000);
    assert.ok((await preview.$$('table')).length > 0, 'the rendered report has no table');
    await page.mouse.move(1100, 85);
    await h.screenshot('study-report');

    // Mean over seeds: one loss line per mode, each the mean of its two seeds over their range.
    // The report's preview closed (middle click), the dashboard has the editor's width.
    await page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().click({ button: 'middle' });
    await f.locator('label', { hasText: 'mean over seeds' }).locator('input').check();
    const means = await waitFor('one loss line per mode, averaged over its seeds', async () => {
      const labels = (await dashboardState(f)).datasets.loss ?? [];
      return labels.length === 2 && labels.every((l) => /: mean of 2$/.test(l)) ? labels : null;
    }, 15_000);
    assert.deepEqual(means.map((l) => /none|linear/.exec(l)?.[0]).sort(), ['linear', 'none']);
    await f.evaluate(() => document.querySelector('.chart-card')?.scrollIntoView({ block: 'start' }));
    await page.waitForTimeout(700);
    await h.screenshot('dashboard-seed-mean');
  });

  scenario('Reload Window during a study: its notification comes back and the study still ends in its report', TIMEOUTS.run + 210_000, async () => {
    const { page, workspace } = h;
    const studies = path.join(workspace, 'studies');
    const before = fs.existsSync(studies) ? fs.readdirSync(studies) : [];
    await runCommand(page, 'View: Close All Editors');
    // Long enough to be running through the reload (over 10 s a run here, with a sample grid and a
    // checkpoint every 100 steps), short enough to end well within the wait below on a loaded CI machine.
    await launchTinyStudy(page, 1000);
    const dir = await waitFor('the study folder with its pid', () => {
      const created = fs.existsSync(studies) ? fs.readdirSync(studies).filter((d) => !before.includes(d)) : [];
      const rec = created.length === 1 && fs.existsSync(path.join(studies, created[0], 'study.json')) ? readJson(path.join(studies, created[0], 'study.json')) : null;
      return rec && typeof rec.pid === 'number' && rec.status === 'running' ? path.join(studies, created[0]) : null;
    }, 30_000);
    const pid = readJson(path.join(dir, 'study.json')).pid;

    await reloadWindow(page);
    await page.evaluate(RECORD_TOASTS);
    // The new window found the same study process and shows its progress again.
    const toast = await waitFor('the study notification after the reload', async () => {
      const toasts = await page.evaluate(() => (window as unknown as { __immToasts?: string[] }).__immToasts ?? []);
      return toasts.find((t) => /Study toy2d-gaussians8/.test(t) && /run \d of 2/.test(t)) ?? null;
    }, 30_000, 200);
    assert.equal(readJson(path.join(dir, 'study.json')).pid, pid, 'the same study process');
    // It moves with the run's steps, as before the reload (from the run's own events file).
    const stepToast = await waitFor('per-step progress in the study notification after the reload', async () => {
      const toasts = await page.evaluate(() => (window as unknown as { __immToasts?: string[] }).__immToasts ?? []);
      return toasts.find((t) => /Study toy2d-gaussians8/.test(t) && /run \d of 2 \([a-z]+, seed \d+\): step \d+\/1000/.test(t)) ?? null;
    }, 30_000, 200);
    process.stderr.write(`[e2e] after the reload: ${toast.replace(/\s+/g, ' ')}; then ${stepToast.replace(/\s+/g, ' ')}\n`);
    await h.screenshot('study-reattached');

    // Its end, followed by the new window: the report opens beside the comparison.
    await page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: TIMEOUTS.run + 120_000 });
    const rec = readJson(path.join(dir, 'study.json'));
    assert.equal(rec.status, 'completed');
    assert.equal(rec.pid, null);
    assert.ok(fs.existsSync(path.join(dir, 'report.md')), 'no report.md');
  });
  scenario('Launch Run on Slurm: queued with its job id, Stop takes it off the queue, Resume resubmits it and it trains to completed', TIMEOUTS.run + 120_000, async () => {
    if (noSlurm) {
      process.stderr.write(`[e2e] Slurm scenario skipped: ${noSlurm}\n`);
      return;
    }
    const { page, workspace } = h;
    const name = 'on-slurm';
    // The Runs view in sight, whatever the earlier scenarios left open (by command: a click on the
    // activity bar icon would close it if it were open); their webviews closed, which can take
    // the focus back from the command palette.
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Immiscible Lab: Focus on Runs View');
    await runCommand(page, 'Immiscible: Launch Run on Slurm...');
    await pickRow(page, 'Launch Run on Slurm', 'tiny.immiscible.json');
    await fillInputBox(page, 'Run name', name);
    assert.equal(await acceptInputBox(page, 'Seed'), '0');
    assert.equal(await acceptInputBox(page, 'Training steps'), '300');
    await pickRow(page, 'Assignment mode', 'none');
    // Held by a start time an hour away, as a busy cluster would: the run waits in the queue.
    assert.equal(await fillInputBox(page, /^sbatch options/, '--begin=now+1hour'), '', 'immiscible.slurm.sbatchArgs is empty by default');

    const runDir = await waitFor(`the run directory of ${name}`, () => runDirByName(workspace, name), 30_000);
    const queued = await waitStatus(runDir, 'queued');
    const job = queued.scheduler?.jobId ?? '';
    assert.ok(job, 'run.json names the job');
    assert.deepEqual(queued.scheduler?.resubmit, { left: 1, warnSeconds: 120 }, 'immiscible.slurm.resubmits, set in the user settings');
    const row = runRow(page, name);
    await row.locator('.codicon-clock').waitFor({ state: 'visible', timeout: 15_000 });
    await waitFor(`the row description "Slurm job ${job}"`, async () => (await row.innerText()).includes(`Slurm job ${job}`), 10_000);
    await row.click();
    await h.screenshot('slurm-queued');

    await inlineAction(page, row, 'Stop Run');
    await waitStatus(runDir, 'stopped');
    await row.locator('.codicon-debug-pause').waitFor({ state: 'visible', timeout: 15_000 });
    const state = (id: string): string => spawnSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], { env: process.env, encoding: 'utf8' }).stdout.trim();
    assert.equal(state(job), 'CANCELLED');

    // Resume sends it back to Slurm with the options it had; the cluster then starts it.
    await inlineAction(page, row, 'Resume Run');
    const again = await waitStatus(runDir, 'queued', 30_000, (r) => r.scheduler?.jobId !== job);
    const second = again.scheduler as { jobId: string; sbatchArgs: string[]; resubmit?: unknown };
    assert.deepEqual(second.sbatchArgs, ['--begin=now+1hour']);
    assert.deepEqual(second.resubmit, { left: 1, warnSeconds: 120 }, 'Resume gives the run the setting\'s resubmissions again');
    assert.equal(state(second.jobId), 'PENDING');
    assert.equal(spawnSync('scontrol', ['update', `JobId=${second.jobId}`, 'StartTime=now'], { env: process.env }).status, 0);
    await row.locator('.codicon-pass').waitFor({ state: 'visible', timeout: TIMEOUTS.run });
    const done = runRecord(runDir);
    assert.equal(done.status, 'completed');
    assert.equal(done.step, 300);
    assert.ok(fs.existsSync(path.join(runDir, `slurm-${second.jobId}.out`)), 'the job output beside the run');
  });
  scenario('Reload Window while Slurm holds a requeued job: the stopped run shows queued again and is followed through its restart', TIMEOUTS.run + 60_000, async () => {
    if (noSlurm) {
      process.stderr.write(`[e2e] Slurm requeue scenario skipped: ${noSlurm}\n`);
      return;
    }
    const { page, workspace } = h;
    const name = 'requeued-on-slurm';
    // Submitted from a terminal: this window shows the run but does not follow it.
    const submit = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'trainer.js'), 'submit', '--config', 'configs/tiny.immiscible.json', '--runs', 'runs', '--name', name, '--set', `training.steps=${LONG_STEPS}`], { cwd: workspace, env: process.env, encoding: 'utf8' });
    assert.equal(submit.status, 0, submit.stderr);
    const { runDir, jobId } = JSON.parse(submit.stdout) as { runDir: string; jobId: string };
    await waitFor('30 steps on the cluster', () => runRecord(runDir).status === 'running' && fs.readFileSync(path.join(runDir, RUN_FILES.metrics), 'utf8').split('\n').length > 30, TIMEOUTS.run);
    // Slurm requeues the job (as a preemption does) and holds it: the trainer stops with a checkpoint.
    assert.equal(spawnSync('scontrol', ['requeuehold', jobId], { env: process.env }).status, 0);
    await waitStatus(runDir, 'stopped');
    await runCommand(page, 'View: Close All Editors');
    await runCommand(page, 'Immiscible Lab: Focus on Runs View');
    await runRow(page, name).locator('.codicon-debug-pause').waitFor({ state: 'visible', timeout: 15_000 });

    await reloadWindow(page);
    await recordStatusBar(page);
    const runsHeader = page.locator('.part.sidebar .pane-header h3.title', { hasText: 'Runs' }).first();
    if (!(await runsHeader.waitFor({ state: 'visible', timeout: 10_000 }).then(() => true, () => false))) await runCommand(page, 'Immiscible Lab: Focus on Runs View');
    const row = runRow(page, name);
    // The new window asked squeue, found the job waiting again and follows the run as queued.
    await row.locator('.codicon-clock').waitFor({ state: 'visible', timeout: 30_000 });
    assert.equal(runRecord(runDir).status, 'queued');
    assert.match(fs.readFileSync(path.join(runDir, RUN_FILES.log), 'utf8'), new RegExp(`Slurm requeued job ${jobId} \\(\\w+\\): it continues the run from its checkpoint`));

    assert.equal(spawnSync('scontrol', ['release', jobId], { env: process.env }).status, 0);
    // Followed: its progress reaches the status bar, which only a followed run's does.
    const at = runRecord(runDir).step;
    await waitFor('the restarted job\'s progress in the status bar', async () => progressSteps(await recordedStatusBar(page), LONG_STEPS).some((s) => s > at), TIMEOUTS.run, 100);
    await row.locator('.codicon-sync').waitFor({ state: 'visible', timeout: 15_000 });
    await stopFromRow(page, row, name, runDir);
    await waitStatus(runDir, 'stopped');
    await noProgressInStatusBar();
  });
  scenario('Launch Study on Slurm: both runs queued as jobs at once, trained on the cluster, the report opens', TIMEOUTS.run + 60_000, async () => {
    if (noSlurm || !sbatchOnPath) {
      process.stderr.write(`[e2e] Slurm study scenario skipped: ${noSlurm || 'sbatch is not on PATH'}\n`);
      return;
    }
    const { page, workspace } = h;
    const studies = path.join(workspace, 'studies');
    const before = fs.existsSync(studies) ? fs.readdirSync(studies) : [];
    await runCommand(page, 'View: Close All Editors');
    await launchTinyStudy(page, 100, 'Slurm');
    await page.locator('.tabs-container .tab', { hasText: 'report.md' }).first().waitFor({ state: 'visible', timeout: TIMEOUTS.run });
    const created = fs.readdirSync(studies).filter((d) => !before.includes(d));
    assert.equal(created.length, 1, `new study folders: ${created.join(', ')}`);
    const study = readJson(path.join(studies, created[0], 'study.json')) as { status: string; argv: string[]; runs: { runDir: string }[] };
    assert.equal(study.status, 'completed');
    assert.ok(study.argv.includes('--slurm') && study.argv.includes('--sbatch=--time=10'), `argv: ${study.argv.join(' ')}`);
    assert.equal(study.argv[study.argv.indexOf('--resubmit') + 1], '1', `immiscible.slurm.resubmits in the argv: ${study.argv.join(' ')}`);
    for (const e of study.runs) {
      const r = runRecord(e.runDir);
      assert.equal(r.status, 'completed');
      assert.deepEqual(r.scheduler?.sbatchArgs, ['--time=10'], `${e.runDir}: trained by a Slurm job`);
      assert.deepEqual(r.scheduler?.resubmit, { left: 1, warnSeconds: 120 }, `${e.runDir}: with the setting's resubmissions`);
    }
  });
});
