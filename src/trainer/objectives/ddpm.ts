/** DDPM (Ho et al. 2020): the network predicts the noise of x_t; the loss is its MSE. */
import * as tf from '@tensorflow/tfjs';
import { REPLAY_PARAMS, tagUpload } from '../backend/webgpuCapture';
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
    replayTimes: (m: MicroBatch): Float32Array[] => [m.levels],
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const xt = (b: MicroBatch): Float32Array => qSample(b.x0, b.noise, Int32Array.from(b.levels), schedule, b.x0.length / b.levels.length);
      // Tagged for a replayed step (webgpuReplay.ts), which makes them from its micro-batch.
      const xtT = tagUpload(tf.tensor(xt(m), m.shape), { param: REPLAY_PARAMS.batch, encode: (b) => xt(b as MicroBatch) });
      const epsT = tagUpload(tf.tensor(m.noise, m.shape), { param: REPLAY_PARAMS.batch, encode: (b) => (b as MicroBatch).noise });
      return {
        loss: () => meanSquaredError(net(xtT, m.levels), epsT),
        dispose: () => tf.dispose([xtT, epsT]),
      };
    },
  };
}
