/**
 * Exact linear sum assignment (minimum-cost perfect matching of an n x n matrix).
 *
 * The algorithm is Jonker and Volgenant's LAPJV (1987): row and column reduction, reduction
 * transfer and augmenting row reduction (an auction without epsilon) assign most rows cheaply,
 * then shortest augmenting paths (Dijkstra on reduced costs, as in scipy's Crouse 2016 solver)
 * finish the rest exactly. What makes it fast on dense matrices is that the rows are read
 * lazily: each row keeps a list of its K cheapest columns under the current column duals and a
 * lower bound for all the others, and a row is read in full only when that bound could matter
 * (the lists double when full reads dominate). When row reduction leaves many rows free (a price
 * war, typical of low-rank costs such as 2-D points), an epsilon-scaling auction (Bertsekas)
 * first brings the duals near the optimum; rows it leaves not exactly tight are freed again, so
 * the exact phases above still decide the result.
 *
 * Where the native addon is built (native/src/lsa.cc), the reductions run there: the row and column
 * reduction, the column reduction with its full-row transfer (n <= 512) and the augmenting row
 * reduction, a line-for-line port on this solver's arrays that gives the same assignment tie for
 * tie, about 2x faster at n = 128 to 256; the augmentation stays here.
 *
 * Duals: v[j] per column is stored; the row dual is implicit, u_i = c[i][x_i] - v[x_i], and every
 * assigned row keeps its column a minimiser of c[i][j] - v[j] (complementary slackness), so the
 * augmentation phase may treat reduced costs as non-negative. v only ever decreases, so a bound
 * theta_i <= c[i][j] - v[j] over the columns j missing from row i's list stays valid until the
 * row is read again.
 */

import { loadNativeKernels, type NativeKernels } from '../backend/nativeAddon';

/** Throws a RangeError naming the first problem: a bad n or a wrong length. */
function checkSize(cost: Float64Array, n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`linearSumAssignment: n must be a non-negative integer, got ${n}`);
  }
  const size = n * n;
  if (cost.length !== size) {
    throw new RangeError(
      `linearSumAssignment: expected n*n = ${size} entries for n = ${n}, found ${cost.length}`,
    );
  }
}

function nonFinite(cost: Float64Array, n: number, k: number): RangeError {
  const row = Math.floor(k / n);
  const c = cost[k];
  return new RangeError(
    `linearSumAssignment: cost[${row}][${k - row * n}] (row ${row}, column ${k - row * n}) is ${c}; entries must be finite`,
  );
}

/** The first non-finite entry of row i, which the caller knows has one. */
function firstNonFinite(c: Float64Array, n: number, i: number): RangeError {
  const base = i * n;
  let j = 0;
  while (j < n - 1 && Number.isFinite(c[base + j])) j++;
  return nonFinite(c, n, base + j);
}

/**
 * One pass in row order: rejects non-finite entries (the first in row-major order is named) and
 * returns max |c|; then leaves in v[j] the column minimum of c[i][j] - r_i, r_i the row minimum,
 * and in argMin[j] its first row. Subtracting the row minima first matters for image-vs-noise
 * costs: ||x_i||^2 makes the same few rows the minimum of every column otherwise, and column
 * reduction would assign almost nothing. Each row is read from memory once and then from cache.
 */
function reduce(c: Float64Array, n: number, v: Float64Array, argMin: Int32Array): number {
  let maxAbs = 0;
  v.fill(Infinity);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    let r = Infinity;
    let mx = -Infinity;
    // z stays 0 unless an entry is NaN or infinite (t * 0 is NaN for those): cheaper per entry
    // than a test and branch, and the rare bad row is searched again for the exact place.
    let z = 0;
    for (let j = 0; j < n; j++) {
      const t = c[base + j];
      r = t < r ? t : r;
      mx = t > mx ? t : mx;
      z += t * 0;
    }
    if (z !== 0) throw firstNonFinite(c, n, i);
    const a = Math.max(-r, mx);
    if (a > maxAbs) maxAbs = a;
    for (let j = 0; j < n; j++) {
      const t = c[base + j] - r;
      if (t < v[j]) {
        v[j] = t;
        argMin[j] = i;
      }
    }
  }
  return maxAbs;
}

