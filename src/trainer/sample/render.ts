/** Samples a grid from a model's weights with a run's config and encodes it as PNG. */
import type { RunConfig } from '../../core/config/types';
import { sampleConsistency } from '../consistency/sampler';
import type { Dataset } from '../data';
import { sample } from '../diffusion/sampler';
import type { Schedule } from '../diffusion/schedule';
import { sampleFlow } from '../flow/sampler';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import { encodeGrid } from './grid';
import { encodeScatter } from './scatter';

/** For a class-conditional model the grid cycles through the classes. */
export function gridLabels(config: RunConfig, ds: Dataset): Int32Array | null {
  if (!config.model.classConditional) return null;
  return Int32Array.from({ length: config.sampling.count }, (_, i) => i % ds.numClasses);
}

export interface RenderedSamples {
  pixels: Float32Array;
  png: Buffer;
  /** Network evaluations per sample (DDPM: the sampler's steps). */
  nfe: number;
  /** The sampler as it ran, e.g. the adaptive solver's accepted and rejected steps. */
  detail: string;
}

export interface DrawOptions {
  /** Samples to draw (default: the grid's sampling.count). */
  count?: number;
  /** Seed of the starting noise (default: the grid's sampling.seed). */
  seed?: number;
  /** Class labels, one per sample (default: the grid's, cycling through the classes). */
  labels?: Int32Array | null;
}

/** Draws with the sampler of the run's objective (the grid, or other samples such as an evaluation's). */
export async function drawSamples(
  model: Denoiser,
  weights: Weights,
  schedule: Schedule,
  config: RunConfig,
  ds: Dataset,
  o: DrawOptions = {},
): Promise<{ samples: Float32Array; nfe: number; detail: string }> {
  const count = o.count ?? config.sampling.count;
  const common = {
    model,
    weights,
    sampling: { ...config.sampling, seed: o.seed ?? config.sampling.seed },
    count,
    labels: o.labels !== undefined ? o.labels : gridLabels(config, ds),
    nullLabel: ds.numClasses,
    clip: config.sampling.clipDenoised && ds.kind === 'image',
  };
  switch (config.objective) {
    case 'flow':
      return sampleFlow({ ...common, flow: config.flow });
    case 'consistency':
      return sampleConsistency({ ...common, consistency: config.consistency });
    case 'ddpm': {
      const samples = await sample({ ...common, schedule });
      const ddim = config.sampling.sampler === 'ddim';
      const nfe = ddim ? Math.min(config.sampling.steps, schedule.timesteps) : schedule.timesteps;
      return { samples, nfe, detail: ddim ? `ddim, eta ${config.sampling.eta}` : 'ancestral ddpm' };
    }
  }
}

export async function renderSamples(model: Denoiser, weights: Weights, schedule: Schedule, config: RunConfig, ds: Dataset): Promise<RenderedSamples> {
  const { samples: pixels, nfe, detail } = await drawSamples(model, weights, schedule, config, ds);
  const png =
    ds.kind === 'points'
      ? encodeScatter(pixels)
      : encodeGrid(pixels, { count: config.sampling.count, height: ds.height, width: ds.width, channels: ds.channels });
  return { pixels, png, nfe, detail };
}
