/**
 * Improved consistency training (Song & Dhariwal 2023): for an interval (sigma_i, sigma_{i+1}) of
 * the current discretisation and one unit noise z (the assigned noise, paired with the image
 * before it is scaled), the loss is lambda(sigma_i) d(f(x0 + sigma_{i+1} z), sg f(x0 + sigma_i z))
 * with the pseudo-Huber d. The teacher sg f is the online network without gradient (no EMA),
 * with the same dropout seed, as in the reference implementation.
 */
import * as tf from '@tensorflow/tfjs';
import type { ConsistencyConfig } from '../../core/config/types';
import { REPLAY_PARAMS, tagUpload } from '../backend/webgpuCapture';
import { consistencyDenoise, consistencyTimeInput } from '../consistency/denoise';
import { ctPoints, ctWeight, huberC, karrasSigmas, lognormalIntervalProbs, sampleInterval } from '../consistency/math';
import type { Rng } from '../rng';
import type { MicroBatch, MicroLoss, Net, Objective } from './types';

interface Discretisation {
  sigmas: Float64Array;
  probs: Float64Array;
}

export function consistencyObjective(cfg: ConsistencyConfig, totalSteps: number): Objective {
  const cache = new Map<number, Discretisation>();
  const at = (step: number): Discretisation => {
    const n = ctPoints(step, totalSteps, cfg.s0, cfg.s1);
    let d = cache.get(n);
    if (!d) {
      const sigmas = karrasSigmas(n, cfg.sigmaMin, cfg.sigmaMax, cfg.rho);
      d = { sigmas, probs: lognormalIntervalProbs(sigmas, cfg.pMean, cfg.pStd) };
      cache.set(n, d);
    }
    return d;
  };
  /** Each example's interval (sigma_i, sigma_{i+1}) at the micro-batch's step. */
  const interval = (m: MicroBatch): { lo: number[]; hi: number[] } => {
    const { sigmas } = at(m.step);
    const idx = Array.from(m.levels);
    return { lo: idx.map((i) => sigmas[i]), hi: idx.map((i) => sigmas[i + 1]) };
  };
  const weightsOf = (lo: number[], hi: number[]): Float32Array => Float32Array.from(lo, (l, j) => ctWeight(l, hi[j]));
  return {
    name: 'consistency',
    drawLevels(b: number, rng: Rng, step: number): Float32Array {
      const { probs } = at(step);
      return Float32Array.from({ length: b }, () => sampleInterval(probs, rng.uniform()));
    },
    replayTimes(m: MicroBatch): Float32Array[] {
      const { lo, hi } = interval(m);
      return [consistencyTimeInput(lo, cfg.timeScale), consistencyTimeInput(hi, cfg.timeScale)];
    },
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const { lo, hi } = interval(m);
      const n = lo.length;
      const per = m.x0.length / n;
      const c = huberC(cfg.hubercScale, per);
      const bshape = [n, ...m.shape.slice(1).map(() => 1)];
      // Every upload is tagged for a replayed step (webgpuReplay.ts), which makes it from its
      // micro-batch; the teacher is the network's call 0, the student its call 1.
      const upload = (values: Float32Array, shape: number[], of: (b: MicroBatch) => Float32Array): tf.Tensor =>
        tagUpload(tf.tensor(values, shape), { param: REPLAY_PARAMS.batch, encode: (b) => of(b as MicroBatch) });
      const x0 = upload(m.x0, m.shape, (b) => b.x0);
      const z = upload(m.noise, m.shape, (b) => b.noise);
      const loT = upload(Float32Array.from(lo), bshape, (b) => Float32Array.from(interval(b).lo));
      const hiT = upload(Float32Array.from(hi), bshape, (b) => Float32Array.from(interval(b).hi));
      const weights = upload(weightsOf(lo, hi), [n], (b) => {
        const i = interval(b);
        return weightsOf(i.lo, i.hi);
      });
      const xHi = tf.add(x0, tf.mul(z, hiT));
      const denoise = (x: tf.Tensor, sigmas: number[], slot: number, of: (b: MicroBatch) => number[]): tf.Tensor =>
        consistencyDenoise(net, x, sigmas, cfg.sigmaMin, cfg.sigmaData, cfg.timeScale, { slot, sigmas: (b) => of(b as MicroBatch) });
      // The teacher runs here, outside the gradient tape: a stop-gradient.
      const teacher = tf.tidy(() => denoise(tf.add(x0, tf.mul(z, loT)), lo, 0, (b) => interval(b).lo));
      return {
        loss: () => {
          const student = denoise(xHi, hi, 1, (b) => interval(b).hi);
          const sq = tf.sum(tf.reshape(tf.square(tf.sub(student, teacher)), [n, per]), 1);
          const d = tf.sub(tf.sqrt(tf.add(sq, c * c)), c);
          return tf.mean(tf.mul(d, weights)) as tf.Scalar;
        },
        dispose: () => tf.dispose([x0, z, loT, hiT, xHi, teacher, weights]),
      };
    },
  };
}
