/**
 * Spawns the real bundled trainer (dist/trainer.js) on a tiny 2-D problem: 2,000 steps take a
 * few seconds, so every scenario runs against the real process, signals and run directory.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunLauncher, type EventOf, type LauncherEvents, type RunJob, type RunLauncherOptions } from '../../src/extension/launch/launcher';
import { LineBuffer } from '../../src/extension/launch/follow';
import { isPidAlive } from '../../src/core/run/liveness';
import { listCheckpoints, listRunDirs, readRunRecord } from '../../src/core/run/reader';
import type { RunRecord } from '../../src/core/run/format';

const ROOT = path.resolve(__dirname, '../..');
const TRAINER = path.join(ROOT, 'dist', 'trainer.js');
const TINY = {
  name: 'tiny',
  group: 'launch-test',
  backend: 'wasm',
  data: { source: 'toy2d' },
  model: { type: 'mlp', hidden: 16, layers: 1 },
  diffusion: { timesteps: 20 },
  training: { steps: 2000, batchSize: 32, sampleEvery: 0, checkpointEvery: 0 },
  sampling: { count: 16, steps: 10 },
};

let work = '';
let config = '';
const launchers: RunLauncher[] = [];

function newestMtime(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

before(() => {
  // The bundle must match the sources it is built from: rebuild when missing or older.
  const sources = Math.max(newestMtime(path.join(ROOT, 'src', 'trainer')), newestMtime(path.join(ROOT, 'src', 'core')));
  const stale = !fs.existsSync(TRAINER) || fs.statSync(TRAINER).mtimeMs < sources;
  if (stale) {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, `node scripts/build.mjs failed:\n${r.stdout}${r.stderr}`);
  }
  assert.ok(fs.existsSync(TRAINER), `${TRAINER} missing: run node scripts/build.mjs`);
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-launch-'));
  config = path.join(work, 'tiny.json');
  fs.writeFileSync(config, JSON.stringify(TINY));
});

after(() => {
  for (const l of launchers) l.dispose();
  // Never leave a trainer behind, whatever failed.
  for (const runs of fs.readdirSync(work).filter((n) => n.startsWith('runs-')))
    for (const dir of listRunDirs(path.join(work, runs))) {
      const pid = readRunRecord(dir).record?.pid;
      if (pid && isPidAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  fs.rmSync(work, { recursive: true, force: true });
});

function launcher(o: Partial<RunLauncherOptions> = {}): RunLauncher {
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: ROOT, ...o });
  launchers.push(l);
  return l;
}

let runsCounter = 0;
const runsDir = (): string => path.join(work, `runs-${runsCounter++}`);

/** Resolves with the first `event` for `job` (or any job) that passes `pred`. */
function waitFor<K extends 'started' | 'progress' | 'finished' | 'checkpoint'>(
  l: RunLauncher,
  event: K,
  job: RunJob | null,
  pred: (e: EventOf<K>) => boolean = () => true,
  ms = 20_000,
): Promise<EventOf<K>> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${event}`));
    }, ms);
    const fn = ((j: RunJob, e: EventOf<K>) => {
      if ((job && j !== job) || !pred(e)) return;
      clearTimeout(t);
      off();
      resolve(e);
    }) as LauncherEvents[K];
    const off = l.on(event, fn);
  });
}

const record = (dir: string): RunRecord => {
  const r = readRunRecord(dir).record;
  assert.ok(r, `no run.json in ${dir}`);
  return r;
};

test('LineBuffer holds back a partial line and a split multi-byte character', () => {
  const b = new LineBuffer();
  assert.deepEqual(b.push('{"a":1}\n{"b"'), ['{"a":1}']);
  const euro = Buffer.from('€\n');
  assert.deepEqual(b.push(Buffer.concat([Buffer.from(':"'), euro.subarray(0, 1)])), []);
  assert.deepEqual(b.push(euro.subarray(1)), ['{"b":"€']);
  assert.deepEqual(b.push('tail'), []);
  assert.deepEqual(b.end(), ['tail']);
});

test('start: progress arrives; stop: the run is stopped with a checkpoint; resume continues from it', async () => {
  const l = launcher();
  const runs = runsDir();
  const progress: number[] = [];
  l.on('progress', (_j, e) => progress.push(e.step));
  const stderr: string[] = [];
  l.on('stderr', (_j, line) => stderr.push(line));
  const job = l.launch({ config, runsDir: runs, name: 'stop-me' });
  const started = await waitFor(l, 'started', job);
  assert.equal(started.resumed, false);
  assert.equal(started.backend, 'wasm');
  await waitFor(l, 'progress', job, (e) => e.step >= 20);
  assert.ok(job.runDir && job.pid, 'job knows its run dir and pid');
  assert.equal(record(job.runDir).status, 'running');
  assert.equal(record(job.runDir).pid, job.pid);

  assert.equal(l.stop(job.runDir), true);
  const finished = await waitFor(l, 'finished', job);
  const outcome = await job.done;
  assert.equal(finished.status, 'stopped', stderr.join('\n'));
  assert.deepEqual([outcome.status, outcome.exitCode], ['stopped', 0]);
  const r = record(job.runDir);
  assert.equal(r.status, 'stopped');
  assert.equal(r.pid, null);
  assert.ok(r.step > 0 && r.step < 2000);
  assert.deepEqual(listCheckpoints(job.runDir).map((c) => c.step), [r.step]);
  assert.ok(progress.length > 0 && progress.every((s, i) => i === 0 || s > progress[i - 1]), 'progress steps increase');
  assert.equal(job.state, 'finished');

  // Resume: starts at the checkpoint's step and goes on from there.
  const stoppedAt = r.step;
  const resumed = l.resume(job.runDir);
  assert.equal(resumed.runDir, job.runDir);
  const s2 = await waitFor(l, 'started', resumed);
  assert.equal(s2.resumed, true);
  assert.equal(s2.step, stoppedAt);
  const p2 = await waitFor(l, 'progress', resumed);
  assert.ok(p2.step > stoppedAt, `progress ${p2.step} after resuming at ${stoppedAt}`);
  l.stop(resumed);
  const o2 = await resumed.done;
  assert.equal(o2.status, 'stopped');
  assert.ok(record(job.runDir).step > stoppedAt);
});

test('a crashing trainer ends the job failed with its message; a refused config too', async () => {
  const l = launcher();
  const runs = runsDir();
  // A data file that is there but is not what it should be: found only when the trainer reads it.
  const garbage = path.join(work, 'not-images.idx');
  fs.writeFileSync(garbage, 'not an IDX file');
  const job = l.launch({
    config,
    runsDir: runs,
    set: ['data.source=idx', `data.path=${garbage}`, 'model.type=unet', 'model.channelMults=[1]'],
  });
  const finished = await waitFor(l, 'finished', job);
  const outcome = await job.done;
  assert.equal(finished.status, 'failed');
  assert.match(finished.error ?? '', /not-images\.idx: .*IDX/);
  assert.deepEqual([outcome.status, outcome.exitCode], ['failed', 1]);
  assert.ok(job.runDir);
  const r = record(job.runDir);
  assert.equal(r.status, 'failed');
  assert.match(r.error?.message ?? '', /IDX/);

  // A data file that is not there: refused before a run is made for it.
  const missing = await l.launch({ config, runsDir: runs, set: ['data.source=idx', `data.path=${path.join(work, 'no-such-images.idx')}`, 'model.type=unet', 'model.channelMults=[1]'] }).done;
  assert.deepEqual([missing.status, missing.exitCode], ['failed', 2]);
  assert.match(missing.error ?? '', /data\.path: expected an existing file or folder .*no-such-images\.idx", which is not there/);
  assert.equal(fs.readdirSync(runs).length, 1, 'no run made for the missing file');

  // Invalid config: no run directory at all; the trainer's stderr is the message.
  const bad = l.launch({ config, runsDir: runs, set: ['data.source=idx'] });
  const o = await bad.done;
  assert.equal(o.status, 'failed');
  assert.equal(o.exitCode, 2);
  assert.match(o.error ?? '', /invalid config[\s\S]*data\.path/);
  assert.equal(bad.runDir, null);

  // No Node at the configured path.
  const nowhere = launcher({ node: path.join(work, 'no-node') });
  const lost = await nowhere.launch({ config, runsDir: runs }).done;
  assert.equal(lost.status, 'failed');
  assert.match(lost.error ?? '', /cannot start the trainer: spawn .*no-node ENOENT/);
});

test('reattach: another launcher follows a live run after the spawning host went away, stops it, and follows its resume to the end', async () => {
  const a = launcher();
  const runs = runsDir();
  const job = a.launch({ config, runsDir: runs });
  await waitFor(a, 'progress', job);
  assert.ok(job.runDir && job.pid);
  // The host that spawned it goes away (its stdout pipe closes); the detached trainer goes on.
  a.dispose();

  const b = launcher();
  const progress: number[] = [];
  b.on('progress', (_j, e) => progress.push(e.step));
  const followed = b.reattach(job.runDir);
  assert.equal(followed.state, 'running');
  assert.equal(followed.pid, job.pid);
  assert.equal(b.reattach(job.runDir), followed, 'one follower per run');
  // Progress keeps coming after the spawning host's pipe closed: the trainer survived it.
  const p1 = await waitFor(b, 'progress', followed);
  await waitFor(b, 'progress', followed, (e) => e.step > p1.step + 100);
  // This launcher did not spawn it, but can stop it (by the pid in run.json).
  assert.equal(b.stop(job.runDir), true);
  const finished = await waitFor(b, 'finished', followed);
  assert.equal(finished.status, 'stopped');
  assert.ok(progress.length >= 2, 'progress events were followed');
  assert.ok(progress.every((s, i) => i === 0 || s > progress[i - 1]));
  assert.equal(finished.step, record(job.runDir).step);
  assert.deepEqual(listCheckpoints(job.runDir).map((c) => c.step), [finished.step]);
  assert.equal((await followed.done).status, 'stopped');

  // Resumed by B and followed to the end by a third launcher.
  const resumed = b.resume(job.runDir);
  await waitFor(b, 'progress', resumed);
  const c = launcher();
  const last = c.reattach(job.runDir);
  const done = await waitFor(c, 'finished', last);
  assert.deepEqual([done.status, done.step], ['completed', 2000]);
  assert.equal((await resumed.done).status, 'completed');
  assert.equal(record(job.runDir).status, 'completed');

  // Reattaching to a finished run just reports it.
  const again = b.reattach(job.runDir);
  assert.equal(again.state, 'finished');
  assert.equal((await again.done).status, 'completed');
});

test('a SIGKILLed trainer is marked failed: at once by its launcher, after the heartbeat goes stale when reattached', async () => {
  // Its own launcher sees the process end without `finished`.
  const l = launcher();
  const runs = runsDir();
  const own = l.launch({ config, runsDir: runs });
  await waitFor(l, 'progress', own);
  assert.ok(own.runDir && own.pid);
  process.kill(own.pid, 'SIGKILL');
  const o1 = await own.done;
  assert.equal(o1.status, 'failed');
  assert.equal(o1.signal, 'SIGKILL');
  assert.equal(o1.error, `trainer process ${own.pid} ended without finishing`);
  assert.equal(record(own.runDir).status, 'failed');
  assert.equal(record(own.runDir).pid, null);

  // A reattached launcher must wait for the heartbeat to go stale before declaring it dead.
  const a = launcher();
  const job = a.launch({ config, runsDir: runs });
  await waitFor(a, 'progress', job);
  assert.ok(job.runDir && job.pid);
  a.dispose();
  const staleMs = 2000;
  const b = launcher({ staleMs, checkIntervalMs: 100 });
  const followed = b.reattach(job.runDir);
  process.kill(job.pid, 'SIGKILL');
  const killedAt = Date.now();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(record(job.runDir).status, 'running', 'not declared dead while the heartbeat is fresh');
  assert.equal(followed.state, 'running');
  const finished = await waitFor(b, 'finished', followed);
  assert.equal(finished.status, 'failed');
  assert.equal(finished.error, `trainer process ${job.pid} ended without finishing`);
  const r = record(job.runDir);
  assert.equal(r.status, 'failed');
  assert.equal(r.error?.message, `trainer process ${job.pid} ended without finishing`);
  assert.equal(r.pid, null);
  assert.ok(Date.parse(r.endedAt ?? '') - killedAt < staleMs + 2000);
});

test('concurrency limit 1: the second launch waits in the queue until the first ends', async () => {
  const l = launcher({ maxConcurrent: 1 });
  const runs = runsDir();
  const set = ['training.steps=300'];
  const order: string[] = [];
  l.on('state', (j) => order.push(`${j.id}:${j.state}`));
  const first = l.launch({ config, runsDir: runs, name: 'first', set });
  const second = l.launch({ config, runsDir: runs, name: 'second', set });
  assert.equal(first.state, 'running');
  assert.equal(second.state, 'queued');
  assert.deepEqual(l.queued, [second]);
  const o1 = await first.done;
  const endedFirst = Date.now();
  assert.equal(o1.status, 'completed');
  const s2 = await waitFor(l, 'started', second);
  assert.ok(Date.parse(s2.time) >= endedFirst - 5);
  assert.equal((await second.done).status, 'completed');
  assert.deepEqual(order, [
    `${first.id}:queued`,
    `${first.id}:running`,
    `${second.id}:queued`,
    `${first.id}:finished`,
    `${second.id}:running`,
    `${second.id}:finished`,
  ]);
  const [r1, r2] = [record(first.runDir ?? ''), record(second.runDir ?? '')];
  assert.ok((r2.startedAt ?? '') >= (r1.endedAt ?? 'z'), 'the second trained only after the first ended');

  // A queued launch can be stopped before it starts.
  const third = l.launch({ config, runsDir: runs, name: 'third', set });
  const fourth = l.launch({ config, runsDir: runs, name: 'fourth', set });
  assert.equal(l.stop(fourth), true);
  assert.deepEqual(await fourth.done, { status: 'stopped', step: null, error: null, exitCode: null, signal: null, cancelled: true });
  // Stopped right after spawning, before the trainer could handle SIGTERM: held until its first
  // event, so it still stops cleanly with a checkpoint.
  assert.equal(third.state, 'running');
  assert.equal(l.stop(third), true);
  const o3 = await third.done;
  assert.deepEqual([o3.status, o3.cancelled, o3.exitCode], ['stopped', false, 0]);
  assert.equal(listCheckpoints(third.runDir ?? '').length, 1);
});
