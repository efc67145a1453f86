/** report.md and the plots from constructed results: the tables, the colours, the conclusion, valid PNGs. */
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { analyzeCurves } from '../../src/core/study/analyze';
import type { RunCurve, StudyMode, StudyRecord } from '../../src/core/study/format';
import { renderReport } from '../../src/trainer/study/report';
import { studyPlots } from '../../src/trainer/study/plots';

const curve = (mode: StudyMode, seed: number, slope: number): RunCurve => {
  const metric: [number, number][] = Array.from({ length: 21 }, (_, i) => [i * 10, Math.max(20, 100 - slope * i * 10)]);
  return { mode, seed, runDir: `runs/${mode}-${seed}`, metric, loss: metric.map(([s]) => [s + 1, ({ none: 1, linear: 0.6, knn: 1.5 }[mode]) / (s + 1)]), secondsPerStep: mode === 'none' ? 0.5 : 0.6, assignMs: mode === 'none' ? 0 : 40, final: { step: 200, value: 20 } };
};

test('report.md: what was run, a table per threshold, the overhead, the plots with their colours', () => {
  const seeds = [0, 1, 2];
  const curves = seeds.flatMap((s) => [curve('none', s, 0.4 + 0.1 * s), curve('linear', s, 0.8 + 0.2 * s), curve('knn', s, 0.4 + 0.1 * s)]);
  const results = analyzeCurves({ metric: 'fd_lenet', modes: ['none', 'linear', 'knn'], seeds }, curves);
  const rec: StudyRecord = {
    format: 'immiscible-study', version: 1, status: 'completed', name: 'demo', command: 'immiscible study --config c.json --modes none,linear,knn --seeds 3', argv: [], cwd: '/w',
    config: { file: 'c.json', sha256: 'ab'.repeat(32) }, modes: ['none', 'linear', 'knn'], seeds, steps: 200, set: [], metric: 'fd_lenet', goal: 'below',
    evaluation: { every: 10, defaulted: false }, thresholds: null, runsDir: 'runs', machine: { hostname: 'h', os: 'Linux', cpuModel: 'Xeon', cpuCount: 2, node: 'v20', loadAverage: [1.5, 2, 2.5] },
    startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T01:02:03.000Z', durationSeconds: 3723,
    runs: curves.map((c, index) => ({ index, mode: c.mode, seed: c.seed, name: `demo-${c.mode}-s${c.seed}`, runDir: c.runDir, runId: `${c.mode}-${c.seed}`, status: 'completed', attempts: 1, seconds: 100, startedAt: null, endedAt: null })),
    error: null, results,
  };
  const md = renderReport(rec, results);
  assert.match(md, /^# Study demo/);
  assert.ok(md.includes('- Command: `immiscible study --config c.json --modes none,linear,knn --seeds 3`'));
  assert.match(md, /- Machine: Xeon x 2, Linux, Node v20, host h; load average 1.5, 2, 2.5 \(1, 5, 15 min\) at the start/);
  assert.match(md, /1 h 2 min 3 s in all/);
  assert.equal((md.match(/^### fd_lenet <= /gm) ?? []).length, 4);
  assert.match(md, /\| linear \| 50, 40, 33 \| 100, 80, 67 \| 2, 2, 2 \| 2 \| 2-2 \|/);
  assert.match(md, /\| knn \| 100, 80, 67 \| 100, 80, 67 \| 1, 1, 1 \| 1 \| 1-1 \|/);
  assert.match(md, /\| linear \| 0\.6 \| 1\.2x \| 40 \|/);
  assert.match(md, /Colours: none blue, linear orange, knn green\./);
  assert.match(md, /- linear needed fewer steps than none to reach fd_lenet <= 60: none's steps \/ linear's = 2 \(95% CI 2-2, 3 seeds\), about 0\.5x the steps\./);
  assert.match(md, /- knn vs none: no measurable difference: the 95% interval of the step ratio includes 1 at every threshold/);
  const plots = studyPlots(results);
  // knn's metric curve is none's, drawn over it: blue shows only in the loss plot.
  for (const [buf, colours] of [[plots.metric, [[255, 127, 14], [44, 160, 44]]], [plots.loss, [[31, 119, 180], [255, 127, 14], [44, 160, 44]]]] as const) {
    const png = PNG.sync.read(buf);
    assert.ok(png.width > 100 && png.height > 100);
    for (const [r, g, b] of colours) {
      let found = false;
      for (let i = 0; i < png.data.length && !found; i += 4) found = png.data[i] === r && png.data[i + 1] === g && png.data[i + 2] === b;
      assert.ok(found, `colour ${r},${g},${b}`);
    }
  }
});
