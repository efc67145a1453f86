/**
 * Flow matching with straight paths: x_t = (1 - t) x0 + t eps, the network predicts the velocity
 * eps - x0 and the loss is its MSE. With immiscible or OT pairing, eps is the assigned noise.
 */
import * as tf from '@tensorflow/tfjs';
import type { FlowConfig } from '../../core/config/types';
import { REPLAY_PARAMS, tagUpload } from '../backend/webgpuCapture';
import { drawFlowTimes, flowInterpolate, flowTarget, flowTimeInput } from '../flow/path';
import type { Rng } from '../rng';
import { meanSquaredError } from './meanSquaredError';
import type { MicroBatch, MicroLoss, Net, Objective } from './types';

export function flowObjective(cfg: FlowConfig): Objective {
  return {
    name: 'flow',
    drawLevels: (b: number, rng: Rng): Float32Array => drawFlowTimes(b, cfg, rng),
    replayTimes: (m: MicroBatch): Float32Array[] => [m.levels.map(flowTimeInput)],
    microLoss(m: MicroBatch, net: Net): MicroLoss {
      const xt = (b: MicroBatch): Float32Array => flowInterpolate(b.x0, b.noise, b.levels, b.x0.length / b.levels.length);
      // Tagged for a replayed step (webgpuReplay.ts), which makes them from its micro-batch.
      const xtT = tagUpload(tf.tensor(xt(m), m.shape), { param: REPLAY_PARAMS.batch, encode: (b) => xt(b as MicroBatch) });
      const vT = tagUpload(tf.tensor(flowTarget(m.x0, m.noise), m.shape), { param: REPLAY_PARAMS.batch, encode: (b) => flowTarget((b as MicroBatch).x0, (b as MicroBatch).noise) });
      const tIn = m.levels.map(flowTimeInput);
      return {
        loss: () => meanSquaredError(net(xtT, tIn), vT),
        dispose: () => tf.dispose([xtT, vT]),
      };
    },
  };
}
