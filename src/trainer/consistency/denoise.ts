/** The consistency function f(x, sigma) = cSkip x + cOut F(cIn x, cNoise) on tensors. */
import * as tf from '@tensorflow/tfjs';
import { ctScalings, ctTimeInput } from './math';

/** Per-example sigma; `net` is the raw network F(input, time input). */
export function consistencyDenoise(
  net: (x: tf.Tensor, t: Float32Array) => tf.Tensor,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  sigmaMin: number,
  sigmaData: number,
  timeScale: number,
): tf.Tensor {
  const n = sigmas.length;
  const bshape = [n, ...x.shape.slice(1).map(() => 1)];
  const sc = Array.from(sigmas, (s) => ctScalings(s, sigmaMin, sigmaData));
  const col = (f: (c: (typeof sc)[number]) => number): tf.Tensor => tf.tensor(Float32Array.from(sc, f), bshape);
  const tIn = Float32Array.from(sigmas, (s) => ctTimeInput(s, timeScale));
  const out = net(tf.mul(x, col((c) => c.cIn)), tIn);
  return tf.add(tf.mul(x, col((c) => c.cSkip)), tf.mul(out, col((c) => c.cOut)));
}
