/**
 * Flow matching with straight paths (rectified flow / conditional flow matching), as pure
 * functions. Convention: x_t = (1 - t) x0 + t eps, so t = 0 is data and t = 1 is noise, and the
 * velocity dx_t/dt = eps - x0 is what the model learns; sampling integrates from t = 1 to 0.
 */
import type { FlowConfig } from '../../core/config/types';
import type { Rng } from '../rng';

/** x_t per example, each with its own t. */
export function flowInterpolate(x0: Float32Array, eps: Float32Array, t: Float32Array, perExample: number): Float32Array {
  const out = new Float32Array(x0.length);
  for (let i = 0; i < t.length; i++) {
    const ti = t[i];
    const o = i * perExample;
    for (let j = o; j < o + perExample; j++) out[j] = (1 - ti) * x0[j] + ti * eps[j];
  }
  return out;
}

/** The conditional velocity target eps - x0 (the same for every t on a straight path). */
export function flowTarget(x0: Float32Array, eps: Float32Array): Float32Array {
  const out = new Float32Array(x0.length);
  for (let j = 0; j < x0.length; j++) out[j] = eps[j] - x0[j];
  return out;
}

/** Training times: uniform on [0, 1) or logit-normal (sigmoid of N(logitMean, logitStd^2)). */
export function drawFlowTimes(b: number, cfg: FlowConfig, rng: Rng): Float32Array {
  if (cfg.timeSampling === 'uniform') return Float32Array.from({ length: b }, () => rng.uniform());
  return Float32Array.from({ length: b }, () => 1 / (1 + Math.exp(-(cfg.logitMean + cfg.logitStd * rng.normal()))));
}

/** The model's time input: 1000 t, the range of the DDPM timesteps the embedding was made for. */
export function flowTimeInput(t: number): number {
  return 1000 * t;
}
