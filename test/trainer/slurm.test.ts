/**
 * Runs trained by Slurm jobs, on a real one-node Slurm (test/fixtures/slurmCluster.ts): submit,
 * the queued run, stop (off the queue, or SIGTERM to the trainer), resubmit from the checkpoint,
 * and sbatch's refusals. Skips, saying why, where Slurm is not installed; fails instead under
 * IMMISCIBLE_EXPECT_SLURM=1 (CI installs it).
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listCheckpoints, readMetrics, readRunRecord } from '../../src/core/run/reader';
import { parseEvent } from '../../src/core/protocol/events';
import { slurmUnavailable, startSlurm, type SlurmCluster } from '../fixtures/slurmCluster';
import { jobState, JobStatePoller } from '../../src/core/slurm/slurmCommands';
import type { StudyEvent } from '../../src/core/protocol/studyEvents';
import { StudyProgress } from '../../src/extension/study/studyProgress';

const root = path.resolve(__dirname, '../..');
const cli = path.join(root, 'dist/trainer.js');
const why = slurmUnavailable();
if (why && process.env.IMMISCIBLE_EXPECT_SLURM === '1') throw new Error(`IMMISCIBLE_EXPECT_SLURM=1 but ${why}`);
const skip = why ? `skipped: ${why}` : false;

let cluster: SlurmCluster;
let dir: string;
before(async () => {
  if (skip) return;
  cluster = await startSlurm();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-slurm-runs-'));
  fs.writeFileSync(
    path.join(dir, 'toy.json'),
    JSON.stringify({
      backend: 'wasm',
      data: { source: 'toy2d', count: 1024 },
      model: { type: 'mlp', hidden: 16, layers: 2 },
      diffusion: { timesteps: 50 },
      assignment: { mode: 'linear' },
      training: { steps: 400, batchSize: 16, sampleEvery: 0, checkpointEvery: 0 },
      evaluation: { every: 0 },
    }),
  );
});
after(async () => {
  if (skip) return;
  await cluster.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

function immiscible(args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cli, ...args], { cwd: dir, env: cluster.env, encoding: 'utf8', timeout: 60_000 });
}

async function until(what: string, ok: () => boolean, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function submit(args: string[]): { runDir: string; jobId: string } {
  const r = immiscible(['submit', ...args]);
  assert.equal(r.status, 0, r.stderr);
  const e = parseEvent(r.stdout.trim());
  assert.ok(e?.type === 'submitted', r.stdout);
  return { runDir: e.runDir, jobId: e.jobId };
}

const status = (run: string): string | undefined => readRunRecord(run).record?.status;

test('a submitted run is queued, named by its job, and trained to the end by that job', { skip, timeout: 180_000 }, async () => {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--name', 'on-slurm']);
  assert.equal(path.dirname(runDir), path.join(dir, 'runs'));
  const queued = readRunRecord(runDir).record;
  assert.ok(queued?.status === 'queued' || queued?.status === 'running' || queued?.status === 'completed');
  assert.deepEqual(queued?.scheduler && { ...queued.scheduler, submittedAt: '' }, { kind: 'slurm', jobId, submittedAt: '', script: 'slurm-job.sh', sbatchArgs: [] });
  await until('the job to complete the run', () => status(runDir) === 'completed');
  const rec = readRunRecord(runDir).record;
  assert.equal(rec?.step, 400);
  assert.equal(rec?.pid, null);
  assert.equal(rec?.scheduler?.jobId, jobId, 'the record keeps its job');
  assert.deepEqual(
    readMetrics(runDir).metrics.map((m) => m.step),
    Array.from({ length: 400 }, (_, i) => i + 1),
  );
  const out = fs.readFileSync(path.join(runDir, `slurm-${jobId}.out`), 'utf8');
  assert.match(out, /"type":"finished","status":"completed","step":400/, 'the job\'s output is beside the run');
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), new RegExp(`queued as Slurm job ${jobId}; its output: slurm-${jobId}.out[\\s\\S]*starting from step 0`));
});

test('a pending job: a direct resume is refused, stop takes it off the queue, a resubmission trains the run', { skip, timeout: 180_000 }, async () => {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--sbatch=--begin=now+1hour']);
  assert.equal(status(runDir), 'queued');
  assert.deepEqual(readRunRecord(runDir).record?.scheduler?.sbatchArgs, ['--begin=now+1hour']);
  const direct = immiscible(['train', '--resume', runDir]);
  assert.equal(direct.status, 2);
  assert.match(direct.stderr, new RegExp(`queued as Slurm job ${jobId} \\(PENDING\\), which will train it; cancel that job first`));
  const again = immiscible(['submit', '--resume', runDir]);
  assert.equal(again.status, 2, 'one job per run');
  assert.equal(status(runDir), 'queued');

  const stop = immiscible(['stop', runDir]);
  assert.equal(stop.status, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`Slurm job ${jobId} taken off the queue; the run is stopped`));
  assert.equal(status(runDir), 'stopped');
  assert.equal(spawnSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim(), 'CANCELLED');

  const { jobId: second } = submit(['--resume', runDir]);
  assert.notEqual(second, jobId);
  await until('the resubmitted job to complete the run', () => status(runDir) === 'completed');
  assert.equal(readMetrics(runDir).metrics.length, 400);
});

test('stop on a running job: the trainer checkpoints and stops; a resubmission continues with each step once', { skip, timeout: 180_000 }, async () => {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--set', 'training.steps=100000']);
  await until('the trainer to train past step 20', () => status(runDir) === 'running' && readMetrics(runDir).metrics.length > 20);
  const stop = immiscible(['stop', runDir]);
  assert.equal(stop.status, 0, stop.stderr);
  assert.match(stop.stdout, new RegExp(`SIGTERM sent to Slurm job ${jobId}`));
  await until('the trainer to stop', () => status(runDir) === 'stopped');
  const at = readRunRecord(runDir).record?.step ?? 0;
  assert.ok(at > 20);
  assert.deepEqual(
    listCheckpoints(runDir).map((c) => c.step),
    [at],
    'a checkpoint at the stop',
  );
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), /SIGTERM: stopping after this step and writing a checkpoint/);

  submit(['--resume', runDir]);
  await until('the resubmitted job to train 30 steps further', () => readMetrics(runDir).metrics.length >= at + 30);
  assert.equal(immiscible(['stop', runDir]).status, 0);
  await until('the second stop', () => status(runDir) === 'stopped');
  const steps = readMetrics(runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1), 'each step once');
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), new RegExp(`resumed from checkpoint at step ${at}`));
});

test('a job Slurm itself requeues (preemption, scontrol requeue) continues its run from the checkpoint, each step once', { skip, timeout: 180_000 }, async () => {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--set', 'training.steps=3000']);
  await until('100 steps', () => readMetrics(runDir).metrics.length >= 100);
  assert.equal(spawnSync('scontrol', ['requeue', jobId], { env: cluster.env }).status, 0);
  // The trainer gets SIGTERM, checkpoints and stops; Slurm holds the job back for its credential
  // lifetime (cred_expire: 120 s by default, 10 s on the test cluster), then starts it again
  // under the same id, and its trainer resumes the run.
  await until('the trainer to stop', () => status(runDir) === 'stopped');
  const at = readRunRecord(runDir).record?.step ?? 0;
  // While the job waits to start again, a resubmission would put a second trainer on the run.
  await until('the job to wait again', () => spawnSync('squeue', ['-h', '-j', jobId, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim() === 'PENDING');
  const again = immiscible(['submit', '--resume', runDir]);
  assert.equal(again.status, 2, again.stdout);
  assert.match(again.stderr, new RegExp(`queued as Slurm job ${jobId} \\(PENDING\\), which will train it`));
  assert.equal(status(runDir), 'queued', 'the requeued run reads queued again');
  await until('the requeued job to complete the run', () => status(runDir) === 'completed');
  assert.equal(readRunRecord(runDir).record?.scheduler?.jobId, jobId, 'the same job');
  const steps = readMetrics(runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: 3000 }, (_, i) => i + 1));
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), new RegExp(`SIGTERM: stopping after this step[\\s\\S]*resumed from checkpoint at step ${at}`));
});

test('--resubmit: at a real time limit Slurm warns the trainer, which checkpoints and queues the next job; that job continues with each step once', { skip, timeout: 240_000 }, async () => {
  // A one-minute limit with a 50-s warning: Slurm sends SIGUSR1 at its first time-limit check
  // after 10 s (it checks about every 30 s). The second job has no resubmission left.
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--name', 'limited', '--set', 'training.steps=1000000', '--sbatch=--time=1', '--resubmit', '1', '--resubmit-warning', '50']);
  assert.deepEqual(readRunRecord(runDir).record?.scheduler?.resubmit, { left: 1, warnSeconds: 50 });
  const handedOn = (): boolean => readRunRecord(runDir).record?.scheduler?.previousJobs?.[0] === jobId;
  await until('the trainer to hand the run on to a second job', handedOn, 150_000);
  const job = readRunRecord(runDir).record?.scheduler;
  const second = job?.jobId as string;
  assert.notEqual(second, jobId);
  assert.deepEqual({ ...job, submittedAt: '' }, { kind: 'slurm', jobId: second, submittedAt: '', script: 'slurm-job.sh', sbatchArgs: ['--time=1'], resubmit: { left: 0, warnSeconds: 50 }, previousJobs: [jobId] });
  const log = (): string => fs.readFileSync(path.join(runDir, 'train.log'), 'utf8');
  await until('the second job to resume the run', () => /resumed from checkpoint at step \d+/.test(log()));
  const at = Number(/resumed from checkpoint at step (\d+)/.exec(log())?.[1]);
  // Slurm's SIGUSR1 or, where it came before the trainer listened, the trainer's own timer.
  assert.match(log(), new RegExp(`(SIGUSR1: Slurm job ${jobId} nears its time limit|Slurm job ${jobId} is 50 s from its time limit \\(\\d+ s left at start, by squeue\\)); writing a checkpoint and queueing the run's next job \\(1 resubmission left\\)[\\s\\S]*queued as Slurm job ${second} after job ${jobId} \\(--time=1\\)`));
  // The first job ended by itself, before its limit, and says so in its own output.
  assert.equal(spawnSync('squeue', ['-h', '-t', 'all', '-j', jobId, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim(), 'COMPLETED');
  assert.match(fs.readFileSync(path.join(runDir, `slurm-${jobId}.out`), 'utf8'), new RegExp(`"type":"submitted","runDir":"[^"]+","scheduler":"slurm","jobId":"${second}"`));
  await until('the second job to train 20 steps past the hand-off', () => readMetrics(runDir).metrics.length >= at + 20);
  assert.equal(immiscible(['stop', runDir]).status, 0);
  await until('the stop', () => status(runDir) === 'stopped');
  const steps = readMetrics(runDir).metrics.map((m) => m.step);
  assert.deepEqual(steps, Array.from({ length: steps.length }, (_, i) => i + 1), 'each step once across the two jobs');
});

test('--resubmit: without Slurm\'s signal the trainer hands on by the time left that squeue gave it at start', { skip, timeout: 120_000 }, async () => {
  // The run's job waits (--begin an hour away) while its trainer runs here under that job's id,
  // as if it were the job: nothing sends it SIGUSR1, so only its timer (59 s left - 55 s warning) can hand on.
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--set', 'training.steps=1000000', '--sbatch=--time=1', '--sbatch=--begin=now+3600', '--resubmit', '2', '--resubmit-warning', '55']);
  const started = Date.now();
  const trainer = spawnSync(process.execPath, [cli, 'train', '--resume', runDir], { cwd: dir, env: { ...cluster.env, SLURM_JOB_ID: jobId }, encoding: 'utf8', timeout: 90_000 });
  const took = (Date.now() - started) / 1000;
  assert.equal(trainer.status, 0, trainer.stderr);
  assert.ok(took > 3 && took < 30, `handed on after ${took} s, expected about 5`);
  const job = readRunRecord(runDir).record?.scheduler;
  assert.equal(readRunRecord(runDir).record?.status, 'queued');
  assert.deepEqual(job?.previousJobs, [jobId]);
  assert.deepEqual(job?.resubmit, { left: 1, warnSeconds: 55 });
  const log = fs.readFileSync(path.join(runDir, 'train.log'), 'utf8');
  assert.match(log, new RegExp(`Slurm job ${jobId} is 55 s from its time limit \\((59|60) s left at start, by squeue\\); writing a checkpoint and queueing the run's next job \\(2 resubmissions left\\)`));
  assert.doesNotMatch(log, /SIGUSR1/);
  assert.equal(immiscible(['stop', runDir]).status, 0);
  assert.equal(status(runDir), 'stopped');
  spawnSync('scancel', [jobId], { env: cluster.env });
});

/**
 * A run with one resubmission whose job waits an hour, and a trainer on it here under that job's
 * id (it hands on by its timer, about 4 s in) with Slurm's `slowCommand` taking 3 s, as a busy
 * controller's may: a stop can then land in the middle of the hand-off.
 */
