import type * as tf from '@tensorflow/tfjs';
import type { ParamRegistry, Weights } from './params';

export interface DenoiserInput {
  /** Noisy inputs, [B, ...exampleShape]. */
  x: tf.Tensor;
  /** Timestep of each example (as a float, for the embedding). */
  t: Float32Array;
  /** Class of each example (numClasses = "no label"), or null for an unconditional model. */
  labels: Int32Array | null;
  training: boolean;
  /** Seed for dropout masks, so a step is reproducible. */
  seed: number;
  /** Which of a step's network calls this is, for a replayed step's time input (timeParam); 0 when absent. */
  timeSlot?: number;
}

/** A network predicting the noise (epsilon) in x_t. */
export interface Denoiser {
  params: ParamRegistry;
  exampleShape: number[];
  apply(weights: Weights, input: DenoiserInput): tf.Tensor;
}
