/** Samples a grid from a model's weights with a run's config and encodes it as PNG. */
import type { RunConfig } from '../../core/config/types';
import type { Dataset } from '../data';
import { sample } from '../diffusion/sampler';
import type { Schedule } from '../diffusion/schedule';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import { encodeGrid } from './grid';
import { encodeScatter } from './scatter';

/** For a class-conditional model the grid cycles through the classes. */
export function gridLabels(config: RunConfig, ds: Dataset): Int32Array | null {
  if (!config.model.classConditional) return null;
  return Int32Array.from({ length: config.sampling.count }, (_, i) => i % ds.numClasses);
}

export async function renderSamples(
  model: Denoiser,
  weights: Weights,
  schedule: Schedule,
  config: RunConfig,
  ds: Dataset,
): Promise<{ pixels: Float32Array; png: Buffer }> {
  const pixels = await sample({
    model,
    weights,
    schedule,
    sampling: config.sampling,
    count: config.sampling.count,
    labels: gridLabels(config, ds),
    nullLabel: ds.numClasses,
    clip: config.sampling.clipDenoised && ds.kind === 'image',
  });
  const png =
    ds.kind === 'points'
      ? encodeScatter(pixels)
      : encodeGrid(pixels, { count: config.sampling.count, height: ds.height, width: ds.width, channels: ds.channels });
  return { pixels, png };
}
