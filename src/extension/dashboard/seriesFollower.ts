/**
 * Follows one run's metrics.jsonl, eval.jsonl and samples/ for the dashboard, reading only what
 * was appended since the last read: a chart of a long run gets its new points, not the whole
 * file again. A file that shrank or was replaced (a resume cuts metrics.jsonl back atomically)
 * is read again from the start and reported as a replacement. Plain Node, no `vscode`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { listSamples } from '../../core/run/reader';
import { RUN_FILES, type MetricsLine } from '../../core/run/format';
import type { EvalColumns, MetricColumns, RunSeries, SampleRef } from '../../core/webview/messages';

/** One evaluation line as the trainer writes it (fields the dashboard uses). */
interface EvalLine {
  step: number;
  metric: string;
  value: number;
  wallTime?: number;
}

interface FileCursor {
  /** Bytes consumed (up to the end of the last complete line). */
  offset: number;
  /** Inode when last read: a rename over the file (atomic rewrite) changes it. */
  ino: number;
}

type Collecting = { [K in keyof MetricColumns]: number[] };

const emptyColumns = (): Collecting => ({
  step: [],
  wallTime: [],
  loss: [],
  lr: [],
  distBefore: [],
  distAfter: [],
  assignMs: [],
  imagesPerSec: [],
});

const f64 = (a: number[]): Float64Array => Float64Array.from(a);
const f32 = (a: number[]): Float32Array => Float32Array.from(a);
const toColumns = (c: Collecting): MetricColumns => ({
  step: f64(c.step),
  wallTime: f64(c.wallTime),
  loss: f32(c.loss),
  lr: f32(c.lr),
  distBefore: f32(c.distBefore),
  distAfter: f32(c.distAfter),
  assignMs: f32(c.assignMs),
  imagesPerSec: f32(c.imagesPerSec),
});

const numOr = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : NaN);

function pushMetrics(c: Collecting, m: MetricsLine): void {
  c.step.push(numOr(m.step));
  c.wallTime.push(numOr(m.wallTime));
  c.loss.push(numOr(m.loss));
  c.lr.push(numOr(m.lr));
  c.distBefore.push(numOr(m.assign?.distBefore));
  c.distAfter.push(numOr(m.assign?.distAfter));
  c.assignMs.push(numOr(m.assign?.ms));
  c.imagesPerSec.push(numOr(m.imagesPerSec));
}

const isEvalLine = (x: unknown): x is EvalLine =>
  typeof x === 'object' && x !== null && typeof (x as EvalLine).step === 'number' && typeof (x as EvalLine).metric === 'string' && typeof (x as EvalLine).value === 'number';

export interface FollowRead {
  /** false: `series` replaces what the page holds; true: it is to be appended. */
  append: boolean;
  series: RunSeries;
  /** Whether anything new was read (an append with nothing in it need not be sent). */
  changed: boolean;
}

export class RunSeriesFollower {
  private metricsCursor: FileCursor | null = null;
  private evalCursor: FileCursor | null = null;
  private sampleSteps = new Set<number>();
  /** Wall time by step, to place evaluations on the wall-time axis. */
  private readonly wallByStep = new Map<number, number>();
  private first = true;

  constructor(
    readonly runId: string,
    readonly dir: string,
    private readonly sampleUri: (file: string) => string,
  ) {}

  read(): FollowRead {
    const metrics = emptyColumns();
    const evals = new Map<string, { step: number[]; wallTime: number[]; value: number[] }>();
    let append = !this.first;
    this.first = false;

    const m = readAppended(path.join(this.dir, RUN_FILES.metrics), this.metricsCursor);
    if (m.reset && append) {
      // The log was cut back (resume) or replaced: start the whole series again.
      this.evalCursor = null;
      this.sampleSteps.clear();
      this.wallByStep.clear();
      append = false;
    }
    this.metricsCursor = m.cursor;
    for (const line of m.lines) {
      const parsed = parseLine(line);
      if (parsed === undefined || typeof parsed !== 'object' || parsed === null) continue;
      const ml = parsed as MetricsLine;
      pushMetrics(metrics, ml);
      if (typeof ml.step === 'number' && typeof ml.wallTime === 'number') this.wallByStep.set(ml.step, ml.wallTime);
    }

    const e = readAppended(path.join(this.dir, RUN_FILES.eval), this.evalCursor);
    if (e.reset && append && this.evalCursor) append = false;
    this.evalCursor = e.cursor;
    for (const line of e.lines) {
      const parsed = parseLine(line);
      if (!isEvalLine(parsed)) continue;
      let col = evals.get(parsed.metric);
      if (!col) evals.set(parsed.metric, (col = { step: [], wallTime: [], value: [] }));
      col.step.push(parsed.step);
      col.wallTime.push(numOr(parsed.wallTime ?? this.wallByStep.get(parsed.step)));
      col.value.push(parsed.value);
    }

    const samples: SampleRef[] = [];
    for (const s of listSamples(this.dir)) {
      if (this.sampleSteps.has(s.step)) continue;
      this.sampleSteps.add(s.step);
      samples.push({ step: s.step, uri: this.sampleUri(s.file) });
    }

    const evalColumns: EvalColumns[] = [...evals].map(([metric, c]) => ({ metric, step: Float64Array.from(c.step), wallTime: Float64Array.from(c.wallTime), value: Float64Array.from(c.value) }));
    const series: RunSeries = { runId: this.runId, metrics: toColumns(metrics), evals: evalColumns, samples };
    const changed = !append || metrics.step.length > 0 || evals.size > 0 || samples.length > 0;
    return { append, series, changed };
  }
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The complete lines appended to `file` since `cursor`. A torn last line (no newline yet) is
 * left for the next read. `reset`: the file is new, shorter, or another file (inode).
 */
function readAppended(file: string, cursor: FileCursor | null): { lines: string[]; cursor: FileCursor | null; reset: boolean } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return { lines: [], cursor: null, reset: cursor !== null };
  }
  try {
    const st = fs.fstatSync(fd);
    const reset = cursor === null || cursor.ino !== st.ino || st.size < cursor.offset;
    const start = reset ? 0 : cursor.offset;
    if (st.size === start) return { lines: [], cursor: { offset: start, ino: st.ino }, reset };
    const buf = Buffer.allocUnsafe(st.size - start);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    const lastNl = buf.lastIndexOf(0x0a, got - 1);
    if (lastNl < 0) return { lines: [], cursor: { offset: start, ino: st.ino }, reset };
    const text = buf.toString('utf8', 0, lastNl);
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    return { lines, cursor: { offset: start + lastNl + 1, ino: st.ino }, reset };
  } finally {
    fs.closeSync(fd);
  }
}
