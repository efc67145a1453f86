/** One network evaluation over a chunk of samples, with optional classifier-free guidance. */
import * as tf from '@tensorflow/tfjs';
import type { SamplingConfig } from '../../core/config/types';
import type { Denoiser } from '../model/denoiser';
import type { Weights } from '../model/params';

export interface NetRequest {
  model: Denoiser;
  weights: Weights;
  sampling: SamplingConfig;
  /** Class per sample of this chunk for a conditional model; `nullLabel` is the "no label" class. */
  labels: Int32Array | null;
  nullLabel: number;
}

/**
 * The network's output for n examples x at time input tIn (the same for all). `transform`, when
 * given, maps the input and the raw output inside the same tidy (the consistency scalings).
 */
export async function predictNet(
  r: NetRequest,
  x: Float32Array,
  n: number,
  tIn: number,
  transform?: (x: tf.Tensor, out: tf.Tensor) => tf.Tensor,
  inputScale = 1,
): Promise<Float32Array> {
  const shape = [n, ...r.model.exampleShape];
  const tArr = new Float32Array(n).fill(tIn);
  const guided = r.labels !== null && r.sampling.guidanceScale !== 1;
  const out = tf.tidy(() => {
    const xt = tf.tensor(x, shape);
    const xin = inputScale === 1 ? xt : tf.mul(xt, inputScale);
    const cond = r.model.apply(r.weights, { x: xin, t: tArr, labels: r.labels, training: false, seed: 0 });
    let raw = cond;
    if (guided) {
      const uncond = r.model.apply(r.weights, { x: xin, t: tArr, labels: new Int32Array(n).fill(r.nullLabel), training: false, seed: 0 });
      raw = tf.add(uncond, tf.mul(tf.sub(cond, uncond), r.sampling.guidanceScale));
    }
    return transform ? transform(xt, raw) : raw;
  });
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}
