import * as tf from '@tensorflow/tfjs';
import { EMA_UPDATE } from '../backend/nativeKernels';

/** Effective EMA decay at update n: min(max, (1 + n) / (10 + n)), so early weights fade fast. */
export function emaDecay(n: number, max: number): number {
  return Math.min(max, (1 + n) / (10 + n));
}

export function newEma(params: Map<string, tf.Variable>): Map<string, tf.Variable> {
  return new Map([...params].map(([k, p]) => [k, tf.tidy(() => tf.variable(p.clone(), false))]));
}

export function updateEma(ema: Map<string, tf.Variable>, params: Map<string, tf.Variable>, decay: number): void {
  // One kernel per tensor where the backend has it (webgpu), instead of three and two uploads.
  const fused = tf.getKernel(EMA_UPDATE, tf.getBackend()) != null;
  tf.tidy(() => {
    for (const [k, e] of ema) {
      const p = params.get(k) as tf.Variable;
      if (fused) e.assign(tf.engine().runKernel(EMA_UPDATE, { ema: e, param: p }, { decay }) as tf.Tensor);
      else e.assign(tf.add(tf.mul(e, decay), tf.mul(p, 1 - decay)));
    }
  });
}
