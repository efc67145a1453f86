/**
 * The mean squared error of a prediction, with its gradient 2 (p - t) dy / n written out: tfjs's
 * autodiff of mean(square(p - t)) builds a ones tensor the size of the batch and two scalars on
 * the CPU each step, each one an upload on the GPU; this makes one scalar, from the CPU's dy.
 */
import * as tf from '@tensorflow/tfjs';

const mseOfDifference = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const d = args[0] as tf.Tensor;
  const save = args[1] as tf.GradSaveFunc;
  save([d]);
  return {
    value: tf.mean(tf.square(d)),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0], tf.mul(dy, 2 / saved[0].size)),
  };
});

export function meanSquaredError(prediction: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return mseOfDifference(tf.sub(prediction, target)) as tf.Scalar;
}
