/**
 * The launcher with runs trained by Slurm jobs, on a real one-node Slurm and the real bundled
 * trainer: submit and follow to the end, stop a queued and a running job, a job cancelled by
 * hand, a resubmission, a reload (reattach) while queued, and sbatch's refusal.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunLauncher, type EventOf, type RunJob } from '../../src/extension/launch/launcher';
import { listCheckpoints, readMetrics, readRunRecord } from '../../src/core/run/reader';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../fixtures/slurmCluster';
import { RunWriter } from '../../src/core/run/writer';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig } from '../../src/core/config/types';

const ROOT = path.resolve(__dirname, '../..');
const TRAINER = path.join(ROOT, 'dist', 'trainer.js');
const why = slurmUnavailable();
if (why && process.env.IMMISCIBLE_EXPECT_SLURM === '1') throw new Error(`IMMISCIBLE_EXPECT_SLURM=1 but ${why}`);
const skip = why ? `skipped: ${why}` : false;

let cluster: SlurmCluster;
let work = '';
let config = '';
const launchers: RunLauncher[] = [];

before(async () => {
  if (skip) return;
  assert.ok(fs.existsSync(TRAINER), `${TRAINER} missing: run node scripts/build.mjs`);
  cluster = await startSlurm();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-launch-slurm-'));
  config = path.join(work, 'tiny.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: 'tiny',
      backend: 'wasm',
      data: { source: 'toy2d', count: 1024 },
      model: { type: 'mlp', hidden: 16, layers: 1 },
      diffusion: { timesteps: 50 },
      training: { steps: 300, batchSize: 16, sampleEvery: 0, checkpointEvery: 0 },
      evaluation: { every: 0 },
    }),
  );
});

after(async () => {
  if (skip) return;
  for (const l of launchers) l.dispose();
  await cluster.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

function launcher(): RunLauncher {
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: work, env: cluster.env, checkIntervalMs: 200, maxConcurrent: 1 });
  launchers.push(l);
  return l;
}

const runs = (): string => path.join(work, 'runs');

/** The job's `submitted` event; fails with the job's outcome if it ends without one. */
function submitted(l: RunLauncher, job: RunJob): Promise<EventOf<'submitted'>> {
  return new Promise((resolve, reject) => {
    const off = l.on('submitted', (j, e) => {
      if (j !== job) return;
      off();
      resolve(e);
    });
    void job.done.then((o) => reject(new Error(`ended without submitting: ${JSON.stringify(o)}`)));
  });
}

