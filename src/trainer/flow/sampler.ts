/**
 * Samples a flow model by integrating dx/dt = v(x, t) from noise at t = 1 to data at t = 0 with
 * Euler (sampling.steps steps) or adaptive Dormand-Prince (flow.atol, flow.rtol). The whole grid
 * is one ODE state, so the adaptive solver's steps and NFE are those of the grid.
 */
import type { FlowConfig, SamplingConfig } from '../../core/config/types';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import { Rng } from '../rng';
import { predictNet } from '../sample/predict';
import { dopri5Solve, eulerSolve, type OdeResult, type Velocity } from './ode';
import { flowTimeInput } from './path';

export interface FlowSampleRequest {
  model: Denoiser;
  weights: Weights;
  sampling: SamplingConfig;
  flow: FlowConfig;
  count: number;
  labels: Int32Array | null;
  nullLabel: number;
  /** Clip the final samples to [-1, 1] (pixels only). */
  clip: boolean;
  chunk?: number;
}

export interface DrawnSamples {
  samples: Float32Array;
  /** Network evaluations per sample (guidance doubles the passes, not this count). */
  nfe: number;
  /** How the sampler ran, for the log. */
  detail: string;
}

export async function sampleFlow(r: FlowSampleRequest): Promise<DrawnSamples> {
  const per = r.model.exampleShape.reduce((a, b) => a * b, 1);
  const chunk = r.chunk ?? 64;
  const x1 = Float64Array.from(new Rng(r.sampling.seed).fillNormal(new Float32Array(r.count * per)));
  const velocity: Velocity = async (t, y) => {
    const v = new Float32Array(y.length);
    for (let start = 0; start < r.count; start += chunk) {
      const n = Math.min(chunk, r.count - start);
      const xs = Float32Array.from(y.subarray(start * per, (start + n) * per));
      const labels = r.labels ? r.labels.slice(start, start + n) : null;
      v.set(await predictNet({ ...r, labels }, xs, n, flowTimeInput(t)), start * per);
    }
    return v;
  };
  let res: OdeResult;
  if (r.sampling.sampler === 'euler') res = await eulerSolve(velocity, x1, 1, 0, r.sampling.steps);
  else if (r.sampling.sampler === 'dopri5') res = await dopri5Solve(velocity, x1, 1, 0, { atol: r.flow.atol, rtol: r.flow.rtol });
  else throw new Error(`sampling.sampler "${r.sampling.sampler}" does not sample a flow model (use euler or dopri5)`);
  const samples = Float32Array.from(res.y, (v) => (r.clip ? Math.min(1, Math.max(-1, v)) : v));
  const detail =
    r.sampling.sampler === 'euler'
      ? `euler, ${res.nfe} steps`
      : `dopri5 (atol ${r.flow.atol}, rtol ${r.flow.rtol}): ${res.steps} steps accepted, ${res.rejected} rejected`;
  return { samples, nfe: res.nfe, detail };
}
