import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig } from '../../src/core/config/types';
import { RunWriter, configHash } from '../../src/core/run/writer';
import { listCheckpoints, listRunDirs, listSamples, readMetrics, readRunConfig, readRunRecord } from '../../src/core/run/reader';
import { parseJsonLines, writeJsonAtomic } from '../../src/core/run/fsAtomic';
import { RUN_FILES, RUN_FORMAT_VERSION, type MetricsLine } from '../../src/core/run/format';
import { makeEvent, parseEvent } from '../../src/core/protocol/events';

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-run-'));
}

function config(): RunConfig {
  const r = validateConfig({ name: 'x', group: 'g' });
  if (!r.ok) throw new Error('defaults invalid');
  return r.config;
}

const line = (step: number): MetricsLine => ({
  step,
  loss: 1 / step,
  lr: 0.001,
  gradNorm: 1,
  assign: null,
  imagesPerSec: 10,
  wallTime: step,
  time: new Date(0).toISOString(),
});

test('a created run has its record, config and folders', () => {
  const runs = tmp();
  const w = RunWriter.create(runs, config(), 'My Run!');
  assert.match(w.current.id, /^\d{8}-\d{6}-my-run-[0-9a-f]{4}$/);
  const s = readRunRecord(w.dir);
  assert.equal(s.recordError, null);
  assert.equal(s.record?.status, 'created');
  assert.equal(s.record?.formatVersion, RUN_FORMAT_VERSION);
  assert.equal(s.record?.configHash, configHash(config()));
  assert.deepEqual(readRunConfig(w.dir), config());
  assert.deepEqual(listRunDirs(runs), [w.dir]);
  w.update({ status: 'running', step: 5 });
  assert.equal(readRunRecord(w.dir).record?.step, 5);
  assert.ok(!fs.readdirSync(w.dir).some((f) => f.endsWith('.tmp')), 'no temp files left behind');
});

test('config hash ignores key order but not values', () => {
  const a = config();
  const b = JSON.parse(JSON.stringify(a, Object.keys(a).reverse())) as RunConfig;
  assert.equal(configHash(a), configHash({ ...b, ...a }));
  assert.notEqual(configHash(a), configHash({ ...a, seed: a.seed + 1 }));
});

test('the metrics reader tolerates a torn last line and reports bad middle lines', () => {
  const w = RunWriter.create(tmp(), config(), 'm');
  for (let i = 1; i <= 3; i++) w.appendMetrics(line(i));
  fs.appendFileSync(w.path(RUN_FILES.metrics), '{"step": 4, "lo');
  let r = readMetrics(w.dir);
  assert.deepEqual(r.metrics.map((m) => m.step), [1, 2, 3]);
  assert.equal(r.tornTail, true);
  fs.writeFileSync(w.path(RUN_FILES.metrics), JSON.stringify(line(1)) + '\nGARBAGE\n' + JSON.stringify(line(3)) + '\n');
  r = readMetrics(w.dir);
  assert.deepEqual(r.metrics.map((m) => m.step), [1, 3]);
  assert.deepEqual(r.badLines, [2]);
  assert.equal(r.tornTail, false);
});

test('parseJsonLines handles empty text and blank lines', () => {
  assert.deepEqual(parseJsonLines(''), { records: [], tornTail: false, badLines: [] });
  assert.deepEqual(parseJsonLines('{"a":1}\n\n{"a":2}\n').records, [{ a: 1 }, { a: 2 }]);
});

test('a broken or missing run.json is reported, not thrown', () => {
  const runs = tmp();
  const d1 = path.join(runs, 'broken');
  fs.mkdirSync(d1);
  fs.writeFileSync(path.join(d1, 'run.json'), '{"id": "broken", "sta');
  const s1 = readRunRecord(d1);
  assert.equal(s1.record, null);
  assert.match(s1.recordError ?? '', /run\.json: not valid JSON/);
  const d2 = path.join(runs, 'empty');
  fs.mkdirSync(d2);
  assert.match(readRunRecord(d2).recordError ?? '', /run\.json: missing/);
  const d3 = path.join(runs, 'wrongshape');
  fs.mkdirSync(d3);
  fs.writeFileSync(path.join(d3, 'run.json'), '{"formatVersion": 1, "id": "x", "status": "running"}');
  assert.match(readRunRecord(d3).recordError ?? '', /numeric "step"/);
  const d4 = path.join(runs, 'unknownstatus');
  fs.mkdirSync(d4);
  fs.writeFileSync(path.join(d4, 'run.json'), '{"formatVersion": 1, "id": "x", "status": "preempted", "step": 3}');
  assert.equal(
    readRunRecord(d4).recordError,
    `${path.join(d4, 'run.json')}: expected "status" to be one of created, queued, running, stopped, completed, failed, found "preempted"`,
  );
});

test('samples and complete checkpoints are listed by step', () => {
  const w = RunWriter.create(tmp(), config(), 's');
  for (const s of [200, 0, 100]) fs.writeFileSync(w.path('samples', `step-${String(s).padStart(7, '0')}.png`), '');
  fs.writeFileSync(w.path('samples', 'notes.txt'), '');
  assert.deepEqual(listSamples(w.dir).map((s) => s.step), [0, 100, 200]);
  fs.mkdirSync(w.path('checkpoints', 'step-0000100'));
  fs.writeFileSync(w.path('checkpoints', 'step-0000100', 'state.json'), '{}');
  fs.mkdirSync(w.path('checkpoints', 'step-0000200'));
  fs.mkdirSync(w.path('checkpoints', '.tmp-step-0000300-1'));
  assert.deepEqual(listCheckpoints(w.dir).map((c) => c.step), [100]);
});

test('atomic JSON writes replace the whole file', () => {
  const f = path.join(tmp(), 'a.json');
  writeJsonAtomic(f, { a: 1 });
  writeJsonAtomic(f, { b: 2 });
  assert.deepEqual(JSON.parse(fs.readFileSync(f, 'utf8')), { b: 2 });
});

test('events round-trip through the protocol and junk is ignored', () => {
  const e = makeEvent('progress', 'r1', { step: 3, totalSteps: 10, loss: 0.5, imagesPerSec: 12, etaSeconds: 4 });
  assert.deepEqual(parseEvent(JSON.stringify(e)), e);
  assert.equal(parseEvent('not json'), null);
  assert.equal(parseEvent('{"v":1,"type":"nope","runId":"r","time":"t"}'), null);
  assert.equal(parseEvent('{"v":2,"type":"progress","runId":"r","time":"t"}'), null);
  assert.equal(parseEvent('[1,2]'), null);
});

test('a runs folder that is a file is named, and nothing is written', () => {
  const dir = tmp();
  const file = path.join(dir, 'runs');
  fs.writeFileSync(file, 'not a folder');
  assert.throws(() => RunWriter.create(file, config(), 'x'), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: expected a folder for runs, found a file`));
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
  assert.deepEqual(fs.readdirSync(dir), ['runs']);
});
