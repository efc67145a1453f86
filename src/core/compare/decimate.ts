/**
 * Min/max decimation of a long series for drawing: the x range is cut into `buckets` equal
 * intervals and each keeps its first, lowest, highest and last point, so spikes survive (a
 * plain stride would drop them) and a chart of 10^6 points draws at most 4 x buckets.
 * Returns indices into the input, ascending. x must be ascending; non-finite y are skipped.
 */
export function decimateMinMax(x: ArrayLike<number>, y: ArrayLike<number>, buckets: number): number[] {
  const n = x.length;
  if (n <= buckets * 4) {
    const all: number[] = [];
    for (let i = 0; i < n; i++) if (Number.isFinite(y[i])) all.push(i);
    return all;
  }
  const x0 = x[0];
  const span = x[n - 1] - x0 || 1;
  const out: number[] = [];
  let bucket = -1;
  let first = -1;
  let lo = -1;
  let hi = -1;
  let last = -1;
  const flush = (): void => {
    if (first < 0) return;
    const picks = [first, lo, hi, last].sort((a, b) => a - b);
    for (let k = 0; k < 4; k++) if (k === 0 || picks[k] !== picks[k - 1]) out.push(picks[k]);
  };
  for (let i = 0; i < n; i++) {
    const v = y[i];
    if (!Number.isFinite(v)) continue;
    const b = Math.min(buckets - 1, Math.floor(((x[i] - x0) / span) * buckets));
    if (b !== bucket) {
      flush();
      bucket = b;
      first = lo = hi = last = i;
      continue;
    }
    if (v < y[lo]) lo = i;
    if (v > y[hi]) hi = i;
    last = i;
  }
  flush();
  return out;
}