/** Options of linearSumAssignmentWith; the defaults are what linearSumAssignment uses. */
export interface LsaOptions {
  /** Columns listed per row at the start (clamped to 2..n). */
  candidates?: number;
  /** Double the lists while full row reads cost more than listed ones (default true). */
  grow?: boolean;
  /** Passes of augmenting row reduction (default 2, as LAPJV). */
  rowReductionPasses?: number;
  /** Bids allowed per pass: a * n + b * (free rows), as [a, b]. */
  rowReductionBudget?: [number, number];
  /** Epsilon-scaling auction after row reduction: [first epsilon as a multiple of the bid
   * scale, divisor per phase, phases], or false; by default used when row reduction leaves more
   * than n/16 rows free. */
  epsScaling?: [number, number, number] | false;
  /** Reduction transfer reads rows in full instead of listing them (default: n <= 512). */
  fullTransfer?: boolean;
  /** Run the augmenting row reduction in the native addon when it is built (default true). */
  native?: boolean;
}

/** The addon's reductions (native/src/lsa.cc). */
type NativeLsa = Pick<NativeKernels, 'lsaReduce' | 'lsaColumnReduction' | 'lsaRowReduction'>;
let nativeLsa: NativeLsa | null | undefined;

/** The addon's reductions, or null where it is not built or is disabled (IMMISCIBLE_NATIVE=0). */
function nativeLsaKernels(): NativeLsa | null {
  if (nativeLsa === undefined) {
    const load = loadNativeKernels();
    nativeLsa = load.ok && ['lsaReduce', 'lsaColumnReduction', 'lsaRowReduction'].every((f) => typeof (load.kernels as unknown as Record<string, unknown>)[f] === 'function') ? load.kernels : null;
  }
  return nativeLsa;
}

/** reduce() in the addon when there is one; the JS one names a non-finite entry. */
function reduceWith(native: NativeLsa | null, c: Float64Array, n: number, v: Float64Array, argMin: Int32Array): number {
  if (!native) return reduce(c, n, v, argMin);
  const maxAbs = native.lsaReduce(c, n, v, argMin);
  return Number.isNaN(maxAbs) ? reduce(c, n, v, argMin) : maxAbs;
}

/** The last solver, kept for the next call of the same size (see Solver.acquire). */
let reusable: Solver | null = null;

/** The solver's state for one matrix; a class so the hot loops see fixed-shape fields. */
class Solver {
  readonly n: number;
  /** Candidates listed per row (2 <= k <= n); grows when full reads dominate. */
  k: number;
  c: Float64Array;
  /** Column duals. */
  readonly v: Float64Array;
  /** First row attaining each column's minimum after row reduction. */
  readonly argMin: Int32Array;
  readonly matches: Int32Array;
  readonly free: Int32Array;
  /** Column of each row, -1 while free. */
  readonly x: Int32Array;
  /** Row of each column, -1 while free. */
  readonly y: Int32Array;
  /** Row i's k listed columns and their costs at [i*k, (i+1)*k), and the bound for the rest. */
  candCol: Int32Array;
  candC: Float64Array;
  readonly theta: Float64Array;
  /** Whether row i has a list yet: rows are listed on first use, many never are. */
  readonly built: Uint8Array;
  /** The row listed last (its list seeds the next selection; see buildRow), or -1. */
  lastBuilt = -1;
  /** Marks the seeded columns during a selection; all zero otherwise. */
  private readonly seeded: Uint8Array;
  // Selection scratch: the k smallest reduced costs seen so far, in ascending order.
  private selVal: Float64Array;
  private selCol: Int32Array;
  // Dijkstra state. Heap items are columns 0..n-1 and, as n + i, the moment row i's unlisted
  // columns must be read (their distance can be no less than that key).
  private readonly d: Float64Array;
  private readonly pred: Int32Array;
  private readonly settled: Uint8Array;
  private readonly hRow: Float64Array;
  private readonly key: Float64Array;
  private readonly heap: Int32Array;
  private readonly pos: Int32Array;
  private heapSize = 0;
  private readonly touched: Int32Array;
  private readonly improved: Int32Array;
  private readonly settledList: Int32Array;
  /** Entries read by listed scans and by full row reads since the lists last grew. */
  listedWork = 0;
  fullWork = 0;
  /** The addon's passes for this call, or null for the JS ones. */
  native: NativeLsa | null = null;
  private readonly nativeDims = new Int32Array(4);
  private readonly nativeOut = new Float64Array(4);

