/**
 * pytorch-fid's input pipeline inside InceptionV3.forward, for images in [0, 1]:
 * F.interpolate(x, size=(299, 299), mode='bilinear', align_corners=False) (no antialiasing, also
 * when shrinking), then 2x - 1. Grayscale images become RGB by repeating the channel, as PIL's
 * convert('RGB') does in pytorch-fid's image loader.
 *
 * torch's align_corners=False samples source coordinate (dst + 0.5) * in / out - 0.5, clamped at 0,
 * between floor and min(floor + 1, in - 1): exactly tf.image.resizeBilinear with
 * halfPixelCenters=true (the resize test checks this against torch's own values).
 */
import * as tf from '@tensorflow/tfjs';
import { INCEPTION_INPUT_SIZE } from './network';

export function fidResize(images: tf.Tensor4D): tf.Tensor4D {
  return tf.image.resizeBilinear(images, [INCEPTION_INPUT_SIZE, INCEPTION_INPUT_SIZE], false, true);
}

/** NHWC in [0, 1] with 1 or 3 channels -> NHWC 299 x 299 x 3 in [-1, 1]. */
export function fidPreprocess(images: tf.Tensor4D): tf.Tensor4D {
  const c = images.shape[3];
  if (c !== 1 && c !== 3) throw new Error(`Inception features need 1 or 3 channels, got ${c} (shape [${images.shape.join(', ')}])`);
  return tf.tidy(() => {
    const rgb = c === 1 ? tf.tile(images, [1, 1, 1, 3]) : images;
    // Resize before scaling, in pytorch-fid's order (the two commute up to float rounding).
    return fidResize(rgb).mul(2).sub(1);
  });
}
