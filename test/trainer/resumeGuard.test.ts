/**
 * One run, one trainer: a second `train --resume` while a trainer is on the run is refused
 * without touching it; after that trainer stops, the resume goes on. The run's own Slurm job,
 * restarted on another node, waits for its earlier trainer's heartbeat to go stale.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCheckpoints, readMetrics, readRunRecord } from '../../src/core/run/reader';
import { openRunToContinue } from '../../src/trainer/runTarget';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist/trainer.js');

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a second resume of a run being trained is refused and changes nothing; after a stop it resumes', { timeout: 180_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-guard-'));
  const config = path.join(dir, 'toy.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      backend: 'wasm',
      data: { source: 'toy2d', count: 1024 },
      model: { type: 'mlp', hidden: 16, layers: 2 },
      diffusion: { timesteps: 50 },
      assignment: { mode: 'none' },
      training: { steps: 1_000_000, batchSize: 16, sampleEvery: 0, checkpointEvery: 0 },
      evaluation: { every: 0 },
    }),
  );
  const first = spawnSync(process.execPath, [cli, 'train', '--config', config, '--runs', path.join(dir, 'runs'), '--stop-at-step', '3'], { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  const [id] = fs.readdirSync(path.join(dir, 'runs'));
  const run = path.join(dir, 'runs', id);

  // A trainer on the run, for as long as the test needs.
  const trainer = spawn(process.execPath, [cli, 'train', '--resume', run], { stdio: 'ignore' });
  const exited = new Promise<number | null>((r) => trainer.on('exit', (code) => r(code)));
  try {
    await until('the trainer to train past step 6', () => readRunRecord(run).record?.status === 'running' && readMetrics(run).metrics.length > 6);
    const checkpoints = listCheckpoints(run).map((c) => c.step);
    // Without the guard the second trainer would train on: the timeout ends it and the test fails.
    const second = spawnSync(process.execPath, [cli, 'train', '--resume', run], { encoding: 'utf8', timeout: 60_000, killSignal: 'SIGKILL' });
    assert.equal(second.status, 2, second.stdout + second.stderr);
    assert.match(second.stderr, new RegExp(`being trained now by pid ${trainer.pid} on ${os.hostname()}, last heartbeat \\d+ s ago; stop that trainer first`));
    const rec = readRunRecord(run).record;
    assert.equal(rec?.status, 'running');
    assert.equal(rec?.pid, trainer.pid, 'the record still names the first trainer');
    assert.deepEqual(
      listCheckpoints(run).map((c) => c.step),
      checkpoints,
    );
  } finally {
    trainer.kill('SIGTERM');
  }
  assert.equal(await exited, 0);
  const stopped = readRunRecord(run).record;
  assert.equal(stopped?.status, 'stopped');
  const at = stopped?.step ?? 0;
  const again = spawnSync(process.execPath, [cli, 'train', '--resume', run, '--stop-at-step', String(at + 2)], { encoding: 'utf8' });
  assert.equal(again.status, 0, again.stderr);
  assert.equal(readRunRecord(run).record?.step, at + 2);
  const steps = readMetrics(run).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: at + 2 }, (_, i) => i + 1), 'each step once: nothing interleaved');
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A run of a few steps, then run.json rewritten as a trainer on another node left it (`running`, under Slurm job 4242). */
function runLeftRunningOnAFailedNode(heartbeatAgeS: number): { dir: string; run: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-requeued-'));
  const config = path.join(dir, 'toy.json');
  fs.writeFileSync(config, JSON.stringify({ backend: 'wasm', data: { source: 'toy2d', count: 256 }, model: { type: 'mlp', hidden: 8, layers: 1 }, diffusion: { timesteps: 50 }, training: { steps: 1000, batchSize: 8, sampleEvery: 0, checkpointEvery: 0 }, evaluation: { every: 0 } }));
  const first = spawnSync(process.execPath, [cli, 'train', '--config', config, '--runs', path.join(dir, 'runs'), '--stop-at-step', '3'], { encoding: 'utf8' });
  assert.equal(first.status, 0, first.stderr);
  const run = path.join(dir, 'runs', fs.readdirSync(path.join(dir, 'runs'))[0]);
  const file = path.join(run, 'run.json');
  const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  Object.assign(r, {
    status: 'running',
    host: 'node-that-failed',
    pid: 4321,
    endedAt: null,
    updatedAt: new Date(Date.now() - heartbeatAgeS * 1000).toISOString(),
    scheduler: { kind: 'slurm', jobId: '4242', submittedAt: new Date().toISOString(), script: 'slurm-job.sh', sbatchArgs: [] },
  });
  fs.writeFileSync(file, JSON.stringify(r, null, 2));
  return { dir, run };
}