  constructor(n: number, k: number) {
    this.n = n;
    this.k = k;
    this.c = new Float64Array(0);
    this.v = new Float64Array(n);
    this.argMin = new Int32Array(n);
    this.matches = new Int32Array(n);
    this.free = new Int32Array(n);
    this.x = new Int32Array(n);
    this.y = new Int32Array(n);
    this.candCol = new Int32Array(n * k);
    this.candC = new Float64Array(n * k);
    this.theta = new Float64Array(n);
    this.built = new Uint8Array(n);
    this.seeded = new Uint8Array(n);
    this.selVal = new Float64Array(k);
    this.selCol = new Int32Array(k);
    this.d = new Float64Array(n);
    this.pred = new Int32Array(n);
    this.settled = new Uint8Array(n);
    this.hRow = new Float64Array(n);
    this.key = new Float64Array(2 * n);
    this.heap = new Int32Array(2 * n);
    this.pos = new Int32Array(2 * n);
    this.touched = new Int32Array(n);
    this.improved = new Int32Array(n);
    this.settledList = new Int32Array(n);
  }

  /**
   * A solver for an n x n matrix with k-column lists, reusing the last one's arrays when the
   * size matches: a training run calls this every step with the same n, and fresh arrays each
   * time cost allocation and garbage collection (several per cent at n = 128).
   */
  static acquire(n: number, k: number): Solver {
    let s = reusable;
    if (s === null || s.n !== n) {
      s = new Solver(n, k);
      reusable = s;
    } else if (s.k !== k) {
      s.setK(k);
    }
    s.reset();
    return s;
  }

  /** Clears all per-call state, including what an interrupted call may have left. */
  private reset(): void {
    this.x.fill(-1);
    this.y.fill(-1);
    this.matches.fill(0);
    this.built.fill(0);
    this.seeded.fill(0);
    this.lastBuilt = -1;
    this.d.fill(Infinity);
    this.settled.fill(0);
    this.pos.fill(-1);
    this.heapSize = 0;
    this.listedWork = 0;
    this.fullWork = 0;
  }

  private setK(k: number): void {
    const n = this.n;
    this.k = k;
    this.candCol = new Int32Array(n * k);
    this.candC = new Float64Array(n * k);
    this.selVal = new Float64Array(k);
    this.selCol = new Int32Array(k);
  }

  /** Lists k columns per row from now on; rows are listed again on their next use. */
  resize(k: number): void {
    this.setK(k);
    this.built.fill(0);
    this.seeded.fill(0);
    this.lastBuilt = -1;
    this.listedWork = 0;
    this.fullWork = 0;
  }

  /** Starts a row's selection: its first k columns, sorted by reduced cost; returns the largest. */
  private selStart(base: number): number {
    const { c, v, k, selVal, selCol } = this;
    for (let j = 0; j < k; j++) {
      const t = c[base + j] - v[j];
      let p = j;
      while (p > 0 && selVal[p - 1] > t) {
        selVal[p] = selVal[p - 1];
        selCol[p] = selCol[p - 1];
        p--;
      }
      selVal[p] = t;
      selCol[p] = j;
    }
    return selVal[k - 1];
  }

  /**
   * Ends a row's selection: stores the k kept columns and the bound for the others. Every column
   * left out was at least the largest kept value when it was seen, and that maximum only falls,
   * so the final maximum bounds them all.
   */
  private selEnd(i: number, base: number): void {
    const { c, k, selCol } = this;
    this.theta[i] = k === this.n ? Infinity : this.selVal[k - 1];
    this.built[i] = 1;
    const cb = i * k;
    for (let t = 0; t < k; t++) {
      const j = selCol[t];
      this.candCol[cb + t] = j;
      this.candC[cb + t] = c[base + j];
    }
  }

