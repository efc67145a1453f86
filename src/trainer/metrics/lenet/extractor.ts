/**
 * The `lenet` FeatureExtractor: the 84-d penultimate activations of the LeNet classifier trained
 * on MNIST by scripts/train-lenet.ts, whose weights ship with the project (media/extractors,
 * copied to dist/extractors by the build). Metrics: fd_lenet, kid_lenet.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { FeatureExtractor } from '../extractor';
import { LENET_FEATURE_DIM, LENET_PARAMS, lenetForward, toLenetInput } from './network';
import { readLenetWeights, type LenetManifest } from './weightsFile';

export const LENET_MANIFEST = 'lenet-mnist.json';

/**
 * The shipped manifest: `extractors/` beside the bundle (dist/), else the repository's
 * media/extractors found from this source file (tsx) or from the working directory.
 */
export function lenetManifestPath(): string {
  const candidates: string[] = [];
  if (typeof __dirname === 'string') {
    candidates.push(join(__dirname, 'extractors', LENET_MANIFEST));
    candidates.push(join(__dirname, '..', '..', '..', '..', 'media', 'extractors', LENET_MANIFEST));
  }
  candidates.push(join(process.cwd(), 'media', 'extractors', LENET_MANIFEST));
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new Error(`lenet extractor: weights manifest ${LENET_MANIFEST} not found; tried ${candidates.join(', ')}`);
  return found;
}

export interface LenetExtractor extends FeatureExtractor {
  readonly manifest: LenetManifest;
  /** The weights as tensors (for accuracy checks); owned by the extractor. */
  readonly weights: Readonly<Record<string, tf.Tensor>>;
}

export function loadLenetExtractor(manifestFile = lenetManifestPath()): LenetExtractor {
  const { manifest, values, sha256 } = readLenetWeights(manifestFile);
  const weights: Record<string, tf.Tensor> = {};
  for (const p of LENET_PARAMS) weights[p.name] = tf.tensor(values.get(p.name) as Float32Array, p.shape);
  return {
    name: 'lenet',
    metricNames: { fd: 'fd_lenet', kid: 'kid_lenet' },
    weightsSha256: sha256,
    dim: LENET_FEATURE_DIM,
    manifest,
    weights,
    async features(images: tf.Tensor4D): Promise<Float32Array> {
      const f = tf.tidy(() => {
        const x = toLenetInput(images);
        return lenetForward(weights, x).features;
      });
      const data = (await f.data()) as Float32Array;
      f.dispose();
      return data;
    },
    dispose(): void {
      tf.dispose(Object.values(weights));
    },
  };
}
