/**
 * The LeNet-5-style classifier behind the `lenet` feature extractor: 28x28 grayscale in [0, 1],
 * conv5x5(1->6, same)/relu/maxpool2, conv5x5(6->16, valid)/relu/maxpool2, fc400->120/relu,
 * fc120->84/relu (the features), fc84->10 (logits). One forward function over a weights map,
 * shared by the training script and the extractor, so both run the same network.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../../rng';

export const LENET_SIDE = 28;
export const LENET_FEATURE_DIM = 84;
export const LENET_CLASSES = 10;

export interface LenetParamSpec {
  name: string;
  shape: number[];
  /** He-normal fan-in for weights, 0 for biases (zeros). */
  fanIn: number;
}

export const LENET_PARAMS: readonly LenetParamSpec[] = [
  { name: 'conv1.w', shape: [5, 5, 1, 6], fanIn: 25 },
  { name: 'conv1.b', shape: [6], fanIn: 0 },
  { name: 'conv2.w', shape: [5, 5, 6, 16], fanIn: 150 },
  { name: 'conv2.b', shape: [16], fanIn: 0 },
  { name: 'fc1.w', shape: [400, 120], fanIn: 400 },
  { name: 'fc1.b', shape: [120], fanIn: 0 },
  { name: 'fc2.w', shape: [120, 84], fanIn: 120 },
  { name: 'fc2.b', shape: [84], fanIn: 0 },
  { name: 'fc3.w', shape: [84, 10], fanIn: 84 },
  { name: 'fc3.b', shape: [10], fanIn: 0 },
];

export type LenetWeights = Readonly<Record<string, tf.Tensor>>;

/** Deterministic He-normal initial values from `seed`. */
export function lenetInitialValues(seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const p of LENET_PARAMS) {
    const v = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (p.fanIn > 0) {
      const std = Math.sqrt(2 / p.fanIn);
      rng.fillNormal(v);
      for (let i = 0; i < v.length; i++) v[i] *= std;
    }
    out.set(p.name, v);
  }
  return out;
}

function w<R extends tf.Rank>(weights: LenetWeights, name: string): tf.Tensor<R> {
  const t = weights[name];
  if (!t) throw new Error(`LeNet weights: missing tensor "${name}"`);
  return t as tf.Tensor<R>;
}

/** Logits and the 84-d features of x (n x 28 x 28 x 1, values in [0, 1]). */
export function lenetForward(weights: LenetWeights, x: tf.Tensor4D): { logits: tf.Tensor2D; features: tf.Tensor2D } {
  return tf.tidy(() => {
    let h = tf.relu(tf.add(tf.conv2d(x, w<tf.Rank.R4>(weights, 'conv1.w'), 1, 'same'), w(weights, 'conv1.b'))) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add(tf.conv2d(h, w<tf.Rank.R4>(weights, 'conv2.w'), 1, 'valid'), w(weights, 'conv2.b'))) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    const flat = tf.reshape(h, [x.shape[0], 400]) as tf.Tensor2D;
    const f1 = tf.relu(tf.add(tf.matMul(flat, w<tf.Rank.R2>(weights, 'fc1.w')), w(weights, 'fc1.b'))) as tf.Tensor2D;
    const features = tf.relu(tf.add(tf.matMul(f1, w<tf.Rank.R2>(weights, 'fc2.w')), w(weights, 'fc2.b'))) as tf.Tensor2D;
    const logits = tf.add(tf.matMul(features, w<tf.Rank.R2>(weights, 'fc3.w')), w(weights, 'fc3.b')) as tf.Tensor2D;
    return { logits, features };
  });
}

/**
 * Brings images (NHWC in [0, 1], 1 or 3 channels, any side) to LeNet's input: RGB to luminance
 * (ITU-R BT.601 weights, as PIL's convert('L')), then a bilinear resize to 28x28 (half-pixel
 * centres) when the side differs.
 */
export function toLenetInput(images: tf.Tensor4D): tf.Tensor4D {
  const [, h, wd, c] = images.shape;
  if (c !== 1 && c !== 3) throw new Error(`LeNet input: expected 1 or 3 channels, found ${c}`);
  return tf.tidy(() => {
    let x = images;
    if (c === 3) x = tf.sum(tf.mul(x, tf.tensor1d([0.299, 0.587, 0.114])), 3, true) as tf.Tensor4D;
    if (h !== LENET_SIDE || wd !== LENET_SIDE) x = tf.image.resizeBilinear(x, [LENET_SIDE, LENET_SIDE], false, true);
    return x === images ? tf.clone(x) : x;
  });
}
