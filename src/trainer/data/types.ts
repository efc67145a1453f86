/** In-memory data sets as the trainer consumes them. */

export interface ImageDataset {
  kind: 'image';
  /** Where it came from, for messages and the run record. */
  description: string;
  count: number;
  height: number;
  width: number;
  channels: number;
  /** count * height * width * channels values in [-1, 1], NHWC. */
  pixels: Float32Array;
  /** One label per example, or null when the format has none. */
  labels: Int32Array | null;
  numClasses: number;
}

export interface PointDataset {
  kind: 'points';
  description: string;
  count: number;
  dim: number;
  /** count * dim values. */
  points: Float32Array;
  labels: null;
  numClasses: 0;
}

export type Dataset = ImageDataset | PointDataset;

/** Raised for any unreadable input: names the file and what was expected. */
export class DataError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'DataError';
  }
}