function trainerWithSlowSlurm(slowCommand: 'sbatch' | 'scontrol'): { runDir: string; jobId: string; trainer: ReturnType<typeof spawn>; exited: Promise<{ code: number | null; stderr: string }> } {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--set', 'training.steps=1000000', '--sbatch=--time=1', '--sbatch=--begin=now+3600', '--resubmit', '1', '--resubmit-warning', '55']);
  const real = spawnSync('bash', ['-c', `command -v ${slowCommand}`], { env: cluster.env, encoding: 'utf8' }).stdout.trim();
  const slowBin = fs.mkdtempSync(path.join(dir, `slow-${slowCommand}-`));
  fs.writeFileSync(path.join(slowBin, slowCommand), `#!/bin/bash\nsleep 3\nexec ${real} "$@"\n`, { mode: 0o755 });
  const env = { ...cluster.env, SLURM_JOB_ID: jobId, PATH: `${slowBin}:${cluster.env.PATH ?? process.env.PATH ?? ''}` };
  const trainer = spawn(process.execPath, [cli, 'train', '--resume', runDir], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  trainer.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) => trainer.on('exit', (code) => resolve({ code, stderr })));
  return { runDir, jobId, trainer, exited };
}

test('--resubmit: a stop during the hand-off wins: the next job, queued meanwhile, is cancelled and the run stops at its checkpoint', { skip, timeout: 120_000 }, async () => {
  // The stop lands while sbatch queues the next job.
  const { runDir, jobId, trainer, exited } = trainerWithSlowSlurm('sbatch');
  const log = (): string => fs.readFileSync(path.join(runDir, 'train.log'), 'utf8');
  await until('the hand-off to begin', () => /queueing the run's next job/.test(log()), 60_000);
  trainer.kill('SIGTERM');
  const { code, stderr } = await exited;
  assert.equal(code, 0, stderr);
  const rec = readRunRecord(runDir).record;
  assert.equal(rec?.status, 'stopped');
  assert.ok(!rec?.error, 'no error: a stop, not a failed hand-off');
  const next = rec?.scheduler?.jobId as string;
  assert.notEqual(next, jobId, 'the next job was queued before the stop took it off');
  assert.deepEqual(rec?.scheduler?.previousJobs, [jobId]);
  assert.equal(spawnSync('squeue', ['-h', '-t', 'all', '-j', next, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim(), 'CANCELLED');
  assert.match(log(), new RegExp(`SIGTERM during the hand-off: the run stops at its checkpoint[\\s\\S]*Slurm job ${next} cancelled: the stop came while it was being queued`));
  assert.deepEqual(listCheckpoints(runDir).map((c) => c.step), [rec?.step]);
  spawnSync('scancel', [jobId], { env: cluster.env });
});

test('--resubmit: a stop from elsewhere while the next job is being released takes that job off the queue; the run is stopped, not failed', { skip, timeout: 120_000 }, async () => {
  // `scontrol`, which releases the held next job, is the slow one: `immiscible stop` comes while
  // run.json already names that job.
  const { runDir, jobId, exited } = trainerWithSlowSlurm('scontrol');
  await until('run.json to name the next job', () => readRunRecord(runDir).record?.scheduler?.jobId !== jobId, 60_000);
  const next = readRunRecord(runDir).record?.scheduler?.jobId as string;
  const stop = immiscible(['stop', runDir]);
  assert.equal(stop.status, 0, stop.stderr);
  const { code, stderr } = await exited;
  assert.equal(code, 0, stderr);
  const rec = readRunRecord(runDir).record;
  assert.equal(rec?.status, 'stopped');
  assert.ok(!rec?.error, `no error: ${JSON.stringify(rec?.error)}`);
  assert.equal(spawnSync('squeue', ['-h', '-t', 'all', '-j', next, '-o', '%T'], { env: cluster.env, encoding: 'utf8' }).stdout.trim(), 'CANCELLED');
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), /the run was stopped while its next job was being queued/);
  spawnSync('scancel', [jobId], { env: cluster.env });
});

test('--resubmit: a next job that sbatch refuses leaves the run stopped at its checkpoint, saying why and how to continue', { skip, timeout: 180_000 }, async () => {
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs', '--set', 'training.steps=100000', '--sbatch=--time=10', '--resubmit', '2']);
  assert.deepEqual(readRunRecord(runDir).record?.scheduler?.resubmit, { left: 2, warnSeconds: 120 });
  await until('the trainer to train past step 20', () => status(runDir) === 'running' && readMetrics(runDir).metrics.length > 20);
  // sbatch cannot read a job script that is gone.
  fs.rmSync(path.join(runDir, 'slurm-job.sh'));
  // What Slurm sends before the time limit, sent now (to the batch step: the trainer, through exec).
  assert.equal(spawnSync('scancel', ['--signal=USR1', '--batch', jobId], { env: cluster.env }).status, 0);
  await until('the trainer to stop', () => status(runDir) === 'stopped');
  const rec = readRunRecord(runDir).record;
  assert.match(rec?.error?.message ?? '', new RegExp(`the run could not be handed on to a new job \\(sbatch refused the job: .+\\); continue it with: immiscible submit --resume ${runDir}`));
  assert.deepEqual(listCheckpoints(runDir).map((c) => c.step), [rec?.step]);
  assert.equal(rec?.scheduler?.jobId, jobId, 'no other job recorded');
});

test('a runs folder with % in its path gets the job output beside the run; one with a backslash, which sbatch cannot write to, is refused before anything', { skip, timeout: 120_000 }, async () => {
  // Unescaped, sbatch would read `%j` and `%x` in the folder's name as the job's id and name.
  const { runDir, jobId } = submit(['--config', 'toy.json', '--runs', 'runs 100%j %x', '--set', 'training.steps=30']);
  assert.ok(runDir.includes('runs 100%j %x'), runDir);
  await until('the job to complete the run', () => status(runDir) === 'completed');
  await until('the job output', () => fs.existsSync(path.join(runDir, `slurm-${jobId}.out`)));
  const refused = immiscible(['submit', '--config', 'toy.json', '--runs', 'back\\slash']);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /back\\slash: sbatch cannot write a job's output into a folder whose path has a backslash/);
  assert.equal(fs.existsSync(path.join(dir, 'back\\slash')), false, 'no runs folder made');
});

test('sbatch refusing the job leaves no run behind and says why; our own options are refused before anything', { skip, timeout: 60_000 }, async () => {
  const before = fs.existsSync(path.join(dir, 'runs')) ? fs.readdirSync(path.join(dir, 'runs')) : [];
  const r = immiscible(['submit', '--config', 'toy.json', '--runs', 'runs', '--sbatch=--cpus-per-task=4096']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /immiscible: sbatch refused the job: sbatch: error: .*/);
  const own = immiscible(['submit', '--config', 'toy.json', '--runs', 'runs', '--sbatch=--output=mine.out']);
  assert.equal(own.status, 2);
  assert.match(own.stderr, /--sbatch: --output is set by immiscible submit/);
  const signal = immiscible(['submit', '--config', 'toy.json', '--runs', 'runs', '--resubmit', '1', '--sbatch=--signal=USR2@60']);
  assert.equal(signal.status, 2);
  assert.match(signal.stderr, /--sbatch: --signal is set by --resubmit/);
  const warning = immiscible(['submit', '--config', 'toy.json', '--runs', 'runs', '--resubmit-warning', '60']);
  assert.equal(warning.status, 2);
  assert.match(warning.stderr, /--resubmit-warning: only with --resubmit N/);
  const count = immiscible(['submit', '--config', 'toy.json', '--runs', 'runs', '--resubmit=twice']);
  assert.equal(count.status, 2);
  assert.match(count.stderr, /--resubmit: expected an integer >= 0, found "twice"/);
  const node = immiscible(['study', '--config', 'toy.json', '--metric', 'loss', '--node', process.execPath]);
  assert.equal(node.status, 2);
  assert.match(node.stderr, /--node: only with --slurm/);
  const after = fs.existsSync(path.join(dir, 'runs')) ? fs.readdirSync(path.join(dir, 'runs')) : [];
  assert.deepEqual(after, before);
});

test('study --slurm: every run a job, all queued at once, and the same results as the study run here', { skip, timeout: 240_000 }, async () => {
  const flags = ['--config', 'toy.json', '--seeds', '2', '--steps', '200', '--metric', 'loss'];
  const here = immiscible(['study', ...flags, '--out', 'study-here', '--runs', 'runs-here']);
  assert.equal(here.status, 0, here.stderr);
  const onSlurm = immiscible(['study', ...flags, '--out', 'study-slurm', '--runs', 'runs-slurm', '--slurm', '--sbatch=--time=10']);
  assert.equal(onSlurm.status, 0, onSlurm.stderr);
  const read = (d: string): { status: string; runs: { status: string; runDir: string; attempts: number }[]; results: { thresholds: unknown } } =>
    JSON.parse(fs.readFileSync(path.join(dir, d, 'study.json'), 'utf8'));
  const s = read('study-slurm');
  assert.equal(s.status, 'completed');
  for (const e of s.runs) {
    assert.equal(e.status, 'completed');
    const r = readRunRecord(e.runDir).record;
    assert.deepEqual(r?.scheduler?.sbatchArgs, ['--time=10'], 'each run trained by its own job');
  }
  // Seeded runs: the cluster changes where they train, not what they learn.
  assert.deepEqual(s.results.thresholds, read('study-here').results.thresholds);
  const events = onSlurm.stdout.trim().split('\n').map((l) => JSON.parse(l) as StudyEvent);
  assert.equal(events.filter((e) => e.type === 'run-started').length, 4);
  assert.equal(events.filter((e) => e.type === 'run-finished').length, 4);
  assert.equal(events.at(-1)?.type, 'study-finished');
  // VS Code's notification of these events: while several runs train, all of them, in order.
  const progress = new StudyProgress();
  const training = new Set<number>();
  let finished = 0;
  let last = 0;
  let together = 0;
  for (const e of events) {
    if (e.type === 'run-started') training.add(e.index);
    if (e.type === 'run-finished') {
      training.delete(e.index);
      finished += 1;
    }
    const shown = progress.update(e);
    if (!shown || !('index' in e)) continue;
    assert.ok(shown.fraction >= last, `the bar does not go back: ${shown.fraction} after ${last}`);
    last = shown.fraction;
    if (training.size < 2) continue;
    together += 1;
    const listed = [...shown.message.matchAll(/run (\d+) \(/g)].map((m) => Number(m[1]) - 1);
    assert.match(shown.message, new RegExp(`^${finished} of 4 finished; training `));
    assert.deepEqual(listed, [...training].sort((a, b) => a - b), shown.message);
  }
  assert.ok(together > 0, 'two jobs of this study trained at once on the two-CPU node');
  assert.equal(last, 1);
});

test('study --slurm: a run whose job Slurm requeues (preemption) is followed through its restart, and the study completes', { skip, timeout: 240_000 }, async () => {
  const flags = ['--config', 'toy.json', '--seeds', '1', '--steps', '3000', '--metric', 'loss', '--out', 'study-requeue', '--runs', 'runs-requeue', '--slurm'];
  const study = spawn(process.execPath, [cli, 'study', ...flags], { cwd: dir, env: cluster.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  study.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  study.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => study.on('exit', (code) => r(code)));
  const rec = (): { status: string; runs: { status: string; runDir: string | null }[] } => JSON.parse(fs.readFileSync(path.join(dir, 'study-requeue', 'study.json'), 'utf8'));
  await until('the first run to train 100 steps', () => fs.existsSync(path.join(dir, 'study-requeue', 'study.json')) && rec().runs[0].runDir !== null && readMetrics(rec().runs[0].runDir as string).metrics.length >= 100);
  const runDir = rec().runs[0].runDir as string;
  const jobId = readRunRecord(runDir).record?.scheduler?.jobId as string;
  assert.equal(spawnSync('scontrol', ['requeue', jobId], { env: cluster.env }).status, 0);
  assert.equal(await exited, 0, err);
  assert.equal(rec().status, 'completed');
  for (const e of rec().runs) assert.equal(e.status, 'completed');
  assert.deepEqual(readMetrics(runDir).metrics.map((m) => m.step), Array.from({ length: 3000 }, (_, i) => i + 1));
  assert.match(fs.readFileSync(path.join(runDir, 'train.log'), 'utf8'), /SIGTERM: stopping after this step[\s\S]*Slurm requeued job \d+ \(\w+\)[\s\S]*resumed from checkpoint/);
  assert.match(err + out, new RegExp(`requeued by Slurm as job ${jobId}`));
  const finished = out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string }).filter((e) => e.type === 'run-finished');
  assert.deepEqual(finished.map((e) => e.status), ['completed', 'completed']);
});

test('study --slurm stopped while its jobs wait: every job leaves the queue; the same command again resubmits and completes', { skip, timeout: 240_000 }, async () => {
  const flags = ['--config', 'toy.json', '--seeds', '1', '--steps', '100', '--metric', 'loss', '--out', 'study-stop', '--runs', 'runs-stop'];
  const study = spawn(process.execPath, [cli, 'study', ...flags, '--sbatch=--begin=now+1hour'], { cwd: dir, env: cluster.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  study.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((r) => study.on('exit', (code) => r(code)));
  const rec = (): { status: string; runs: { status: string; runDir: string | null }[] } => JSON.parse(fs.readFileSync(path.join(dir, 'study-stop', 'study.json'), 'utf8'));
  await until('both runs queued', () => fs.existsSync(path.join(dir, 'study-stop', 'study.json')) && rec().runs.every((e) => e.runDir !== null && status(e.runDir) === 'queued'));
  study.kill('SIGINT');
  assert.equal(await exited, 130, out);
  assert.equal(rec().status, 'stopped');
  for (const e of rec().runs) assert.equal(status(e.runDir as string), 'stopped');
  assert.equal(spawnSync('squeue', ['-h', '-o', '%i'], { env: cluster.env, encoding: 'utf8' }).stdout.trim(), '', 'no job left in the queue');

  const again = immiscible(['study', ...flags, '--slurm']);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(rec().status, 'completed');
  for (const e of rec().runs) assert.equal(readMetrics(e.runDir as string).metrics.length, 100);
});

test('JobStatePoller: the states of many jobs from one squeue call, a job Slurm does not know as null', { skip, timeout: 60_000 }, async () => {
  // squeue itself, behind a wrapper that counts its calls.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-squeue-'));
  const log = path.join(bin, 'calls');
  const real = spawnSync('bash', ['-c', 'command -v squeue'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(bin, 'squeue'), `#!/bin/sh\necho "$@" >> '${log}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  const env = { ...cluster.env, PATH: `${bin}:${cluster.env.PATH ?? ''}` };
  const sb = (args: string[]): string => spawnSync('sbatch', ['--parsable', ...args, '--wrap', 'sleep 60'], { env: cluster.env, cwd: dir, encoding: 'utf8' }).stdout.trim();
  const held = [sb(['--begin=now+1hour']), sb(['--begin=now+1hour'])];
  const cancelled = sb(['--begin=now+1hour']);
  assert.equal(spawnSync('scancel', [cancelled], { env: cluster.env }).status, 0);
  const poller = new JobStatePoller({ env, windowMs: 100 });
  const states = await Promise.all([...held, cancelled, '999999', held[0]].map((id) => poller.state(id)));
  assert.deepEqual(states, ['PENDING', 'PENDING', 'CANCELLED', null, 'PENDING']);
  assert.equal(fs.readFileSync(log, 'utf8').trim().split('\n').length, 1, 'one squeue call');
  assert.equal(await jobState('999999', { env }), null, 'alone, an unknown job is null too');
  spawnSync('scancel', held, { env: cluster.env });
  fs.rmSync(bin, { recursive: true, force: true });
});
