/** Draws samples with DDIM or ancestral DDPM, with optional classifier-free guidance. */
import type { SamplingConfig } from '../../core/config/types';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import { Rng } from '../rng';
import { predictNet } from '../sample/predict';
import { ddimTimesteps, type Schedule } from './schedule';
import { ddimUpdate, ddpmUpdate } from './process';

export interface SampleRequest {
  model: Denoiser;
  weights: Weights;
  schedule: Schedule;
  sampling: SamplingConfig;
  count: number;
  /** Class per sample for a conditional model; `nullLabel` is the "no label" class. */
  labels: Int32Array | null;
  nullLabel: number;
  /** Clip predicted clean images to [-1, 1]: right for pixels, wrong for unbounded data (2-D points). */
  clip: boolean;
  /** Samples per forward pass. */
  chunk?: number;
}

function predictEps(r: SampleRequest, x: Float32Array, n: number, t: number): Promise<Float32Array> {
  return predictNet(r, x, n, t);
}

/** Returns count * prod(exampleShape) values; the same request gives the same samples. */
export async function sample(r: SampleRequest): Promise<Float32Array> {
  const per = r.model.exampleShape.reduce((a, b) => a * b, 1);
  const chunk = r.chunk ?? 64;
  const out = new Float32Array(r.count * per);
  const noiseRng = new Rng(r.sampling.seed);
  const x = noiseRng.fillNormal(new Float32Array(r.count * per));
  const stepRng = new Rng((r.sampling.seed ^ 0x5eed) >>> 0);
  for (let start = 0; start < r.count; start += chunk) {
    const n = Math.min(chunk, r.count - start);
    const xs = x.slice(start * per, (start + n) * per);
    const sub: SampleRequest = { ...r, labels: r.labels ? r.labels.slice(start, start + n) : null };
    const needZ = r.sampling.sampler === 'ddpm' || r.sampling.eta > 0;
    if (r.sampling.sampler === 'ddim') {
      const ts = ddimTimesteps(r.schedule.timesteps, r.sampling.steps);
      for (let i = 0; i < ts.length; i++) {
        const eps = await predictEps(sub, xs, n, ts[i]);
        const z = needZ ? stepRng.fillNormal(new Float32Array(xs.length)) : null;
        ddimUpdate(xs, eps, z, {
          alphaBar: r.schedule.alphaBar[ts[i]],
          alphaBarPrev: i + 1 < ts.length ? r.schedule.alphaBar[ts[i + 1]] : 1,
          eta: r.sampling.eta,
          clip: r.clip,
        });
      }
    } else {
      for (let t = r.schedule.timesteps - 1; t >= 0; t--) {
        const eps = await predictEps(sub, xs, n, t);
        const z = stepRng.fillNormal(new Float32Array(xs.length));
        ddpmUpdate(xs, eps, z, t, r.schedule, r.clip);
      }
    }
    out.set(xs, start * per);
  }
  return out;
}