test('a Slurm job restarted on another node waits for its earlier trainer\'s heartbeat to go stale, then resumes; any other trainer is refused at once', { timeout: 120_000 }, async () => {
  const { dir, run } = runLeftRunningOnAFailedNode(26);
  const env = (job: string | null): NodeJS.ProcessEnv => {
    const e = { ...process.env };
    delete e.SLURM_JOB_ID;
    return job ? { ...e, SLURM_JOB_ID: job } : e;
  };
  for (const job of [null, '4243']) {
    const other = spawnSync(process.execPath, [cli, 'train', '--resume', run], { encoding: 'utf8', env: env(job), timeout: 20_000 });
    assert.equal(other.status, 2, `${job}: ${other.stderr}`);
    assert.match(other.stderr, /being trained now by pid 4321 on node-that-failed, last heartbeat 2\d s ago/);
  }
  const started = Date.now();
  const own = spawnSync(process.execPath, [cli, 'train', '--resume', run, '--stop-at-step', '6'], { encoding: 'utf8', env: env('4242'), timeout: 60_000 });
  const took = (Date.now() - started) / 1000;
  assert.equal(own.status, 0, own.stderr);
  assert.ok(took > 3, `resumed after ${took} s: before the heartbeat went stale`);
  assert.match(own.stderr, /under this job's id: waiting for that earlier trainer to end/);
  const rec = readRunRecord(run).record;
  assert.equal(rec?.step, 6);
  assert.equal(rec?.host, os.hostname());
  assert.match(fs.readFileSync(path.join(run, 'train.log'), 'utf8'), /Slurm restarted job 4242: waited \d+\.\d s for its earlier trainer \(pid 4321 on node-that-failed\) to fall silent/);
  assert.deepEqual(readMetrics(run).metrics.map((m) => m.step), [1, 2, 3, 4, 5, 6]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a restarted job whose earlier trainer keeps its heartbeat fresh (a node cut off, still training) is refused after the wait', { timeout: 60_000 }, async () => {
  const { dir, run } = runLeftRunningOnAFailedNode(0);
  // That trainer, still writing its heartbeat: another process, renaming run.json into place.
  const beat = `const fs = require('fs'); const f = ${JSON.stringify(path.join(run, 'run.json'))};
    setInterval(() => { const r = JSON.parse(fs.readFileSync(f, 'utf8')); r.updatedAt = new Date().toISOString(); fs.writeFileSync(f + '.beat', JSON.stringify(r)); fs.renameSync(f + '.beat', f); }, 200);`;
  const alive = spawn(process.execPath, ['-e', beat], { stdio: 'ignore' });
  try {
    const started = Date.now();
    await assert.rejects(openRunToContinue(run, '4242', 'resume', { staleMs: 1000, maxWaitMs: 2500, pollMs: 100 }), /being trained now by pid 4321 on node-that-failed, last heartbeat 0 s ago/);
    const took = Date.now() - started;
    assert.ok(took >= 2400 && took < 10_000, `refused after ${took} ms, expected the 2.5-s wait`);
    assert.equal(readRunRecord(run).record?.host, 'node-that-failed', 'nothing written');
  } finally {
    alive.kill();
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
