/**
 * Micro-batch `m` of a step that accumulates gradients over `k` equal micro-batches: its part of
 * the batch, of the noise and of the labels, and its dropout seed. Shared by the step and its
 * replay (replayStep.ts), which must make the same.
 */
import type { MicroBatch } from '../objectives/types';

/** What a step trains on (the trainer's prepared batch). */
export interface StepBatch {
  x: Float32Array;
  labels: Int32Array | null;
  levels: Float32Array;
  step: number;
  dropoutSeed: number;
}

export interface MicroSlice {
  batch: MicroBatch;
  labels: Int32Array | null;
  seed: number;
}

export function microSlice(cur: StepBatch, noise: Float32Array, exampleShape: number[], k: number, m: number): MicroSlice {
  const mb = cur.levels.length / k;
  const per = exampleShape.reduce((a, b) => a * b, 1);
  const lo = m * mb;
  return {
    batch: {
      x0: cur.x.subarray(lo * per, (lo + mb) * per),
      noise: noise.subarray(lo * per, (lo + mb) * per),
      levels: cur.levels.subarray(lo, lo + mb),
      shape: [mb, ...exampleShape],
      step: cur.step,
    },
    labels: cur.labels ? cur.labels.subarray(lo, lo + mb) : null,
    seed: (cur.dropoutSeed + m) >>> 0,
  };
}