async function until(what: string, ok: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('submit: queued, then the trainer\'s events from the cluster, to completed', { skip, timeout: 120_000 }, async () => {
  const l = launcher();
  // The compute nodes' Node.js at another path (immiscible.slurm.node): here a link to this one.
  const nodeOnNodes = path.join(work, 'node-on-nodes');
  fs.symlinkSync(process.execPath, nodeOnNodes);
  const job = l.submit({ config, runsDir: runs(), name: 'slurm-a', sbatchArgs: ['--time=10'], node: nodeOnNodes });
  const started = new Promise<EventOf<'started'>>((resolve) => l.on('started', (j, e) => j === job && resolve(e)));
  const e = await submitted(l, job);
  assert.equal(job.slurmJobId, e.jobId);
  assert.equal(job.runDir, e.runDir);
  assert.deepEqual(readRunRecord(e.runDir).record?.scheduler?.sbatchArgs, ['--time=10']);
  assert.equal((await started).step, 0);
  const outcome = await job.done;
  assert.deepEqual({ status: outcome.status, step: outcome.step, error: outcome.error }, { status: 'completed', step: 300, error: null });
  assert.equal(readRunRecord(e.runDir).record?.status, 'completed');
  assert.match(fs.readFileSync(path.join(e.runDir, 'slurm-job.sh'), 'utf8'), new RegExp(`\\nexec ${nodeOnNodes} `), 'the job ran the named Node.js');
});

test('a queued job does not hold back a local launch; Stop takes it off the queue; a job cancelled by hand is settled too', { skip, timeout: 120_000 }, async () => {
  const l = launcher();
  const waiting = l.submit({ config, runsDir: runs(), name: 'pending', sbatchArgs: ['--begin=now+1hour'] });
  const e = await submitted(l, waiting);
  const local = l.launch({ config, runsDir: runs(), name: 'local', set: ['training.steps=50'] });
  assert.equal(local.state, 'running', 'the concurrency limit counts local trainers only');
  assert.equal((await local.done).status, 'completed');
  assert.equal(readRunRecord(e.runDir).record?.status, 'queued');

  assert.equal(l.stop(e.runDir), true);
  const stopped = await waiting.done;
  assert.deepEqual({ status: stopped.status, step: stopped.step }, { status: 'stopped', step: 0 });
  assert.equal(readRunRecord(e.runDir).record?.status, 'stopped');

  const byHand = l.submit({ config, runsDir: runs(), name: 'by-hand', sbatchArgs: ['--begin=now+1hour'] });
  const h = await submitted(l, byHand);
  assert.equal(spawnSync('scancel', [h.jobId], { env: cluster.env }).status, 0);
  assert.equal((await byHand.done).status, 'stopped', 'a plain scancel of a pending job is noticed through squeue');
  assert.equal(readRunRecord(h.runDir).record?.status, 'stopped');
});

test('Stop on a running job: checkpoint and stopped; resubmitted, it continues to the end with each step once', { skip, timeout: 180_000 }, async () => {
  const l = launcher();
  const job = l.submit({ config, runsDir: runs(), name: 'long', set: ['training.steps=3000'], sbatchArgs: [] });
  const e = await submitted(l, job);
  await until('30 steps on the cluster', () => readMetrics(e.runDir).metrics.length > 30);
  assert.equal(l.stop(e.runDir), true);
  const out = await job.done;
  assert.equal(out.status, 'stopped');
  const at = out.step ?? 0;
  assert.deepEqual(
    listCheckpoints(e.runDir).map((c) => c.step),
    [at],
  );
  const again = l.submitResume(e.runDir, { sbatchArgs: readRunRecord(e.runDir).record?.scheduler?.sbatchArgs ?? [] });
  const s = await submitted(l, again);
  assert.notEqual(s.jobId, e.jobId);
  const resumed = new Promise<EventOf<'started'>>((resolve) => l.on('started', (j, ev) => j === again && resolve(ev)));
  assert.equal((await resumed).step, at, 'the old run\'s events are not replayed: the new start is the one seen');
  const done = await again.done;
  assert.deepEqual({ status: done.status, step: done.step }, { status: 'completed', step: 3000 });
  const steps = readMetrics(e.runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: 3000 }, (_, i) => i + 1));
});

test('a run that hands itself on to its next job (automatic resubmission) is followed through it, as one job', { skip, timeout: 180_000 }, async () => {
  const l = launcher();
  const job = l.submit({ config, runsDir: runs(), name: 'handed-on', set: ['training.steps=100000'], sbatchArgs: ['--time=10'], resubmits: 1 });
  const e = await submitted(l, job);
  assert.deepEqual(readRunRecord(e.runDir).record?.scheduler?.resubmit, { left: 1, warnSeconds: 120 });
  await until('20 steps on the cluster', () => readMetrics(e.runDir).metrics.length > 20);
  const next = submitted(l, job);
  const resumed = new Promise<EventOf<'started'>>((resolve) => l.on('started', (j, ev) => j === job && ev.resumed && resolve(ev)));
  // What Slurm sends before the time limit, sent now.
  assert.equal(spawnSync('scancel', ['--signal=USR1', '--batch', e.jobId], { env: cluster.env }).status, 0);
  const n = await next;
  assert.notEqual(n.jobId, e.jobId);
  const r = await resumed;
  assert.ok(r.step > 20);
  assert.equal(job.state, 'running', 'the hand-off does not end the job');
  assert.equal(job.slurmJobId, n.jobId);
  await until('20 steps in the second job', () => readMetrics(e.runDir).metrics.length > r.step + 20);
  assert.equal(l.stop(e.runDir), true, 'Stop reaches the second job');
  const out = await job.done;
  assert.equal(out.status, 'stopped');
  const steps = readMetrics(e.runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1));
});

