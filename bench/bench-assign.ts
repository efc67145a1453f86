/**
 * `node --import tsx bench/bench-assign.ts`: our exact linear sum assignment against scipy's
 * `linear_sum_assignment` (Debian's /usr/bin/python3, as the authors call it) on the same
 * matrices in the same run, plus the cost matrix and kNN on the TF.js wasm backend against the
 * plain JavaScript versions. The last line is one JSON object with the D = 3072 ratios
 * (scipy raw time / our time), for tracking.
 * Options: --sizes 128,256 --dims 3072,12288 --toy 128,2048 --no-cost --no-knn
 * Environment: PYTHON (default /usr/bin/python3 when present, else python3).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { assignmentCost, linearSumAssignment } from '../src/trainer/assignment/lsa';
import { pairwiseCost } from '../src/trainer/assignment/cost';
import { pairwiseCostTf } from '../src/trainer/assignment/costTf';
import { nearestOfK } from '../src/trainer/assignment/knn';
import { nearestOfKTf } from '../src/trainer/assignment/knnTf';
import { selectBackend } from '../src/trainer/backend/select';
import { Rng } from '../src/trainer/rng';
import { imageCase, smoothImages, toyCase, type BenchCase } from './bench-assign-data';

interface ScipyResult {
  raw_ms: number;
  reduced_ms: number;
  raw_total: number;
  reduced_total: number;
}

const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const SCIPY_SCRIPT = join(__dirname, 'scipy_lsa.py');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Calls timed per solver: many where a call is short (timer and machine noise), few for the
 * big matrices so the whole run stays within a few minutes. */
function repeatsFor(b: number): number {
  return b >= 2048 ? 3 : b >= 1024 ? 7 : b >= 512 ? 15 : b >= 256 ? 31 : 51;
}

/** Rounds the calls are split into; each round runs ours, scipy raw and scipy reduced in turn. */
function roundsFor(b: number): number {
  return b >= 1024 ? repeatsFor(b) : 5;
}

function timeCalls(fn: () => void, count: number, into: number[]): void {
  for (let r = 0; r < count; r++) {
    const t0 = performance.now();
    fn();
    into.push(performance.now() - t0);
  }
}

function timeMs(fn: () => void, repeats: number): number {
  const ts: number[] = [];
  timeCalls(fn, repeats, ts);
  return median(ts);
}

/** The scipy version, or null (after one line saying how to install it) when it cannot run. */
function probeScipy(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import scipy.optimize, numpy, scipy; print(scipy.__version__)'], { encoding: 'utf8' });
  if (r.status === 0) return r.stdout.trim();
  console.log(`scipy not available to ${PYTHON}: apt-get install python3-scipy (scipy columns skipped)`);
  return null;
}

/**
 * scipy_lsa.py in server mode: one Python process for the whole run, answering one JSON line per
 * command, so its calls can be interleaved with ours and both meet the same machine load.
 */
class ScipyServer {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly waiting: { resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  private stderr = '';

  constructor() {
    this.proc = spawn(PYTHON, [SCIPY_SCRIPT, '--serve']);
    createInterface({ input: this.proc.stdout }).on('line', (line) => this.waiting.shift()?.resolve(line));
    this.proc.stderr.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.proc.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`scipy_lsa.py exited (${code}): ${this.stderr}`));
    });
  }

  async ask<T>(cmd: string): Promise<T> {
    const line = await new Promise<string>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.proc.stdin.write(cmd + '\n');
    });
    return JSON.parse(line) as T;
  }

  close(): void {
    this.proc.stdin.end();
  }
}

interface Row {
  cse: BenchCase;
  first: number;
  ours: number;
  scipy: ScipyResult | null;
  check: string;
}

