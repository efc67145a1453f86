/** Classification accuracy of LeNet weights on a labelled 28x28 data set (the MNIST test split). */
import * as tf from '@tensorflow/tfjs';
import type { ImageDataset } from '../../data/types';
import { lenetForward, type LenetWeights } from './network';

/** Data-set pixels in [-1, 1] to LeNet's [0, 1]. */
export function mnistUnit(pixels: Float32Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] + 1) / 2;
  return out;
}

/** Accuracy over the first `limit` examples (0 = all) of a 28x28x1 labelled data set. */
export async function lenetAccuracy(weights: LenetWeights, ds: ImageDataset, limit = 0, batch = 500): Promise<{ accuracy: number; count: number }> {
  if (ds.height !== 28 || ds.width !== 28 || ds.channels !== 1 || !ds.labels) throw new Error(`${ds.description}: expected labelled 28x28x1 images`);
  const n = limit > 0 ? Math.min(limit, ds.count) : ds.count;
  const per = 28 * 28;
  let correct = 0;
  for (let s = 0; s < n; s += batch) {
    const m = Math.min(batch, n - s);
    const pred = tf.tidy(() => {
      const x = tf.tensor4d(mnistUnit(ds.pixels.subarray(s * per, (s + m) * per)), [m, 28, 28, 1]);
      return tf.argMax(lenetForward(weights, x).logits, 1);
    });
    const p = await pred.data();
    pred.dispose();
    for (let i = 0; i < m; i++) if (p[i] === ds.labels[s + i]) correct++;
  }
  return { accuracy: correct / n, count: n };
}