  /**
   * Reads row i in full under the current v and keeps its k cheapest columns. The selection
   * starts from the columns of the row listed last: the rows of one batch share their cheap
   * columns (the noise that suits the common image content), so the kept maximum starts low and
   * few columns of the scan need inserting. Seeded columns are marked so none is kept twice.
   */
  buildRow(i: number): void {
    const { c, v, n, k, seeded } = this;
    const base = i * n;
    const seed = this.lastBuilt;
    if (seed < 0) {
      let top = this.selStart(base);
      for (let j = k; j < n; j++) {
        const t = c[base + j] - v[j];
        if (t < top) top = this.selInsert(t, j);
      }
    } else {
      const { selVal, selCol, candCol } = this;
      const sb = seed * k;
      for (let s = 0; s < k; s++) {
        const j = candCol[sb + s];
        seeded[j] = 1;
        const t = c[base + j] - v[j];
        let p = s;
        while (p > 0 && selVal[p - 1] > t) {
          selVal[p] = selVal[p - 1];
          selCol[p] = selCol[p - 1];
          p--;
        }
        selVal[p] = t;
        selCol[p] = j;
      }
      let top = selVal[k - 1];
      for (let j = 0; j < n; j++) {
        const t = c[base + j] - v[j];
        if (t < top && seeded[j] === 0) top = this.selInsert(t, j);
      }
      for (let s = 0; s < k; s++) seeded[candCol[sb + s]] = 0;
    }
    this.selEnd(i, base);
    this.lastBuilt = i;
  }


  /**
   * Puts column j, whose reduced cost t is below the largest kept one, into the sorted selection
   * in place of that largest; returns the new largest. Cheaper than a heap's sift at these k: the
   * loop is short and predictable, and the lists come out sorted, cheapest first, which makes
   * the bids' two-minimum scans (rowReduction) branch predictably.
   */
  private selInsert(t: number, j: number): number {
    const { selVal, selCol } = this;
    const last = this.k - 1;
    let p = last;
    while (p > 0 && selVal[p - 1] > t) {
      selVal[p] = selVal[p - 1];
      selCol[p] = selCol[p - 1];
      p--;
    }
    selVal[p] = t;
    selCol[p] = j;
    return selVal[last];
  }

  /**
   * Reduction transfer (LAPJV): a row that got exactly one column in the column reduction moves
   * its slack to that column, v[j1] dropping by the gap to the row's second-cheapest column, so
   * later bids see a higher row dual. The list holds the two cheapest columns (k >= 2).
   */
  transfer(i: number): void {
    if (!this.built[i]) this.buildRow(i);
    const { candCol, candC, v, k } = this;
    const j1 = this.x[i];
    const cb = i * k;
    let mu = Infinity;
    for (let t = 0; t < k; t++) {
      const j = candCol[cb + t];
      if (j === j1) continue;
      const h = candC[cb + t] - v[j];
      if (h < mu) mu = h;
    }
    const own = this.c[i * this.n + j1] - v[j1];
    if (mu > own) v[j1] -= mu - own;
  }

  /**
   * As transfer, reading row i in full without listing it: at small n a full row costs little
   * more than building its list, and most rows given one column in the column reduction never
   * bid later, so their lists would go unused.
   */
  transferFull(i: number): void {
    const { c, v, n } = this;
    const j1 = this.x[i];
    const base = i * n;
    let mu = Infinity;
    for (let j = 0; j < n; j++) {
      const h = c[base + j] - v[j];
      if (h < mu && j !== j1) mu = h;
    }
    const own = c[base + j1] - v[j1];
    if (mu > own) v[j1] -= mu - own;
  }

