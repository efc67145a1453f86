/**
 * `immiscible study` end to end with the bundled CLI (dist/trainer.js, run `npm run build`):
 * bad flags refused before any run; a tiny MNIST study (2 modes x 1 seed, fd_lenet every 2 steps)
 * writes study.json, report.md and the plots; a toy2d study stopped with SIGINT mid-run and
 * started again resumes the stopped run and keeps the completed one.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parseStudyEvent, type StudyEvent } from '../../src/core/protocol/studyEvents';
import type { StudyRecord } from '../../src/core/study/format';
import { listRunDirs, readRunRecord } from '../../src/core/run/reader';
import { studyRunningNow } from '../../src/trainer/study/record';

const root = path.resolve(__dirname, '..', '..');
const cli = path.join(root, 'dist/trainer.js');
const env = { ...process.env, IMMISCIBLE_CACHE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-cache-')) };

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-study-'));
}

function study(cwd: string, args: string[]): { code: number | null; stderr: string; events: StudyEvent[] } {
  const r = spawnSync(process.execPath, [cli, 'study', ...args], { cwd, env, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stderr: r.stderr, events: r.stdout.split('\n').map(parseStudyEvent).filter((e): e is StudyEvent => e !== null) };
}

const readRecord = (dir: string): StudyRecord => JSON.parse(fs.readFileSync(path.join(dir, 'study.json'), 'utf8')) as StudyRecord;

test('bad flags are refused before any run starts, naming the flag and what was expected', () => {
  assert.ok(fs.existsSync(cli), 'dist/trainer.js missing: run npm run build');
  const cwd = tmp();
  const config = path.join(root, 'configs/toy2d.json');
  fs.writeFileSync(path.join(cwd, 'a-file'), '');
  const cases: [string[], RegExp][] = [
    [['--modes', 'none,hungarian'], /--modes: unknown mode "hungarian"; expected a comma-separated list of none, linear, knn/],
    [['--modes', 'linear,knn'], /--modes: expected the baseline "none" in the list/],
    [['--seeds', '0'], /--seeds: expected an integer >= 1, found "0"/],
    [['--steps', 'many'], /--steps: expected an integer >= 1, found "many"/],
    [['--out', 'a-file'], /--out: a-file is a file, expected a folder/],
    [['--runs', 'a-file'], /--runs: a-file is a file, expected a folder/],
    [['--set', 'data.source=folder', '--set', 'data.path=no-such-images', '--set', 'model.type=unet'], /data\.path: expected an existing file or folder .*"no-such-images", which is not there/],
    [['--thresholds', '3,x'], /--thresholds: expected comma-separated numbers, found "3,x"/],
    [[], /--metric: fd_lenet needs evaluation, which needs image data; .*toy2d\.json trains on toy2d \(use --metric loss\)/],
  ];
  for (const [extra, message] of cases) {
    const r = study(cwd, ['--config', config, '--metric', 'loss', ...extra].filter((x, i, a) => !(extra.length === 0 && (x === '--metric' || a[i - 1] === '--metric'))));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
  }
  assert.deepEqual(fs.readdirSync(cwd), ['a-file'], 'nothing written: no runs, no study folder');
});

test('a tiny MNIST study: paired runs, fd_lenet on a shared schedule, study.json, report.md and plots', { timeout: 300_000 }, () => {
  const cwd = tmp();
  const config = path.join(cwd, 'tiny.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      name: 'tiny',
      seed: 5,
      backend: 'wasm',
      data: { source: 'mnist', imageSize: 8, limit: 200 },
      model: { type: 'unet', baseChannels: 8, channelMults: [1, 2], resBlocks: 1, groups: 4 },
      diffusion: { timesteps: 100, betaEnd: 0.2 },
      training: { steps: 100, batchSize: 8, warmupSteps: 2, sampleEvery: 0, checkpointEvery: 0, prefetch: false },
      sampling: { sampler: 'ddim', steps: 4 },
      evaluation: { every: 0, samples: 20, referenceSamples: 100 },
    }),
  );
  const t0 = Date.now();
  const r = study(cwd, ['--config', config, '--modes', 'none,linear', '--seeds', '1', '--steps', '4', '--out', 'study']);
  assert.equal(r.code, 0, r.stderr);
  const out = path.join(cwd, 'study');
  const rec = readRecord(out);
  assert.equal(rec.status, 'completed');
  assert.deepEqual(rec.modes, ['none', 'linear']);
  assert.deepEqual(rec.seeds, [5]);
  assert.equal(rec.steps, 4);
  assert.deepEqual(rec.evaluation, { every: 1, defaulted: true }, 'evaluation off in the config: steps/8 rounded, at least 1');
  assert.match(rec.command, /^immiscible study --config \S+tiny\.json --modes none,linear --seeds 1 --steps 4 --out study$/);
  assert.match(rec.config.sha256, /^[0-9a-f]{64}$/);
  assert.ok(rec.machine.cpuCount >= 1 && rec.machine.cpuModel.length > 0 && rec.machine.hostname.length > 0);
  assert.ok(rec.durationSeconds > 0 && rec.endedAt !== null);
  assert.deepEqual(rec.runs.map((e) => [e.mode, e.seed, e.status, e.attempts]), [['none', 5, 'completed', 1], ['linear', 5, 'completed', 1]]);
  for (const e of rec.runs) {
    const run = readRunRecord(path.join(cwd, e.runDir as string)).record;
    assert.equal(run?.group, rec.name);
    assert.equal(run?.status, 'completed');
    const cfg = JSON.parse(fs.readFileSync(path.join(cwd, e.runDir as string, 'config.json'), 'utf8')) as { seed: number; assignment: { mode: string }; evaluation: { every: number } };
    assert.deepEqual([cfg.seed, cfg.assignment.mode, cfg.evaluation.every], [5, e.mode, 1]);
  }
  const res = rec.results;
  assert.ok(res);
  assert.equal(res.metric, 'fd_lenet');
  assert.deepEqual(res.curves.map((c) => c.metric.map((p) => p[0])), [[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]]);
  assert.ok(res.curves.every((c) => c.metric.every((p) => Number.isFinite(p[1]) && p[1] > 0)));
  assert.equal(res.overhead.length, 2);
  assert.ok(res.overhead.every((o) => o.secondsPerStep !== null && o.secondsPerStep > 0));
  assert.ok((res.overhead[1].assignMs ?? -1) >= 0);
  assert.match(res.conclusion[0] ?? '', /With 1 seed no interval can be computed|No threshold/);
  const report = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
  assert.match(report, /## Conclusion/);
  assert.ok(report.includes(rec.command), 'the exact command');
  assert.match(report, /Colours: none blue, linear orange\./);
  assert.match(report, /!\[fd_lenet by step\]\(metric\.png\)/);
  assert.match(report, /\(chosen by the study: the config had evaluation off\)/);
  for (const png of ['metric.png', 'loss.png']) assert.deepEqual([...fs.readFileSync(path.join(out, png)).subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  const types = r.events.map((e) => e.type);
  assert.deepEqual(types.filter((t) => t !== 'run-progress'), ['study-started', 'study-log', 'run-started', 'run-finished', 'run-started', 'run-finished', 'study-finished']);
  const done = r.events.find((e) => e.type === 'study-finished');
  assert.equal(done?.type === 'study-finished' ? done.status : null, 'completed');
  console.log(`tiny MNIST study: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('a study stopped with SIGINT resumes: the completed run is kept, the stopped one resumed, the rest run', { timeout: 300_000 }, async () => {
  const cwd = tmp();
  const args = ['--config', path.join(root, 'configs/toy2d.json'), '--modes', 'none,knn', '--seeds', '1', '--steps', '400', '--metric', 'loss', '--set', 'training.sampleEvery=0', '--set', 'training.checkpointEvery=50', '--out', 'st'];
  const child = spawn(process.execPath, [cli, 'study', ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let buf = '';
  let sent = false;
  // The same study started again while it runs: refused, before it writes anything.
  const seconds: { code: number | null; stderr: string; during: StudyRecord }[] = [];
  const out = path.join(cwd, 'st');
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const e of lines.map(parseStudyEvent)) {
      if (!seconds.length && e?.type === 'run-progress' && e.index === 0 && e.step >= 20) {
        const r = study(cwd, args);
        seconds.push({ code: r.code, stderr: r.stderr, during: readRecord(out) });
      }
      if (!sent && e?.type === 'run-progress' && e.index === 1 && e.step >= 60) {
        sent = true;
        child.kill('SIGINT');
      }
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.ok(sent, 'reached the second run');
  assert.equal(code, 130);
  const [second] = seconds;
  assert.ok(second, 'started the study again during its first run');
  assert.equal(second.code, 2, second.stderr);
  assert.match(second.stderr, new RegExp(`--out: st is a study running now \\(pid ${child.pid} on ${os.hostname()}\\); stop it first`));
  assert.equal(second.during.pid, child.pid, 'study.json still names the first study');
  assert.equal(second.during.status, 'running');
  const stopped = readRecord(out);
  assert.equal(stopped.status, 'stopped');
  assert.deepEqual(stopped.runs.map((e) => e.status), ['completed', 'stopped']);
  const stoppedDir = stopped.runs[1].runDir as string;
  assert.equal(readRunRecord(path.join(cwd, stoppedDir)).record?.status, 'stopped');

  const r = study(cwd, args);
  assert.equal(r.code, 0, r.stderr);
  const rec = readRecord(out);
  assert.equal(rec.status, 'completed');
  assert.deepEqual(rec.runs.map((e) => [e.status, e.attempts]), [['completed', 1], ['completed', 2]]);
  assert.equal(rec.runs[1].runDir, stoppedDir, 'the same run, resumed');
  assert.equal(listRunDirs(path.join(cwd, 'runs')).length, 2, 'no run started twice');
  const started = r.events.filter((e) => e.type === 'run-started');
  assert.deepEqual(started.map((e) => (e.type === 'run-started' ? [e.index, e.resumed] : null)), [[1, true]]);
  assert.ok(rec.durationSeconds >= stopped.durationSeconds);
  assert.ok(fs.existsSync(path.join(out, 'report.md')));
});

test('a study is running now: here by its pid, from another host by its current run\'s trainer', () => {
  const dir = tmp();
  const runDir = path.join(dir, 'run');
  fs.mkdirSync(runDir);
  const writeRun = (o: Record<string, unknown>): void =>
    fs.writeFileSync(path.join(runDir, 'run.json'), JSON.stringify({ formatVersion: 1, id: 'run', status: 'running', step: 3, host: 'gpu-node-7', pid: 4242, updatedAt: new Date().toISOString(), ...o }));
  const rec = (o: Partial<StudyRecord>): StudyRecord =>
    ({ status: 'running', pid: process.pid + 1, host: 'gpu-node-7', runs: [{ index: 0, status: 'running', runDir }], ...o }) as unknown as StudyRecord;
  writeRun({});
  assert.equal(studyRunningNow(rec({})), true, 'another host: its run\'s heartbeat is fresh');
  writeRun({ updatedAt: new Date(Date.now() - 120_000).toISOString() });
  assert.equal(studyRunningNow(rec({})), false, 'another host, the run\'s heartbeat stale');
  assert.equal(studyRunningNow(rec({ status: 'stopped' })), false);
  // This host: the pid decides (the parent of this test runner is alive; a finished child is not).
  const gone = spawnSync(process.execPath, ['-e', '']).pid as number;
  assert.equal(studyRunningNow(rec({ host: os.hostname(), pid: process.ppid })), true);
  assert.equal(studyRunningNow(rec({ host: os.hostname(), pid: gone })), false);
  assert.equal(studyRunningNow(rec({ host: undefined, pid: process.ppid })), true, 'a record from before hosts were kept: this host');
  assert.equal(studyRunningNow(rec({ host: os.hostname(), pid: process.pid })), false, 'this very process is not another study');
});
