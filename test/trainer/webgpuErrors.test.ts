/**
 * A run that fails on the GPU names the cause and what to change. Dawn's null device (it records
 * and validates commands, runs none, and has a small memory budget) runs out of memory on the
 * standard UNet at batch 128, a real out-of-memory error from Dawn, in a real trainer process.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readRunRecord } from '../../src/core/run/reader';
import { explainGpuFailure } from '../../src/trainer/backend/webgpuErrors';

const root = path.resolve(__dirname, '../..');

test('the failure message names the GPU error and the fields to change', () => {
  const oom = explainGpuFailure({ kind: 'out of memory', message: 'Out of memory.\n - While calling [Device].CreateBuffer([BufferDescriptor ""]).\n' }, 'createBuffer failed');
  assert.equal(
    oom,
    "the GPU ran out of memory (Out of memory, in Device.CreateBuffer): the model and batch need more than the adapter has; lower training.batchSize, or the model's size (model.baseChannels, model.channelMults, model.resBlocks) (then: createBuffer failed)",
  );
  assert.match(explainGpuFailure({ kind: 'device lost', message: 'unknown: GPU hung' }, ''), /^the GPU device was lost \(unknown: GPU hung\): .*resume the run/);
  assert.equal(
    explainGpuFailure({ kind: 'validation', message: 'Binding size is zero.\n - While calling [Device].CreateBindGroup(x).' }, ''),
    'GPU validation error (Binding size is zero, in Device.CreateBindGroup)',
  );
});

test('a run out of GPU memory fails with that cause in run.json, its events and the exit code', () => {
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-gpu-oom-'));
  const args = ['--import', 'tsx', path.join(root, 'src/trainer/main.ts'), 'train', '--config', path.join(root, 'configs/mnist-immiscible.json'), '--runs', runs];
  for (const set of ['backend=webgpu', 'data.imageSize=32', 'model.baseChannels=32', 'model.channelMults=[1,2,4]', 'training.batchSize=128', 'training.steps=3', 'assignment.mode=none'])
    args.push('--set', set);
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, IMMISCIBLE_DAWN_FLAGS: 'backend=null' } });
  const [dir] = fs.readdirSync(runs);
  assert.ok(dir, `no run directory: ${r.stderr.slice(-2000)}`);
  const { record, recordError } = readRunRecord(path.join(runs, dir));
  assert.equal(recordError, null);
  assert.equal(record?.status, 'failed', r.stdout.slice(-2000));
  assert.equal(r.status, 1);
  assert.match(record?.error?.message ?? '', /^the GPU ran out of memory \(Out of memory, in Device\.\w+\): .*lower training\.batchSize/);
  // Dawn prints its errors on stdout too; the launcher ignores what is not an event.
  const finished = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; error?: string }).find((e) => e.type === 'finished');
  assert.equal(finished?.error, record?.error?.message);
  fs.rmSync(runs, { recursive: true, force: true });
});
