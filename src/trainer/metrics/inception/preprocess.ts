/**
 * pytorch-fid's input pipeline inside InceptionV3.forward, for images in [0, 1]:
 * F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False) (no antialiasing, also
 * when shrinking), then 2x - 1. Grayscale images become RGB by repeating the channel, as PIL's
 * convert('RGB') does in pytorch-fid's image loader.
 *
 * torch's align_corners=False reads, for output index o, source coordinate
 * s = max(0, (o + 0.5) * in / out - 0.5) and blends pixels floor(s) and min(floor(s) + 1, in - 1)
 * with weights 1 - (s - floor(s)) and s - floor(s). tf.image.resizeBilinear with
 * halfPixelCenters=true is the same formula (the tests check both against torch's values), but it
 * computes s in float32: near s = 300 one float32 ulp is 3e-5 of a pixel, and those position
 * errors, times the image's gradients, became 3x the network's own float32 error in pool3 (measured
 * against torch in float64). So we compute the taps and weights here in float64, round each weight
 * once to float32, and apply them as two separable gathers: every output is w0*a + w1*b, a few
 * float32 roundings from exact. The cost is linear in the output, small next to the network.
 */
import * as tf from '@tensorflow/tfjs';
import { INCEPTION_INPUT_SIZE } from './network';

export interface BilinearTaps {
  /** First source index per output index. */
  readonly i0: Int32Array;
  /** Second source index (clamped to the last pixel). */
  readonly i1: Int32Array;
  readonly w0: Float32Array;
  readonly w1: Float32Array;
}

/** torch's bilinear, align_corners=False, along one axis of `inSize` resized to `outSize`. */
export function bilinearTaps(inSize: number, outSize: number): BilinearTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w0 = new Float32Array(outSize);
  const w1 = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const s = Math.max(0, (o + 0.5) * scale - 0.5);
    const f = Math.min(Math.floor(s), inSize - 1);
    const l = s - f;
    i0[o] = f;
    i1[o] = Math.min(f + 1, inSize - 1);
    w0[o] = 1 - l;
    w1[o] = l;
  }
  return { i0, i1, w0, w1 };
}

function resizeAxis(x: tf.Tensor4D, axis: 1 | 2, outSize: number): tf.Tensor4D {
  const inSize = x.shape[axis];
  if (inSize === outSize) return x; // s = o exactly: the identity
  const t = bilinearTaps(inSize, outSize);
  const shape: [number, number, number, number] = axis === 1 ? [1, outSize, 1, 1] : [1, 1, outSize, 1];
  return tf.tidy(() => {
    const a = tf.gather(x, tf.tensor1d(t.i0, 'int32'), axis);
    const b = tf.gather(x, tf.tensor1d(t.i1, 'int32'), axis);
    return tf.add(tf.mul(a, tf.tensor4d(t.w0, shape)), tf.mul(b, tf.tensor4d(t.w1, shape)));
  });
}

/**
 * Bilinear resize of NHWC images to height x width as torch's align_corners=False (no
 * antialiasing). Returns `images` itself when it already has that size.
 */
export function bilinearResize(images: tf.Tensor4D, height: number, width: number): tf.Tensor4D {
  return tf.tidy(() => resizeAxis(resizeAxis(images, 1, height), 2, width));
}

/** The resize to Inception's 299 x 299 input. */
export function fidResize(images: tf.Tensor4D): tf.Tensor4D {
  return bilinearResize(images, INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE);
}

/** NHWC in [0, 1] with 1 or 3 channels -> NHWC 299 x 299 x 3 in [-1, 1]. */
export function fidPreprocess(images: tf.Tensor4D): tf.Tensor4D {
  const c = images.shape[3];
  if (c !== 1 && c !== 3) throw new Error(`Inception features need 1 or 3 channels, got ${c} (shape [${images.shape.join(', ')}])`);
  return tf.tidy(() => {
    // Resize before widening to RGB (a third of the work; the channels are equal either way) and
    // before scaling, in pytorch-fid's order (the two commute up to float rounding).
    const resized = fidResize(images);
    const rgb = c === 1 ? tf.tile(resized, [1, 1, 1, 3]) : resized;
    return rgb.mul(2).sub(1);
  });
}
