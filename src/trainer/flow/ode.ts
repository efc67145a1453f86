/**
 * ODE solvers for sampling a flow: fixed-step Euler and adaptive Dormand-Prince 5(4) with error
 * control. Pure apart from the velocity function, which may be a network (hence async); each
 * reports its number of function evaluations (NFE), the cost a sample grid records.
 */

export type Velocity = (t: number, y: Float64Array) => Promise<ArrayLike<number>>;

export interface OdeResult {
  y: Float64Array;
  nfe: number;
  /** Accepted and rejected steps (Euler: steps, 0). */
  steps: number;
  rejected: number;
}

/** Euler from t0 to t1 in `steps` equal steps. */
export async function eulerSolve(f: Velocity, y0: Float64Array, t0: number, t1: number, steps: number): Promise<OdeResult> {
  const y = Float64Array.from(y0);
  const h = (t1 - t0) / steps;
  for (let k = 0; k < steps; k++) {
    const v = await f(t0 + k * h, y);
    for (let i = 0; i < y.length; i++) y[i] += h * v[i];
  }
  return { y, nfe: steps, steps, rejected: 0 };
}

// Dormand & Prince (1980) tableau; B is the 5th-order solution (also the last stage row, so the
// last evaluation is the next step's first: "first same as last"), E = B - B*(4th order).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A: number[][] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const B = [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0];
const BSTAR = [5179 / 57600, 0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40];
const E = B.map((b, i) => b - BSTAR[i]);

export interface Dopri5Options {
  atol: number;
  rtol: number;
  /** Give up (throw) after this many evaluations rather than spin on a stiff or broken field. */
  maxNfe?: number;
}

/**
 * Adaptive Dormand-Prince from t0 to t1 (either direction). A step is accepted when the RMS over
 * all elements of err_i / (atol + rtol max(|y_i|, |y_new_i|)) is at most 1, and the next step is
 * scaled by 0.9 err^(-1/5), within [0.2, 10], as in Hairer, Norsett & Wanner. The tolerances
 * bound each step's estimated error, not the global error, which may be a few times larger.
 */
export async function dopri5Solve(f: Velocity, y0: Float64Array, t0: number, t1: number, o: Dopri5Options): Promise<OdeResult> {
  const n = y0.length;
  const maxNfe = o.maxNfe ?? 10000;
  const dir = Math.sign(t1 - t0);
  let y = Float64Array.from(y0);
  let t = t0;
  let nfe = 0;
  let accepted = 0;
  let rejected = 0;
  const eval_ = async (tt: number, yy: Float64Array): Promise<Float64Array> => {
    nfe += 1;
    if (nfe > maxNfe) throw new Error(`dopri5: more than ${maxNfe} evaluations between t = ${t0} and ${t1} (tolerances too tight?)`);
    return Float64Array.from(await f(tt, yy));
  };
  let k1 = await eval_(t, y);
  // Initial step from the scale of the state and its derivative (Hairer et al., II.4, first part).
  let d0 = 0;
  let d1 = 0;
  for (let i = 0; i < n; i++) {
    const sc = o.atol + o.rtol * Math.abs(y[i]);
    d0 += (y[i] / sc) ** 2;
    d1 += (k1[i] / sc) ** 2;
  }
  d0 = Math.sqrt(d0 / n);
  d1 = Math.sqrt(d1 / n);
  let h = Math.min(Math.abs(t1 - t0), d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : (0.01 * d0) / d1);
  const k: Float64Array[] = new Array<Float64Array>(7);
  const yStage = new Float64Array(n);
  let justRejected = false;
  while (dir * (t1 - t) > 1e-12 * Math.abs(t1 - t0)) {
    h = Math.min(h, Math.abs(t1 - t));
    const hs = dir * h;
    k[0] = k1;
    for (let s = 1; s < 7; s++) {
      for (let i = 0; i < n; i++) {
        let acc = 0;
        for (let j = 0; j < s; j++) acc += A[s][j] * k[j][i];
        yStage[i] = y[i] + hs * acc;
      }
      k[s] = await eval_(t + C[s] * hs, Float64Array.from(yStage));
    }
    // The 7th stage was evaluated at the 5th-order solution, which is yStage now.
    const yNew = Float64Array.from(yStage);
    let err = 0;
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let j = 0; j < 7; j++) e += E[j] * k[j][i];
      const sc = o.atol + o.rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
      err += ((hs * e) / sc) ** 2;
    }
    err = Math.sqrt(err / n);
    const factor = Math.min(10, Math.max(0.2, 0.9 * (err > 0 ? err ** -0.2 : 10)));
    if (err <= 1) {
      t += hs;
      y = yNew;
      k1 = k[6];
      accepted += 1;
      // No growth right after a rejection (Hairer et al.; scipy does the same).
      h *= justRejected ? Math.min(1, factor) : factor;
      justRejected = false;
    } else {
      rejected += 1;
      justRejected = true;
      h *= Math.min(1, factor);
    }
  }
  return { y, nfe, steps: accepted, rejected };
}
