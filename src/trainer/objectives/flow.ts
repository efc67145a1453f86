/**
 * Flow matching with straight paths: x_t = (1 - t) x0 + t eps, the network predicts the velocity
 * eps - x0 and the loss is its MSE. With immiscible or OT pairing, eps is the assigned noise.
 */
import * as tf from '@tensorflow/tfjs';
import type { FlowConfig } from '../../core/config/types';
import { drawFlowTimes, flowInterpolate, flowTarget, flowTimeInput } from '../flow/path';
import type { Rng } from '../rng';
import { meanSquaredError } from './meanSquaredError';
import type { MicroBatch, MicroLoss, Net, Objective } from './types';

export function flowObjective(cfg: FlowConfig): Objective {
  return {
    name: 'flow',
    drawLevels: (b: number, rng: Rng): Float32Array => drawFlowTimes(b, cfg, rng),
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const n = m.levels.length;
      const xtT = tf.tensor(flowInterpolate(m.x0, m.noise, m.levels, m.x0.length / n), m.shape);
      const vT = tf.tensor(flowTarget(m.x0, m.noise), m.shape);
      const tIn = m.levels.map(flowTimeInput);
      return {
        loss: () => meanSquaredError(net(xtT, tIn), vT),
        dispose: () => tf.dispose([xtT, vT]),
      };
    },
  };
}
