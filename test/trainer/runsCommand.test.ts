/**
 * `immiscible runs`: a runs folder read back as a table and as JSON, with real runs (one trained
 * to the end, one stopped part way), a run whose trainer died (`running` left behind, heartbeat
 * stale), a queued Slurm run and a broken run.json; read-only.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readMetrics } from '../../src/core/run/reader';
import { formatAge } from '../../src/core/run/describe';
import type { RunRow } from '../../src/trainer/runsCommand';

const cli = path.resolve(__dirname, '../..', 'dist/trainer.js');
const immiscible = (args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, [cli, ...args], { cwd, encoding: 'utf8', timeout: 60_000 });

/** Rewrites a run's run.json with `patch` (as a dead trainer or a Slurm submission would have left it). */
function patchRecord(run: string, patch: Record<string, unknown>): void {
  const file = path.join(run, 'run.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...patch }, null, 2));
}

test('runs: every run of the folder, oldest first, with its status, step, newest loss and where it trains; --json the same rows', { timeout: 120_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-runs-cmd-'));
  fs.writeFileSync(path.join(dir, 'toy.json'), JSON.stringify({ backend: 'wasm', data: { source: 'toy2d', count: 256 }, model: { type: 'mlp', hidden: 8, layers: 1 }, diffusion: { timesteps: 50 }, training: { steps: 12, batchSize: 8, sampleEvery: 0, checkpointEvery: 0 }, evaluation: { every: 0 } }));
  const runsNow = (): string[] => (fs.existsSync(path.join(dir, 'runs')) ? fs.readdirSync(path.join(dir, 'runs')) : []);
  const train = (name: string, extra: string[]): string => {
    const before = runsNow();
    const r = immiscible(['train', '--config', 'toy.json', '--name', name, ...extra], dir);
    assert.equal(r.status, 0, r.stderr);
    return path.join(dir, 'runs', runsNow().filter((d) => !before.includes(d))[0]);
  };
  const done = train('done', []);
  const stopped = train('part', ['--stop-at-step', '5']);
  const dead = train('dead', ['--stop-at-step', '3']);
  patchRecord(dead, { status: 'running', pid: 999_999_999, endedAt: null, updatedAt: new Date(Date.now() - 3_600_000).toISOString() });
  const queued = train('queued', ['--stop-at-step', '2']);
  patchRecord(queued, { status: 'queued', scheduler: { kind: 'slurm', jobId: '4242', submittedAt: new Date().toISOString(), script: 'slurm-job.sh', sbatchArgs: [] } });
  const broken = path.join(dir, 'runs', 'aa-broken');
  fs.mkdirSync(broken);
  fs.writeFileSync(path.join(broken, 'run.json'), '{"formatVersion": 1, "id": "aa-broken", "status": "flying"');
  const before = fs.readFileSync(path.join(dead, 'run.json'), 'utf8');

  const json = immiscible(['runs', '--json'], dir);
  assert.equal(json.status, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as RunRow[];
  const lastLoss = (run: string): number => readMetrics(run).metrics.at(-1)?.loss as number;
  assert.deepEqual(
    rows.map((r) => [r.name, r.status, r.step, r.totalSteps, r.loss, r.where]),
    [
      ['done', 'completed', 12, 12, lastLoss(done), os.hostname()],
      ['part', 'stopped', 5, 12, lastLoss(stopped), os.hostname()],
      ['dead', 'dead', 3, 12, lastLoss(dead), os.hostname()],
      ['queued', 'queued', 2, 12, lastLoss(queued), 'slurm job 4242'],
      ['aa-broken', 'broken', null, null, null, ''],
    ],
  );
  assert.match(rows[4].error ?? '', /aa-broken\/run\.json: not valid JSON/);
  assert.equal(fs.readFileSync(path.join(dead, 'run.json'), 'utf8'), before, 'read-only: the dead run is not rewritten');

  const table = immiscible(['runs'], dir);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0], /^NAME +STATUS +STEP +LOSS +BACKEND +WHERE +UPDATED$/);
  assert.match(lines[1], new RegExp(`^done +completed +12/12 +[0-9.e-]+ +wasm +${os.hostname()} +\\d+ s ago$`));
  assert.match(lines[3], new RegExp(`^dead +dead +3/12 +[0-9.e-]+ +wasm +${os.hostname()} +(60 min|1 h) ago$`));
  assert.match(lines[4], /^queued +queued +2\/12 +[0-9.e-]+ +wasm +slurm job 4242 +\d+ s ago$/);
  assert.match(lines[5], /^aa-broken +broken +- +- +- +- +-$/);
  assert.match(lines.at(-1) ?? '', /^aa-broken: .*aa-broken\/run\.json: not valid JSON/);
  // The columns line up: STATUS starts at the same place in every row.
  const at = lines[0].indexOf('STATUS');
  for (const l of lines.slice(1, 6)) assert.match(l.slice(at), /^(completed|stopped|dead|queued|broken) /, l);

  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-runs-empty-'));
  assert.equal(immiscible(['runs', '--runs', empty], dir).stdout, `no runs in ${empty}\n`);
  const missing = immiscible(['runs', '--runs', 'nowhere'], dir);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--runs: no folder .*nowhere/);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(empty, { recursive: true, force: true });
});

test('formatAge: seconds, minutes, hours, days', () => {
  const now = Date.parse('2026-11-28T12:00:00Z');
  const ago = (s: number): string => formatAge(new Date(now - s * 1000).toISOString(), now);
  assert.deepEqual([ago(0), ago(119), ago(120), ago(7199), ago(7200), ago(172_799), ago(172_800), ago(-5)], ['0 s ago', '119 s ago', '2 min ago', '120 min ago', '2 h ago', '48 h ago', '2 d ago', '0 s ago']);
  assert.equal(formatAge('not a time', now), '?');
});
