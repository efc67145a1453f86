/**
 * Queued runs whose jobs Slurm has already forgotten (squeue lists a finished job for MinJobAge
 * only: here 2 s, 300 by default), as a window opened the next morning finds them: their end is
 * read from sacct (here the job completion log), so a job cancelled by hand leaves its run
 * `stopped` and one that failed before its trainer started fails it naming how, instead of both
 * failing as "no longer known to Slurm". A real one-node Slurm of its own.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunLauncher } from '../../src/extension/launch/launcher';
import { readRunRecord } from '../../src/core/run/reader';
import { parseEvent } from '../../src/core/protocol/events';
import { endedJobStates, jobStates } from '../../src/core/slurm/slurmCommands';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../fixtures/slurmCluster';

const TRAINER = path.resolve(__dirname, '../..', 'dist', 'trainer.js');
const why = slurmUnavailable();
if (why && process.env.IMMISCIBLE_EXPECT_SLURM === '1') throw new Error(`IMMISCIBLE_EXPECT_SLURM=1 but ${why}`);
const skip = why ? `skipped: ${why}` : false;

let cluster: SlurmCluster;
let work = '';

before(async () => {
  if (skip) return;
  cluster = await startSlurm({ minJobAge: 2 });
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-slurm-purged-'));
  fs.writeFileSync(path.join(work, 'toy.json'), JSON.stringify({ backend: 'wasm', data: { source: 'toy2d', count: 256 }, model: { type: 'mlp', hidden: 8, layers: 1 }, diffusion: { timesteps: 50 }, training: { steps: 50, batchSize: 8, sampleEvery: 0, checkpointEvery: 0 }, evaluation: { every: 0 } }));
});

after(async () => {
  if (skip) return;
  await cluster.stop();
  fs.rmSync(work, { recursive: true, force: true });
});

/** `immiscible submit` from `cwd`, its job held an hour: the run directory and the job. */
function submit(cwd: string): { runDir: string; jobId: string } {
  const r = spawnSync(process.execPath, [TRAINER, 'submit', '--config', path.join(work, 'toy.json'), '--runs', path.join(work, 'runs'), '--sbatch=--begin=now+1hour'], { cwd, env: cluster.env, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const e = parseEvent(r.stdout.trim());
  assert.ok(e?.type === 'submitted', r.stdout);
  return { runDir: e.runDir, jobId: e.jobId };
}

const squeueKnows = (id: string): boolean => spawnSync('squeue', ['-h', '-t', 'all', '-j', id, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim() !== '';

async function until(what: string, ok: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

test('queued runs whose jobs squeue has forgotten: cancelled -> stopped, failed before starting -> failed naming FAILED, from sacct', { skip, timeout: 150_000 }, async () => {
  const cancelled = submit(work);
  assert.equal(spawnSync('scancel', [cancelled.jobId], { env: cluster.env }).status, 0);
  // Submitted from a folder that is gone when the job starts: the job script cannot enter it.
  const gone = fs.mkdtempSync(path.join(work, 'gone-'));
  const failed = submit(gone);
  fs.rmSync(gone, { recursive: true });
  assert.equal(spawnSync('scontrol', ['update', `JobId=${failed.jobId}`, 'StartTime=now'], { env: cluster.env }).status, 0);
  await until('squeue to forget both jobs', () => !squeueKnows(cancelled.jobId) && !squeueKnows(failed.jobId));
  for (const r of [cancelled, failed]) assert.equal(readRunRecord(r.runDir).record?.status, 'queued', 'nobody followed them');

  assert.deepEqual(
    Object.fromEntries(await endedJobStates([cancelled.jobId, failed.jobId, '999999'], { env: cluster.env })),
    { [cancelled.jobId]: 'CANCELLED', [failed.jobId]: 'FAILED', 999999: null },
  );
  // squeue no longer lists it; jobStates, which the launcher asks, reads sacct too.
  assert.deepEqual(Object.fromEntries(await jobStates([cancelled.jobId], { env: cluster.env })), { [cancelled.jobId]: 'CANCELLED' });

  // The next morning's window.
  const l = new RunLauncher({ trainerJs: TRAINER, cwd: work, env: cluster.env, checkIntervalMs: 200 });
  try {
    const [a, b] = [l.reattach(cancelled.runDir), l.reattach(failed.runDir)];
    const [oa, ob] = await Promise.all([a.done, b.done]);
    assert.equal(oa.status, 'stopped', JSON.stringify(oa));
    assert.equal(readRunRecord(cancelled.runDir).record?.status, 'stopped');
    assert.equal(ob.status, 'failed');
    assert.equal(ob.error, `Slurm job ${failed.jobId} ended FAILED before the trainer started; see ${path.join(failed.runDir, `slurm-${failed.jobId}.out`)}`);
  } finally {
    l.dispose();
  }
});
