/** The Slurm job script, the sbatch argument rules, and settling a queued run whose job ended. */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resubmitProblem, sbatchArgProblem, shellQuote, slurmJobScript } from '../../src/core/slurm/jobScript';
import { jobOutputPattern, jobSbatchArgs, outputDirProblem } from '../../src/core/slurm/queueJob';
import { jobMayRun, parseSbatchOutput, parseSlurmDuration } from '../../src/core/slurm/slurmCommands';
import { jobNotYetSettled, settleQueuedRun, settleStoppedRun } from '../../src/core/slurm/slurmRun';
import { RunWriter } from '../../src/core/run/writer';
import { handOffDelayMs } from '../../src/trainer/slurmHandOff';
import { readRunRecord } from '../../src/core/run/reader';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfig } from '../../src/core/config/types';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-slurmjob-'));

test('shellQuote: bash reads every word back unchanged', () => {
  const words = ['plain', 'with space', "it's", 'a"b', '$HOME', '`id`', 'tab\there', 'new\nline', '', '*', '!x', 'é ü'];
  const r = spawnSync('bash', ['-c', `printf '%s\\0' ${words.map(shellQuote).join(' ')}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.split('\0').slice(0, -1), words);
});

test('the job script runs the trainer in the submit directory with the run to resume, quoted', () => {
  const dir = tmp();
  const cwd = path.join(dir, "where the 'data' is");
  const runDir = path.join(dir, 'runs $x', 'r1');
  fs.mkdirSync(cwd, { recursive: true });
  fs.mkdirSync(runDir, { recursive: true });
  // A real program in the trainer's place, reporting what it was given.
  const trainer = path.join(dir, 'report args.js');
  fs.writeFileSync(trainer, 'process.stdout.write(JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), electron: process.env.ELECTRON_RUN_AS_NODE ?? null }))');
  for (const electronAsNode of [false, true]) {
    const script = path.join(dir, 'job.sh');
    fs.writeFileSync(script, slurmJobScript({ node: process.execPath, trainer, runDir, runId: 'r1', cwd, electronAsNode }));
    const r = spawnSync('bash', [script], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { argv: ['train', '--resume', runDir], cwd, electron: electronAsNode ? '1' : null });
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('sbatch options: ours are refused, the user\'s pass, a bare word is explained', () => {
  assert.equal(sbatchArgProblem('--time=10'), null);
  assert.equal(sbatchArgProblem('--gres=gpu:1'), null);
  assert.equal(sbatchArgProblem('-pgpu'), null);
  assert.match(sbatchArgProblem('--output=x.out') ?? '', /--output is set by immiscible submit/);
  assert.match(sbatchArgProblem('-ox.out') ?? '', /-o is set by immiscible submit/);
  assert.match(sbatchArgProblem('--job-name=x') ?? '', /--job-name/);
  assert.match(sbatchArgProblem('10') ?? '', /expected an sbatch option starting with "-", found "10"/);
});

test('automatic resubmission: the warning signal only while resubmissions are left; a continuation waits for its predecessor instead of the user\'s dependency', () => {
  const user = ['--time=60', '--dependency=afterok:7', '-dafterok:9', '--gres=gpu:1'];
  assert.deepEqual(jobSbatchArgs('r', '/runs/r/slurm-%j.out', { sbatchArgs: user, resubmit: { left: 2, warnSeconds: 90 } }), [
    '--job-name=immiscible-r',
    '--output=/runs/r/slurm-%j.out',
    '--signal=B:USR1@90',
    ...user,
  ]);
  assert.deepEqual(jobSbatchArgs('r', 'o', { sbatchArgs: user, resubmit: { left: 0, warnSeconds: 90 }, after: '41' }), [
    '--job-name=immiscible-r',
    '--output=o',
    '--dependency=afterany:41',
    '--time=60',
    '--gres=gpu:1',
  ]);
  assert.deepEqual(jobSbatchArgs('r', 'o', { sbatchArgs: ['--time=5'], resubmit: null }), ['--job-name=immiscible-r', '--output=o', '--time=5']);
  assert.match(resubmitProblem(['--time=5', '--signal=USR2@60'], { left: 1 }) ?? '', /--signal is set by --resubmit/);
  assert.equal(resubmitProblem(['--signal=USR2@60'], { left: 0 }), null, 'without resubmissions the user\'s --signal is theirs');
  assert.equal(resubmitProblem(['--time=5'], { left: 3 }), null);
});

test('the job output pattern: a % of the folder doubled (sbatch\'s %% is a literal %), %j for the job; a backslash refused', () => {
  assert.equal(jobOutputPattern('/runs 100%j %x/r1'), '/runs 100%%j %%x/r1/slurm-%j.out');
  assert.equal(jobOutputPattern('/plain/r1'), '/plain/r1/slurm-%j.out');
  assert.equal(outputDirProblem('/plain/r1'), null);
  assert.throws(() => jobOutputPattern('/a\\b/r1'), /\/a\\b\/r1: sbatch cannot write a job's output into a folder whose path has a backslash/);
});

test('sbatch --parsable output: a job id, with or without its cluster', () => {
  assert.equal(parseSbatchOutput('123\n'), '123');
  assert.equal(parseSbatchOutput('123;cluster-a\n'), '123');
  assert.equal(parseSbatchOutput('sbatch: warning: x\n77\n'), '77');
  assert.equal(parseSbatchOutput('Submitted batch job 5\n'), null);
  assert.equal(parseSbatchOutput(''), null);
  assert.equal(jobMayRun('PENDING'), true);
  assert.equal(jobMayRun('RUNNING'), true);
  assert.equal(jobMayRun('CANCELLED'), false);
  assert.equal(jobMayRun('COMPLETED'), false);
  assert.equal(jobMayRun(null), false);
});

function queuedRun(dir: string): string {
  const v = validateConfig({ data: { source: 'toy2d' }, model: { type: 'mlp' } });
  assert.ok(v.ok);
  const w = RunWriter.create(dir, v.config as RunConfig, 'q');
  w.update({ status: 'queued', scheduler: { kind: 'slurm', jobId: '41', submittedAt: new Date().toISOString(), script: 'slurm-job.sh', sbatchArgs: [] } });
  return w.dir;
}

test('a queued run whose job ended before starting it is settled: cancelled -> stopped, otherwise failed naming the job', () => {
  const dir = tmp();
  const run = queuedRun(dir);
  assert.equal(settleQueuedRun(run, 'PENDING')?.status, 'queued', 'a waiting job keeps it queued');
  assert.equal(settleQueuedRun(run, 'RUNNING')?.status, 'queued', 'its trainer is starting');
  assert.equal(settleQueuedRun(run, 'CANCELLED')?.status, 'stopped');
  assert.equal(readRunRecord(run).record?.error, null);

  const gone = queuedRun(dir);
  const r = settleQueuedRun(gone, null);
  assert.equal(r?.status, 'failed');
  assert.equal(r?.error?.message, `Slurm job 41 is no longer known to Slurm before the trainer started; see ${path.join(gone, 'slurm-41.out')}`);
  const failed = queuedRun(dir);
  assert.match(settleQueuedRun(failed, 'NODE_FAIL')?.error?.message ?? '', /^Slurm job 41 ended NODE_FAIL before the trainer started/);

  // A trainer that started meanwhile owns the run: never overwritten.
  const started = queuedRun(dir);
  RunWriter.open(started).update({ status: 'running', pid: 5 });
  assert.equal(settleQueuedRun(started, 'COMPLETED')?.status, 'running');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a stopped run whose own job Slurm requeued reads queued again; a job that ended leaves it stopped', () => {
  const dir = tmp();
  const stoppedRun = (): string => {
    const run = queuedRun(dir);
    RunWriter.open(run).update({ status: 'stopped', step: 120, endedAt: new Date().toISOString() });
    return run;
  };
  for (const state of ['COMPLETED', 'CANCELLED', 'TIMEOUT', null]) {
    const run = stoppedRun();
    assert.equal(settleStoppedRun(run, state)?.status, 'stopped', String(state));
    assert.equal(jobNotYetSettled(state), false, String(state));
  }
  for (const state of ['RUNNING', 'COMPLETING']) {
    assert.equal(settleStoppedRun(stoppedRun(), state)?.status, 'stopped', `${state}: not yet known`);
    assert.equal(jobNotYetSettled(state), true, state);
  }
  for (const state of ['PENDING', 'REQUEUED', 'REQUEUE_HOLD']) {
    const run = stoppedRun();
    const r = settleStoppedRun(run, state);
    assert.deepEqual({ status: r?.status, endedAt: r?.endedAt, step: r?.step, job: r?.scheduler?.jobId }, { status: 'queued', endedAt: null, step: 120, job: '41' }, state);
    assert.match(fs.readFileSync(path.join(run, 'train.log'), 'utf8'), new RegExp(`Slurm requeued job 41 \\(${state}\\): it continues the run from its checkpoint at step 120`));
  }
  // A run trained here, not by Slurm, is never made queued.
  const v = validateConfig({ data: { source: 'toy2d' }, model: { type: 'mlp' } });
  assert.ok(v.ok);
  const local = RunWriter.create(dir, v.config as RunConfig, 'l');
  local.update({ status: 'stopped' });
  assert.equal(settleStoppedRun(local.dir, 'PENDING')?.status, 'stopped');
  fs.rmSync(dir, { recursive: true, force: true });
});

test("parseSlurmDuration reads squeue's %L in each of its shapes, and null for no limit", () => {
  const cases: [string, number | null][] = [
    ['45', 45],
    ['0:56', 56],
    ['12:00', 720],
    ['1:02:03', 3723],
    ['2-01:00:00', 2 * 86400 + 3600],
    ['0-00:00:07\n', 7],
    ['UNLIMITED', null],
    ['NOT_SET', null],
    ['INVALID', null],
    ['', null],
    ['1:2:3:4', null],
  ];
  for (const [text, seconds] of cases) assert.equal(parseSlurmDuration(text), seconds, JSON.stringify(text));
});

test('handOffDelayMs: the warning before the limit, at once within it, none beyond a timer\'s reach', () => {
  assert.equal(handOffDelayMs(60, 50), 10_000);
  assert.equal(handOffDelayMs(2 * 3600, 120), (2 * 3600 - 120) * 1000);
  assert.equal(handOffDelayMs(40, 50), 0);
  assert.equal(handOffDelayMs(24 * 86400, 120), (24 * 86400 - 120) * 1000, 'under 24.8 days');
  assert.equal(handOffDelayMs(30 * 86400, 120), null, 'a 30-day limit: Slurm\'s signal alone');
});
