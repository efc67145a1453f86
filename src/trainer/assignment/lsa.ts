/**
 * Exact linear sum assignment (minimum-cost perfect matching of an n x n matrix) by shortest
 * augmenting paths with dual potentials: the algorithm of Crouse (2016) that scipy's
 * `linear_sum_assignment` implements, preceded by the column reduction and greedy start of
 * Jonker-Volgenant.
 */

/** Throws a RangeError naming the first problem: a bad n, a wrong length, or a non-finite entry. */
function validate(cost: Float64Array, n: number): number {
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`linearSumAssignment: n must be a non-negative integer, got ${n}`);
  }
  const size = n * n;
  if (cost.length !== size) {
    throw new RangeError(
      `linearSumAssignment: expected n*n = ${size} entries for n = ${n}, found ${cost.length}`,
    );
  }
  let maxAbs = 0;
  for (let k = 0; k < size; k++) {
    const c = cost[k];
    if (!Number.isFinite(c)) {
      const row = Math.floor(k / n);
      throw new RangeError(
        `linearSumAssignment: cost[${row}][${k - row * n}] (row ${row}, column ${k - row * n}) is ${c}; entries must be finite`,
      );
    }
    const a = Math.abs(c);
    if (a > maxAbs) maxAbs = a;
  }
  return maxAbs;
}

/**
 * Minimum-cost perfect assignment of the n x n row-major `cost`; returns col with col[i] the
 * column given to row i. Ties may be broken either way: only the total cost is unique.
 */
export function linearSumAssignment(cost: Float64Array, n: number): Int32Array {
  const maxAbs = validate(cost, n);
  const col4row = new Int32Array(n).fill(-1);
  if (n === 0) return col4row;
  if (n === 1) {
    col4row[0] = 0;
    return col4row;
  }

  // Path lengths and potentials are sums of up to ~2n reduced costs; near Number.MAX_VALUE they
  // would overflow to Infinity and the comparisons would go wrong. A power-of-two scale is exact,
  // so it leaves the optimal permutation unchanged.
  let scale = 1;
  const limit = Number.MAX_VALUE / (16 * (n + 1));
  if (maxAbs > limit) scale = 2 ** -Math.ceil(Math.log2(maxAbs / limit));

  // Column reduction. For image-vs-noise costs the per-noise norm dominates C's spread, and a
  // solver starting every column at potential 0 then walks long augmenting paths; removing the
  // column minima keeps the permutation and makes the solve 2-5x faster (shared/notes).
  const size = n * n;
  const w = new Float64Array(size);
  const colMin = new Float64Array(n).fill(Infinity);
  const argMin = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) {
      const c = scale === 1 ? cost[base + j] : cost[base + j] * scale;
      w[base + j] = c;
      if (c < colMin[j]) {
        colMin[j] = c;
        argMin[j] = i;
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const base = i * n;
    for (let j = 0; j < n; j++) w[base + j] -= colMin[j];
  }

  // Greedy start: each column's minimum row, if still free, takes it. Those pairs have reduced
  // cost exactly 0 under u = v = 0, so the partial matching already satisfies complementary
  // slackness and only the remaining rows need an augmenting path.
  const row4col = new Int32Array(n).fill(-1);
  for (let j = 0; j < n; j++) {
    const i = argMin[j];
    if (col4row[i] === -1) {
      col4row[i] = j;
      row4col[j] = i;
    }
  }

  const u = new Float64Array(n);
  const v = new Float64Array(n);
  const spc = new Float64Array(n); // shortest path cost to each column in this search
  const path = new Int32Array(n); // row preceding each column on its shortest path
  const remaining = new Int32Array(n); // columns not yet scanned, in the first numRemaining slots
  const visitedRows = new Int32Array(n);
  const scannedCols = new Int32Array(n);

  for (let curRow = 0; curRow < n; curRow++) {
    if (col4row[curRow] !== -1) continue;
    spc.fill(Infinity);
    for (let it = 0; it < n; it++) remaining[it] = n - 1 - it;
    let numRemaining = n;
    let nVisited = 0;
    let nScanned = 0;
    let minVal = 0;
    let i = curRow;
    let sink = -1;

    while (sink === -1) {
      visitedRows[nVisited++] = i;
      const base = i * n;
      const ui = u[i];
      let index = -1;
      let lowest = Infinity;
      for (let it = 0; it < numRemaining; it++) {
        const j = remaining[it];
        const r = minVal + w[base + j] - ui - v[j];
        if (r < spc[j]) {
          path[j] = i;
          spc[j] = r;
        }
        const s = spc[j];
        // Among equal distances a free column ends the search at once.
        if (s < lowest || (s === lowest && row4col[j] === -1)) {
          lowest = s;
          index = it;
        }
      }
      if (index === -1) {
        // Unreachable for finite input after scaling; kept so a numeric fault cannot loop forever.
        throw new Error('linearSumAssignment: no augmenting path (non-finite intermediate values)');
      }
      minVal = lowest;
      const j = remaining[index];
      scannedCols[nScanned++] = j;
      if (row4col[j] === -1) sink = j;
      else i = row4col[j];
      remaining[index] = remaining[--numRemaining];
    }

    // Dual update keeps every reduced cost >= 0 and those of matched pairs at 0.
    u[curRow] += minVal;
    for (let t = 1; t < nVisited; t++) {
      const r = visitedRows[t];
      u[r] += minVal - spc[col4row[r]];
    }
    for (let t = 0; t < nScanned; t++) {
      const j = scannedCols[t];
      v[j] -= minVal - spc[j];
    }

    let j = sink;
    for (;;) {
      const r = path[j];
      row4col[j] = r;
      const prev = col4row[r];
      col4row[r] = j;
      if (r === curRow) break;
      j = prev;
    }
  }
  return col4row;
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
