/**
 * The standard FID network: pytorch-fid's Inception pool3 (2048-d), loaded from the user's own
 * `pt_inception-2015-12-05-*.pth`. Its values are reported as `fid` and `kid`.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { FeatureExtractor } from '../extractor';
import { INCEPTION_POOL3_DIM, InceptionPool3 } from './network';
import { fidPreprocess } from './preprocess';
import { readStateDict } from './pth';

/** The file pytorch-fid downloads (its name carries its SHA-256 prefix, torch hub style). */
export const PYTORCH_FID_WEIGHTS_NAME = 'pt_inception-2015-12-05-6726825d.pth';

/**
 * torch hub names files `<name>-<first hex digits of the SHA-256>.<ext>`; at least 8 digits, so
 * that a date such as `-05.` is not taken for a hash.
 */
const HUB_HASH = /-([0-9a-f]{8,64})\.[^.]+$/i;

/**
 * The file's SHA-256 (hex). Throws when the name carries a hash prefix that does not match,
 * which means a damaged or different file.
 */
export function checkWeightsHash(bytes: Uint8Array, path: string): string {
  const sha = createHash('sha256').update(bytes).digest('hex');
  const m = HUB_HASH.exec(basename(path));
  if (m && !sha.startsWith(m[1].toLowerCase())) {
    throw new Error(`${path}: SHA-256 is ${sha}, but the file name says it starts with ${m[1]} (a damaged or different file; pytorch-fid's is ${PYTORCH_FID_WEIGHTS_NAME})`);
  }
  return sha;
}

/** Images per forward pass by default (larger batches are split). */
export const MAX_CHUNK = 16;

export interface InceptionOptions {
  /** Images per forward pass (default MAX_CHUNK). */
  maxChunk?: number;
}

/** Loads the Inception weights into the current TF.js backend. */
export async function loadInceptionExtractor(pthPath: string, options: InceptionOptions = {}): Promise<FeatureExtractor> {
  const maxChunk = options.maxChunk ?? MAX_CHUNK;
  if (!Number.isInteger(maxChunk) || maxChunk < 1) throw new Error(`maxChunk must be a positive integer, got ${maxChunk}`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(pthPath);
  } catch (e) {
    throw new Error(`Cannot read the Inception weights ${pthPath}: ${e instanceof Error ? e.message : String(e)} (pytorch-fid's file is ${PYTORCH_FID_WEIGHTS_NAME})`);
  }
  const weightsSha256 = checkWeightsHash(bytes, pthPath);
  const net = new InceptionPool3(readStateDict(bytes, pthPath), pthPath);
  return {
    name: 'inception',
    metricNames: { fd: 'fid', kid: 'kid' },
    weightsSha256,
    dim: INCEPTION_POOL3_DIM,
    async features(images: tf.Tensor4D): Promise<Float32Array> {
      if (images.rank !== 4) throw new Error(`Inception features need NHWC images, got rank ${images.rank}`);
      const n = images.shape[0];
      const result = new Float32Array(n * INCEPTION_POOL3_DIM);
      // Images are independent, so chunking changes nothing but the peak memory: at 299x299 one
      // image's largest activation is 5.5 MB, and wasm's heap stops at 4 GiB.
      for (let start = 0; start < n; start += maxChunk) {
        const size = Math.min(maxChunk, n - start);
        const out = tf.tidy(() => net.pool3(fidPreprocess(size === n ? images : images.slice([start, 0, 0, 0], [size, -1, -1, -1]))));
        try {
          result.set((await out.data()) as Float32Array, start * INCEPTION_POOL3_DIM);
        } finally {
          out.dispose();
        }
      }
      return result;
    },
    dispose(): void {
      net.dispose();
    },
  };
}
