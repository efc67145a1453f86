/**
 * The study notification's words and fraction (StudyProgress): one run at a time as before; runs
 * training at once (a Slurm study) listed in index order, the fraction summed over runs.
 */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeStudyEvent, type StudyEvent } from '../../src/core/protocol/studyEvents';
import type { StudyMode } from '../../src/core/study/format';
import { StudyProgress, type StudyProgressReport } from '../../src/extension/study/studyProgress';
import { progressMessage } from '../../src/extension/study/studyProcess';

const S = 'toy';
const total = 4;
const modes: StudyMode[] = ['none', 'linear', 'none', 'linear'];
const ref = (index: number): { index: number; total: number; mode: StudyMode; seed: number } => ({ index, total, mode: modes[index], seed: index >> 1 });
const started = (i: number): StudyEvent => makeStudyEvent('run-started', S, { ...ref(i), runDir: `/runs/r${i}`, resumed: false });
const step = (i: number, s: number): StudyEvent => makeStudyEvent('run-progress', S, { ...ref(i), step: s, totalSteps: 200, loss: 0.5 });
const finished = (i: number): StudyEvent => makeStudyEvent('run-finished', S, { ...ref(i), runDir: `/runs/r${i}`, status: 'completed', metric: 'fd_lenet', value: 1, seconds: 3 });

function play(events: StudyEvent[]): (StudyProgressReport | null)[] {
  const p = new StudyProgress();
  return events.map((e) => p.update(e));
}

test('one run at a time: the current run\'s own words, and the fraction of the runs before it plus its steps', () => {
  const events = [makeStudyEvent('study-started', S, { studyDir: '/s', total, completed: 0, resumed: false }), started(0), step(0, 100), finished(0), started(1), step(1, 50)];
  const shown = play(events);
  assert.equal(shown[0], null, 'study-started says nothing');
  assert.deepEqual(
    shown.slice(1).map((r) => r?.message),
    events.slice(1).map(progressMessage),
  );
  assert.deepEqual(
    shown.slice(1).map((r) => r?.fraction),
    [0, 0.5 / 4, 1 / 4, 1 / 4, 1.25 / 4],
  );
});

test('a resumed study counts the runs completed before it; a log line keeps the fraction', () => {
  const shown = play([makeStudyEvent('study-started', S, { studyDir: '/s', total, completed: 2, resumed: true }), started(2), step(2, 100), makeStudyEvent('study-log', S, { level: 'info', message: 'Slurm requeued job 7' })]);
  assert.equal(shown[2]?.fraction, 2.5 / 4);
  assert.deepEqual(shown[3], { message: 'Slurm requeued job 7', fraction: 2.5 / 4 });
});

test('runs training at once: every one listed in index order whichever reported last, finished ones counted', () => {
  const p = new StudyProgress();
  p.update(makeStudyEvent('study-started', S, { studyDir: '/s', total, completed: 0, resumed: false }));
  for (const i of [0, 1, 2, 3]) p.update(started(i));
  p.update(step(2, 40));
  const a = p.update(step(0, 120));
  const b = p.update(step(2, 60));
  assert.equal(a?.message, '0 of 4 finished; training run 1 (none) 120/200, run 2 (linear) starting, run 3 (none) 40/200, 1 more');
  assert.equal(b?.message, '0 of 4 finished; training run 1 (none) 120/200, run 2 (linear) starting, run 3 (none) 60/200, 1 more');
  assert.equal(b?.fraction, (0.6 + 0.3) / 4);
  p.update(finished(0));
  p.update(finished(1));
  const c = p.update(step(3, 100));
  assert.equal(c?.message, '2 of 4 finished; training run 3 (none) 60/200, run 4 (linear) 100/200');
  assert.equal(c?.fraction, (2 + 0.3 + 0.5) / 4);
  // Down to one: its own words again.
  const d = p.update(finished(2));
  assert.equal(d?.message, progressMessage(finished(2)));
  assert.equal(p.update(finished(3))?.fraction, 1);
});

test('a run Slurm requeued trains again: it is listed again, and the fraction never counts it twice', () => {
  const p = new StudyProgress();
  p.update(makeStudyEvent('study-started', S, { studyDir: '/s', total: 2, completed: 0, resumed: false }));
  const two = (e: StudyEvent): StudyEvent => ({ ...e, total: 2 }) as StudyEvent;
  p.update(two(started(0)));
  p.update(two(started(1)));
  p.update(two(step(0, 100)));
  p.update(two(step(1, 100)));
  p.update(two(started(1)));
  const r = p.update(two(step(1, 120)));
  assert.equal(r?.message, '0 of 2 finished; training run 1 (none) 100/200, run 2 (linear) 120/200');
  assert.equal(r?.fraction, (0.5 + 0.6) / 2);
});
