/** Features of images held as [-1, 1] NHWC pixels (data sets, samples), in batches. */
import * as tf from '@tensorflow/tfjs';
import type { FeatureExtractor } from './extractor';

export const FEATURE_BATCH = 250;

/** Calls `onBatch` with each batch's features (rows x extractor.dim), in order. */
export async function imageFeatures(
  extractor: FeatureExtractor,
  pixels: Float32Array,
  count: number,
  shape: [number, number, number],
  onBatch: (features: Float32Array) => void,
  batch = FEATURE_BATCH,
): Promise<void> {
  const per = shape[0] * shape[1] * shape[2];
  if (pixels.length < count * per) throw new RangeError(`imageFeatures: ${count} images of ${shape.join('x')} need ${count * per} values, got ${pixels.length}`);
  for (let s = 0; s < count; s += batch) {
    const m = Math.min(batch, count - s);
    const x = tf.tidy(() => tf.clipByValue(tf.div(tf.add(tf.tensor4d(pixels.subarray(s * per, (s + m) * per), [m, ...shape]), 1), 2), 0, 1) as tf.Tensor4D);
    try {
      onBatch(await extractor.features(x));
    } finally {
      x.dispose();
    }
  }
}
