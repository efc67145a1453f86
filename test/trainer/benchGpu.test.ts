// bench:gpu's --variants on Dawn's null device (no GPU needed): an IMMISCIBLE_ switch that is no
// TF.js flag is set in the environment for its pass and put back after it; a name that is
// neither fails before anything is timed, naming it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '../..');

interface Row {
  flags: Record<string, number | boolean>;
  replayed: { replayed: number; submits: number } | null;
}

function bench(variants: string): { status: number | null; rows: Row[]; stderr: string } {
  const args = ['--import', 'tsx', path.join(root, 'scripts/bench-gpu.ts'), '--null-device', '--batch', '4', '--steps', '3', '--warmup', '10', '--no-torch', '--variants', variants];
  const env = { ...process.env };
  delete env.IMMISCIBLE_WEBGPU_MERGE_SUBMITS;
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 120_000, env });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"bench":"gpu"'));
  const rows = line ? (JSON.parse(line) as { webgpu: Row[] }).webgpu : [];
  return { status: r.status, rows, stderr: r.stderr };
}

test('an environment switch in --variants holds for its pass only', () => {
  const r = bench('IMMISCIBLE_WEBGPU_MERGE_SUBMITS=1;IMMISCIBLE_WEBGPU_FLIPPED_CONV_DX=true');
  assert.equal(r.status, 0, r.stderr.slice(-2000));
  assert.deepEqual(r.rows.map((x) => x.flags), [{}, { IMMISCIBLE_WEBGPU_MERGE_SUBMITS: 1 }, { IMMISCIBLE_WEBGPU_FLIPPED_CONV_DX: true }]);
  const submits = r.rows.map((x) => x.replayed?.submits ?? NaN);
  assert.ok(r.rows.every((x) => (x.replayed?.replayed ?? 0) > 0), JSON.stringify(r.rows.map((x) => x.replayed)));
  // Every captured submit by default; merged with the switch; every one again after its pass.
  assert.ok(submits[0] > 2 && submits[1] <= 2 && submits[2] === submits[0], `submits a replayed step: ${submits.join(', ')}`);
});

test('a --variants name that is neither a TF.js flag nor an IMMISCIBLE_ switch fails, naming it', () => {
  const r = bench('NO_SUCH_FLAG=1');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--variants: NO_SUCH_FLAG: neither a TF\.js flag nor an IMMISCIBLE_ environment switch/);
  assert.equal(r.rows.length, 0);
});
