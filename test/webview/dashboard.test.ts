/**
 * Component tests of the dashboard page in real Chromium (the bundled dist/webview.js): the
 * synced slider, the config table, the speedup summary, live appends, and rejection of bad
 * messages. Skipped, saying why, where Chromium is missing.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PNG } from 'pngjs';
import type { EvalColumns } from '../../src/core/webview/messages';
import { evalColumns, makeRun, makeSeries, runsMessage, seriesMessage } from './fixtures';
import { openDashboardPage, pageUnavailable, type DashboardPage } from './pageHarness';

const skip = pageUnavailable();

function pngFile(dir: string, name: string, shade: number): string {
  const png = new PNG({ width: 8, height: 8 });
  png.data.fill(shade);
  const f = path.join(dir, name);
  fs.writeFileSync(f, PNG.sync.write(png));
  return f;
}

describe('dashboard page in Chromium', { skip: skip ?? false }, () => {
  let d: DashboardPage;
  let tmp: string;
  const uris = (run: string, steps: number[]): { step: number; uri: string }[] =>
    steps.map((step) => ({ step, uri: d.serveFile(`${run}-${step}.png`, pngFile(tmp, `${run}-${step}.png`, step % 256)) }));

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dash-test-'));
    d = await openDashboardPage();
  });
  after(async () => {
    await d?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('moves every gallery to the same step with one slider, marking the nearest when not exact', async () => {
    await d.send(runsMessage([makeRun('a', { mode: 'none' }), makeRun('b', { mode: 'linear' }), makeRun('c', { mode: 'knn' })]));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: ['a', 'b', 'c'] });
    await d.send(seriesMessage(makeSeries('a', 300, { samples: uris('a', [0, 100, 200, 300]) })));
    await d.send(seriesMessage(makeSeries('b', 300, { samples: uris('b', [0, 100, 200, 300]) })));
    await d.send(seriesMessage(makeSeries('c', 300, { samples: uris('c', [0, 150, 300]) })));
    await d.drawn();
    const tiles = (): Promise<Record<string, { step: string; inexact: boolean; caption: string; src: string }>> =>
      d.page.evaluate(() =>
        Object.fromEntries(
          [...document.querySelectorAll<HTMLElement>('.tile')].map((t) => [
            t.dataset.run ?? '',
            { step: t.dataset.step ?? '', inexact: t.classList.contains('inexact'), caption: t.querySelector('.tile-caption')?.textContent ?? '', src: t.querySelector('img')?.getAttribute('src') ?? '' },
          ]),
        ),
      );
    // Latest step first.
    let t = await tiles();
    assert.deepEqual([t.a.step, t.b.step, t.c.step], ['300', '300', '300']);
    // Union of steps: 0, 100, 150, 200, 300; index 1 is step 100.
    await d.page.evaluate(() => {
      const s = document.querySelector<HTMLInputElement>('.step-slider');
      if (!s) throw new Error('no slider');
      s.value = '1';
      s.dispatchEvent(new Event('input'));
    });
    t = await tiles();
    assert.equal(t.a.step, '100');
    assert.equal(t.b.step, '100');
    assert.equal(t.a.inexact, false);
    assert.ok(t.a.src.endsWith('a-100.png'), t.a.src);
    assert.equal(t.c.step, '150', 'c has no grid at 100: its nearest (150) is shown');
    assert.equal(t.c.inexact, true);
    assert.match(t.c.caption, /nearest to 100/);
    const label = await d.page.textContent('.step-label');
    assert.equal(label, 'step 100');
  });

  it('shows only the config keys that differ', async () => {
    await d.send(
      runsMessage([
        makeRun('base', { mode: 'none', config: { seed: 3 } }),
        makeRun('imm', { mode: 'linear', config: { seed: 3 } }),
      ]),
    );
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: ['base', 'imm'] });
    await d.send(seriesMessage(makeSeries('base', 10)));
    await d.send(seriesMessage(makeSeries('imm', 10)));
    await d.drawn();
    const keys = await d.page.$$eval('.config-table tbody tr', (rows) => rows.map((r) => (r as HTMLElement).dataset.key));
    assert.deepEqual(keys, ['assignment.mode']);
    const cells = await d.page.$$eval('.config-table tbody tr td', (tds) => tds.map((x) => x.textContent));
    assert.deepEqual(cells, ['none', 'linear']);
  });

  it('computes the speedup summary on constructed curves', async () => {
    const fd = (steps: number[], value: number[]): EvalColumns => evalColumns('fd_lenet', steps, value);
    await d.send(runsMessage([makeRun('base', { mode: 'none' }), makeRun('imm', { mode: 'linear' })]));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: ['imm', 'base'] });
    await d.send(seriesMessage(makeSeries('base', 300, { evals: [fd([0, 100, 200, 300], [100, 60, 40, 20])] })));
    await d.send(seriesMessage(makeSeries('imm', 300, { evals: [fd([0, 100, 200, 300], [100, 40, 20, 10])] })));
    await d.drawn();
    await d.page.fill('.threshold', '50');
    await d.page.dispatchEvent('.threshold', 'change');
    await d.drawn();
    const rows = await d.page.$$eval('.speedup-table tbody tr', (trs) => trs.map((tr) => [(tr as HTMLElement).dataset.run, tr.querySelector('.steps')?.textContent, tr.querySelector('.ratio')?.textContent]));
    // base: 60 at 100, 40 at 200 -> 50 at 150; imm: 100 at 0, 40 at 100 -> 50 at 83.33.
    assert.deepEqual(rows, [
      ['imm', '83', '1.80x'],
      ['base', '150', 'baseline'],
    ]);
    const metric = await d.page.$eval('.speedup-controls select', (s) => (s as HTMLSelectElement).value);
    assert.equal(metric, 'fd_lenet', 'an evaluation metric is preferred over the loss');
    const noteShown = (): Promise<boolean> => d.page.$eval('.speedup-note', (p) => !(p as HTMLElement).hidden && (p as HTMLElement).offsetHeight > 0);
    assert.equal(await noteShown(), false, 'no warning while an evaluation metric compares them');
    // The loss across assignment modes: the warning shows (it misleads there: docs/results).
    await d.page.selectOption('.speedup-controls select', 'loss');
    await d.drawn();
    assert.equal(await noteShown(), true, 'the loss of runs with different assignment modes is flagged');
    assert.match(await d.page.$eval('.speedup-note', (p) => p.textContent ?? ''), /differ in assignment\.mode/);
    // Back to the evaluation metric (the setting is kept for the next scenario): no warning.
    await d.page.selectOption('.speedup-controls select', 'fd_lenet');
    await d.drawn();
    assert.equal(await noteShown(), false);
    // The loss chart itself carries the same warning while the runs differ in mode, and not once they agree.
    const chartNoteShown = (): Promise<boolean> => d.page.$eval('[data-chart="loss"] .chart-note', (p) => !(p as HTMLElement).hidden && (p as HTMLElement).offsetHeight > 0);
    assert.equal(await chartNoteShown(), true, 'the loss chart of runs with different assignment modes is flagged');
    assert.match(await d.page.$eval('[data-chart="loss"] .chart-note', (p) => p.textContent ?? ''), /differ in assignment\.mode/);
    assert.equal(await d.page.$$eval('[data-chart^="eval:"] .chart-note', (ps) => ps.filter((p) => !(p as HTMLElement).hidden).length), 0, 'the evaluation charts carry none');
    await d.send(runsMessage([makeRun('base', { mode: 'none' }), makeRun('imm', { mode: 'none' })]));
    await d.drawn();
    assert.equal(await chartNoteShown(), false, 'runs of one mode: no warning');
  });

  it('plots each run\'s best metric against the swept parameter, a line per mode; a category key; runs without a value named', async () => {
    const fd = (value: number[]): EvalColumns => evalColumns('fd_lenet', [0, 100, 200], value);
    const runs = [
      makeRun('n1', { mode: 'none', config: { 'training.lr': 0.001 } }),
      makeRun('n3', { mode: 'none', config: { 'training.lr': 0.003 } }),
      makeRun('l1', { mode: 'linear', config: { 'training.lr': 0.001 } }),
      makeRun('l3', { mode: 'linear', config: { 'training.lr': 0.003 } }),
      makeRun('l9', { mode: 'linear', config: { 'training.lr': 0.009 } }),
    ];
    await d.send(runsMessage(runs));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: runs.map((r) => r.id) });
    await d.send(seriesMessage(makeSeries('n1', 200, { evals: [fd([90, 50, 40])] })));
    await d.send(seriesMessage(makeSeries('n3', 200, { evals: [fd([90, 45, 47])] })));
    await d.send(seriesMessage(makeSeries('l1', 200, { evals: [fd([90, 35, 30])] })));
    await d.send(seriesMessage(makeSeries('l3', 200, { evals: [fd([90, 33, 36])] })));
    // l9 has no evaluation yet: left out, and said so.
    await d.send(seriesMessage(makeSeries('l9', 200)));
    await d.drawn();
    type Plot = { key: string; axis: string; categories: string[]; series: { mode: string; points: { x: number; y: number; runId: string }[] }[]; missing: string[] };
    const plot = (): Promise<Plot> => d.page.evaluate(() => (window as unknown as { immiscibleDashboard: { paramChart: { plot: Plot } } }).immiscibleDashboard.paramChart.plot);
    let p = await plot();
    assert.equal(p.key, 'training.lr', 'the swept numeric key, not the seed or the mode');
    assert.equal(p.axis, 'linear');
    assert.deepEqual(
      p.series.map((s) => [s.mode, s.points.map((q) => [q.x, q.y])]),
      [
        ['none', [[0.001, 40], [0.003, 45]]],
        ['linear', [[0.001, 30], [0.003, 33]]],
      ],
    );
    assert.deepEqual(p.missing, ['l9']);
    assert.match(await d.page.textContent('.param-note') ?? '', /Not plotted \(no fd_lenet yet, or no training\.lr\): l9/);

    // Final instead of best; then the mode itself as a category.
    await d.page.selectOption('.param-card select[title="Each run\'s value"]', 'final');
    await d.drawn();
    p = await plot();
    assert.deepEqual(p.series[0].points.map((q) => q.y), [40, 47]);
    await d.page.selectOption('.param-card select[title="Config key (x axis)"]', 'assignment.mode');
    await d.drawn();
    p = await plot();
    assert.equal(p.axis, 'category');
    assert.deepEqual(p.categories, ['linear', 'none']);
    assert.deepEqual(p.series.find((s) => s.mode === 'none')?.points.map((q) => q.x), [1, 1]);
  });

  it('draws the mean over seeds, one line per setting with its range, when asked', async () => {
    const fd = (value: number[]): EvalColumns => evalColumns('fd_lenet', [0, 100, 200], value);
    const runs = [
      makeRun('n0', { mode: 'none', config: { seed: 0 } }),
      makeRun('l0', { mode: 'linear', config: { seed: 0 } }),
      makeRun('n1', { mode: 'none', config: { seed: 1 } }),
      makeRun('l1', { mode: 'linear', config: { seed: 1 } }),
    ];
    await d.send(runsMessage(runs));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: runs.map((r) => r.id) });
    await d.send(seriesMessage(makeSeries('n0', 200, { evals: [fd([90, 50, 40])] })));
    await d.send(seriesMessage(makeSeries('n1', 200, { evals: [fd([90, 60, 30])] })));
    await d.send(seriesMessage(makeSeries('l0', 200, { evals: [fd([90, 40, 20])] })));
    await d.send(seriesMessage(makeSeries('l1', 200, { evals: [fd([90, 30, 24])] })));
    await d.drawn();
    type Lines = { label: string; points: { x: number; y: number }[] }[];
    const lines = (): Promise<Lines> => d.page.evaluate(() => (window as unknown as { immiscibleDashboard: { charts: { lineData(id: string): Lines } } }).immiscibleDashboard.charts.lineData('eval:fd_lenet'));
    assert.deepEqual((await lines()).map((l) => l.label), ['n0', 'l0', 'n1', 'l1'], 'one line per run at first');
    await d.page.check('input[title^="One line per setting"]');
    await d.drawn();
    const mean = await lines();
    assert.deepEqual(
      mean.map((l) => [l.label, l.points.map((q) => [q.x, q.y])]),
      [
        ['assignment.mode=none: mean of 2', [[0, 90], [100, 55], [200, 35]]],
        ['assignment.mode=linear: mean of 2', [[0, 90], [100, 35], [200, 22]]],
      ],
    );
    const band = await d.page.evaluate(() => {
      const app = (window as unknown as { immiscibleDashboard: { charts: { datasetLabels(): Record<string, string[]> } } }).immiscibleDashboard;
      return app.charts.datasetLabels().loss;
    });
    assert.deepEqual(band, ['assignment.mode=none: mean of 2', 'assignment.mode=linear: mean of 2'], 'every chart, the loss too');
    // The speedup table, per setting on its mean curve: none's mean (90, 55, 35) reaches 35 at
    // step 200, linear's (90, 35, 22) at 100.
    await d.page.fill('.threshold', '35');
    await d.page.dispatchEvent('.threshold', 'change');
    await d.drawn();
    const rows = await d.page.$$eval('.speedup-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rows, [
      ['assignment.mode=none (2 runs)', 'none', '200', 'baseline'],
      ['assignment.mode=linear (2 runs)', 'linear', '100', '2.00x'],
    ]);
    // Live data for one seed redraws its setting's mean.
    await d.send(seriesMessage({ ...makeSeries('n1', 0), evals: [evalColumns('fd_lenet', [300], [10])] }, true));
    await d.send(seriesMessage({ ...makeSeries('n0', 0), evals: [evalColumns('fd_lenet', [300], [20])] }, true));
    await d.drawn();
    assert.deepEqual((await lines())[0].points.at(-1), { x: 300, y: 15 });
    // A third linear seed without an evaluation yet: left out of its setting's fd_lenet, and said so.
    await d.send(runsMessage([...runs, makeRun('l2', { mode: 'linear', config: { seed: 2 } })]));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: [...runs.map((r) => r.id), 'l2'] });
    await d.send(seriesMessage(makeSeries('l2', 200)));
    await d.drawn();
    assert.deepEqual((await lines()).map((l) => l.label), ['assignment.mode=none: mean of 2', 'assignment.mode=linear: mean of 2 of 3']);
    const rows3 = await d.page.$$eval('.speedup-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(rows3[1], ['assignment.mode=linear (2 of 3 runs)', 'linear', '100', '2.00x'], 'its loss never stands in for the missing fd_lenet');
    await d.page.uncheck('input[title^="One line per setting"]');
    await d.drawn();
    assert.equal((await lines()).length, 4, 'the runs with fd_lenet, one line each');
  });

  it('with mean over seeds, metric vs parameter draws each setting\'s mean with its seeds around it', async () => {
    const fd = (best: number): EvalColumns => evalColumns('fd_lenet', [0, 100], [90, best]);
    const runs = [
      makeRun('a', { mode: 'none', config: { seed: 0, 'training.lr': 0.001 } }),
      makeRun('b', { mode: 'none', config: { seed: 1, 'training.lr': 0.001 } }),
      makeRun('c', { mode: 'none', config: { seed: 0, 'training.lr': 0.003 } }),
      makeRun('e', { mode: 'linear', config: { seed: 0, 'training.lr': 0.001 } }),
    ];
    await d.send(runsMessage(runs));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: runs.map((r) => r.id) });
    for (const [id, best] of [['a', 40], ['b', 44], ['c', 30], ['e', 20]] as const) await d.send(seriesMessage(makeSeries(id, 100, { evals: [fd(best)] })));
    await d.page.check('input[title^="One line per setting"]');
    await d.page.selectOption('.param-card select[title="Config key (x axis)"]', 'training.lr');
    await d.drawn();
    type Means = { mode: string; points: { x: number; y: number; lo: number; hi: number; n: number }[] }[] | null;
    const means = (): Promise<Means> => d.page.evaluate(() => (window as unknown as { immiscibleDashboard: { paramChart: { means: Means } } }).immiscibleDashboard.paramChart.means);
    assert.deepEqual(await means(), [
      { mode: 'none', points: [{ x: 0.001, y: 42, lo: 40, hi: 44, n: 2 }, { x: 0.003, y: 30, lo: 30, hi: 30, n: 1 }] },
      { mode: 'linear', points: [{ x: 0.001, y: 20, lo: 20, hi: 20, n: 1 }] },
    ]);
    await d.page.uncheck('input[title^="One line per setting"]');
    await d.drawn();
    assert.equal(await means(), null, 'each run again');
    // A run at the same lr with another batch size is another setting: not averaged with the seeds.
    const other = makeRun('f', { mode: 'none', config: { seed: 0, 'training.lr': 0.001, 'training.batchSize': 64 } });
    await d.send(runsMessage([...runs, other]));
    await d.send({ type: 'show', v: 1, view: 'compare', runIds: [...runs.map((r) => r.id), 'f'] });
    await d.send(seriesMessage(makeSeries('f', 100, { evals: [fd(10)] })));
    await d.page.check('input[title^="One line per setting"]');
    await d.page.selectOption('.param-card select[title="Config key (x axis)"]', 'training.lr');
    await d.drawn();
    assert.deepEqual((await means())?.[0].points.map((q) => [q.x, q.y, q.n]), [[0.001, 42, 2], [0.001, 10, 1], [0.003, 30, 1]]);
    await d.page.uncheck('input[title^="One line per setting"]');
    await d.drawn();
  });

  it('appends live data to what it holds instead of replacing it', async () => {
    await d.send(runsMessage([makeRun('live', { status: 'running' })]));
    await d.send({ type: 'show', v: 1, view: 'run', runIds: ['live'] });
    await d.send(seriesMessage(makeSeries('live', 50)));
    await d.send(seriesMessage(makeSeries('live', 25, { firstStep: 51 }), true));
    await d.drawn();
    const held = await d.page.evaluate(() => {
      const app = (window as unknown as { immiscibleDashboard: { store: { series: Map<string, { metrics: { step: { view(): Float64Array } } }> }; charts: { pointCounts(): Record<string, number> } } }).immiscibleDashboard;
      const steps = app.store.series.get('live')?.metrics.step.view() ?? new Float64Array(0);
      return { n: steps.length, first: steps[0], last: steps[steps.length - 1], points: app.charts.pointCounts() };
    });
    assert.deepEqual([held.n, held.first, held.last], [75, 1, 75]);
    assert.equal(held.points.lr, 75);
  });

  it('rejects and reports a malformed message, leaving the page as it was', async () => {
    const before = await d.page.evaluate(() => (window as unknown as { immiscibleDashboard: { store: { runs: unknown[] } } }).immiscibleDashboard.store.runs.length);
    const errors: string[] = [];
    d.page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await d.send({ type: 'runs', v: 1, runs: [{ id: 7 }] });
    await d.send({ type: 'series', v: 2, append: false, series: {} });
    await d.send({ type: 'launchMissiles', v: 1 });
    await d.drawn();
    const after = await d.page.evaluate(() => (window as unknown as { immiscibleDashboard: { store: { runs: unknown[] } } }).immiscibleDashboard.store.runs.length);
    assert.equal(after, before);
    const logs = (await d.posted()).filter((m) => m.type === 'log').map((m) => (m.type === 'log' ? m.message : ''));
    assert.equal(logs.length, 3, logs.join('\n'));
    assert.match(logs[0], /runs\.runs: an array of id: a string/);
    assert.match(logs[1], /series\.v: expected 1, found 2/);
    assert.match(logs[2], /type: expected one of/);
    assert.equal(errors.length, 3);
  });
});
