/**
 * Runs written by earlier trainers (test/trainer/fixtures/earlier-runs) resume with today's: their
 * config.json lacks keys added since, which take their defaults, and their checkpoints' hashes
 * still match. A stopped run must never become unresumable by an upgrade.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCheckpoints, readMetrics, readRunConfig, readRunConfigAsWritten, readRunRecord } from '../../src/core/run/reader';
import { readCheckpoint } from '../../src/trainer/train/checkpoint';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist/trainer.js');
const fixtures = path.join(__dirname, 'fixtures/earlier-runs');

/** A copy of the fixture written by `commit`'s trainer: resuming writes into it. */
function copyOf(commit: string): string {
  const from = path.join(fixtures, commit);
  const [id] = fs.readdirSync(from).filter((f) => !f.endsWith('.md'));
  const to = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-earlier-')), id);
  fs.cpSync(path.join(from, id), to, { recursive: true });
  return to;
}

const section = (v: unknown, key: string): Record<string, unknown> => (v as Record<string, Record<string, unknown>>)[key];

for (const commit of ['f2100eb', '3f642ac']) {
  test(`a run stopped by the trainer of ${commit} reads with today's defaults and resumes to the end`, () => {
    const dir = copyOf(commit);
    const written = readRunConfigAsWritten(dir) as Record<string, unknown>;
    assert.equal('objective' in written, false, 'the fixture predates config.objective');
    assert.equal('knnOn' in section(written, 'assignment'), false);
    // As git gives it: without the empty samples/ folder, which the trainer makes when it samples.
    assert.equal(fs.existsSync(path.join(dir, 'samples')), false);
    const config = readRunConfig(dir);
    assert.equal(config.objective, 'ddpm');
    assert.equal(config.assignment.knnOn, 'cpu');
    assert.equal(config.assignment.scope, 'global');
    assert.equal(config.training.accumulate, 1);
    assert.equal(config.evaluation.every, 0);

    const configBytes = fs.readFileSync(path.join(dir, 'config.json'));
    const before = readCheckpoint(listCheckpoints(dir)[0].dir).state.configHash;
    const r = spawnSync(process.execPath, [cli, 'train', '--resume', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const rec = readRunRecord(dir).record;
    assert.equal(rec?.status, 'completed');
    assert.equal(rec?.step, 10);
    const metrics = readMetrics(dir).metrics;
    assert.deepEqual(
      metrics.map((m) => m.step),
      Array.from({ length: 10 }, (_, i) => i + 1),
      'each step logged once',
    );
    assert.ok(metrics.every((m) => Number.isFinite(m.loss)));
    assert.deepEqual(fs.readFileSync(path.join(dir, 'config.json')), configBytes, 'config.json is left as written');
    assert.ok(fs.existsSync(path.join(dir, 'samples', 'step-0000010.png')), 'the final sample grid');
    const last = listCheckpoints(dir).at(-1);
    assert.equal(last?.step, 10);
    // The new checkpoint carries the same hash, so the run can be resumed again (from step 10 to a longer budget, say).
    assert.equal(readCheckpoint(last?.dir ?? '').state.configHash, before);
  });
}

test('a resume of a run whose config.json is invalid names the file and the field, and changes nothing', () => {
  const dir = copyOf('3f642ac');
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  config.training.batchSize = 'big';
  fs.writeFileSync(file, JSON.stringify(config));
  const snapshot = (): string[] => ['run.json', 'metrics.jsonl', 'events.jsonl', 'train.log'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  const before = snapshot();
  const r = spawnSync(process.execPath, [cli, 'train', '--resume', dir], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /config\.json: invalid config/);
  assert.match(r.stderr, /training\.batchSize: expected an integer >= 1 and <= 65536, found the string "big"/);
  assert.deepEqual(snapshot(), before);
  assert.equal(listCheckpoints(dir).length, 1);

  fs.writeFileSync(file, '{"training": ');
  const torn = spawnSync(process.execPath, [cli, 'train', '--resume', dir], { encoding: 'utf8' });
  assert.notEqual(torn.status, 0);
  assert.match(torn.stderr, /config\.json: invalid config\n {2}\(root\): expected valid JSON/);
  assert.deepEqual(snapshot(), before);
});

test('a resume after config.json was edited fails naming the checkpoint, and the run keeps its step and checkpoint', () => {
  const dir = copyOf('f2100eb');
  const file = path.join(dir, 'config.json');
  const config = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, Record<string, unknown>>;
  config.training.lr = 0.01;
  fs.writeFileSync(file, JSON.stringify(config));
  const r = spawnSync(process.execPath, [cli, 'train', '--resume', dir], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stdout, /step-0000005: checkpoint was written with another config/);
  const rec = readRunRecord(dir).record;
  assert.equal(rec?.status, 'failed');
  assert.equal(rec?.step, 5, 'the record keeps the step of the checkpoint it could not resume');
  assert.deepEqual(
    listCheckpoints(dir).map((c) => c.step),
    [5],
  );
  assert.equal(readMetrics(dir).metrics.length, 5);

  // Emptied: valid (every default), but not what the checkpoint was written with.
  fs.writeFileSync(file, '{}');
  const empty = spawnSync(process.execPath, [cli, 'train', '--resume', dir], { encoding: 'utf8' });
  assert.equal(empty.status, 1);
  assert.match(empty.stdout, /step-0000005: checkpoint was written with another config/);
  assert.equal(readRunRecord(dir).record?.step, 5);
});
