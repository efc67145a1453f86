/**
 * The dashboard's messages, host <-> webview, version 1. Both sides validate every message they
 * receive with the guards below and log (never act on) one that does not match: a webview is a
 * browser page, and a stale page restored after an upgrade may speak an older shape.
 */

export const DASHBOARD_PROTOCOL = 1;

export type RunState = 'created' | 'queued' | 'running' | 'stopped' | 'completed' | 'failed' | 'broken' | 'dead';

/** What the panel's run list needs of one run: small, sent for every run in the folder. */
export interface DashboardRun {
  id: string;
  name: string;
  group: string;
  status: RunState;
  step: number;
  totalSteps: number;
  /** assignment.mode from the config, '' when the config is unreadable. */
  mode: string;
  /** The resolved config, flattened to dotted keys (`training.batchSize`), for grouping and diffs. */
  config: Record<string, string | number | boolean | null>;
  createdAt: string | null;
}

/**
 * The metric columns of one run that the page charts, step-aligned (one entry per metrics line).
 * Columns a run lacks hold NaN. Sent in full, then appended to as the trainer writes. Typed
 * arrays, not number[]: VS Code (engines >= 1.57) transfers them to a webview as binary, where an
 * array of 10^6 numbers is cloned element by element (13 s for 10^6 points in the benchmark, see
 * docs/benchmarks.md). The x axes are float64 (steps and seconds must stay exact); the charted
 * values float32, half the bytes, far more precision than a chart shows.
 */
export interface MetricColumns {
  step: Float64Array;
  wallTime: Float64Array;
  loss: Float32Array;
  lr: Float32Array;
  distBefore: Float32Array;
  distAfter: Float32Array;
  assignMs: Float32Array;
  imagesPerSec: Float32Array;
}

export const AXIS_COLUMNS = ['step', 'wallTime'] as const;
export const VALUE_COLUMNS = ['loss', 'lr', 'distBefore', 'distAfter', 'assignMs', 'imagesPerSec'] as const;
export const METRIC_COLUMNS: readonly (keyof MetricColumns)[] = [...AXIS_COLUMNS, ...VALUE_COLUMNS];

/** One evaluation metric over training (fd_lenet, kid_lenet, fid, ...). */
export interface EvalColumns {
  metric: string;
  step: Float64Array;
  wallTime: Float64Array;
  value: Float64Array;
}

export interface SampleRef {
  step: number;
  /** A webview URI (asWebviewUri) of the grid PNG. */
  uri: string;
}

export interface RunSeries {
  runId: string;
  metrics: MetricColumns;
  evals: EvalColumns[];
  samples: SampleRef[];
}

export type DashboardView = 'run' | 'compare';

/** Host -> webview. */
export type HostMessage =
  | { type: 'runs'; v: 1; runs: DashboardRun[] }
  | { type: 'show'; v: 1; view: DashboardView; runIds: string[] }
  /** `append: false` replaces what the page holds for the run (first load, or a resume cut the log back). */
  | { type: 'series'; v: 1; append: boolean; series: RunSeries }
  | { type: 'exported'; v: 1; file: string };

/** Webview -> host. */
export type WebviewMessage =
  | { type: 'ready'; v: 1 }
  /** The runs the page shows; the host sends their series and follows them live. */
  | { type: 'watch'; v: 1; runIds: string[] }
  | { type: 'exportCsv'; v: 1; runIds: string[] }
  | { type: 'exportPng'; v: 1; name: string; dataUrl: string }
  | { type: 'openRun'; v: 1; runId: string }
  | { type: 'log'; v: 1; level: 'info' | 'warn' | 'error'; message: string };

