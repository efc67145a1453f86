/**
 * CIFAR-10, binary version: each 3073-byte record is one label byte (0..9) then 3072 pixel bytes,
 * channel-planar (1024 R, 1024 G, 1024 B), each plane row-major 32x32. Records are converted to
 * the NHWC layout the trainer uses.
 */

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { byteToUnit } from './transform';
import { DataError, type ImageDataset } from './types';

export const CIFAR_SIDE = 32;
export const CIFAR_RECORD = 1 + 3 * CIFAR_SIDE * CIFAR_SIDE;
export const CIFAR_CLASSES = 10;

const STANDARD = /^(data_batch_\d+|test_batch)\.bin$/;

/**
 * The .bin files that make up a split. A single file is used as is. In a folder the standard
 * names win (data_batch_1..5.bin for train, test_batch.bin for test); a folder without any
 * standard name (e.g. a user's own export) contributes all its *.bin files in sorted order. A
 * folder that has standard names but not the ones for this split is an error rather than a
 * silent fallback, so a test run can never train on the training batches by accident.
 */
export function cifarFiles(path: string, split: 'train' | 'test' = 'train'): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new DataError(path, 'file not found');
  }
  if (!st.isDirectory()) return [path];
  const names = readdirSync(path).filter((n) => n.endsWith('.bin'));
  const wanted =
    split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const present = wanted.filter((n) => existsSync(join(path, n)));
  if (present.length > 0) return present.map((n) => join(path, n));
  if (names.some((n) => STANDARD.test(n))) {
    throw new DataError(path, `expected ${wanted.join(', ')} for the ${split} split, found ${names.sort().join(', ')}`);
  }
  if (names.length === 0) throw new DataError(path, 'expected CIFAR-10 .bin files, found none');
  return names.sort().map((n) => join(path, n));
}

export interface CifarLoadOptions {
  split?: 'train' | 'test';
  /** Convert only the first N records (0 = all); every file is still checked. */
  limit?: number;
}

export function loadCifar10(path: string, opts: CifarLoadOptions = {}): ImageDataset {
  const files = cifarFiles(path, opts.split ?? 'train');
  const bufs = files.map((f) => {
    let buf: Buffer;
    try {
      buf = readFileSync(f);
    } catch (e) {
      throw new DataError(f, `cannot read: ${(e as Error).message}`);
    }
    if (buf.length === 0 || buf.length % CIFAR_RECORD !== 0) {
      throw new DataError(
        f,
        `expected a non-zero multiple of ${CIFAR_RECORD} bytes (CIFAR-10 records), found ${buf.length}`,
      );
    }
    const n = buf.length / CIFAR_RECORD;
    for (let r = 0; r < n; r++) {
      const l = buf[r * CIFAR_RECORD];
      if (l >= CIFAR_CLASSES) {
        throw new DataError(f, `record ${r}: expected a label in 0..9, found ${l}`);
      }
    }
    return buf;
  });
  const total = bufs.reduce((a, b) => a + b.length / CIFAR_RECORD, 0);
  const limit = opts.limit ?? 0;
  const count = limit > 0 ? Math.min(limit, total) : total;
  const plane = CIFAR_SIDE * CIFAR_SIDE;
  const pixels = new Float32Array(count * plane * 3);
  const labels = new Int32Array(count);
  let i = 0;
  for (const buf of bufs) {
    const n = buf.length / CIFAR_RECORD;
    for (let r = 0; r < n && i < count; r++, i++) {
      const rec = r * CIFAR_RECORD;
      labels[i] = buf[rec];
      const out = i * plane * 3;
      for (let p = 0; p < plane; p++) {
        pixels[out + p * 3] = byteToUnit(buf[rec + 1 + p]);
        pixels[out + p * 3 + 1] = byteToUnit(buf[rec + 1 + plane + p]);
        pixels[out + p * 3 + 2] = byteToUnit(buf[rec + 1 + 2 * plane + p]);
      }
    }
  }
  return {
    kind: 'image',
    description: `CIFAR-10 ${files.length === 1 ? files[0] : `${path} (${files.map((f) => basename(f)).join(', ')})`}`,
    count,
    height: CIFAR_SIDE,
    width: CIFAR_SIDE,
    channels: 3,
    pixels,
    labels,
    numClasses: CIFAR_CLASSES,
  };
}
