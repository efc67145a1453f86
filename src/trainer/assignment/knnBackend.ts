/**
 * k-nearest noise with its candidates drawn and compared on the compute backend
 * (assignment.knnOn = "backend"): the b k d candidate values are Philox draws made there
 * (philoxTensor.ts), and only the b chosen vectors and the b x k distances come back. On a GPU
 * that leaves the CPU none of kNN's work, which with k = 64 is most of a step's (25 million
 * draws for a CIFAR batch of 128).
 */
import * as tf from '@tensorflow/tfjs';
import type { PhiloxStream } from '../noise/philox';
import { philoxNormalTensor } from '../noise/philoxTensor';
import { checkKnnArgs } from './knn';

/**
 * Candidate values per chunk (64 MiB of float32): a chunk's candidates and their differences must
 * each fit one storage buffer binding, which WebGPU guarantees only to 128 MiB.
 */
export const KNN_CHUNK_VALUES = 16 * 2 ** 20;

/** Images per chunk for k candidates of d values: at least one. */
export function knnChunkImages(k: number, d: number, chunkValues = KNN_CHUNK_VALUES): number {
  return Math.max(1, Math.floor(chunkValues / Math.max(1, k * d)));
}

/** The chosen noise [b, d] and the squared distances [b, k] of every image to its candidates, on the backend. */
export interface KnnTensors {
  noise: tf.Tensor2D;
  dist: tf.Tensor2D;
}

/**
 * Image i's candidate c is vector i k + c of `stream`; the nearest (squared Euclidean, the same
 * candidate as for l2) is kept. Candidates are made and compared in chunks of at most
 * `chunkValues` values: whole images where one image's k d fit, else groups of one image's
 * candidates. The caller disposes the result.
 */
export function knnOnBackend(x: Float32Array, b: number, k: number, d: number, stream: PhiloxStream, chunkValues = KNN_CHUNK_VALUES): KnnTensors {
  checkKnnArgs('knnOnBackend', x, null, b, k, d, 'l2');
  const perChunk = k * d > chunkValues ? Math.max(1, Math.floor(chunkValues / d)) : 0;
  const step = perChunk ? 1 : knnChunkImages(k, d, chunkValues);
  const noises: tf.Tensor2D[] = [];
  const dists: tf.Tensor2D[] = [];
  try {
    for (let i0 = 0; i0 < b; i0 += step) {
      const m = Math.min(step, b - i0);
      const [noise, dist] = perChunk ? nearestInGroups(x, i0, k, d, stream, perChunk) : nearestOfImages(x, i0, m, k, d, stream);
      noises.push(noise);
      dists.push(dist);
    }
    if (noises.length === 1) return { noise: noises[0], dist: dists[0] };
    return { noise: tf.concat(noises, 0), dist: tf.concat(dists, 0) };
  } finally {
    if (noises.length > 1) tf.dispose([...noises, ...dists]);
  }
}

/** Images i0 .. i0 + m - 1, all their candidates at once: the noise [m, d] and distances [m, k]. */
function nearestOfImages(x: Float32Array, i0: number, m: number, k: number, d: number, stream: PhiloxStream): [tf.Tensor2D, tf.Tensor2D] {
  return tf.tidy(() => {
    const cand = philoxNormalTensor(stream, i0 * k, m * k, d);
    const xs = tf.tensor3d(x.subarray(i0 * d, (i0 + m) * d), [m, 1, d]);
    const dm = tf.sum(tf.squaredDifference(tf.reshape(cand, [m, k, d]), xs), 2) as tf.Tensor2D;
    // Flat row indices i k + choice, not gather's batchDims: tfjs-backend-wasm 4.22 returns
    // garbage past the first batch with batchDims = 1.
    const rows = tf.add(tf.argMin(dm, 1), tf.mul(tf.range(0, m, 1, 'int32'), tf.scalar(k, 'int32')));
    return [tf.gather(cand, rows) as tf.Tensor2D, dm];
  });
}

/**
 * One image whose k d values exceed a chunk (a large image with a large k): its candidates in
 * groups of `per`, each group's nearest kept, then the nearest of those. The first of equal
 * distances wins, as in one pass. The noise [1, d] and distances [1, k].
 */
function nearestInGroups(x: Float32Array, i: number, k: number, d: number, stream: PhiloxStream, per: number): [tf.Tensor2D, tf.Tensor2D] {
  const xs = tf.tensor2d(x.subarray(i * d, (i + 1) * d), [1, d]);
  const chosen: tf.Tensor2D[] = [];
  const nearest: tf.Tensor1D[] = [];
  const dists: tf.Tensor1D[] = [];
  try {
    for (let c0 = 0; c0 < k; c0 += per) {
      const n = Math.min(per, k - c0);
      const [noise, min, dist] = tf.tidy(() => {
        const cand = philoxNormalTensor(stream, i * k + c0, n, d);
        const dv = tf.sum(tf.squaredDifference(cand, xs), 1) as tf.Tensor1D;
        return [tf.gather(cand, tf.reshape(tf.argMin(dv), [1])) as tf.Tensor2D, tf.reshape(tf.min(dv), [1]) as tf.Tensor1D, dv];
      });
      chosen.push(noise);
      nearest.push(min);
      dists.push(dist);
    }
    return tf.tidy(() => [
      tf.gather(tf.concat(chosen, 0), tf.reshape(tf.argMin(tf.concat(nearest, 0)), [1])) as tf.Tensor2D,
      tf.reshape(tf.concat(dists, 0), [1, k]) as tf.Tensor2D,
    ]);
  } finally {
    tf.dispose([xs, ...chosen, ...nearest, ...dists]);
  }
}

/** What kNN on the backend gives the trainer: the noise, and the mean l2 distance to the first candidate and to the chosen one. */
export interface KnnRead {
  noise: Float32Array;
  distFirst: number;
  distChosen: number;
}

/** The mean distances from the b x k squared distances. */
function summarize(noise: Float32Array, dist: Float32Array, b: number, k: number): KnnRead {
  let first = 0;
  let chosen = 0;
  for (let i = 0; i < b; i++) {
    let best = Infinity;
    for (let c = 0; c < k; c++) best = Math.min(best, dist[i * k + c]);
    first += Math.sqrt(dist[i * k]);
    chosen += Math.sqrt(best);
  }
  return { noise, distFirst: b ? first / b : 0, distChosen: b ? chosen / b : 0 };
}

/** Reads kNN's result back synchronously (for backends that can: wasm, cpu, tensorflow) and disposes it. */
export function readKnnSync(t: KnnTensors, b: number, k: number): KnnRead {
  try {
    return summarize(t.noise.dataSync() as Float32Array, t.dist.dataSync() as Float32Array, b, k);
  } finally {
    tf.dispose([t.noise, t.dist]);
  }
}

/** Reads kNN's result back asynchronously (a GPU's) and disposes it. */
export async function readKnn(t: KnnTensors, b: number, k: number): Promise<KnnRead> {
  try {
    const [noise, dist] = await Promise.all([t.noise.data(), t.dist.data()]);
    return summarize(noise as Float32Array, dist as Float32Array, b, k);
  } finally {
    tf.dispose([t.noise, t.dist]);
  }
}
