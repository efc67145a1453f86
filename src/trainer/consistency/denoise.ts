/** The consistency function f(x, sigma) = cSkip x + cOut F(cIn x, cNoise) on tensors. */
import * as tf from '@tensorflow/tfjs';
import { REPLAY_PARAMS, tagUpload } from '../backend/webgpuCapture';
import { ctScalings, ctTimeInput } from './math';

/** The network's time input for each sigma. */
export function consistencyTimeInput(sigmas: ArrayLike<number>, timeScale: number): Float32Array {
  return Float32Array.from(sigmas, (s) => ctTimeInput(s, timeScale));
}

/**
 * In a training step that can be replayed (webgpuReplay.ts): which of the step's network calls
 * this is, and the sigmas a replay's micro-batch gives it (its scalings are made anew from them).
 */
export interface DenoiseReplay {
  slot: number;
  sigmas: (batch: unknown) => ArrayLike<number>;
}

/** Per-example sigma; `net` is the raw network F(input, time input[, call slot]). */
export function consistencyDenoise(
  net: (x: tf.Tensor, t: Float32Array, timeSlot?: number) => tf.Tensor,
  x: tf.Tensor,
  sigmas: ArrayLike<number>,
  sigmaMin: number,
  sigmaData: number,
  timeScale: number,
  replay?: DenoiseReplay,
): tf.Tensor {
  const n = sigmas.length;
  const bshape = [n, ...x.shape.slice(1).map(() => 1)];
  type Scalings = ReturnType<typeof ctScalings>;
  const values = (s: ArrayLike<number>, f: (c: Scalings) => number): Float32Array => Float32Array.from(s, (v) => f(ctScalings(v, sigmaMin, sigmaData)));
  const col = (f: (c: Scalings) => number): tf.Tensor => {
    const t = tf.tensor(values(sigmas, f), bshape);
    return replay ? tagUpload(t, { param: REPLAY_PARAMS.batch, encode: (b) => values(replay.sigmas(b), f) }) : t;
  };
  const out = net(tf.mul(x, col((c) => c.cIn)), consistencyTimeInput(sigmas, timeScale), replay?.slot);
  return tf.add(tf.mul(x, col((c) => c.cSkip)), tf.mul(out, col((c) => c.cOut)));
}