async function solveRow(cse: BenchCase, dir: string, scipy: ScipyServer | null): Promise<Row> {
  const { b, cost } = cse;
  const repeats = repeatsFor(b);
  const rounds = roundsFor(b);
  const perRound = Math.ceil(repeats / rounds);
  // Warm-up: lets V8 optimise the solver's loops before the timed calls, as a training run has
  // after its first few steps. The first call is reported apart.
  const t0 = performance.now();
  let col = linearSumAssignment(cost, b);
  const first = performance.now() - t0;
  for (let w = 0, t1 = performance.now(); w < 30 && performance.now() - t1 < 1000; w++) linearSumAssignment(cost, b);
  const solve = (): void => {
    col = linearSumAssignment(cost, b);
  };
  const ours: number[] = [];
  const raw: number[] = [];
  const red: number[] = [];
  let rawTotal = NaN;
  let redTotal = NaN;
  if (scipy !== null) {
    const file = join(dir, `c${b}.f64`);
    writeFileSync(file, new Uint8Array(cost.buffer, cost.byteOffset, cost.byteLength));
    await scipy.ask(`load ${file} ${b}`);
    // Interleaved rounds: the machine is shared, and its load drifts within seconds.
    for (let r = 0; r < rounds; r++) {
      timeCalls(solve, perRound, ours);
      const a = await scipy.ask<{ ms: number[]; total: number }>(`time raw ${perRound}`);
      const c = await scipy.ask<{ ms: number[]; total: number }>(`time red ${perRound}`);
      raw.push(...a.ms);
      red.push(...c.ms);
      rawTotal = a.total;
      redTotal = c.total;
    }
  } else {
    timeCalls(solve, repeats, ours);
  }
  const total = assignmentCost(cost, b, col);
  let result: ScipyResult | null = null;
  let check = 'no scipy';
  if (scipy !== null) {
    result = { raw_ms: median(raw), reduced_ms: median(red), raw_total: rawTotal, reduced_total: redTotal };
    const scale = Math.max(Math.abs(rawTotal), 1e-300);
    const dRaw = Math.abs(total - rawTotal) / scale;
    const dRed = Math.abs(total - redTotal) / scale;
    check = dRaw <= 1e-9 && dRed <= 1e-9 ? 'ok' : `MISMATCH ${dRaw.toExponential(1)} ${dRed.toExponential(1)}`;
  }
  return { cse, first, ours: median(ours), scipy: result, check };
}

function pad(s: string, w: number): string {
  return s.length >= w ? s : ' '.repeat(w - s.length) + s;
}

function printTable(rows: Row[]): void {
  const head = ['case', 'B', 'D', 'ours 1st', 'ours ms', 'scipy raw ms', 'scipy red. ms', 'raw/ours', 'red./ours', 'total'];
  const widths = [21, 5, 6, 9, 9, 13, 14, 9, 10, 6];
  console.log(head.map((h, k) => pad(h, widths[k])).join(' '));
  for (const r of rows) {
    const cells = [
      r.cse.label,
      String(r.cse.b),
      String(r.cse.d),
      r.first.toFixed(2),
      r.ours.toFixed(2),
      r.scipy ? r.scipy.raw_ms.toFixed(2) : '-',
      r.scipy ? r.scipy.reduced_ms.toFixed(2) : '-',
      r.scipy ? (r.scipy.raw_ms / r.ours).toFixed(2) : '-',
      r.scipy ? (r.scipy.reduced_ms / r.ours).toFixed(2) : '-',
      r.check,
    ];
    console.log(cells.map((c, k) => pad(c, widths[k])).join(' '));
  }
}

function list(s: string | undefined, dflt: number[]): number[] {
  return s === undefined ? dflt : s.split(',').filter((t) => t !== '').map(Number);
}

function benchCost(): void {
  console.log('\ncost matrix, B x B from B x 3072 (sqeuclidean): plain JS pairwiseCost vs pairwiseCostTf on wasm');
  console.log(['B', 'JS ms', 'wasm ms', 'JS/wasm', 'max rel diff'].map((h) => pad(h, 12)).join(' '));
  const d = 3072;
  for (const b of [128, 256, 512, 1024]) {
    const rng = new Rng(7 + b);
    const x = smoothImages(rng, b, 32, 3);
    const noise = rng.fillNormal(new Float32Array(b * d));
    pairwiseCostTf(x, noise, b, d, 'sqeuclidean');
    const reps = b >= 1024 ? 1 : 3;
    let js: Float64Array = new Float64Array(0);
    let tfc: Float64Array = new Float64Array(0);
    const jsMs = timeMs(() => {
      js = pairwiseCost(x, noise, b, d, 'sqeuclidean');
    }, reps);
    const tfMs = timeMs(() => {
      tfc = pairwiseCostTf(x, noise, b, d, 'sqeuclidean');
    }, 3);
    let rel = 0;
    for (let k = 0; k < js.length; k++) rel = Math.max(rel, Math.abs(js[k] - tfc[k]) / Math.max(1, js[k]));
    console.log([String(b), jsMs.toFixed(1), tfMs.toFixed(1), (jsMs / tfMs).toFixed(1), rel.toExponential(1)].map((c) => pad(c, 12)).join(' '));
  }
}

