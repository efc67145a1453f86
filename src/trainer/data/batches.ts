/**
 * Deterministic minibatches: every epoch is a fresh permutation of the examples drawn from one
 * seeded Rng, and batches run across epoch boundaries without dropping or padding. The saved
 * state holds the Rng as it was *before* the current epoch's permutation, so a resumed sampler
 * redraws that same permutation and continues with exactly the batches the original would give.
 */

import { Rng, type RngState } from '../rng';
import type { ImageDataset, PointDataset } from './types';

export interface BatchSamplerState {
  /** Epochs completed before the current one (0 during the first). */
  epoch: number;
  /** Examples of the current epoch already handed out. */
  position: number;
  /** The Rng before it drew the current epoch's permutation. */
  rng: RngState;
}

export class BatchSampler {
  private rng: Rng;
  private epochStart: RngState;
  private perm: Int32Array;
  private _epoch: number;
  private position: number;

  constructor(
    readonly count: number,
    seed: number,
  ) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`BatchSampler needs at least one example, got ${count}`);
    this.rng = new Rng(seed);
    this._epoch = 0;
    this.position = 0;
    this.epochStart = this.rng.state();
    this.perm = this.rng.permutation(count);
  }

  static fromState(count: number, state: BatchSamplerState): BatchSampler {
    if (!Number.isInteger(state.position) || state.position < 0 || state.position > count) {
      throw new RangeError(`BatchSampler state position ${state.position} is outside 0..${count}`);
    }
    const s = new BatchSampler(count, 0);
    s.rng = Rng.fromState(state.rng);
    s.epochStart = cloneState(state.rng);
    s.perm = s.rng.permutation(count);
    s._epoch = state.epoch;
    s.position = state.position;
    return s;
  }

  get epoch(): number {
    return this._epoch;
  }

  state(): BatchSamplerState {
    return { epoch: this._epoch, position: this.position, rng: cloneState(this.epochStart) };
  }

  /** The next batchSize example indices; a batch may straddle two (or more) epochs. */
  next(batchSize: number): { indices: Int32Array } {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
    const indices = new Int32Array(batchSize);
    let filled = 0;
    while (filled < batchSize) {
      if (this.position === this.count) {
        this._epoch++;
        this.position = 0;
        this.epochStart = this.rng.state();
        this.perm = this.rng.permutation(this.count);
      }
      const take = Math.min(batchSize - filled, this.count - this.position);
      indices.set(this.perm.subarray(this.position, this.position + take), filled);
      filled += take;
      this.position += take;
    }
    return { indices };
  }
}

function cloneState(s: RngState): RngState {
  return { s: [s.s[0], s.s[1], s.s[2], s.s[3]], spare: s.spare };
}

/**
 * Copies the indexed images into one NHWC batch. With `flip`, each image is mirrored left-right
 * with probability 1/2, one rng draw per image; without it the rng is not touched, so turning
 * flips off does not shift any other random stream.
 */
export function gatherImages(
  ds: ImageDataset,
  indices: Int32Array,
  flip: boolean,
  rng: Rng,
): { x: Float32Array; labels: Int32Array | null } {
  const { height: h, width: w, channels: c } = ds;
  const per = h * w * c;
  const row = w * c;
  const x = new Float32Array(indices.length * per);
  const labels = ds.labels ? new Int32Array(indices.length) : null;
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (i < 0 || i >= ds.count) throw new RangeError(`index ${i} is outside the dataset (0..${ds.count - 1})`);
    const src = i * per;
    const dst = b * per;
    if (flip && rng.uniform() < 0.5) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          const from = src + y * row + (w - 1 - xx) * c;
          const to = dst + y * row + xx * c;
          for (let k = 0; k < c; k++) x[to + k] = ds.pixels[from + k];
        }
      }
    } else {
      x.set(ds.pixels.subarray(src, src + per), dst);
    }
    if (labels && ds.labels) labels[b] = ds.labels[i];
  }
  return { x, labels };
}

/** Copies the indexed points into one [batch, dim] array (points are never flipped). */
export function gatherPoints(ds: PointDataset, indices: Int32Array): { x: Float32Array; labels: null } {
  const x = new Float32Array(indices.length * ds.dim);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (i < 0 || i >= ds.count) throw new RangeError(`index ${i} is outside the dataset (0..${ds.count - 1})`);
    x.set(ds.points.subarray(i * ds.dim, (i + 1) * ds.dim), b * ds.dim);
  }
  return { x, labels: null };
}
