/**
 * One run, one trainer: a second `train --resume` while a trainer is on the run is refused
 * without touching it; after that trainer stops, the resume goes on.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCheckpoints, readMetrics, readRunRecord } from '../../src/core/run/reader';

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