type Guard = (x: unknown) => string | null;

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const str: Guard = (x) => (typeof x === 'string' ? null : 'a string');
const bool: Guard = (x) => (typeof x === 'boolean' ? null : 'a boolean');
const num: Guard = (x) => (typeof x === 'number' ? null : 'a number');
/** By tag, not instanceof: a message may come from another realm (the page's parent frame). */
const f64: Guard = (x) => (Object.prototype.toString.call(x) === '[object Float64Array]' ? null : 'a Float64Array');
const f32: Guard = (x) => (Object.prototype.toString.call(x) === '[object Float32Array]' ? null : 'a Float32Array');
const arr =
  (item: Guard): Guard =>
  (x) => {
    if (!Array.isArray(x)) return 'an array';
    for (let i = 0; i < x.length; i++) {
      const p = item(x[i]);
      if (p) return `an array of ${p} (item ${i})`;
    }
    return null;
  };
const oneOf =
  (...values: string[]): Guard =>
  (x) =>
    typeof x === 'string' && values.includes(x) ? null : `one of ${values.join(', ')}`;
const shape =
  (fields: Record<string, Guard>): Guard =>
  (x) => {
    if (!isObj(x)) return 'an object';
    for (const [k, g] of Object.entries(fields)) {
      const p = g(x[k]);
      if (p) return `${k}: ${p}`;
    }
    return null;
  };
const scalar: Guard = (x) => (x === null || ['string', 'number', 'boolean'].includes(typeof x) ? null : 'a string, number, boolean or null');
const record =
  (item: Guard): Guard =>
  (x) => {
    if (!isObj(x)) return 'an object';
    for (const [k, v] of Object.entries(x)) {
      const p = item(v);
      if (p) return `${k}: ${p}`;
    }
    return null;
  };

const runGuard = shape({
  id: str,
  name: str,
  group: str,
  status: oneOf('created', 'queued', 'running', 'stopped', 'completed', 'failed', 'broken', 'dead'),
  step: num,
  totalSteps: num,
  mode: str,
  config: record(scalar),
  createdAt: (x) => (x === null ? null : str(x)),
});

const seriesGuard = shape({
  runId: str,
  metrics: shape({ ...Object.fromEntries(AXIS_COLUMNS.map((c) => [c, f64])), ...Object.fromEntries(VALUE_COLUMNS.map((c) => [c, f32])) }),
  evals: arr(shape({ metric: str, step: f64, wallTime: f64, value: f64 })),
  samples: arr(shape({ step: num, uri: str })),
});

const hostGuards: Record<HostMessage['type'], Guard> = {
  runs: shape({ runs: arr(runGuard) }),
  show: shape({ view: oneOf('run', 'compare'), runIds: arr(str) }),
  series: shape({ append: bool, series: seriesGuard }),
  exported: shape({ file: str }),
};

const webviewGuards: Record<WebviewMessage['type'], Guard> = {
  ready: () => null,
  watch: shape({ runIds: arr(str) }),
  exportCsv: shape({ runIds: arr(str) }),
  exportPng: shape({ name: str, dataUrl: (x) => (typeof x === 'string' && x.startsWith('data:image/png;base64,') ? null : 'a PNG data URL') }),
  openRun: shape({ runId: str }),
  log: shape({ level: oneOf('info', 'warn', 'error'), message: str }),
};

export type Checked<T> = { ok: true; message: T } | { ok: false; problem: string };

function check<T>(x: unknown, guards: Record<string, Guard>): Checked<T> {
  if (!isObj(x)) return { ok: false, problem: 'expected an object message' };
  if (typeof x.type !== 'string' || !(x.type in guards)) return { ok: false, problem: `type: expected one of ${Object.keys(guards).join(', ')}, found ${JSON.stringify(x.type)}` };
  if (x.v !== DASHBOARD_PROTOCOL) return { ok: false, problem: `${x.type}.v: expected ${DASHBOARD_PROTOCOL}, found ${JSON.stringify(x.v)}` };
  const p = guards[x.type](x);
  return p ? { ok: false, problem: `${x.type}.${p}` } : { ok: true, message: x as T };
}

export const checkHostMessage = (x: unknown): Checked<HostMessage> => check<HostMessage>(x, hostGuards);
export const checkWebviewMessage = (x: unknown): Checked<WebviewMessage> => check<WebviewMessage>(x, webviewGuards);