test('a job Slurm requeues (preemption) is followed through its restart as one job; a stop from a terminal ends it', { skip, timeout: 180_000 }, async () => {
  const l = launcher();
  const job = l.submit({ config, runsDir: runs(), name: 'preempted', set: ['training.steps=100000'], sbatchArgs: [] });
  const e = await submitted(l, job);
  await until('30 steps on the cluster', () => readMetrics(e.runDir).metrics.length > 30);
  const requeued = submitted(l, job);
  const resumed = new Promise<EventOf<'started'>>((resolve) => l.on('started', (j, ev) => j === job && ev.resumed && resolve(ev)));
  assert.equal(spawnSync('scontrol', ['requeue', e.jobId], { env: cluster.env }).status, 0);
  // The trainer stops at Slurm's SIGTERM; the job waits to start again under its id.
  assert.equal((await requeued).jobId, e.jobId);
  assert.equal(job.state, 'running', 'still followed');
  assert.equal(readRunRecord(e.runDir).record?.status, 'queued');
  const at = (await resumed).step;
  assert.ok(at > 30);
  await until('20 steps past the restart', () => readMetrics(e.runDir).metrics.length > at + 20);
  const stop = spawnSync(process.execPath, [TRAINER, 'stop', e.runDir], { env: cluster.env, encoding: 'utf8' });
  assert.equal(stop.status, 0, stop.stderr);
  const out = await job.done;
  assert.equal(out.status, 'stopped', 'a stop of the user\'s own, not a requeue: the job ends');
  const steps = readMetrics(e.runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: out.step ?? 0 }, (_, i) => i + 1), 'each step once');
  assert.match(fs.readFileSync(path.join(e.runDir, 'train.log'), 'utf8'), new RegExp(`Slurm requeued job ${e.jobId} \\(\\w+\\): it continues the run from its checkpoint at step ${at}`));
});

test('a trainer that hands its run on between the launcher\'s two reads of run.json leaves the run followed, not finished', { skip, timeout: 60_000 }, async () => {
  const v = validateConfig({ data: { source: 'toy2d' }, model: { type: 'mlp' } });
  assert.ok(v.ok);
  const w = RunWriter.create(runs(), v.config as RunConfig, 'race');
  const pending = (): string => spawnSync('sbatch', ['--parsable', '--begin=now+1hour', '--wrap', 'sleep 60'], { env: cluster.env, cwd: work, encoding: 'utf8' }).stdout.trim();
  const job = (jobId: string): { kind: 'slurm'; jobId: string; submittedAt: string; script: string; sbatchArgs: string[] } => ({ kind: 'slurm', jobId, submittedAt: new Date().toISOString(), script: 'slurm-job.sh', sbatchArgs: [] });
  const first = pending();
  w.update({ status: 'running', pid: 2 ** 22 + 1, host: os.hostname(), scheduler: job(first) });
  const next = pending();
  // The trainer is seen running, then gone: in between it recorded the next job and exited.
  let handedOn = false;
  const l = new RunLauncher({
    trainerJs: TRAINER,
    cwd: work,
    env: cluster.env,
    checkIntervalMs: 200,
    isAlive: () => {
      if (!handedOn) RunWriter.open(w.dir).update({ status: 'queued', pid: null, scheduler: { ...job(next), previousJobs: [first] } });
      handedOn = true;
      return false;
    },
  });
  launchers.push(l);
  const followed = l.reattach(w.dir);
  await until('the hand-off', () => handedOn);
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(followed.state, 'running', 'still followed after the hand-off');
  assert.equal(readRunRecord(w.dir).record?.status, 'queued', 'not settled as a dead trainer');
  assert.equal(spawnSync('scancel', [next, first], { env: cluster.env }).status, 0);
  const out = await followed.done;
  assert.equal(out.status, 'stopped', 'the next job cancelled: the run is settled from its job');
});

