/**
 * Improved consistency training (Song & Dhariwal 2023): for an interval (sigma_i, sigma_{i+1}) of
 * the current discretisation and one unit noise z (the assigned noise, paired with the image
 * before it is scaled), the loss is lambda(sigma_i) d(f(x0 + sigma_{i+1} z), sg f(x0 + sigma_i z))
 * with the pseudo-Huber d. The teacher sg f is the online network without gradient (no EMA),
 * with the same dropout seed, as in the reference implementation.
 */
import * as tf from '@tensorflow/tfjs';
import type { ConsistencyConfig } from '../../core/config/types';
import { consistencyDenoise } from '../consistency/denoise';
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
  return {
    name: 'consistency',
    drawLevels(b: number, rng: Rng, step: number): Float32Array {
      const { probs } = at(step);
      return Float32Array.from({ length: b }, () => sampleInterval(probs, rng.uniform()));
    },
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const { sigmas } = at(m.step);
      const idx = Array.from(m.levels);
      const lo = idx.map((i) => sigmas[i]);
      const hi = idx.map((i) => sigmas[i + 1]);
      const n = idx.length;
      const per = m.x0.length / n;
      const c = huberC(cfg.hubercScale, per);
      const x0 = tf.tensor(m.x0, m.shape);
      const z = tf.tensor(m.noise, m.shape);
      const bshape = [n, ...m.shape.slice(1).map(() => 1)];
      const xHi = tf.add(x0, tf.mul(z, tf.tensor(Float32Array.from(hi), bshape)));
      // The teacher runs here, outside the gradient tape: a stop-gradient.
      const teacher = tf.tidy(() => consistencyDenoise(net, tf.add(x0, tf.mul(z, tf.tensor(Float32Array.from(lo), bshape))), lo, cfg.sigmaMin, cfg.sigmaData, cfg.timeScale));
      const weights = tf.tensor(Float32Array.from(idx, (_, j) => ctWeight(lo[j], hi[j])));
      return {
        loss: () => {
          const student = consistencyDenoise(net, xHi, hi, cfg.sigmaMin, cfg.sigmaData, cfg.timeScale);
          const sq = tf.sum(tf.reshape(tf.square(tf.sub(student, teacher)), [n, per]), 1);
          const d = tf.sub(tf.sqrt(tf.add(sq, c * c)), c);
          return tf.mean(tf.mul(d, weights)) as tf.Scalar;
        },
        dispose: () => tf.dispose([x0, z, xHi, teacher, weights]),
      };
    },
  };
}
