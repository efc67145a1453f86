/**
 * What distinguishes the model families in training: how each example's noise level is drawn
 * and what the network is trained to output. The loop, the data, the assignment, the metrics and
 * the run directory are shared.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ObjectiveName } from '../../core/config/types';
import type { Rng } from '../rng';

/**
 * The network with this step's weights, labels and dropout seed: (input, time input) -> output.
 * `timeSlot` numbers a step's calls when it makes more than one (see replayTimes).
 */
export type Net = (x: tf.Tensor, t: Float32Array, timeSlot?: number) => tf.Tensor;

/** One micro-batch's clean examples, its assigned unit noise and its levels, as flat arrays. */
export interface MicroBatch {
  x0: Float32Array;
  noise: Float32Array;
  levels: Float32Array;
  /** [examples, ...exampleShape] */
  shape: number[];
  /** The 0-based training step this batch trains. */
  step: number;
}

export interface MicroLoss {
  /** The loss, run inside the gradient tape. */
  loss: () => tf.Scalar;
  /** Frees tensors made outside the tape (inputs, targets, a teacher's output). */
  dispose: () => void;
}

export interface Objective {
  readonly name: ObjectiveName;
  /**
   * Each example's noise level for training step `step` (0-based), drawn from rng: DDPM
   * timesteps, flow times, or the index of a consistency-training interval.
   */
  drawLevels(b: number, rng: Rng, step: number): Float32Array;
  /** Builds a micro-batch's loss; work outside the returned closure is not differentiated. */
  microLoss(m: MicroBatch, net: Net): MicroLoss;
  /**
   * The time inputs microLoss gives the network for `m`, one per call, by its `timeSlot` (0 when
   * not given), where every upload microLoss makes is tagged for a replayed step
   * (webgpuReplay.ts: made anew from `m`); absent where its step cannot be replayed.
   */
  replayTimes?(m: MicroBatch): Float32Array[];
}
