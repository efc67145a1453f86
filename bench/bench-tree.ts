/**
 * Runs-tree benchmark: 1,000 generated run directories (metrics.jsonl of 1,000 lines each), a cold
 * full build and a warm refresh after one run changed, and the dashboard's run list (every run's
 * config read, validated and flattened once), against the 200 ms budget; and `immiscible runs` over
 * the same folder against the process's own start.
 *   node --import tsx bench/bench-tree.ts [--runs N] [--lines N] [--keep]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { RunsTreeModel } from '../src/extension/runs/model';
import { DashboardRunList } from '../src/extension/dashboard/runList';
import { RUN_FILES } from '../src/core/run/format';
import { generateRuns, metricsLine } from './bench-tree-fixtures';

const BUDGET_MS = 200;
const { values } = parseArgs({
  options: { runs: { type: 'string', default: '1000' }, lines: { type: 'string', default: '1000' }, keep: { type: 'boolean', default: false } },
});
const runs = Number(values.runs);
const lines = Number(values.lines);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-bench-tree-'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (label: string, ms: number): string => `${label} ${ms.toFixed(1)} ms (${(ms / BUDGET_MS).toFixed(2)}x of the ${BUDGET_MS} ms budget)`;

try {
  const t0 = performance.now();
  const dirs = generateRuns(root, { runs, metricsLines: lines });
  const bytes = fs.statSync(path.join(dirs[0], RUN_FILES.metrics)).size;
  console.log(`generated ${runs} runs x ${lines} metrics lines (${(bytes / 1024).toFixed(0)} KiB each) in ${((performance.now() - t0) / 1000).toFixed(1)} s under ${root}`);

  // Let the kernel write the ~200 MB just generated back to disk first, or the timings measure that.
  spawnSync('sync');
  // "Cold" = a fresh model (nothing cached in the process); the OS page cache is warm from the
  // generation, as it is for runs the trainer just wrote. Several fresh models, median reported.
  const cold: number[] = [];
  let model = new RunsTreeModel(root);
  for (let i = 0; i < 5; i++) {
    model = new RunsTreeModel(root);
    const t = performance.now();
    model.refresh();
    cold.push(performance.now() - t);
  }
  const nodes = model.groups.reduce((n, g) => n + g.runs.length, 0);
  if (nodes !== runs) throw new Error(`expected ${runs} run nodes, found ${nodes}`);
  // What a tree view then asks for on screen: ~40 rows' tooltips and one expanded run.
  const t1 = performance.now();
  for (const r of model.groups[0].runs.slice(0, 40)) if (!r.tooltip.includes('assignment:')) throw new Error('tooltip without config');
  if (model.groups[0].runs[0].children.length !== 5) throw new Error('expected 5 children');
  const lazy = performance.now() - t1;

  // The dashboard's run list: the first message reads every config; later ones use the cache.
  const all = model.groups.flatMap((g) => g.runs);
  const list = new DashboardRunList();
  const t2 = performance.now();
  const listed = list.toMessage(all);
  const listFirst = performance.now() - t2;
  if (listed.length !== runs || listed.some((r) => r.config['assignment.knnOn'] === undefined)) throw new Error('a listed run without its resolved config');
  const t3 = performance.now();
  list.toMessage(all);
  const listAgain = performance.now() - t3;

  // Warm refreshes after one run changed: one metrics line appended (the common case while training).
  const hinted: number[] = [];
  const full: number[] = [];
  for (let i = 0; i < 9; i++) {
    const dir = dirs[(i * 97) % dirs.length];
    fs.appendFileSync(path.join(dir, RUN_FILES.metrics), JSON.stringify(metricsLine(lines + i + 1)) + '\n');
    let t = performance.now();
    const r1 = model.refresh([dir]);
    hinted.push(performance.now() - t);
    if (r1.changed.length !== 1 || r1.reads.metrics !== 1) throw new Error(`hinted refresh re-read ${JSON.stringify(r1.reads)}`);
    fs.appendFileSync(path.join(dir, RUN_FILES.metrics), JSON.stringify(metricsLine(lines + i + 2)) + '\n');
    t = performance.now();
    const r2 = model.refresh();
    full.push(performance.now() - t);
    if (r2.changed.length !== 1 || r2.reads.metrics !== 1) throw new Error(`full refresh (${i}) re-read ${JSON.stringify(r2.reads)} ${r2.changed.map((n) => n.dir).join(" ")} vs ${dir}`);
  }

  console.log(`${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), node ${process.version}`);
  // The first build also pays for JIT-compiling the reader, as the extension's first refresh does.
  console.log(fmt('cold, first build in this process', cold[0]));
  console.log(fmt('cold, fresh model (median of 4 more)', median(cold.slice(1))) + `  [${cold.slice(1).map((x) => x.toFixed(0)).join(', ')} ms]`);
  console.log(`  + 40 tooltips and one run's children on first access: ${lazy.toFixed(1)} ms`);
  console.log(fmt(`dashboard run list, ${runs} configs read and validated`, listFirst) + `; again (cached) ${listAgain.toFixed(1)} ms`);
  console.log(fmt('warm, one run changed, watcher hint', median(hinted)));
  console.log(fmt('warm, one run changed, full stat check', median(full)));

  // `immiscible runs` over the same folder, a process each time, against the anchor of the same
  // process doing nothing with runs (`immiscible schema`): what listing them adds to its start.
  const cli = path.resolve(__dirname, '..', 'dist', 'trainer.js');
  if (fs.existsSync(cli)) {
    const timed = (args: string[]): number => {
      const t = performance.now();
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`immiscible ${args.join(' ')}: ${r.stderr}`);
      return performance.now() - t;
    };
    const listing: number[] = [];
    const anchor: number[] = [];
    for (let i = 0; i < 5; i++) {
      listing.push(timed(['runs', '--runs', root]));
      anchor.push(timed(['schema']));
    }
    console.log(`immiscible runs over the ${runs} runs: ${median(listing).toFixed(0)} ms; anchor, immiscible schema (the process alone): ${median(anchor).toFixed(0)} ms; ratio ${(median(listing) / median(anchor)).toFixed(2)}`);
  } else console.log(`immiscible runs not timed: ${cli} missing (npm run build)`);
} finally {
  if (!values.keep) fs.rmSync(root, { recursive: true, force: true });
}
