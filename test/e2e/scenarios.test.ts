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
 * other (the launched run is the one the git scenario inspects).
 *
 * Under `npm test` / `npm run test:unit` (scripts/run-tests.mjs picks up every *.test.ts) they are
 * skipped unless IMMISCIBLE_E2E=1: they need several minutes and a one-time install.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import {
  ACTIVITY_ICON,
  TIMEOUTS,
  acceptInputBox,
  escapeRe,
  git,
  gitSnapshot,
  notificationTexts,
  pickRow,
  quickInput,
  runCommand,
  startHarness,
  statusBarTexts,
  tinyConfig,
  validateWithCli,
  waitFor,
  type GitSnapshot,
  type Harness,
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

describe('Immiscible Lab in a real VS Code', { skip: skipReason() }, () => {
  let h: Harness;
  let launched: Launched | null = null;

  before(
    async () => {
      h = await startHarness();
      process.stderr.write(`[e2e] start-up timings (s): ${JSON.stringify(h.timings)}\n`);
    },
    { timeout: TIMEOUTS.setup + 5 * 60_000 },
  );

  after(async () => {
    await h?.close();
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
    await runCommand(page, 'Immiscible: Show Run Output');
    await pickRow(page, 'Show Run Output', RUN_NAME);
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
});
