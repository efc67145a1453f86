/**
 * Line charts as PNG for study reports, with no font or canvas library: axes, a grid, numeric
 * tick labels in a built-in 3x5 pixel font (digits, '.', '-', 'e', 'k'), one line per series and
 * an optional band (e.g. min-max over seeds). With `names`, a legend (in the 5x9 font of
 * ./pixelFont) in the corner of the plot the data leaves emptiest, so the image reads on its own
 * when shared; the colours are fixed (`SERIES_COLOURS`) and the report's text names them too.
 */
import { PNG } from 'pngjs';
import { drawText, FONT_HEIGHT, textWidth } from './pixelFont';

export type Rgb = readonly [number, number, number];

export const SERIES_COLOURS: readonly { name: string; rgb: Rgb }[] = [
  { name: 'blue', rgb: [31, 119, 180] },
  { name: 'orange', rgb: [255, 127, 14] },
  { name: 'green', rgb: [44, 160, 44] },
  { name: 'red', rgb: [214, 39, 40] },
  { name: 'purple', rgb: [148, 103, 189] },
];

export interface PlotSeries {
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Optional band around the line, same length as x. */
  low?: ArrayLike<number>;
  high?: ArrayLike<number>;
}

export interface PlotOptions {
  width?: number;
  height?: number;
  logY?: boolean;
  /** One per series, in order: drawn as a legend. */
  names?: readonly string[];
  /** Axis titles: the x title under the x axis' right end, the y title above the y axis. */
  xLabel?: string;
  yLabel?: string;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

const LEGEND_ROW = FONT_HEIGHT + 4;
const LEGEND_SWATCH = 16;

/** The legend's size for these names: a swatch and a name per row, with a margin. */
export function legendSize(names: readonly string[]): { w: number; h: number } {
  return { w: 6 + LEGEND_SWATCH + 5 + Math.max(0, ...names.map(textWidth)) + 6, h: 4 + names.length * LEGEND_ROW + 2 };
}

/**
 * Where a legend of `size` goes inside `area`: the corner (top right, top left, bottom right,
 * bottom left, in that order of preference) covering the fewest of the drawn `points`.
 */
export function placeLegend(size: { w: number; h: number }, area: Rect, points: readonly (readonly [number, number])[]): Rect {
  const m = 6;
  const left = area.x + m;
  const right = area.x + area.w - m - size.w;
  const top = area.y + m;
  const bottom = area.y + area.h - m - size.h;
  const corners: Rect[] = [
    { x: right, y: top, ...size },
    { x: left, y: top, ...size },
    { x: right, y: bottom, ...size },
    { x: left, y: bottom, ...size },
  ];
  const covered = (r: Rect): number => points.filter(([x, y]) => x >= r.x && x <= r.x + r.w && y >= r.y && y <= r.y + r.h).length;
  let best = corners[0];
  let bestCount = covered(best);
  for (const c of corners.slice(1)) {
    const n = covered(c);
    if (n < bestCount) [best, bestCount] = [c, n];
  }
  return best;
}

/** 3x5 glyphs, one row per 3-bit number (most significant bit left). */
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7],
  '1': [2, 6, 2, 2, 7],
  '2': [7, 1, 7, 4, 7],
  '3': [7, 1, 7, 1, 7],
  '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7],
  '6': [7, 4, 7, 5, 7],
  '7': [7, 1, 1, 2, 2],
  '8': [7, 5, 7, 5, 7],
  '9': [7, 5, 7, 1, 7],
  '.': [0, 0, 0, 0, 2],
  '-': [0, 0, 7, 0, 0],
  e: [0, 7, 7, 4, 7],
  k: [4, 5, 6, 5, 5],
};

/** A short label for a tick value: 1200 -> "1.2k", 0.00012 -> "1.2e-4". */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000 && a < 1e6) return `${Number((v / 1000).toPrecision(3))}k`;
  if (a >= 0.01 && a < 1000) return String(Number(v.toPrecision(3)));
  const [m, e] = v.toExponential(1).split('e');
  return `${Number(m)}e${Number(e)}`;
}

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/**
 * Ticks for a log axis spanning log10 values [lo, hi]: the powers of ten where there are at least
 * three, else 1, 2 and 5 times them (a curve within one decade would otherwise get one tick or none).
 */
export function logTicks(lo: number, hi: number): number[] {
  const powers: number[] = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) powers.push(Number(Math.pow(10, e).toPrecision(12)));
  if (powers.length >= 3) return powers;
  const out: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++)
    for (const m of [1, 2, 5]) {
      const v = Number((m * Math.pow(10, e)).toPrecision(12));
      const l = Math.log10(v);
      if (l >= lo - 1e-12 && l <= hi + 1e-12) out.push(v);
    }
  return out;
}

