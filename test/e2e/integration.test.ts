/**
 * The extension's integration suite (test/integration/suite.ts) inside code-server's extension
 * host, through the test payload: the checkout (built) is the extension under development. Run
 * twice: as is, where every host test must pass and the exit code must be 0, and with a canary
 * that fails on purpose, where the exit code must be 1, so a failing host test is known to fail
 * `npm test`. Skipped like the scenarios unless IMMISCIBLE_E2E=1.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { ROOT, startHarness, type Harness } from './harness';

function skipReason(): string | false {
  if (process.env.IMMISCIBLE_E2E === '0') return 'IMMISCIBLE_E2E=0';
  const underUnitTests = ['test', 'test:unit'].includes(process.env.npm_lifecycle_event ?? '');
  if (underUnitTests && process.env.IMMISCIBLE_E2E !== '1') return 'end-to-end tests run with npm run test:e2e (or IMMISCIBLE_E2E=1)';
  if (process.platform !== 'linux') return 'the end-to-end harness is written for Linux';
  if (!fs.existsSync(path.join(ROOT, 'dist', 'extension.js'))) return 'dist/extension.js is not built (npm run build)';
  return false;
}

const SUITE_TIMEOUT_MS = 5 * 60_000;

async function buildSuite(): Promise<string> {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-suite-')));
  const out = path.join(dir, 'index.js');
  await esbuild.build({ entryPoints: [path.join(ROOT, 'test/integration/suite.ts')], bundle: true, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'], outfile: out, logLevel: 'warning' });
  return out;
}

async function runSuite(suiteJs: string, env: Record<string, string>): Promise<{ code: number; lines: string[] }> {
  let h: Harness | null = null;
  try {
    h = await startHarness({ extensionTests: { suiteJs, env } });
    const suite = h.suite;
    assert.ok(suite, 'the harness did not start the suite');
    const code = await Promise.race([suite.exit, new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`the suite did not finish in ${SUITE_TIMEOUT_MS / 1000} s:\n${suite.lines.join('\n')}`)), SUITE_TIMEOUT_MS))]);
    for (const l of suite.lines) process.stderr.write(`${l}\n`);
    return { code, lines: [...suite.lines] };
  } catch (e) {
    h?.markFailed();
    if (h) await h.saveFailure(`integration-${env.IMMISCIBLE_SUITE_CANARY === '1' ? 'canary' : 'suite'}`).catch(() => undefined);
    throw e;
  } finally {
    await h?.close();
  }
}

describe('the integration suite in the extension host', { skip: skipReason() }, () => {
  let suiteJs = '';

  test('every host test passes and the exit code is 0', { timeout: SUITE_TIMEOUT_MS + 10 * 60_000 }, async () => {
    suiteJs = await buildSuite();
    const r = await runSuite(suiteJs, {});
    const failed = r.lines.filter((l) => l.startsWith('[suite] not ok'));
    assert.deepEqual(failed, [], r.lines.join('\n'));
    assert.ok(r.lines.some((l) => /\[suite\] (\d+)\/\1 passed/.test(l)), `no summary line:\n${r.lines.join('\n')}`);
    assert.equal(r.code, 0);
  });

  test('a failing host test reaches the exit code (a canary that fails on purpose)', { timeout: SUITE_TIMEOUT_MS + 10 * 60_000 }, async () => {
    suiteJs ||= await buildSuite();
    const r = await runSuite(suiteJs, { IMMISCIBLE_SUITE_CANARY: '1' });
    assert.ok(r.lines.some((l) => l.startsWith('[suite] not ok') && l.includes('canary')), r.lines.join('\n'));
    assert.equal(r.code, 1);
    fs.rmSync(path.dirname(suiteJs), { recursive: true, force: true });
  });
});
