/**
 * The extension's side of a study, without VS Code: StudyProcess starts the bundled CLI
 * (dist/trainer.js) detached and follows its events to the end; progressMessage words them.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import type { StudyEvent } from '../../src/core/protocol/studyEvents';
import { progressMessage, StudyProcess, studyArgs } from '../../src/extension/study/studyProcess';

const root = path.resolve(__dirname, '..', '..');
const trainerJs = path.join(root, 'dist/trainer.js');

test('studyArgs: the flags of immiscible study', () => {
  assert.deepEqual(studyArgs({ config: 'c.json', modes: ['none', 'knn'], seeds: 2, steps: 10, runsDir: 'runs', outDir: 'studies/x', name: 'n', metric: 'loss', set: ['backend=cpu'] }), [
    'study', '--config', 'c.json', '--modes', 'none,knn', '--seeds', '2', '--runs', 'runs', '--out', 'studies/x', '--steps', '10', '--name', 'n', '--metric', 'loss', '--set', 'backend=cpu',
  ]);
});

test('studyArgs on Slurm: --slurm and each sbatch option', () => {
  assert.deepEqual(studyArgs({ config: 'c.json', modes: ['none', 'linear'], seeds: 1, runsDir: 'runs', outDir: 'o', slurm: { sbatchArgs: ['--time=10', '--gres=gpu:1'] } }).slice(-3), ['--slurm', '--sbatch=--time=10', '--sbatch=--gres=gpu:1']);
  assert.ok(!studyArgs({ config: 'c.json', modes: ['none', 'linear'], seeds: 1, runsDir: 'runs', outDir: 'o' }).includes('--slurm'));
});

test('StudyProcess follows a real study to its report; progress reads "run i of n"', { timeout: 180_000 }, async () => {
  assert.ok(fs.existsSync(trainerJs), 'dist/trainer.js missing: run npm run build');
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-ext-'));
  const events: StudyEvent[] = [];
  const p = new StudyProcess({ trainerJs, cwd }, { config: path.join(root, 'configs/toy2d.json'), modes: ['none', 'linear'], seeds: 1, steps: 20, runsDir: path.join(cwd, 'runs'), outDir: path.join(cwd, 'study'), name: 'ext', metric: 'loss', set: ['training.sampleEvery=0'] }, (e) => events.push(e));
  const o = await p.done;
  assert.equal(o.status, 'completed', o.error ?? '');
  assert.equal(o.report, path.join(cwd, 'study', 'report.md'));
  assert.ok(fs.existsSync(o.report));
  const messages = events.map(progressMessage).filter((m): m is string => m !== null);
  assert.ok(messages.includes('run 1 of 2 (none, seed 0): started'), messages.join('\n'));
  assert.ok(messages.includes('run 2 of 2 (linear, seed 0): completed'), messages.join('\n'));
  assert.ok(messages.some((m) => /^run 2 of 2 \(linear, seed 0\): step \d+\/20$/.test(m)), messages.join('\n'));
});

test('StudyProcess reports a refused study as failed with the CLI message', { timeout: 60_000 }, async () => {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-ext-'));
  const p = new StudyProcess({ trainerJs, cwd }, { config: path.join(root, 'configs/toy2d.json'), modes: ['linear'], seeds: 1, runsDir: 'runs', outDir: 'study' }, () => undefined);
  const o = await p.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.exitCode, 2);
  assert.match(o.error ?? '', /--modes: expected the baseline "none"/);
});
