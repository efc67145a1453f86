/**
 * Dashboard benchmark in real headless Chromium (the bundled dist/webview.js): 1,000 runs in the
 * list and 10^6 metric points (10 compared runs x 100,000 logged steps), each run with 100 sample
 * grids. Measures the first paint after the host's messages arrive, a move of the shared step
 * slider, and the page's JS heap; the anchor, measured in the same run, is chart.js alone drawing
 * the same 10^6 points on one chart with its own decimation plugin.
 *   npm run bench:dashboard [-- --runs 1000 --shown 10 --points 100000 --grids 100]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { evalColumns, makeRun, makeSeries, toWire } from '../test/webview/fixtures';
import { openDashboardPage, pageUnavailable, ROOT } from '../test/webview/pageHarness';
import type { HostMessage } from '../src/core/webview/messages';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000' },
    shown: { type: 'string', default: '10' },
    points: { type: 'string', default: '100000' },
    grids: { type: 'string', default: '100' },
  },
});
const nRuns = Number(values.runs);
const nShown = Number(values.shown);
const nPoints = Number(values.points);
const nGrids = Number(values.grids);
const FIRST_PAINT_TARGET_MS = 1000;
const SLIDER_TARGET_MS = 50;

const why = pageUnavailable();
if (why) {
  console.error(`bench:dashboard cannot run: ${why}`);
  process.exit(1);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-dashboard-'));
  const d = await openDashboardPage({ width: 1600, height: 1000 });
  try {
    const png = new PNG({ width: 226, height: 226 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = (i * 7919) % 251;
    const gridFile = path.join(tmp, 'grid.png');
    fs.writeFileSync(gridFile, PNG.sync.write(png));

    const runs = Array.from({ length: nRuns }, (_, i) =>
      makeRun(`run-${String(i).padStart(4, '0')}`, { mode: ['none', 'linear', 'knn'][i % 3], group: `study-${i % 20}`, config: { seed: i % 5, 'training.lr': [0.001, 0.0005][i % 2] } }),
    );
    const shown = runs.slice(0, nShown).map((r) => r.id);
    const messages: HostMessage[] = [{ type: 'runs', v: 1, runs }, { type: 'show', v: 1, view: 'compare', runIds: shown }];
    for (const [k, id] of shown.entries()) {
      const gridSteps = Array.from({ length: nGrids }, (_, g) => Math.round(((g + 1) * nPoints) / nGrids) + (k % 2) * 7);
      const samples = gridSteps.map((step) => ({ step, uri: d.serveFile(`${id}-${step}.png`, gridFile) }));
      const evalSteps = Array.from({ length: 40 }, (_, e) => Math.round(((e + 1) * nPoints) / 40));
      const evals = [evalColumns('fd_lenet', evalSteps, evalSteps.map((s) => 200 / Math.sqrt(s / 1000 + 1) + k))];
      messages.push({ type: 'series', v: 1, append: false, series: makeSeries(id, nPoints, { samples, evals, seed: k + 1 }) });
    }
    const msgFile = path.join(tmp, 'messages.json');
    fs.writeFileSync(msgFile, toWire(messages));
    const msgUrl = d.serveFile('messages.json', msgFile);
    // What the host transfers: the typed arrays' bytes (the JSON file is only how this bench feeds the page).
    const typedBytes = messages.reduce((a, m) => a + (m.type === 'series' ? Object.values(m.series.metrics).reduce((b, c) => b + c.byteLength, 0) : 0), 0);
    const mb = typedBytes / 2 ** 20;

    if (process.env.BENCH_DEBUG) d.page.on('console', (m) => console.log('page:', m.text()));
    // The messages are fetched and rebuilt first, as VS Code delivers them: typed arrays, not JSON arrays.
    await d.stage(msgUrl);
    // BENCH_PROFILE=1: the functions with the most self time during the first paint (CPU profile).
    const profiler = process.env.BENCH_PROFILE ? await d.page.context().newCDPSession(d.page) : null;
    if (profiler) {
      await profiler.send('Profiler.enable');
      await profiler.send('Profiler.start');
    }
    // First paint: from the host's messages being posted to the second animation frame after the
    // page drew them.
    const paint = await d.page.evaluate(async () => {
      const msgs = (window as unknown as { stagedMessages: unknown[] }).stagedMessages;
      const app = (window as unknown as { immiscibleDashboard: { lastDrawMs: number; settled: boolean; store: { series: Map<string, unknown> } } }).immiscibleDashboard;
      const t0 = performance.now();
      for (const m of msgs) window.postMessage(m, '*');
      while (app.store.series.size < msgs.length - 2) await new Promise((r) => setTimeout(r, 0));
      const arrivedMs = performance.now() - t0;
      while (!app.settled) await new Promise((r) => setTimeout(r, 1));
      const a = app as unknown as { timings: { type: string; at: number; ms: number }[]; draws: number[] };
      // With BENCH_DEBUG: when each message arrived and each draw began (ms after the first post).
      console.log(JSON.stringify({ t0, timings: a.timings.map((x) => [x.type, Math.round(x.at - t0), Math.round(x.ms)]), draws: a.draws.map((x) => Math.round(x - t0)) }));
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return { ms: performance.now() - t0, drawMs: app.lastDrawMs, arrivedMs };
    });
    if (profiler) {
      const { profile } = await profiler.send('Profiler.stop');
      const self = new Map<string, number>();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const dt = profile.timeDeltas ?? [];
      (profile.samples ?? []).forEach((id, i) => {
        const n = byId.get(id);
        const key = n ? `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}` : '?';
        self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
      });
      for (const [k, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`profile: ${ms.toFixed(0).padStart(6)} ms  ${k}`);
    }
    const counts = await d.page.evaluate(() => {
      const app = (window as unknown as { immiscibleDashboard: { charts: { pointCounts(): Record<string, number> }; store: { series: Map<string, { metrics: { step: { length: number } } }> } } }).immiscibleDashboard;
      let held = 0;
      for (const s of app.store.series.values()) held += s.metrics.step.length;
      return { drawn: app.charts.pointCounts(), held, rows: document.querySelectorAll('.run-row').length, tiles: document.querySelectorAll('.tile').length };
    });

    // Slider: 30 moves to spread-out positions; each timed from the input event to the next frame.
    const slider = await d.page.evaluate(async () => {
      const s = document.querySelector<HTMLInputElement>('.step-slider');
      if (!s) throw new Error('no slider');
      const max = Number(s.max);
      const sync: number[] = [];
      const frame: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t0 = performance.now();
        s.value = String(Math.floor(((i * 37) % 30) * (max / 30)));
        s.dispatchEvent(new Event('input'));
        document.body.getBoundingClientRect();
        sync.push(performance.now() - t0);
        await new Promise((r) => requestAnimationFrame(r));
        frame.push(performance.now() - t0);
      }
      const steps = [...document.querySelectorAll<HTMLElement>('.tile')].map((t) => t.dataset.step);
      return { sync, frame, steps };
    });

    // Mean over seeds: from ticking the box to the second frame after the page drew the means
    // (the shown runs form settings by mode and lr, their seeds averaged), and back.
    const seedMean = await d.page.evaluate(async () => {
      const box = document.querySelector<HTMLInputElement>('input[title^="One line per setting"]');
      if (!box) throw new Error('no mean-over-seeds toggle');
      const app = (window as unknown as { immiscibleDashboard: { settled: boolean; charts: { datasetLabels(): Record<string, string[]> } } }).immiscibleDashboard;
      // A loop, not a named helper: the bundler would wrap a named function in a helper the page lacks.
      const out: { ms: number; lines: number }[] = [];
      for (const on of [true, false]) {
        const t0 = performance.now();
        box.checked = on;
        box.dispatchEvent(new Event('change'));
        await new Promise((r) => setTimeout(r, 0));
        while (!app.settled) await new Promise((r) => setTimeout(r, 1));
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        out.push({ ms: performance.now() - t0, lines: app.charts.datasetLabels().loss.length });
      }
      return { on: out[0], off: out[1] };
    });

    const cdp = await d.page.context().newCDPSession(d.page);
    await cdp.send('Performance.enable');
    await cdp.send('HeapProfiler.collectGarbage');
    const metrics = (await cdp.send('Performance.getMetrics')).metrics;
    const heapMb = (metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? NaN) / 2 ** 20;

    // Anchor: chart.js alone, one chart, the same points, its decimation plugin (LTTB).
    const anchorHtml = path.join(tmp, 'anchor.html');
    const chartUmd = d.serveFile('chart.umd.js', path.join(ROOT, 'node_modules/chart.js/dist/chart.umd.min.js'));
    fs.writeFileSync(anchorHtml, `<!DOCTYPE html><html><body><div style="width:800px;height:300px"><canvas id="c"></canvas></div><script src="${chartUmd}"></script></body></html>`);
    const browser = d.page.context().browser();
    if (!browser) throw new Error("no browser");
    const anchorPage = await browser.newPage({ viewport: { width: 1000, height: 400 } });
    await anchorPage.goto(d.serveFile('anchor.html', anchorHtml));
    const anchor = await anchorPage.evaluate(
      async ({ url, shown }) => {
        const msgs = JSON.parse(await (await fetch(url)).text(), (_k, v: unknown) => {
          if (typeof v !== 'object' || v === null) return v;
          const tagged = (v as { __f64?: (number | 'NaN')[]; __f32?: (number | 'NaN')[] }).__f64 ?? (v as { __f32?: (number | 'NaN')[] }).__f32;
          return tagged ? tagged.map((x) => (x === 'NaN' ? NaN : x)) : v;
        }) as { type: string; series?: { metrics: { step: number[]; loss: number[] } } }[];
        const series = msgs.filter((m) => m.type === 'series').slice(0, shown);
        const t0 = performance.now();
        const datasets = series.map((m) => {
          const s = m.series?.metrics ?? { step: [], loss: [] };
          const data = new Array(s.step.length);
          for (let i = 0; i < s.step.length; i++) data[i] = { x: s.step[i], y: s.loss[i] };
          return { data, pointRadius: 0, borderWidth: 1 };
        });
        const ChartCtor = (window as unknown as { Chart: new (c: HTMLCanvasElement, cfg: unknown) => unknown }).Chart;
        new ChartCtor(document.getElementById('c') as HTMLCanvasElement, {
          type: 'line',
          data: { datasets },
          options: { animation: false, parsing: false, normalized: true, responsive: true, maintainAspectRatio: false, scales: { x: { type: 'linear' } }, plugins: { decimation: { enabled: true, algorithm: 'lttb', samples: 800 } } },
        });
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        return performance.now() - t0;
      },
      { url: msgUrl, shown: nShown },
    );

    const sliderMed = median(slider.frame);
    const sliderMax = Math.max(...slider.frame);
    console.log(`machine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, Chromium ${d.page.context().browser()?.version() ?? '?'}, load ${os.loadavg()[0].toFixed(2)}`);
    console.log(`data: ${nRuns} runs listed (${counts.rows} rows drawn), ${nShown} compared x ${nPoints} points = ${counts.held.toLocaleString('en')} metric points held, ${nGrids} grids per run, ${mb.toFixed(1)} MiB of metric columns sent`);
    console.log(`first paint: ${paint.ms.toFixed(0)} ms (target ${FIRST_PAINT_TARGET_MS} ms: ${(paint.ms / FIRST_PAINT_TARGET_MS).toFixed(2)}x), messages delivered and stored after ${paint.arrivedMs.toFixed(0)} ms, the draw pass ${paint.drawMs.toFixed(0)} ms`);
    console.log(`anchor (chart.js alone, one chart, same points, LTTB decimation): ${anchor.toFixed(0)} ms; dashboard / anchor = ${(paint.ms / anchor).toFixed(2)}`);
    console.log(`points drawn after decimation: ${JSON.stringify(counts.drawn)}`);
    console.log(`slider move (input to next frame, ${slider.frame.length} moves, ${counts.tiles} galleries): median ${sliderMed.toFixed(1)} ms, max ${sliderMax.toFixed(1)} ms (target ${SLIDER_TARGET_MS} ms: ${(sliderMed / SLIDER_TARGET_MS).toFixed(2)}x); handler + layout median ${median(slider.sync).toFixed(1)} ms`);
    console.log(`mean over seeds: on in ${seedMean.on.ms.toFixed(0)} ms (${seedMean.on.lines} loss lines; anchor ratio ${(seedMean.on.ms / anchor).toFixed(2)}), off again in ${seedMean.off.ms.toFixed(0)} ms (${seedMean.off.lines} lines)`);
    console.log(`JS heap after GC: ${heapMb.toFixed(0)} MiB`);
  } finally {
    await d.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

void main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
