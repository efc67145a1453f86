/**
 * Following a study after a window reload, without VS Code: a real study process started by
 * StudyProcess, found again through study.json's pid and followed from its events file; and the
 * cases a reload can meet (a resumed study's earlier attempts, a study killed hard, one stopped).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { makeStudyEvent, type StudyEvent } from '../../src/core/protocol/studyEvents';
import { STUDY_FILES, STUDY_FORMAT, STUDY_FORMAT_VERSION } from '../../src/core/study/format';
import { currentAttemptOffset, findRunningStudies, readStudyJson, StudyFollower } from '../../src/extension/study/studyFollower';
import { progressMessage, StudyProcess } from '../../src/extension/study/studyProcess';

const root = path.resolve(__dirname, '..', '..');
const trainerJs = path.join(root, 'dist/trainer.js');

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

test('a running study is found through study.json and followed to its report by a second follower', { timeout: 240_000 }, async () => {
  assert.ok(fs.existsSync(trainerJs), 'dist/trainer.js missing: run npm run build');
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-follow-'));
  const studies = path.join(cwd, 'studies');
  const outDir = path.join(studies, 'follow');
  let firstRunStarted: () => void = () => undefined;
  const started = new Promise<void>((r) => (firstRunStarted = r));
  const p = new StudyProcess({ trainerJs, cwd }, { config: path.join(root, 'configs/toy2d.json'), modes: ['none', 'linear'], seeds: 1, steps: 300, runsDir: path.join(cwd, 'runs'), outDir, name: 'follow', metric: 'loss', set: ['training.sampleEvery=0'] }, (e) => {
    if (e.type === 'run-started') firstRunStarted();
  });
  await started;

  // What a new window finds: the study, by its pid.
  const found = findRunningStudies(studies);
  assert.equal(found.length, 1, JSON.stringify(found.map((f) => f.outDir)));
  assert.equal(found[0].outDir, outDir);
  assert.equal(found[0].pid, p.pid);
  const events: StudyEvent[] = [];
  const follower = new StudyFollower(outDir, found[0].pid, (e) => events.push(e), { pollMs: 100 });
  const [followed, own] = await Promise.all([follower.done, p.done]);

  assert.equal(own.status, 'completed', own.error ?? '');
  assert.equal(followed.status, 'completed', followed.error ?? '');
  assert.equal(followed.report, path.join(outDir, STUDY_FILES.report));
  assert.ok(fs.existsSync(followed.report));
  const messages = events.map(progressMessage).filter((m): m is string => m !== null);
  // From the start of the attempt: the run that had started before the follower existed too.
  assert.ok(messages.includes('run 1 of 2 (none, seed 0): started'), messages.join('\n'));
  assert.ok(messages.includes('run 2 of 2 (linear, seed 0): completed'), messages.join('\n'));
  assert.equal(events.filter((e) => e.type === 'study-finished').length, 1);
  // Per-step progress from each run's own events file (the study's holds none), in order, up to
  // the run's last step, before its end.
  for (const index of [0, 1]) {
    const mine = events.filter((e) => 'index' in e && e.index === index);
    const steps = mine.flatMap((e) => (e.type === 'run-progress' ? [e.step] : []));
    assert.ok(steps.length >= 2, `run ${index}: progress steps ${steps.join(', ')}`);
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), `run ${index}: steps in order`);
    assert.equal(steps[steps.length - 1], 300, `run ${index}: its last step`);
    assert.equal(mine[mine.length - 1].type, 'run-finished', `run ${index}: ${mine.map((e) => e.type).join(', ')}`);
  }
  // Ended: the record no longer names a process, and nothing is found running.
  const rec = readStudyJson(outDir);
  assert.equal(rec?.pid, null);
  assert.deepEqual(findRunningStudies(studies), []);
  // Resume Study from a reattached window runs study.json's argv again: here all runs are done,
  // so it keeps them and writes the report again.
  const again = await new StudyProcess({ trainerJs, cwd: rec?.cwd ?? cwd }, { argv: rec?.argv ?? [] }, () => undefined).done;
  assert.equal(again.status, 'completed', again.error ?? '');
  assert.equal(again.report, followed.report);
});

function writeStudy(outDir: string, status: string, pid: number | null, events: StudyEvent[], error: string | null = null): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, STUDY_FILES.record), JSON.stringify({ format: STUDY_FORMAT, version: STUDY_FORMAT_VERSION, status, name: 's', pid, error }));
  fs.writeFileSync(path.join(outDir, STUDY_FILES.events), events.map((e) => JSON.stringify(e) + '\n').join(''));
}

const run = (index: number, resumed = false): StudyEvent => makeStudyEvent('run-started', 's', { index, total: 2, mode: index === 0 ? 'none' : 'linear', seed: 0, runDir: `/runs/r${index}`, resumed });

test("a resumed study is followed from its current attempt, and one killed hard ends as failed", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-follow-'));
  const outDir = path.join(dir, 'studies', 'resumed');
  const earlier = [
    makeStudyEvent('study-started', 's', { studyDir: outDir, total: 2, completed: 0, resumed: false }),
    run(0),
    makeStudyEvent('study-finished', 's', { status: 'stopped', report: null, error: null }),
  ];
  const current = [makeStudyEvent('study-started', 's', { studyDir: outDir, total: 2, completed: 0, resumed: true }), run(0, true)];
  const pid = deadPid();
  writeStudy(outDir, 'running', pid, [...earlier, ...current]);
  const file = path.join(outDir, STUDY_FILES.events);
  assert.equal(currentAttemptOffset(file), earlier.map((e) => JSON.stringify(e) + '\n').join('').length);
  // A torn last line (a write cut short) is not an event, and does not move the offset.
  fs.appendFileSync(file, '{"v":1,"type":"study-fin');
  assert.equal(currentAttemptOffset(file), earlier.map((e) => JSON.stringify(e) + '\n').join('').length);

  assert.deepEqual(findRunningStudies(path.join(dir, 'studies'), () => false), []);
  assert.deepEqual(findRunningStudies(path.join(dir, 'studies'), () => true).map((s) => s.outDir), [outDir]);

  const seen: StudyEvent[] = [];
  const o = await new StudyFollower(outDir, pid, (e) => seen.push(e), { pollMs: 50 }).done;
  assert.deepEqual(seen.map((e) => e.type), ['study-started', 'run-started']);
  assert.equal((seen[0] as Extract<StudyEvent, { type: 'study-started' }>).resumed, true);
  assert.equal(o.status, 'failed');
  assert.match(o.error ?? '', new RegExp(`pid ${pid}\\) ended without finishing`));
});

test('a study that ended while no window followed it reports how it ended', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-follow-'));
  const stopped = path.join(dir, 'stopped');
  writeStudy(stopped, 'stopped', null, [makeStudyEvent('study-started', 's', { studyDir: stopped, total: 2, completed: 0, resumed: false }), run(0)]);
  const o = await new StudyFollower(stopped, deadPid(), () => undefined, { pollMs: 50 }).done;
  assert.deepEqual({ status: o.status, report: o.report }, { status: 'stopped', report: null });

  // Its study-finished event, when written, is what ends the follower (the process may live on a moment).
  const done = path.join(dir, 'done');
  writeStudy(done, 'completed', null, [makeStudyEvent('study-finished', 's', { status: 'completed', report: '/x/report.md', error: null })]);
  fs.writeFileSync(path.join(done, STUDY_FILES.events), '');
  const follower = new StudyFollower(done, process.pid, () => undefined, { pollMs: 50 });
  fs.appendFileSync(path.join(done, STUDY_FILES.events), JSON.stringify(makeStudyEvent('study-finished', 's', { status: 'completed', report: '/x/report.md', error: null })) + '\n');
  const ended = await follower.done;
  assert.deepEqual({ status: ended.status, report: ended.report }, { status: 'completed', report: '/x/report.md' });
});

test('a study running on another host (a shared folder) is not taken for one of ours, whatever its pid', () => {
  const studies = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-hosts-'));
  const write = (name: string, extra: Record<string, unknown>): void => {
    fs.mkdirSync(path.join(studies, name));
    fs.writeFileSync(path.join(studies, name, STUDY_FILES.record), JSON.stringify({ format: STUDY_FORMAT, version: STUDY_FORMAT_VERSION, status: 'running', runs: [], pid: process.pid, ...extra }));
  };
  write('elsewhere', { host: 'gpu-node-7' });
  write('here', { host: os.hostname() });
  write('before-hosts', {});
  assert.deepEqual(
    findRunningStudies(studies).map((s) => path.basename(s.outDir)),
    ['before-hosts', 'here'],
  );
  fs.rmSync(studies, { recursive: true, force: true });
});