test('after a reload a queued run is followed again; sbatch\'s refusal fails the launch with its reason and no run', { skip, timeout: 120_000 }, async () => {
  const first = launcher();
  const job = first.submit({ config, runsDir: runs(), name: 'reload', sbatchArgs: ['--begin=now+1hour'] });
  const e = await submitted(first, job);
  await until('the submit process to end', () => readRunRecord(e.runDir).record?.status === 'queued');
  first.dispose();
  const second = launcher();
  const followed = second.reattach(e.runDir);
  assert.equal(followed.state, 'running');
  assert.equal(followed.slurmJobId, e.jobId);
  // Let the job start now: the second launcher sees the trainer's events through to the end.
  assert.equal(spawnSync('scontrol', ['update', `JobId=${e.jobId}`, 'StartTime=now'], { env: cluster.env, encoding: 'utf8' }).status, 0);
  const out = await followed.done;
  assert.deepEqual({ status: out.status, step: out.step }, { status: 'completed', step: 300 });

  const before = fs.readdirSync(runs()).sort();
  const refused = second.submit({ config, runsDir: runs(), name: 'too-big', sbatchArgs: ['--cpus-per-task=4096'] });
  const r = await refused.done;
  assert.equal(r.status, 'failed');
  assert.match(r.error ?? '', /sbatch refused the job: sbatch: error: /);
  assert.deepEqual(fs.readdirSync(runs()).sort(), before);
});

test('after a reload a stopped run whose job Slurm requeued meanwhile is followed again through its restart; an ended one is left stopped', { skip, timeout: 180_000 }, async () => {
  const first = launcher();
  const job = first.submit({ config, runsDir: runs(), name: 'requeued-unwatched', set: ['training.steps=100000'], sbatchArgs: [] });
  const e = await submitted(first, job);
  await until('30 steps on the cluster', () => readMetrics(e.runDir).metrics.length > 30);
  // The window closes; Slurm then requeues the job and holds it (as a preemption waits for room).
  first.dispose();
  assert.equal(spawnSync('scontrol', ['requeuehold', e.jobId], { env: cluster.env }).status, 0);
  const state = (): string => spawnSync('squeue', ['-h', '-t', 'all', '-j', e.jobId, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim();
  await until('the trainer to stop and the job to wait again', () => readRunRecord(e.runDir).record?.status === 'stopped' && /PENDING|REQUEUE/.test(state()));
  const second = launcher();
  const [followed, ...others] = await second.reattachRequeued([e.runDir]);
  assert.equal(others.length, 0);
  assert.equal(followed?.state, 'running', `followed while its job is ${state()}`);
  assert.equal(followed.slurmJobId, e.jobId);
  assert.equal(readRunRecord(e.runDir).record?.status, 'queued');
  const resumed = new Promise<EventOf<'started'>>((resolve) => second.on('started', (j, ev) => j === followed && ev.resumed && resolve(ev)));
  assert.equal(spawnSync('scontrol', ['release', e.jobId], { env: cluster.env }).status, 0);
  const at = (await resumed).step;
  await until('20 steps past the restart', () => readMetrics(e.runDir).metrics.length > at + 20);
  assert.equal(second.stop(e.runDir), true);
  const out = await followed.done;
  assert.equal(out.status, 'stopped');
  const steps = readMetrics(e.runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: out.step ?? 0 }, (_, i) => i + 1), 'each step once');
  // Stopped by the user, its job ended: another reload leaves it as it is.
  await until('the job to end', () => /COMPLETED|CANCELLED/.test(state()));
  second.dispose();
  assert.deepEqual(await launcher().reattachRequeued([e.runDir]), []);
  assert.equal(readRunRecord(e.runDir).record?.status, 'stopped');
});