function benchKnn(): void {
  console.log('\nk nearest noise, B = 128 images of 32x32x3: plain JS nearestOfK vs nearestOfKTf on wasm');
  console.log(['k', 'JS ms', 'wasm ms', 'JS/wasm', 'same picks'].map((h) => pad(h, 12)).join(' '));
  const b = 128;
  const d = 3072;
  const rng = new Rng(11);
  const x = smoothImages(rng, b, 32, 3);
  for (const k of [2, 4, 16, 64]) {
    const cand = rng.fillNormal(new Float32Array(b * k * d));
    nearestOfKTf(x, cand, b, k, d, 'l2');
    nearestOfK(x, cand, b, k, d, 'l2');
    let a: Int32Array = new Int32Array(0);
    let t: Int32Array = new Int32Array(0);
    const jsMs = timeMs(() => {
      a = nearestOfK(x, cand, b, k, d, 'l2');
    }, 5);
    const tfMs = timeMs(() => {
      t = nearestOfKTf(x, cand, b, k, d, 'l2');
    }, 5);
    let same = 0;
    for (let i = 0; i < b; i++) if (a[i] === t[i]) same++;
    console.log([String(k), jsMs.toFixed(1), tfMs.toFixed(1), (jsMs / tfMs).toFixed(2), `${same}/${b}`].map((c) => pad(c, 12)).join(' '));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      dims: { type: 'string' },
      toy: { type: 'string' },
      'no-cost': { type: 'boolean', default: false },
      'no-knn': { type: 'boolean', default: false },
    },
  });
  const sizes = list(values.sizes, [128, 256, 512, 1024, 2048]);
  const dims = list(values.dims, [3072, 12288]);
  const toySizes = list(values.toy, [128, 512, 2048]);
  const backend = await selectBackend('wasm');
  console.log(`${new Date().toISOString()}  node ${process.version}  cost matrices on ${backend.device}`);
  const scipyVersion = probeScipy();
  if (scipyVersion !== null) {
    console.log(`anchor: scipy ${scipyVersion} (${PYTHON}); both single thread, median of 51/31/15/7/3 calls at B = 128/256/512/1024/2048,`);
    console.log('  ours and scipy interleaved in rounds (5, or one call each from B = 1024) so both see the same machine load');
  }
  console.log('ours: after up to 30 warm-up calls (V8 optimises the solver as in a training run); "ours 1st" = the very first call');
  console.log('cost: squared L2 (unless marked l2), smooth images in [-1, 1] vs N(0, I) noise; "red." = scipy on C minus its column minima (subtraction not timed)\n');

  const dir = mkdtempSync(join(tmpdir(), 'bench-assign-'));
  const scipy = scipyVersion === null ? null : new ScipyServer();
  const rows: Row[] = [];
  try {
    for (const d of dims) {
      const side = Math.round(Math.sqrt(d / 3));
      if (side * side * 3 !== d) throw new RangeError(`--dims: ${d} is not side*side*3`);
      for (const b of sizes) rows.push(await solveRow(imageCase(b, side, 1000 + b), dir, scipy));
    }
    // The authors' unsquared L2 (their released code), for comparison with the squared rows.
    if (dims.includes(3072)) {
      for (const b of sizes.filter((s) => s === 512 || s === 2048)) {
        rows.push(await solveRow(imageCase(b, 32, 1000 + b, 'l2'), dir, scipy));
      }
    }
    for (const b of toySizes) rows.push(await solveRow(toyCase(b, 2000 + b), dir, scipy));
  } finally {
    scipy?.close();
    rmSync(dir, { recursive: true, force: true });
  }
  printTable(rows);
  if (!values['no-cost']) benchCost();
  if (!values['no-knn']) benchKnn();

  const mismatches = rows.filter((r) => r.check.startsWith('MISMATCH'));
  if (mismatches.length > 0) console.log(`\n${mismatches.length} total-cost mismatch(es) against scipy: see the table`);
  const ratios: Record<string, number> = {};
  for (const r of rows) {
    if (r.scipy && r.cse.d === 3072 && r.cse.kind === 'sqeuclidean') ratios[String(r.cse.b)] = Number((r.scipy.raw_ms / r.ours).toFixed(2));
  }
  console.log(
    JSON.stringify({ anchor: scipyVersion === null ? null : `scipy ${scipyVersion}`, D: 3072, ratios: scipyVersion === null ? null : ratios }),
  );
  if (mismatches.length > 0) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
