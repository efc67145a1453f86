/** The dashboard's series follower on real run files: appends, torn lines, cut-back logs, evaluations and grids. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { writeFileAtomic } from '../../src/core/run/fsAtomic';
import { RUN_FILES } from '../../src/core/run/format';
import { runsMetricsCsv } from '../../src/extension/dashboard/csvExport';
import { RunSeriesFollower } from '../../src/extension/dashboard/seriesFollower';

const line = (step: number, loss = 1 / step): string =>
  JSON.stringify({ step, loss, lr: 0.001, gradNorm: 1, assign: { mode: 'linear', distBefore: 40, distAfter: 36, ms: 2 }, imagesPerSec: 50, wallTime: step / 2, time: 't' }) + '\n';

describe('RunSeriesFollower', () => {
  let dir: string;
  let metrics: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'follow-'));
    metrics = path.join(dir, 'metrics.jsonl');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sends the whole series first, then only what was appended, leaving a torn line for later', () => {
    fs.writeFileSync(metrics, line(1) + line(2));
    const f = new RunSeriesFollower('r', dir, (file) => `uri:${path.basename(file)}`);
    const first = f.read();
    assert.equal(first.append, false);
    assert.deepEqual(Array.from(first.series.metrics.step), [1, 2]);
    assert.deepEqual(Array.from(first.series.metrics.distAfter), [36, 36]);

    const l3 = line(3);
    fs.appendFileSync(metrics, l3 + l3.slice(0, 10).replace('3', '4'));
    const second = f.read();
    assert.equal(second.append, true);
    assert.deepEqual(Array.from(second.series.metrics.step), [3], 'the torn line waits');

    fs.appendFileSync(metrics, line(4).slice(10));
    assert.deepEqual(Array.from(f.read().series.metrics.step), [4]);
    const idle = f.read();
    assert.equal(idle.changed, false);
  });

  it('starts again from the start when a resume cuts the log back', () => {
    fs.writeFileSync(metrics, line(1) + line(2) + line(3));
    const f = new RunSeriesFollower('r', dir, (x) => x);
    f.read();
    writeFileAtomic(metrics, line(1) + line(2));
    const r = f.read();
    assert.equal(r.append, false);
    assert.deepEqual(Array.from(r.series.metrics.step), [1, 2]);
  });

  it('reads evaluations by metric, placed on wall time, and reports each new grid once', () => {
    fs.writeFileSync(metrics, line(100) + line(200));
    fs.writeFileSync(
      path.join(dir, RUN_FILES.eval),
      [
        { step: 100, metric: 'fd_lenet', value: 50 },
        { step: 100, metric: 'kid_lenet', value: 0.1 },
        { step: 200, metric: 'fd_lenet', value: 30 },
      ]
        .map((x) => JSON.stringify(x) + '\n')
        .join('') + '{"step": 3',
    );
    fs.mkdirSync(path.join(dir, 'samples'));
    fs.writeFileSync(path.join(dir, 'samples', 'step-0000100.png'), 'x');
    const f = new RunSeriesFollower('r', dir, (file) => `uri:${path.basename(file)}`);
    const r = f.read();
    const fd = r.series.evals.find((e) => e.metric === 'fd_lenet');
    assert.deepEqual(fd && { metric: fd.metric, step: Array.from(fd.step), wallTime: Array.from(fd.wallTime), value: Array.from(fd.value) }, { metric: 'fd_lenet', step: [100, 200], wallTime: [50, 100], value: [50, 30] });
    assert.deepEqual(r.series.samples, [{ step: 100, uri: 'uri:step-0000100.png' }]);
    fs.writeFileSync(path.join(dir, 'samples', 'step-0000200.png'), 'x');
    assert.deepEqual(f.read().series.samples, [{ step: 200, uri: 'uri:step-0000200.png' }]);
  });

  it('follows a run whose files do not exist yet', () => {
    const f = new RunSeriesFollower('r', dir, (x) => x);
    assert.deepEqual(Array.from(f.read().series.metrics.step), []);
    fs.writeFileSync(metrics, line(1));
    const r = f.read();
    assert.deepEqual(Array.from(r.series.metrics.step), [1]);
  });
});

describe('the CSV export', () => {
  it('writes every field of each run at full precision, one row per run and logged step', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'csv-'));
    try {
      fs.writeFileSync(path.join(dir, 'metrics.jsonl'), line(1, 0.123456789012) + line(2) + '{"step": 3, "lo');
      const csv = runsMetricsCsv([{ id: 'r1', name: 'run, one', dir }]);
      const rows = csv.trim().split('\n');
      assert.equal(rows[0], 'run_id,run_name,step,wallTime,loss,lr,gradNorm,imagesPerSec,assign.distBefore,assign.distAfter,assign.ms');
      assert.equal(rows[1], 'r1,"run, one",1,0.5,0.123456789012,0.001,1,50,40,36,2');
      assert.equal(rows.length, 3, 'the torn last line is not exported');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