test('a Slurm run whose trainer falls silent stays followed while its job runs (a lost node\'s job may start again); once the job has ended it fails', { skip, timeout: 180_000 }, async () => {
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: work, env: cluster.env, checkIntervalMs: 200, staleMs: 1500 });
  launchers.push(l);
  const logs: string[] = [];
  l.on('log', (_j, e) => logs.push(e.message));
  const job = l.submit({ config, runsDir: runs(), name: 'silent', set: ['training.steps=100000'], sbatchArgs: [] });
  const e = await submitted(l, job);
  await until('20 steps on the cluster', () => readRunRecord(e.runDir).record?.status === 'running' && readMetrics(e.runDir).metrics.length > 20);
  const pid = readRunRecord(e.runDir).record?.pid as number;
  // The trainer stalls, and run.json says it trains on another node: only its heartbeat and its
  // job can tell about it now.
  process.kill(pid, 'SIGSTOP');
  const file = path.join(e.runDir, 'run.json');
  fs.writeFileSync(file + '.tmp', JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), host: 'node-that-failed' }));
  fs.renameSync(file + '.tmp', file);
  await until('the launcher to note the silence', () => logs.some((m) => m.includes(`but Slurm job ${e.jobId} is RUNNING: still followed`)), 30_000);
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(job.state, 'running', 'followed on while the job runs');
  assert.equal(readRunRecord(e.runDir).record?.status, 'running', 'not marked failed');
  assert.match(logs.find((m) => m.includes('still followed')) ?? '', /^no heartbeat from the trainer for \d+ s, but Slurm job \d+ is RUNNING: still followed$/);
  // It trains on; a stop reaches it.
  process.kill(pid, 'SIGCONT');
  const at = readMetrics(e.runDir).metrics.length;
  await until('10 more steps', () => readMetrics(e.runDir).metrics.length > at + 10);
  assert.equal(l.stop(e.runDir), true);
  assert.equal((await job.done).status, 'stopped');

  // A trainer killed outright ends its job: its run fails at the first check after the heartbeat goes stale.
  const job2 = l.submit({ config, runsDir: runs(), name: 'killed', set: ['training.steps=100000'], sbatchArgs: [] });
  const e2 = await submitted(l, job2);
  await until('20 steps on the cluster', () => readRunRecord(e2.runDir).record?.status === 'running' && readMetrics(e2.runDir).metrics.length > 20);
  process.kill(readRunRecord(e2.runDir).record?.pid as number, 'SIGKILL');
  const out = await job2.done;
  assert.equal(out.status, 'failed');
  assert.match(out.error ?? '', /trainer process \d+ ended without finishing/);
  assert.equal(readRunRecord(e2.runDir).record?.status, 'failed');
});

test('a job that fails before its trainer starts fails the run, naming the job and its output', { skip, timeout: 120_000 }, async () => {
  // Submitted from a folder that is gone by the time the job starts (a scratch space cleaned up).
  const from = fs.mkdtempSync(path.join(work, 'gone-'));
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: from, env: cluster.env, checkIntervalMs: 200 });
  launchers.push(l);
  const job = l.submit({ config, runsDir: runs(), name: 'no-cwd', sbatchArgs: ['--begin=now+1hour'] });
  const e = await submitted(l, job);
  await until('the submit process to end', () => readRunRecord(e.runDir).record?.status === 'queued');
  fs.rmSync(from, { recursive: true });
  assert.equal(spawnSync('scontrol', ['update', `JobId=${e.jobId}`, 'StartTime=now'], { env: cluster.env }).status, 0);
  const out = await job.done;
  assert.equal(out.status, 'failed');
  const output = path.join(e.runDir, `slurm-${e.jobId}.out`);
  assert.equal(out.error, `Slurm job ${e.jobId} ended FAILED before the trainer started; see ${output}`);
  assert.match(fs.readFileSync(output, 'utf8'), /immiscible: cannot enter .*gone-.*, where the run was submitted from/);
  assert.equal(readRunRecord(e.runDir).record?.status, 'failed');
});

test('a queued run followed where Slurm cannot be asked (no squeue on PATH) stays queued and says so once', { timeout: 30_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-noslurm-'));
  const v = validateConfig({ data: { source: 'toy2d' }, model: { type: 'mlp' } });
  assert.ok(v.ok);
  const w = RunWriter.create(dir, v.config as RunConfig, 'synced');
  w.update({ status: 'queued', scheduler: { kind: 'slurm', jobId: '77', submittedAt: new Date().toISOString(), script: 'slurm-job.sh', sbatchArgs: [] } });
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: dir, env: { ...process.env, PATH: path.join(dir, 'no-bin') }, checkIntervalMs: 100 });
  const lines: string[] = [];
  l.on('stderr', (_j, line) => lines.push(line));
  const job = l.reattach(w.dir);
  assert.equal(job.state, 'running');
  await new Promise((r) => setTimeout(r, 1500));
  l.dispose();
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.match(lines[0], /^squeue not found: Slurm's client commands .* must be on PATH \(the run stays queued until Slurm can be asked\)$/);
  assert.equal(readRunRecord(w.dir).record?.status, 'queued');
  fs.rmSync(dir, { recursive: true, force: true });
});
