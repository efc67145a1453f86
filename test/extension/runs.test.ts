import { after, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunsTreeModel, type RunNode } from '../../src/extension/runs/model';
import { RunsWatcher } from '../../src/extension/runs/watch';
import { isDeadRun } from '../../src/core/run/liveness';
import { readLastJsonLine } from '../../src/core/run/tail';
import { RUN_FILES, sampleFileName, type MetricsLine, type RunRecord } from '../../src/core/run/format';
import { fixtureRecord, generateRuns, metricsLine } from '../../bench/bench-tree-fixtures';
import { DashboardRunList } from '../../src/extension/dashboard/runList';
import { differingKeys } from '../../src/core/compare/configDiff';

const made: string[] = [];
function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-tree-'));
  made.push(d);
  return d;
}
// Also when a test fails half-way.
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

const readRecord = (dir: string): RunRecord => JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.record), 'utf8')) as RunRecord;
const writeRecord = (dir: string, r: RunRecord): void => fs.writeFileSync(path.join(dir, RUN_FILES.record), JSON.stringify(r));

function node(model: RunsTreeModel, dir: string): RunNode {
  const n = model.getRun(dir);
  assert.ok(n, `no node for ${dir}`);
  return n;
}

/** A pid that existed and has exited: a child we ran to completion. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.ok(r.pid);
  return r.pid;
}

test('1,000 runs: grouped, described, and a refresh re-reads only the run that changed', () => {
  const root = tmp();
  try {
    // 50 lines is ~11 KiB: the 4 KiB tail read starts mid-file, mid-line.
    const dirs = generateRuns(root, { runs: 1000, metricsLines: 50 });
    const model = new RunsTreeModel(root);
    const cold = model.refresh();
    assert.equal(cold.added.length, 1000);
    assert.deepEqual(cold.reads, { records: 1000, metrics: 1000 });
    assert.deepEqual(model.groups.map((g) => [g.group, g.label, g.runs.length]), [
      ['mnist-sweep', 'mnist-sweep', 334],
      ['toy', 'toy', 333],
      ['', '(ungrouped)', 333],
    ]);
    const first = node(model, dirs[0]);
    assert.equal(first.status, 'completed');
    assert.equal(first.label, 'run-0');
    assert.equal(first.lastMetrics?.step, 50);
    assert.match(first.description, /^step 50\/1000 · loss 0\.0596$/);
    assert.deepEqual(first.children.map((c) => c.kind), ['config', 'metrics', 'samples', 'checkpoints', 'log']);
    const samples = first.children.find((c) => c.kind === 'samples');
    assert.ok(samples?.kind === 'samples' && samples.count === 3 && samples.latest?.step === 400);
    const cks = first.children.find((c) => c.kind === 'checkpoints');
    assert.ok(cks?.kind === 'checkpoints' && cks.count === 1 && cks.latest?.step === 50);
    assert.match(first.tooltip, /data: mnist train, 28x28/);
    assert.match(first.tooltip, /model: UNet base \d+/);
    assert.match(first.tooltip, /assignment: none \(random noise\)/);
    assert.match(node(model, dirs[1]).tooltip, /assignment: linear, cost l2/);
    assert.match(node(model, dirs[2]).tooltip, /assignment: knn, cost l2, k 4/);
    assert.match(first.tooltip, /batch 32 · 1000 steps · lr [\d.e-]+ · seed 0/);
    assert.match(first.tooltip, /backend: wasm \(CPU/);
    const failed = node(model, dirs[4]);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, 'loss became NaN at step 17');
    assert.match(failed.description, /loss became NaN/);

    // Nothing changed: no reads, no rebuilt nodes, the same node objects.
    const idle = model.refresh();
    assert.deepEqual(idle.reads, { records: 0, metrics: 0 });
    assert.equal(idle.changed.length, 0);
    assert.equal(model.getRun(dirs[0]), first);

    // One run got a metrics line: with the watcher's hint, and with a full stat check.
    const dir = dirs[500];
    fs.appendFileSync(path.join(dir, RUN_FILES.metrics), JSON.stringify(metricsLine(51)) + '\n');
    const hinted = model.refresh([dir]);
    assert.deepEqual(hinted.reads, { records: 0, metrics: 1 });
    assert.deepEqual(hinted.changed.map((n) => n.dir), [dir]);
    assert.equal(node(model, dir).lastMetrics?.step, 51);
    fs.appendFileSync(path.join(dir, RUN_FILES.metrics), JSON.stringify(metricsLine(52)) + '\n');
    writeRecord(dir, { ...readRecord(dir), step: 52 });
    const full = model.refresh();
    assert.deepEqual(full.reads, { records: 1, metrics: 1 });
    assert.deepEqual(full.changed.map((n) => n.dir), [dir]);
    assert.match(node(model, dir).description, /^step 52\/1000 · loss /);

    // Children, once listed, follow new samples and checkpoints.
    assert.equal(node(model, dir).children.find((c) => c.kind === 'samples')?.description, '3 grids · latest step 400');
    fs.writeFileSync(path.join(dir, RUN_FILES.samples, sampleFileName(600)), 'png');
    const withSample = model.refresh([dir]);
    assert.deepEqual(withSample.reads, { records: 0, metrics: 0 });
    assert.deepEqual(withSample.changed.map((n) => n.dir), [dir]);
    const s2 = node(model, dir).children.find((c) => c.kind === 'samples');
    assert.ok(s2?.kind === 'samples' && s2.count === 4 && s2.latest?.step === 600);
    assert.ok(s2.latest.file.endsWith(path.join(RUN_FILES.samples, 'step-0000600.png')));

    // Removed and added runs, reported by the watcher or found by a full refresh.
    fs.rmSync(dirs[999], { recursive: true });
    assert.deepEqual(model.refresh([dirs[999]]).removed, [dirs[999]]);
    fs.rmSync(dirs[998], { recursive: true });
    const copy = path.join(root, 'copied-run');
    fs.cpSync(dirs[5], copy, { recursive: true });
    const full2 = model.refresh();
    assert.deepEqual([full2.removed, full2.added], [[dirs[998]], [copy]]);
    assert.equal(model.runs.length, 999);
    fs.rmSync(copy, { recursive: true });
    const hinted2 = model.refresh([copy, path.join(root, '.hidden'), os.tmpdir()]);
    assert.deepEqual([hinted2.removed, hinted2.added, hinted2.reads], [[copy], [], { records: 0, metrics: 0 }]);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a torn last metrics line is skipped, not shown and not fatal', () => {
  const root = tmp();
  const [dir] = generateRuns(root, { runs: 1, metricsLines: 30 });
  fs.appendFileSync(path.join(dir, RUN_FILES.metrics), '{"step": 31, "lo');
  const model = new RunsTreeModel(root);
  model.refresh();
  const n = node(model, dir);
  assert.equal(n.lastMetrics?.step, 30);
  const m = n.children.find((c) => c.kind === 'metrics');
  assert.ok(m?.kind === 'metrics' && m.tornTail);
  assert.match(m.description, /torn last line/);
  assert.match(n.tooltip, /torn line/);
  // The line completes: the next refresh shows it.
  fs.appendFileSync(path.join(dir, RUN_FILES.metrics), 'ss": 0.5, "lr": 0.001}\n');
  model.refresh([dir]);
  assert.equal(node(model, dir).lastMetrics?.step, 31);
  assert.match(node(model, dir).description, /loss 0\.5$/);
  fs.rmSync(root, { recursive: true, force: true });
});

test('the description shows the best value of the headline evaluation metric, updated as eval.jsonl grows', () => {
  const root = tmp();
  const [dir] = generateRuns(root, { runs: 1, metricsLines: 5 });
  const model = new RunsTreeModel(root);
  model.refresh();
  assert.doesNotMatch(node(model, dir).description, /best/);
  const line = (step: number, metric: string, value: number): string => JSON.stringify({ step, metric, value, extractor: 'lenet' }) + '\n';
  fs.writeFileSync(path.join(dir, RUN_FILES.eval), line(0, 'kid_lenet', 0.5) + line(0, 'fd_lenet', 40.9) + line(100, 'fd_lenet', 31.25) + line(200, 'fd_lenet', 33));
  const r = model.refresh([dir]);
  assert.deepEqual(r.changed.map((n) => n.dir), [dir]);
  assert.match(node(model, dir).description, /best fd_lenet 31\.3 @100$/);
  // The standard network's FID, when present, is the headline; a torn last line is ignored.
  fs.appendFileSync(path.join(dir, RUN_FILES.eval), line(200, 'fid', 80.5) + '{"step": 3');
  model.refresh([dir]);
  assert.match(node(model, dir).description, /best fid 80\.5 @200$/);
});

test('readLastJsonLine: windows, torn tails, no newline, nothing usable', () => {
  const dir = tmp();
  const f = path.join(dir, 'm.jsonl');
  const isLine = (v: unknown): v is MetricsLine => typeof v === 'object' && v !== null && typeof (v as MetricsLine).step === 'number';
  assert.deepEqual(readLastJsonLine(f, isLine), { value: null, tornTail: false, size: 0, fingerprint: '-' });
  fs.writeFileSync(f, '{"step":1}\n{"step":2}');
  assert.equal(readLastJsonLine(f, isLine).value?.step, 2, 'a complete object without its newline still counts');
  fs.writeFileSync(f, '{"st');
  const torn = readLastJsonLine(f, isLine);
  assert.deepEqual([torn.value, torn.tornTail, torn.size], [null, true, 4]);
  fs.writeFileSync(f, '{"step":1}\n\n{"step":2}\nGARBAGE\n\n');
  assert.deepEqual([readLastJsonLine(f, isLine).value?.step, readLastJsonLine(f, isLine).tornTail], [2, false], 'a bad complete line is skipped, not torn');
  fs.writeFileSync(f, '{"step":1}\n[1,2]\n');
  assert.equal(readLastJsonLine(f, isLine).value?.step, 1, 'lines that are not records are skipped');
  // A last line longer than the window: found by the one larger retry.
  fs.writeFileSync(f, JSON.stringify({ step: 7, pad: 'x'.repeat(10000) }) + '\n{"bad');
  const r = readLastJsonLine(f, isLine);
  assert.equal(r.value?.step, 7);
  assert.equal(r.tornTail, true);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a broken or missing run.json shows as broken, without crashing the tree', () => {
  const root = tmp();
  const [a, b, c] = generateRuns(root, { runs: 3, metricsLines: 5 });
  fs.writeFileSync(path.join(a, RUN_FILES.record), '{"formatVersion": 1, "id": ');
  fs.rmSync(path.join(b, RUN_FILES.record));
  fs.mkdirSync(path.join(root, 'not-a-run'));
  const model = new RunsTreeModel(root);
  model.refresh();
  const na = node(model, a);
  assert.equal(na.status, 'broken');
  assert.match(na.error ?? '', /run\.json: not valid JSON/);
  assert.match(na.description, /not valid JSON/);
  assert.equal(na.group, '');
  assert.equal(na.label, path.basename(a));
  assert.equal(node(model, b).status, 'broken');
  assert.match(node(model, b).error ?? '', /missing/);
  assert.equal(node(model, path.join(root, 'not-a-run')).status, 'broken');
  assert.equal(node(model, c).status, 'completed');
  // Repaired: shown normally again.
  writeRecord(a, fixtureRecord(path.basename(a), JSON.parse(fs.readFileSync(path.join(a, RUN_FILES.config), 'utf8')), 'stopped', 5, null));
  model.refresh([a]);
  assert.equal(node(model, a).status, 'stopped');
  fs.rmSync(root, { recursive: true, force: true });
});

test('a "running" run is dead only when its pid is gone and its heartbeat is stale', () => {
  const root = tmp();
  const [dead, live, fresh] = generateRuns(root, { runs: 3, metricsLines: 5 });
  const old = new Date(Date.now() - 60_000).toISOString();
  const gonePid = deadPid();
  writeRecord(dead, { ...readRecord(dead), status: 'running', pid: gonePid, updatedAt: old, endedAt: null });
  // Our own pid is alive: an old heartbeat alone is not death (a slow step, a long save).
  writeRecord(live, { ...readRecord(live), status: 'running', pid: process.pid, updatedAt: old, endedAt: null });
  writeRecord(fresh, { ...readRecord(fresh), status: 'running', pid: gonePid, updatedAt: new Date().toISOString(), endedAt: null });
  let clock = Date.now();
  const model = new RunsTreeModel(root, { now: () => clock });
  model.refresh();
  assert.equal(node(model, dead).status, 'dead');
  assert.equal(node(model, dead).error, `trainer process ${gonePid} ended without finishing`);
  assert.match(node(model, dead).description, /trainer gone/);
  assert.match(node(model, dead).tooltip, /run\.json says running, but the trainer is gone/);
  assert.equal(node(model, live).status, 'running');
  assert.equal(node(model, fresh).status, 'running');
  // 31 s later, with no file touched, the fresh one's heartbeat is stale too.
  clock += 31_000;
  const r = model.refresh([]);
  assert.deepEqual(r.changed.map((n) => n.dir), [fresh]);
  assert.equal(node(model, fresh).status, 'dead');
  fs.rmSync(root, { recursive: true, force: true });

  const rec = fixtureRecord('x', JSON.parse('{"name":"x","group":"","training":{"steps":1}}'), 'running', 0, 123);
  const stale = { ...rec, updatedAt: new Date(0).toISOString() };
  assert.equal(isDeadRun(stale, { isAlive: () => false }), true);
  assert.equal(isDeadRun(stale, { isAlive: () => true }), false);
  assert.equal(isDeadRun({ ...stale, status: 'stopped' }, { isAlive: () => false }), false);
  // Another host's pid means nothing here: the heartbeat decides.
  assert.equal(isDeadRun({ ...stale, host: 'elsewhere' }, { isAlive: () => true }), true);
  assert.equal(isDeadRun({ ...stale, updatedAt: 'garbage' }, { isAlive: () => false }), true);
});

test('grouping: named groups alphabetically, ungrouped last, newest run first', () => {
  const root = tmp();
  const dirs = generateRuns(root, { runs: 6, metricsLines: 2, groups: ['zeta', 'alpha', ''] });
  const model = new RunsTreeModel(root, { ungroupedLabel: 'Ungrouped' });
  model.refresh();
  assert.deepEqual(model.groups.map((g) => g.label), ['alpha', 'zeta', 'Ungrouped']);
  // Same createdAt in the fixtures: ids (which start with the creation time) break the tie.
  assert.deepEqual(model.groups[0].runs.map((r) => r.dir), [dirs[4], dirs[1]]);
  // Moving a run to another group moves its node.
  writeRecord(dirs[0], { ...readRecord(dirs[0]), group: 'alpha' });
  model.refresh([dirs[0]]);
  assert.deepEqual(model.groups[0].runs.map((r) => r.dir), [dirs[4], dirs[1], dirs[0]]);
  assert.equal(model.groups[1].runs.length, 1);
  fs.rmSync(root, { recursive: true, force: true });
});

test('RunsWatcher reports the changed run dirs, batched', async () => {
  const root = tmp();
  const dirs = generateRuns(root, { runs: 3, metricsLines: 2 });
  const batches: string[][] = [];
  let wake: () => void = () => {};
  const watcher = new RunsWatcher(root, (d) => {
    batches.push(d);
    wake();
  }, { debounceMs: 80 });
  const next = (): Promise<string[]> =>
    new Promise((resolve, reject) => {
      const n = batches.length;
      const t = setTimeout(() => reject(new Error('no change reported')), 3000);
      wake = () => {
        if (batches.length > n) {
          clearTimeout(t);
          resolve(batches[batches.length - 1]);
        }
      };
    });
  try {
    assert.equal(watcher.watchCount, 4);
    // A burst of appends (a trainer logging every step) is one report.
    let p = next();
    for (let i = 0; i < 20; i++) fs.appendFileSync(path.join(dirs[1], RUN_FILES.metrics), JSON.stringify(metricsLine(3 + i)) + '\n');
    assert.deepEqual(await p, [dirs[1]]);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(batches.length, 1);
    // An atomic run.json rewrite in another run, and a new run.
    p = next();
    fs.writeFileSync(path.join(dirs[2], '.run.json.tmp'), '{}');
    fs.renameSync(path.join(dirs[2], '.run.json.tmp'), path.join(dirs[2], RUN_FILES.record));
    assert.deepEqual(await p, [dirs[2]]);
    p = next();
    const added = path.join(root, 'new-run');
    fs.mkdirSync(added);
    assert.deepEqual(await p, [added]);
    p = next();
    fs.writeFileSync(path.join(added, RUN_FILES.events), '{}\n');
    assert.deepEqual(await p, [added]);
  } finally {
    watcher.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a run written before newer config keys compares on what differs, and a bad config.json is named in its tooltip', () => {
  const root = tmp();
  const [current, earlier, broken] = generateRuns(root, { runs: 3, metricsLines: 5 });
  // config.json as an earlier trainer wrote it: no objective, evaluation or assignment.knnOn.
  const file = path.join(earlier, RUN_FILES.config);
  const written = JSON.parse(fs.readFileSync(path.join(current, RUN_FILES.config), 'utf8')) as Record<string, Record<string, unknown>>;
  const { objective: _o, evaluation: _e, flow: _f, consistency: _c, ...before } = written;
  const { knnOn: _k, ...assignment } = written.assignment;
  fs.writeFileSync(file, JSON.stringify({ ...before, assignment, name: 'earlier' }));
  const bad = path.join(broken, RUN_FILES.config);
  fs.writeFileSync(bad, JSON.stringify({ ...written, training: { ...written.training, batchSize: 'big' } }));

  const model = new RunsTreeModel(root);
  model.refresh();
  const runs = new DashboardRunList().toMessage([node(model, current), node(model, earlier)]);
  assert.deepEqual(differingKeys(runs.map((r) => r.config)), ['name'], 'keys the earlier run lacks take their defaults');
  assert.match(node(model, earlier).tooltip, /assignment/);
  assert.doesNotMatch(node(model, earlier).tooltip, /config:/);
  assert.match(node(model, broken).tooltip, new RegExp(`config: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid config`));
  assert.match(node(model, broken).tooltip, /training\.batchSize: expected an integer >= 1 and <= 65536, found the string "big"/);
});

test('a run queued on Slurm: its status, job id in the description and tooltip, and its job output as a child', () => {
  const root = tmp();
  const [dir] = generateRuns(root, { runs: 1, metricsLines: 0 });
  const r = readRecord(dir);
  writeRecord(dir, { ...r, status: 'queued', step: 0, pid: null, scheduler: { kind: 'slurm', jobId: '41', submittedAt: '2026-11-27T18:00:00.000Z', script: 'slurm-job.sh', sbatchArgs: ['--time=10'] } });
  const model = new RunsTreeModel(root);
  model.refresh();
  const n = node(model, dir);
  assert.equal(n.status, 'queued');
  assert.match(n.description, /· Slurm job 41$/);
  assert.match(n.tooltip, /Slurm job 41, submitted 2026-11-27T18:00:00.000Z with --time=10/);
  const out = n.children.find((c) => c.kind === 'jobOutput');
  assert.deepEqual(out && { path: out.path, description: out.description }, { path: path.join(dir, 'slurm-41.out'), description: 'job 41 · slurm-41.out' });

  // Done: the job id leaves the description; the output stays a child.
  writeRecord(dir, { ...readRecord(dir), status: 'completed' });
  model.refresh([dir]);
  assert.doesNotMatch(node(model, dir).description, /Slurm/);
  assert.ok(node(model, dir).children.some((c) => c.kind === 'jobOutput'));
});
