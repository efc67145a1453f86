/**
 * Consistency sampling (Song et al. 2023, Algorithm 1): x0 = f(sigmaMax z); for each later level
 * s, x0 = f(x0 + sqrt(s^2 - sigmaMin^2) z', s). onestep uses the first evaluation only.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ConsistencyConfig, SamplingConfig } from '../../core/config/types';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import { Rng } from '../rng';
import { predictNet } from '../sample/predict';
import type { DrawnSamples } from '../flow/sampler';
import { ctScalings, ctTimeInput } from './math';

export interface ConsistencySampleRequest {
  model: Denoiser;
  weights: Weights;
  sampling: SamplingConfig;
  consistency: ConsistencyConfig;
  count: number;
  labels: Int32Array | null;
  nullLabel: number;
  /** Clip every f output to [-1, 1] (pixels only). */
  clip: boolean;
  chunk?: number;
}

/** The noise levels the sampler evaluates f at, the first being sigmaMax. */
export function consistencySampleSigmas(sampler: string, cfg: ConsistencyConfig): number[] {
  if (sampler === 'onestep') return [cfg.sigmaMax];
  if (sampler === 'multistep') return [cfg.sigmaMax, ...cfg.sampleSigmas];
  throw new Error(`sampling.sampler "${sampler}" does not sample a consistency model (use onestep or multistep)`);
}

export async function sampleConsistency(r: ConsistencySampleRequest): Promise<DrawnSamples> {
  const cfg = r.consistency;
  const per = r.model.exampleShape.reduce((a, b) => a * b, 1);
  const chunk = r.chunk ?? 64;
  const levels = consistencySampleSigmas(r.sampling.sampler, cfg);
  const z = new Rng(r.sampling.seed).fillNormal(new Float32Array(r.count * per));
  const stepRng = new Rng((r.sampling.seed ^ 0x5eed) >>> 0);
  const x0 = new Float32Array(r.count * per);
  let x = Float32Array.from(z, (v) => v * cfg.sigmaMax);
  for (let k = 0; k < levels.length; k++) {
    const s = levels[k];
    if (k > 0) {
      const amp = Math.sqrt(s * s - cfg.sigmaMin * cfg.sigmaMin);
      const fresh = stepRng.fillNormal(new Float32Array(x.length));
      x = Float32Array.from(x0, (v, i) => v + amp * fresh[i]);
    }
    const c = ctScalings(s, cfg.sigmaMin, cfg.sigmaData);
    const transform = (xt: tf.Tensor, out: tf.Tensor): tf.Tensor => xt.mul(c.cSkip).add(out.mul(c.cOut));
    for (let start = 0; start < r.count; start += chunk) {
      const n = Math.min(chunk, r.count - start);
      const labels = r.labels ? r.labels.slice(start, start + n) : null;
      const f = await predictNet({ ...r, labels }, x.subarray(start * per, (start + n) * per), n, ctTimeInput(s, cfg.timeScale), transform, c.cIn);
      x0.set(r.clip ? f.map((v) => Math.min(1, Math.max(-1, v))) : f, start * per);
    }
  }
  return { samples: x0, nfe: levels.length, detail: `${r.sampling.sampler} at sigma ${levels.join(', ')}` };
}