  /**
   * Augmenting row reduction: each free row bids for its cheapest column, lowering that
   * column's v by the gap to its second cheapest so the row is indifferent, and evicts the
   * previous owner, which bids next. Returns the number of rows still free, now at the front of
   * `free`. A bid that cannot lower v (a tie, or a gap below v's rounding) takes the second
   * column instead and defers the evicted row to the next pass, so no pair of rows can trade a
   * column back and forth forever; `budget` bounds the bids of one pass all the same. With
   * eps > 0 this is an auction round: v drops eps further, every bid makes progress, and the
   * bidder ends up to eps from tight (the caller frees such rows before the exact phases).
   */
  rowReduction(free: Int32Array, nFree: number, budget: number, eps = 0): number {
    if (this.native) {
      // The same pass in C++ on these arrays (2-3x faster: the bids are short, branchy loops).
      const dims = this.nativeDims;
      const out = this.nativeOut;
      dims[0] = this.n;
      dims[1] = this.k;
      dims[2] = nFree;
      dims[3] = this.lastBuilt;
      this.native.lsaRowReduction(this.c, this.v, this.x, this.y, this.built, this.candCol, this.candC, this.theta, this.seeded, this.selVal, this.selCol, free, dims, budget, eps, out);
      this.lastBuilt = out[3];
      this.listedWork += out[1] * this.k;
      this.fullWork += out[2] * this.n;
      return out[0];
    }
    // The lists do not change size inside a pass (only resize() does), so hoist them.
    const { theta, v, x, y, built, candCol, candC, k, n } = this;
    let current = 0;
    let newFree = 0;
    let bids = 0;
    let rebuilt = 0;
    while (current < nFree) {
      const i = free[current++];
      bids++;
      if (built[i] === 0) this.buildRow(i);
      const cb = i * k;
      let j1 = -1;
      let v1 = Infinity;
      let j2 = -1;
      let v2 = Infinity;
      let bounded = false;
      for (;;) {
        for (let t = 0; t < k; t++) {
          const j = candCol[cb + t];
          const h = candC[cb + t] - v[j];
          if (h < v2) {
            if (h >= v1) {
              v2 = h;
              j2 = j;
            } else {
              v2 = v1;
              j2 = j1;
              v1 = h;
              j1 = j;
            }
          }
        }
        // Unlisted columns cost at least theta: if only the second cheapest is in doubt, theta
        // is a valid (lower) stand-in for it, the bid just moves v[j1] less and the row stays
        // tight. If the cheapest itself is in doubt, or a tie needs the real j2, read the row
        // again; after that v2 <= theta, as the list holds the two cheapest columns (k >= 2).
        const th = theta[i];
        if (v2 <= th) break;
        if (v1 < th) {
          v2 = th;
          bounded = true;
          break;
        }
        this.buildRow(i);
        rebuilt++;
        j1 = -1;
        v1 = Infinity;
        j2 = -1;
        v2 = Infinity;
      }
      let i0 = y[j1];
      const lowered = v[j1] - (v2 - v1) - eps;
      const lowers = lowered < v[j1];
      if (bids <= budget) {
        if (lowers) {
          v[j1] = lowered;
        } else if (i0 >= 0 && !bounded) {
          // A tie: take the other cheapest column (only known when v2 is a real column's).
          j1 = j2;
          i0 = y[j2];
        }
        if (i0 >= 0) {
          // The evicted row bids at once while prices are still moving, else in the next pass.
          if (lowers) free[--current] = i0;
          else free[newFree++] = i0;
        }
      } else if (i0 >= 0) {
        // Budget spent: take the cheapest column without a price change (still a minimiser,
        // so complementary slackness holds) and leave the evicted row to the augmentation.
        free[newFree++] = i0;
      }
      x[i] = j1;
      y[j1] = i;
    }
    this.listedWork += bids * k;
    this.fullWork += rebuilt * n;
    return newFree;
  }

  /** How much dearer row i's column is than its cheapest one under the current v. */
  slack(i: number): number {
    if (!this.built[i]) this.buildRow(i);
    for (;;) {
      const { candCol, candC, k, v } = this;
      const cb = i * k;
      let m = Infinity;
      for (let t = 0; t < k; t++) {
        const h = candC[cb + t] - v[candCol[cb + t]];
        if (h < m) m = h;
      }
      this.listedWork += k;
      if (m <= this.theta[i]) {
        const j = this.x[i];
        return this.c[i * this.n + j] - v[j] - m;
      }
      this.buildRow(i);
      this.fullWork += this.n;
    }
  }

  /** Frees every row whose column costs more than `limit` above its cheapest one (and lists all
   * free rows in `free`); returns how many rows are free. */
  freeRowsAbove(limit: number): number {
    const { x, y, free, n } = this;
    let nFree = 0;
    for (let i = 0; i < n; i++) {
      if (x[i] < 0 || this.slack(i) > limit) {
        if (x[i] >= 0) y[x[i]] = -1;
        x[i] = -1;
        free[nFree++] = i;
      }
    }
    return nFree;
  }

