/**
 * Philox normal vectors as a tensor on the compute backend: made there by the backend's kernel
 * where it has one (webgpu: PHILOX_NORMAL_WGSL, so a GPU's draws never cross the bus), else here
 * by the reference and uploaded. The values are the same up to how the GPU rounds log, sqrt,
 * sin and cos.
 */
import * as tf from '@tensorflow/tfjs';
import { philoxVectors, type PhiloxStream } from './philox';

/** The kernel's name: no inputs; attrs PhiloxNormalAttrs; out [count, d] float32. */
export const PHILOX_NORMAL = 'ImmisciblePhiloxNormal';

export interface PhiloxNormalAttrs {
  key0: number;
  key1: number;
  c1: number;
  c2: number;
  first: number;
  count: number;
  d: number;
}

/** Vectors first .. first + count - 1 of `stream` (philoxVectors), as a [count, d] tensor. */
export function philoxNormalTensor(stream: PhiloxStream, first: number, count: number, d: number): tf.Tensor2D {
  if (tf.getKernel(PHILOX_NORMAL, tf.getBackend())) {
    const attrs: PhiloxNormalAttrs = { key0: stream.key[0], key1: stream.key[1], c1: stream.c1, c2: stream.c2, first, count, d };
    return tf.engine().runKernel(PHILOX_NORMAL, {}, attrs as unknown as tf.NamedAttrMap) as tf.Tensor2D;
  }
  return tf.tensor2d(philoxVectors(stream, first, count, d, new Float32Array(count * d)), [count, d]);
}
