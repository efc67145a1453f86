/**
 * A feature network for Frechet distance and KID. Every metric is named for the network that
 * produced it (`fd_<name>`, `kid_<name>`), except the standard pytorch-fid Inception, whose
 * metrics are `fid` and `kid`: a value without its extractor is not comparable to anything.
 */
import type * as tf from '@tensorflow/tfjs';

export interface FeatureExtractor {
  /** Short id used in metric names and the CLI's --extractor, e.g. `lenet`, `inception`. */
  readonly name: string;
  /** Names of the metrics this extractor's features give: e.g. {fd: 'fd_lenet', kid: 'kid_lenet'}. */
  readonly metricNames: { readonly fd: string; readonly kid: string };
  /** SHA-256 (hex) of the weights file, recorded with every value. */
  readonly weightsSha256: string;
  /** Feature dimension. */
  readonly dim: number;
  /**
   * Features of a batch of images, NHWC float32 in [0, 1], 1 or 3 channels, any side (the
   * extractor resizes and converts channels as its reference implementation does). Returns
   * n x dim features, row-major. Does not dispose `images`.
   */
  features(images: tf.Tensor4D): Promise<Float32Array>;
  /** Releases the network's weights. */
  dispose(): void;
}
