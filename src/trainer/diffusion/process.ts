/**
 * The forward process and the reverse updates, element-wise on flat arrays. Pure: the model's
 * output comes in as an array, so every update is testable against closed forms.
 */
import type { Schedule } from './schedule';

/** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps, per example with its own t. */
export function qSample(
  x0: Float32Array,
  eps: Float32Array,
  t: Int32Array,
  schedule: Schedule,
  perExample: number,
): Float32Array {
  const out = new Float32Array(x0.length);
  for (let i = 0; i < t.length; i++) {
    const ab = schedule.alphaBar[t[i]];
    const a = Math.sqrt(ab);
    const s = Math.sqrt(1 - ab);
    const o = i * perExample;
    for (let j = o; j < o + perExample; j++) out[j] = a * x0[j] + s * eps[j];
  }
  return out;
}

/** The clean image implied by x_t and a noise prediction. */
export function predictX0(xt: number, eps: number, alphaBar: number): number {
  return (xt - Math.sqrt(1 - alphaBar) * eps) / Math.sqrt(alphaBar);
}

export interface DdimStep {
  alphaBar: number;
  /** 1 at the last step (the clean image). */
  alphaBarPrev: number;
  eta: number;
  clip: boolean;
}

/** sigma of the DDIM update (Song et al. 2021, eq. 16). */
export function ddimSigma(alphaBar: number, alphaBarPrev: number, eta: number): number {
  return eta * Math.sqrt((1 - alphaBarPrev) / (1 - alphaBar)) * Math.sqrt(1 - alphaBar / alphaBarPrev);
}

/** One DDIM update in place: x <- sqrt(abar') x0 + sqrt(1 - abar' - sigma^2) eps + sigma z. */
export function ddimUpdate(x: Float32Array, eps: Float32Array, z: Float32Array | null, s: DdimStep): void {
  const sigma = ddimSigma(s.alphaBar, s.alphaBarPrev, s.eta);
  const sa = Math.sqrt(s.alphaBar);
  const s1a = Math.sqrt(1 - s.alphaBar);
  const dirCoef = Math.sqrt(Math.max(0, 1 - s.alphaBarPrev - sigma * sigma));
  const sap = Math.sqrt(s.alphaBarPrev);
  for (let i = 0; i < x.length; i++) {
    let x0 = (x[i] - s1a * eps[i]) / sa;
    let e = eps[i];
    if (s.clip) {
      x0 = Math.min(1, Math.max(-1, x0));
      // Keep eps consistent with the clipped x0, as in the reference implementations.
      e = (x[i] - sa * x0) / s1a;
    }
    x[i] = sap * x0 + dirCoef * e + (z && sigma > 0 ? sigma * z[i] : 0);
  }
}

/** One ancestral DDPM update in place: the posterior q(x_{t-1} | x_t, x0) with its variance. */
export function ddpmUpdate(x: Float32Array, eps: Float32Array, z: Float32Array | null, t: number, schedule: Schedule, clip: boolean): void {
  const ab = schedule.alphaBar[t];
  const abPrev = t > 0 ? schedule.alphaBar[t - 1] : 1;
  const beta = schedule.betas[t];
  const alpha = schedule.alphas[t];
  const c0 = (beta * Math.sqrt(abPrev)) / (1 - ab);
  const ct = ((1 - abPrev) * Math.sqrt(alpha)) / (1 - ab);
  const variance = (beta * (1 - abPrev)) / (1 - ab);
  const sd = Math.sqrt(variance);
  for (let i = 0; i < x.length; i++) {
    let x0 = predictX0(x[i], eps[i], ab);
    if (clip) x0 = Math.min(1, Math.max(-1, x0));
    x[i] = c0 * x0 + ct * x[i] + (t > 0 && z ? sd * z[i] : 0);
  }
}
