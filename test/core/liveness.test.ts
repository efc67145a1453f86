import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { beingTrained, isRunBeingTrained } from '../../src/core/run/liveness';
import type { RunRecord } from '../../src/core/run/format';

const now = Date.parse('2026-11-27T12:00:00Z');
const record = (o: Partial<RunRecord>): RunRecord =>
  ({ formatVersion: 1, id: 'r', name: 'r', group: '', status: 'running', host: 'here', pid: 4242, updatedAt: new Date(now - 2_000).toISOString(), step: 3, totalSteps: 10, error: null, ...o }) as RunRecord;
const alive = (pids: number[]) => (pid: number): boolean => pids.includes(pid);

test('a run is being trained: running, and here its pid alive, elsewhere its heartbeat fresh', () => {
  const o = { hostname: 'here', now, isAlive: alive([4242]) };
  assert.equal(isRunBeingTrained(record({}), o), true);
  assert.equal(isRunBeingTrained(record({ updatedAt: new Date(now - 600_000).toISOString() }), o), true, 'a live pid here counts, however quiet');
  assert.equal(isRunBeingTrained(record({ pid: 99 }), o), false, 'its pid is gone: the trainer died');
  assert.equal(isRunBeingTrained(record({ status: 'stopped' }), o), false);
  assert.equal(isRunBeingTrained(record({ status: 'failed' }), o), false);
  assert.equal(isRunBeingTrained(record({ host: 'gpu-node-7', pid: 99 }), o), true, 'another host: its fresh heartbeat counts');
  assert.equal(isRunBeingTrained(record({ host: 'gpu-node-7', updatedAt: new Date(now - 31_000).toISOString() }), o), false, 'another host, heartbeat stale');
  assert.equal(isRunBeingTrained(record({ pid: null }), o), true, 'no pid: the heartbeat');
  assert.equal(isRunBeingTrained(record({ pid: null, updatedAt: 'garbage' }), o), false);
});

test('the refusal names the run, the trainer and what to do', () => {
  assert.equal(
    beingTrained('/runs/r', record({}), now),
    '/runs/r: being trained now by pid 4242 on here, last heartbeat 2 s ago; stop that trainer first (SIGINT or SIGTERM: it writes a checkpoint), then resume',
  );
});
