/**
 * Draws the noise of a batch and applies immiscible assignment. The noise stays a set of exact
 * Gaussian draws: `linear` only permutes it, `knn` selects one of k fresh draws per image.
 */
import * as tf from '@tensorflow/tfjs';
import type { AssignmentConfig } from '../../core/config/types';
import type { AssignmentStats } from '../../core/run/format';
import { linearSumAssignment, meanPairDistance, nearestOfK } from '../assignment';
import { pairwiseCostTf, pairwiseCostTfAsync } from '../assignment/costTf';
import { knnOnBackend, readKnn, readKnnSync, type KnnRead, type KnnTensors } from '../assignment/knnBackend';
import { knnStream } from '../noise/philox';
import type { Rng } from '../rng';

export interface AssignedNoise {
  noise: Float32Array;
  stats: AssignmentStats;
}

/**
 * Which draw of the run this is: the counter of kNN's candidates on the backend (knnOn =
 * "backend"), whose stream is keyed by the seed rather than read from the run's Rng.
 */
export interface DrawAt {
  seed: number;
  /** The 0-based step the batch trains. */
  step: number;
  /** The micro-batch, with assignment.scope = "micro"; else 0. */
  part: number;
}

/** kNN's work on the backend for this draw of the run, queued. */
function knnOnBackendAt(x: Float32Array, b: number, d: number, cfg: AssignmentConfig, at: DrawAt): KnnTensors {
  return knnOnBackend(x, b, cfg.k, d, knnStream(at.seed, at.step, at.part));
}

function knnStats(r: KnnRead, ms: number): AssignedNoise {
  return { noise: r.noise, stats: { mode: 'knn', distBefore: r.distFirst, distAfter: r.distChosen, ms } };
}

export function assignNoise(x: Float32Array, b: number, d: number, cfg: AssignmentConfig, rng: Rng, at: DrawAt): AssignedNoise {
  if (cfg.mode === 'knn' && cfg.knnOn === 'backend') {
    // A GPU cannot read back synchronously: the trainer takes assignNoiseAsync there.
    if (tf.getBackend() === 'webgpu') throw new Error('assignNoise: kNN on the webgpu backend is read back asynchronously (assignNoiseAsync)');
    const t0 = performance.now();
    return knnStats(readKnnSync(knnOnBackendAt(x, b, d, cfg, at), b, cfg.k), performance.now() - t0);
  }
  if (cfg.mode === 'knn') {
    const cand = rng.fillNormal(new Float32Array(b * cfg.k * d));
    const t0 = performance.now();
    const pick = nearestOfK(x, cand, b, cfg.k, d, cfg.cost);
    const noise = new Float32Array(b * d);
    const first = new Float32Array(b * d);
    for (let i = 0; i < b; i++) {
      noise.set(cand.subarray((i * cfg.k + pick[i]) * d, (i * cfg.k + pick[i] + 1) * d), i * d);
      first.set(cand.subarray(i * cfg.k * d, (i * cfg.k + 1) * d), i * d);
    }
    const ms = performance.now() - t0;
    return { noise, stats: { mode: 'knn', distBefore: meanPairDistance(x, first, b, d), distAfter: meanPairDistance(x, noise, b, d), ms } };
  }
  const drawn = rng.fillNormal(new Float32Array(b * d));
  const before = meanPairDistance(x, drawn, b, d);
  if (cfg.mode === 'none') return { noise: drawn, stats: { mode: 'none', distBefore: before, distAfter: before, ms: 0 } };
  const t0 = performance.now();
  // The B x B x D product on the compute backend: 5-7x faster than plain JS on wasm from B = 128.
  const col = linearSumAssignment(pairwiseCostTf(x, drawn, b, d, cfg.cost), b);
  const noise = new Float32Array(b * d);
  for (let i = 0; i < b; i++) noise.set(drawn.subarray(col[i] * d, (col[i] + 1) * d), i * d);
  const ms = performance.now() - t0;
  return { noise, stats: { mode: 'linear', distBefore: before, distAfter: meanPairDistance(x, noise, b, d), ms } };
}

/** Solves an n x n assignment, possibly in another thread (see LsaWorker). */
export type AsyncSolve = (cost: Float64Array, n: number) => Promise<{ col: Int32Array; ms: number }>;

/**
 * As assignNoise, with the `linear` solve handed to `solve` and, on a GPU backend (which cannot
 * read synchronously), the cost matrix, or kNN's choice on the backend, read back
 * asynchronously. Every draw from `rng` happens, and the work on the backend is queued, before
 * this returns, in the same order as assignNoise, so the caller may go on drawing while the solve
 * runs; the result equals assignNoise's for the same rng state. Other modes are done at once.
 */
export function assignNoiseAsync(x: Float32Array, b: number, d: number, cfg: AssignmentConfig, rng: Rng, at: DrawAt, solve: AsyncSolve): Promise<AssignedNoise> {
  if (cfg.mode === 'knn' && cfg.knnOn === 'backend' && tf.getBackend() === 'webgpu') {
    const t0 = performance.now();
    // From the request to the data: an upper bound of the work, as for the cost matrix below.
    return readKnn(knnOnBackendAt(x, b, d, cfg, at), b, cfg.k).then((r) => knnStats(r, performance.now() - t0));
  }
  if (cfg.mode !== 'linear') return Promise.resolve(assignNoise(x, b, d, cfg, rng, at));
  const drawn = rng.fillNormal(new Float32Array(b * d));
  const before = meanPairDistance(x, drawn, b, d);
  const t0 = performance.now();
  // Read back synchronously where the backend can (wasm, cpu): the time is then the work itself,
  // whereas an awaited read resolves only after the training step running meanwhile.
  const sync = tf.getBackend() !== 'webgpu';
  const costed = sync ? Promise.resolve(pairwiseCostTf(x, drawn, b, d, cfg.cost)) : pairwiseCostTfAsync(x, drawn, b, d, cfg.cost);
  const costMs = sync ? performance.now() - t0 : 0;
  return costed.then((cost) => {
    // On a GPU backend: from the request to the data, an upper bound of the cost matrix's time.
    const ms1 = sync ? costMs : performance.now() - t0;
    return solve(cost, b).then(({ col, ms }) => {
      const t1 = performance.now();
      const noise = new Float32Array(b * d);
      for (let i = 0; i < b; i++) noise.set(drawn.subarray(col[i] * d, (col[i] + 1) * d), i * d);
      // Cost, solve and permutation: the work, not the time the caller waited for it.
      const ms2 = ms1 + ms + (performance.now() - t1);
      return { noise, stats: { mode: 'linear', distBefore: before, distAfter: meanPairDistance(x, noise, b, d), ms: ms2 } };
    });
  });
}

/** An AsyncSolve on this thread (for backends that must read back asynchronously). */
export const solveHere: AsyncSolve = (cost, n) => {
  const t0 = performance.now();
  const col = linearSumAssignment(cost, n);
  return Promise.resolve({ col, ms: performance.now() - t0 });
};