  /** Mean over listed rows of the spread of their listed reduced costs: the scale of a bid. */
  bidScale(): number {
    let sum = 0;
    let cnt = 0;
    const { candCol, candC, k, v, n } = this;
    for (let i = 0; i < n; i++) {
      if (!this.built[i]) continue;
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < k; t++) {
        const h = candC[i * k + t] - v[candCol[i * k + t]];
        if (h < lo) lo = h;
        if (h > hi) hi = h;
      }
      sum += hi - lo;
      cnt++;
    }
    return cnt > 0 ? sum / cnt : 0;
  }

  // ---- binary min-heap over key[], with positions for decrease-key ----

  private siftUp(p: number): void {
    const { heap, pos, key } = this;
    const item = heap[p];
    const kv = key[item];
    while (p > 0) {
      const parent = (p - 1) >> 1;
      const q = heap[parent];
      if (key[q] <= kv) break;
      heap[p] = q;
      pos[q] = p;
      p = parent;
    }
    heap[p] = item;
    pos[item] = p;
  }

  private siftDown(p: number): void {
    const { heap, pos, key } = this;
    const size = this.heapSize;
    const item = heap[p];
    const kv = key[item];
    for (;;) {
      let ch = 2 * p + 1;
      if (ch >= size) break;
      if (ch + 1 < size && key[heap[ch + 1]] < key[heap[ch]]) ch++;
      const q = heap[ch];
      if (key[q] >= kv) break;
      heap[p] = q;
      pos[q] = p;
      p = ch;
    }
    heap[p] = item;
    pos[item] = p;
  }

  /** Inserts item with key kv, or lowers its key if it is already queued. */
  private push(item: number, kv: number): void {
    this.key[item] = kv;
    let p = this.pos[item];
    if (p < 0) {
      p = this.heapSize++;
      this.heap[p] = item;
    }
    this.siftUp(p);
  }

  private pop(): number {
    const { heap, pos } = this;
    const top = heap[0];
    pos[top] = -1;
    const last = heap[--this.heapSize];
    if (this.heapSize > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  /** Offers row i's listed columns at distance c - v - h, and queues the read of the rest. */
  private scanListed(i: number, h: number, nTouched: number): number {
    if (!this.built[i]) this.buildRow(i);
    const { candCol, candC, v, d, pred, settled, touched, k } = this;
    const cb = i * k;
    for (let t = 0; t < k; t++) {
      const j = candCol[cb + t];
      if (settled[j]) continue;
      const r = candC[cb + t] - v[j] - h;
      const dj = d[j];
      if (r < dj) {
        if (dj === Infinity) touched[nTouched++] = j;
        d[j] = r;
        pred[j] = i;
        this.push(j, r);
      }
    }
    this.listedWork += k;
    const th = this.theta[i];
    if (th !== Infinity) {
      this.hRow[i] = h;
      this.push(this.n + i, th - h);
    }
    return nTouched;
  }

  /**
   * Reads row i in full: offers every unsettled column, and rebuilds its list in the same pass.
   * Many columns improve at once here, so their keys are set first and the heap is then either
   * rebuilt in O(size) or repaired item by item, whichever is cheaper.
   */
  private scanFull(i: number, nTouched: number): number {
    const { c, v, d, pred, settled, touched, improved, key, heap, pos, n, k } = this;
    const h = this.hRow[i];
    const base = i * n;
    let nImproved = 0;
    let top = this.selStart(base);
    for (let j = 0; j < n; j++) {
      const t = c[base + j] - v[j];
      if (j >= k && t < top) top = this.selInsert(t, j);
      if (settled[j]) continue;
      const r = t - h;
      const dj = d[j];
      if (r < dj) {
        if (dj === Infinity) touched[nTouched++] = j;
        d[j] = r;
        pred[j] = i;
        key[j] = r;
        if (pos[j] < 0) {
          pos[j] = this.heapSize;
          heap[this.heapSize++] = j;
        }
        improved[nImproved++] = j;
      }
    }
    this.selEnd(i, base);
    this.fullWork += n;
    if (nImproved > this.heapSize >> 2) {
      for (let p = (this.heapSize >> 1) - 1; p >= 0; p--) this.siftDown(p);
    } else {
      for (let t = 0; t < nImproved; t++) this.siftUp(pos[improved[t]]);
    }
    return nTouched;
  }

  /**
   * Shortest augmenting path from the free row `start` to a free column (Dijkstra on reduced
   * costs, reading rows lazily); then updates v on the settled columns and flips the path.
   */
  augment(start: number): void {
    const { d, settled, settledList, touched, x, y, v, pred, n } = this;
    let nTouched = this.scanListed(start, 0, 0);
    let nSettled = 0;
    let sink = -1;
    while (sink < 0) {
      if (this.heapSize === 0) {
        // Unreachable for finite input after scaling; kept so a numeric fault cannot loop forever.
        throw new Error('linearSumAssignment: no augmenting path (non-finite intermediate values)');
      }
      const item = this.pop();
      if (item >= n) {
        nTouched = this.scanFull(item - n, nTouched);
        continue;
      }
      const j = item;
      const i = y[j];
      if (i < 0) {
        sink = j;
        break;
      }
      settled[j] = 1;
      settledList[nSettled++] = j;
      // Row i reaches column k at d[j] + (c[i][k] - v[k]) - u_i with u_i = c[i][j] - v[j].
      nTouched = this.scanListed(i, this.c[i * n + j] - v[j] - d[j], nTouched);
    }
    // Dual update on the settled columns: keeps every reduced cost >= 0 and the path tight.
    const dSink = d[sink];
    for (let t = 0; t < nSettled; t++) {
      const j = settledList[t];
      v[j] += d[j] - dSink;
      settled[j] = 0;
    }
    let j = sink;
    for (;;) {
      const i = pred[j];
      y[j] = i;
      const prev = x[i];
      x[i] = j;
      if (i === start) break;
      j = prev;
    }
    // Reset only what this search touched: most searches are short.
    for (let t = 0; t < nTouched; t++) d[touched[t]] = Infinity;
    const { heap, pos } = this;
    for (let p = 0; p < this.heapSize; p++) pos[heap[p]] = -1;
    this.heapSize = 0;
  }
}

const EMPTY = new Float64Array(0);

const DEFAULT_EPS_SCALING: [number, number, number] = [4, 8, 5];

/** Initial list length: image-vs-noise costs need few columns per row (the lists then grow only
 * where full row reads dominate, as for 2-D costs); at n <= 128 in JS shorter lists make the many
 * bids of the row reduction cheaper than the extra row reads they cause (in the native pass bids
 * are cheap, and 8 measured 4-6% faster than 6 there). */
function defaultCandidates(n: number, native: boolean): number {
  return n >= 2048 ? 16 : n > 128 || native ? 8 : 6;
}

/**
 * As linearSumAssignment, with the solver's options. Exported so tests can force short lists
 * (and so the lazy row reads) at small n; every setting gives the same optimal total.
 */
export function linearSumAssignmentWith(cost: Float64Array, n: number, options: LsaOptions = {}): Int32Array {
  checkSize(cost, n);
  if (n === 0) return new Int32Array(0);
  const native = options.native === false ? null : nativeLsaKernels();
  const candidates = options.candidates ?? defaultCandidates(n, native !== null);
  if (!Number.isInteger(candidates) || candidates < 2) {
    throw new RangeError(`linearSumAssignment: candidates must be an integer >= 2, got ${candidates}`);
  }
  const s = Solver.acquire(n, Math.min(n, candidates));
  const { v, argMin } = s;
  const maxAbs = reduceWith(native, cost, n, v, argMin);
  if (n === 1) return new Int32Array(1);

  // Path lengths and potentials are sums of up to ~2n reduced costs; near Number.MAX_VALUE they
  // would overflow to Infinity and the comparisons would go wrong. A power-of-two scale is exact,
  // so it leaves the optimal permutation unchanged. Only then is the input copied.
  let c = cost;
  const limit = Number.MAX_VALUE / (16 * (n + 1));
  if (maxAbs > limit) {
    const scale = 2 ** -Math.ceil(Math.log2(maxAbs / limit));
    c = new Float64Array(cost.length);
    for (let t = 0; t < c.length; t++) c[t] = cost[t] * scale;
    reduceWith(native, c, n, v, argMin);
  }
  s.c = c;
  // The native pass needs k >= 2 (always) and n >= 2 (n = 1 returned above).
  s.native = native;
  try {
    return solveReduced(s, n, options);
  } finally {
    // The cached solver must not keep the caller's matrix alive.
    s.c = EMPTY;
  }
}

/** Up to this n the reduction transfer reads rows in full rather than listing them. */
const FULL_TRANSFER_MAX = 512;

/** Everything after the reductions: the assignment phases on the solver's matrix. */
function solveReduced(s: Solver, n: number, options: LsaOptions): Int32Array {
  const { x, y, matches, free, argMin } = s;
  const grow = options.grow ?? true;
  const passes = options.rowReductionPasses ?? 2;
  const [ba, bb] = options.rowReductionBudget ?? [16, 64];
  const fullTransfer = options.fullTransfer ?? n <= FULL_TRANSFER_MAX;

  let nFree = 0;
  if (s.native && fullTransfer) {
    // The same two loops in the addon (native/src/lsa.cc).
    nFree = s.native.lsaColumnReduction(s.c, n, s.v, argMin, matches, x, y, free);
  } else {
    // Column reduction: each column offers itself to its minimising row; a row keeps the first
    // offer (columns taken in reverse, as in LAPJV). Those pairs are tight: row i's dual is r_i.
    for (let j = n - 1; j >= 0; j--) {
      const i = argMin[j];
      if (matches[i]++ === 0) {
        x[i] = j;
        y[j] = i;
      }
    }
    for (let i = 0; i < n; i++) {
      if (matches[i] === 0) free[nFree++] = i;
      else if (matches[i] === 1) {
        if (fullTransfer) s.transferFull(i);
        else s.transfer(i);
      }
    }
  }

  const growLists = (): void => {
    // Full row reads cost n each; once they outweigh the listed scans (2-D costs, whose
    // augmenting paths are long), longer lists pay for the pass that rebuilds them.
    if (grow && s.fullWork > 2 * s.listedWork + n * 8 && 2 * s.k <= n >> 1) s.resize(2 * s.k);
  };

  // Augmenting row reduction, as LAPJV does; the budget only guards against pathological float
  // price wars.
  for (let pass = 0; pass < passes && nFree > 0; pass++) {
    nFree = s.rowReduction(free, nFree, ba * n + bb * nFree);
  }

  // Many rows still free means a price war (low-rank costs such as 2-D points): there, an
  // epsilon-scaling auction finds near-optimal duals far sooner, and rows that end it not
  // exactly tight are freed again, so exactness still rests on the phases below.
  const eps = options.epsScaling ?? (nFree > n >> 4 ? DEFAULT_EPS_SCALING : false);
  if (eps !== false && nFree > 0) {
    const [m0, div, phases] = eps;
    // Rows evicted during row reduction still name their old column.
    for (let t = 0; t < nFree; t++) x[free[t]] = -1;
    let e = m0 * s.bidScale();
    for (let ph = 0; ph < phases && e > 0; ph++) {
      nFree = s.rowReduction(free, nFree, 1000 * n, e);
      for (let t = 0; t < nFree; t++) x[free[t]] = -1;
      e /= div;
      // Each phase keeps the rows within the next epsilon of their cheapest column; after the
      // last one (below) only the exactly tight ones.
      if (ph < phases - 1) nFree = s.freeRowsAbove(e);
      growLists();
    }
    nFree = s.freeRowsAbove(0);
    for (let pass = 0; pass < passes && nFree > 0; pass++) {
      nFree = s.rowReduction(free, nFree, ba * n + bb * nFree);
    }
  }

  for (let f = 0; f < nFree; f++) {
    s.augment(free[f]);
    growLists();
  }
  return x.slice();
}

/**
 * Minimum-cost perfect assignment of the n x n row-major `cost`; returns col with col[i] the
 * column given to row i. Ties may be broken either way: only the total cost is unique. Exact
 * for any finite matrix (up to the rounding of the reduced costs in Float64); the input is not
 * modified.
 */
export function linearSumAssignment(cost: Float64Array, n: number): Int32Array {
  return linearSumAssignmentWith(cost, n);
}

/**
 * Total cost of the assignment col on the original matrix, with compensated summation so that
 * totals of large and small entries compare reliably.
 */
export function assignmentCost(cost: Float64Array, n: number, col: Int32Array): number {
  if (cost.length !== n * n) {
    throw new RangeError(`assignmentCost: expected n*n = ${n * n} entries for n = ${n}, found ${cost.length}`);
  }
  if (col.length !== n) {
    throw new RangeError(`assignmentCost: expected ${n} column indices, found ${col.length}`);
  }
  let sum = 0;
  let comp = 0;
  for (let i = 0; i < n; i++) {
    const j = col[i];
    if (!(j >= 0 && j < n)) throw new RangeError(`assignmentCost: col[${i}] = ${j} is outside [0, ${n})`);
    const c = cost[i * n + j];
    // Neumaier: keep the low-order part lost by each addition.
    const t = sum + c;
    comp += Math.abs(sum) >= Math.abs(c) ? sum - t + c : c - t + sum;
    sum = t;
  }
  return sum + comp;
}