export function plotLines(series: readonly PlotSeries[], o: PlotOptions = {}): Buffer {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const png = new PNG({ width: W, height: H });
  png.data.fill(255);
  const L = 44;
  const R = 12;
  const T = o.yLabel ? 24 : 12;
  const B = o.xLabel ? 38 : 24;
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v);
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const s of series)
    for (let i = 0; i < s.x.length; i++) {
      for (const v of [s.y[i], s.low?.[i], s.high?.[i]]) {
        if (v === undefined || !Number.isFinite(ty(v))) continue;
        y0 = Math.min(y0, ty(v));
        y1 = Math.max(y1, ty(v));
      }
      if (Number.isFinite(s.x[i])) {
        x0 = Math.min(x0, s.x[i]);
        x1 = Math.max(x1, s.x[i]);
      }
    }
  if (!Number.isFinite(x0)) [x0, x1, y0, y1] = [0, 1, 0, 1];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number): number => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number): number => T + (1 - (ty(y) - y0) / (y1 - y0)) * (H - T - B);

  const blend = (x: number, y: number, c: Rgb, alpha: number): void => {
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) return;
    const k = (yi * W + xi) * 4;
    for (let ch = 0; ch < 3; ch++) png.data[k + ch] = Math.round(png.data[k + ch] * (1 - alpha) + c[ch] * alpha);
  };
  const line = (xa: number, ya: number, xb: number, yb: number, c: Rgb, alpha = 1, thick = 1): void => {
    const n = Math.max(1, Math.ceil(Math.max(Math.abs(xb - xa), Math.abs(yb - ya))));
    for (let t = 0; t <= n; t++) {
      const x = xa + ((xb - xa) * t) / n;
      const y = ya + ((yb - ya) * t) / n;
      for (let d = 0; d < thick; d++) blend(x, y + d, c, alpha);
    }
  };
  const text = (s: string, x: number, y: number, c: Rgb): void => {
    let cx = x;
    for (const ch of s) {
      const g = GLYPHS[ch];
      if (g) for (let r = 0; r < 5; r++) for (let b = 0; b < 3; b++) if (g[r] & (4 >> b)) blend(cx + b, y + r, c, 1);
      cx += 4;
    }
  };
  const grey: Rgb = [200, 200, 200];
  const dark: Rgb = [60, 60, 60];
  // Grid and tick labels.
  const yTicks = o.logY ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
  for (const t of yTicks) {
    const y = py(t);
    if (y < T || y > H - B) continue;
    line(L, y, W - R, y, grey);
    const lab = tickLabel(t);
    text(lab, L - 4 - lab.length * 4, y - 2, dark);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const x = px(t);
    line(x, T, x, H - B, grey);
    const lab = tickLabel(t);
    text(lab, x - lab.length * 2, H - B + 5, dark);
  }
  line(L, T, L, H - B, dark);
  line(L, H - B, W - R, H - B, dark);
  // Bands first, then lines on top.
  series.forEach((s, k) => {
    const c = SERIES_COLOURS[k % SERIES_COLOURS.length].rgb;
    if (!s.low || !s.high) return;
    for (let i = 0; i + 1 < s.x.length; i++) {
      const xa = px(s.x[i]);
      const xb = px(s.x[i + 1]);
      for (let x = Math.round(xa); x <= Math.round(xb); x++) {
        const f = xb === xa ? 0 : (x - xa) / (xb - xa);
        const lo = s.low[i] + f * (s.low[i + 1] - s.low[i]);
        const hi = s.high[i] + f * (s.high[i + 1] - s.high[i]);
        if (!Number.isFinite(py(lo)) || !Number.isFinite(py(hi))) continue;
        for (let y = Math.round(py(hi)); y <= Math.round(py(lo)); y++) blend(x, y, c, 0.18);
      }
    }
  });
  // What the legend should not hide: every pixel column of each line and of its band's edges.
  const drawn: [number, number][] = [];
  const trace = (xa: number, ya: number, xb: number, yb: number): void => {
    if (!Number.isFinite(ya) || !Number.isFinite(yb)) return;
    const n = Math.max(1, Math.ceil(Math.abs(xb - xa)));
    for (let t = 0; t <= n; t++) drawn.push([xa + ((xb - xa) * t) / n, ya + ((yb - ya) * t) / n]);
  };
  series.forEach((s, k) => {
    const c = SERIES_COLOURS[k % SERIES_COLOURS.length].rgb;
    for (let i = 0; i + 1 < s.x.length; i++) {
      const [ya, yb] = [py(s.y[i]), py(s.y[i + 1])];
      if (Number.isFinite(ya) && Number.isFinite(yb)) line(px(s.x[i]), ya, px(s.x[i + 1]), yb, c, 1, 2);
      trace(px(s.x[i]), ya, px(s.x[i + 1]), yb);
      if (s.low && s.high) {
        trace(px(s.x[i]), py(s.low[i]), px(s.x[i + 1]), py(s.low[i + 1]));
        trace(px(s.x[i]), py(s.high[i]), px(s.x[i + 1]), py(s.high[i + 1]));
      }
    }
  });
  const ink = (c: Rgb) => (x: number, y: number): void => blend(x, y, c, 1);
  if (o.yLabel) drawText(o.yLabel, 4, 4, ink(dark));
  if (o.xLabel) drawText(o.xLabel, W - R - textWidth(o.xLabel), H - FONT_HEIGHT - 3, ink(dark));
  const names = o.names?.slice(0, series.length) ?? [];
  if (names.length > 0) {
    const box = placeLegend(legendSize(names), { x: L, y: T, w: W - L - R, h: H - T - B }, drawn);
    for (let y = box.y; y <= box.y + box.h; y++) for (let x = box.x; x <= box.x + box.w; x++) blend(x, y, [255, 255, 255], 0.9);
    line(box.x, box.y, box.x + box.w, box.y, grey);
    line(box.x, box.y + box.h, box.x + box.w, box.y + box.h, grey);
    line(box.x, box.y, box.x, box.y + box.h, grey);
    line(box.x + box.w, box.y, box.x + box.w, box.y + box.h, grey);
    names.forEach((name, k) => {
      const top = box.y + 4 + k * LEGEND_ROW;
      const mid = top + 3;
      line(box.x + 6, mid, box.x + 6 + LEGEND_SWATCH, mid, SERIES_COLOURS[k % SERIES_COLOURS.length].rgb, 1, 2);
      drawText(name, box.x + 6 + LEGEND_SWATCH + 5, top, ink(dark));
    });
  }
  return PNG.sync.write(png);
}
