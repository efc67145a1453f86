/** DDPM (Ho et al. 2020): the network predicts the noise of x_t; the loss is its MSE. */
import * as tf from '@tensorflow/tfjs';
import { qSample } from '../diffusion/process';
import type { Schedule } from '../diffusion/schedule';
import type { Rng } from '../rng';
import { meanSquaredError } from './meanSquaredError';
import type { MicroBatch, MicroLoss, Net, Objective } from './types';

export function ddpmObjective(schedule: Schedule): Objective {
  return {
    name: 'ddpm',
    // One rng.int per example, in order: the draws of every run before objectives existed.
    drawLevels: (b: number, rng: Rng): Float32Array => Float32Array.from({ length: b }, () => rng.int(schedule.timesteps)),
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const n = m.levels.length;
      const per = m.x0.length / n;
      const xt = qSample(m.x0, m.noise, Int32Array.from(m.levels), schedule, per);
      const xtT = tf.tensor(xt, m.shape);
      const epsT = tf.tensor(m.noise, m.shape);
      return {
        loss: () => meanSquaredError(net(xtT, m.levels), epsT),
        dispose: () => tf.dispose([xtT, epsT]),
      };
    },
  };
}
