/**
 * Evaluates a model's samples against its data set: M samples drawn with the run's sampler from
 * fixed noise (evaluation.seed), features from the configured extractor, Frechet distance to the
 * cached reference statistics and, with evaluation.kid, KID against reference features.
 */
import type { RunConfig } from '../../core/config/types';
import type { EvalLine } from '../../core/run/format';
import type { ImageDataset } from '../data/types';
import { drawSamples } from '../sample/render';
import type { Schedule } from '../diffusion/schedule';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';
import type { FeatureExtractor } from '../metrics/extractor';
import { loadExtractor } from '../metrics/extractors';
import { imageFeatures } from '../metrics/features';
import { frechetDistance } from '../metrics/frechet';
import { kernelInceptionDistance } from '../metrics/kid';
import { referenceStats } from '../metrics/refStats';
import { FeatureStats } from '../metrics/stats';

export interface EvaluatorOptions {
  config: RunConfig;
  ds: ImageDataset;
  /** Overrides of the config (immiscible eval --n / --extractor). */
  samples?: number;
  extractor?: string;
  log?: (message: string) => void;
}

export class Evaluator {
  private refFeatures: { x: Float32Array; n: number } | null = null;

  private constructor(
    private readonly config: RunConfig,
    private readonly ds: ImageDataset,
    readonly extractor: FeatureExtractor,
    private readonly ref: FeatureStats,
    readonly samples: number,
    readonly referenceSamples: number,
  ) {}

  static async create(o: EvaluatorOptions): Promise<Evaluator> {
    const ev = o.config.evaluation;
    const extractor = await loadExtractor(o.extractor ?? ev.extractor, { inceptionWeights: ev.inceptionWeights });
    try {
      const t0 = performance.now();
      const r = await referenceStats(o.ds, o.config.data, extractor, ev.referenceSamples);
      if (r.problem) o.log?.(`reference statistics cache: ${r.problem}`);
      o.log?.(
        r.cached
          ? `reference statistics (${extractor.name}, ${r.stats.count} images) from ${r.file}`
          : `reference statistics (${extractor.name}, ${r.stats.count} images) computed in ${((performance.now() - t0) / 1000).toFixed(1)} s, cached in ${r.file}`,
      );
      return new Evaluator(o.config, o.ds, extractor, r.stats, o.samples ?? ev.samples, r.stats.count);
    } catch (e) {
      extractor.dispose();
      throw e;
    }
  }

  private shape(): [number, number, number] {
    return [this.ds.height, this.ds.width, this.ds.channels];
  }

  private async features(pixels: Float32Array, count: number): Promise<Float32Array> {
    const out = new Float32Array(count * this.extractor.dim);
    let row = 0;
    await imageFeatures(this.extractor, pixels, count, this.shape(), (f) => {
      out.set(f, row * this.extractor.dim);
      row += f.length / this.extractor.dim;
    });
    return out;
  }

  /** The metric lines of one evaluation of `weights` at `step`. */
  async evaluate(model: Denoiser, weights: Weights, schedule: Schedule, step: number): Promise<EvalLine[]> {
    const t0 = performance.now();
    const { config, ds, extractor } = this;
    const ev = config.evaluation;
    const m = this.samples;
    const labels = config.model.classConditional ? Int32Array.from({ length: m }, (_, i) => i % ds.numClasses) : null;
    const { samples: pixels, nfe } = await drawSamples(model, weights, schedule, config, ds, { count: m, seed: ev.seed, labels });
    const feats = await this.features(pixels, m);
    const stats = new FeatureStats(extractor.dim).add(feats, m);
    const d = extractor.dim;
    const fd = frechetDistance(stats.mean(), stats.covariance(), this.ref.mean(), this.ref.covariance(), d);
    const values: { metric: string; value: number; std?: number }[] = [{ metric: extractor.metricNames.fd, value: fd }];
    if (ev.kid) {
      if (!this.refFeatures) {
        const n = Math.min(this.referenceSamples, ds.count);
        const per = ds.height * ds.width * ds.channels;
        this.refFeatures = { x: await this.features(ds.pixels.subarray(0, n * per), n), n };
      }
      const k = kernelInceptionDistance(feats, m, this.refFeatures.x, this.refFeatures.n, d, { seed: ev.seed });
      values.push({ metric: extractor.metricNames.kid, value: k.mean, std: k.std });
    }
    const seconds = (performance.now() - t0) / 1000;
    const time = new Date().toISOString();
    return values.map((v) => ({
      step,
      metric: v.metric,
      value: v.value,
      ...(v.std !== undefined && { std: v.std }),
      extractor: extractor.name,
      weightsSha256: extractor.weightsSha256,
      samples: m,
      referenceSamples: this.referenceSamples,
      sampler: config.sampling.sampler,
      samplerSteps: nfe,
      seconds,
      time,
    }));
  }

  dispose(): void {
    this.extractor.dispose();
  }
}
