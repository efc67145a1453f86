/**
 * IDX files (the MNIST / Fashion-MNIST format): a big-endian header of magic (0x0000, element
 * type, number of dimensions) then one uint32 per dimension, then the raw elements. Only unsigned
 * bytes are accepted: 0x00000803 for images [n, rows, cols] and 0x00000801 for labels [n].
 * Files may be gzip-compressed (Debian's dataset-fashion-mnist ships .gz); that is detected from
 * the content, not the name, so a renamed file still loads.
 */

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { bytesToUnit } from './transform';
import { DataError, type ImageDataset } from './types';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count * rows * cols bytes, row-major. */
  data: Uint8Array;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** Reads a file, gunzipping it when it starts with the gzip magic 1f 8b. */
export function readMaybeGzip(file: string): Buffer {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(file, code === 'ENOENT' ? 'file not found' : `cannot read: ${(e as Error).message}`);
  }
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      return gunzipSync(buf);
    } catch (e) {
      throw new DataError(file, `corrupt gzip data: ${(e as Error).message}`);
    }
  }
  return buf;
}

function header(buf: Uint8Array, file: string, magic: number, dims: number, what: string): number[] {
  const headerSize = 4 + 4 * dims;
  if (buf.length < 4) {
    throw new DataError(file, `truncated: expected an IDX ${what} header of ${headerSize} bytes, found ${buf.length}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const found = view.getUint32(0, false);
  if (found !== magic) {
    throw new DataError(file, `bad magic: expected ${hex(magic)} (IDX ${what}), found ${hex(found)}`);
  }
  if (buf.length < headerSize) {
    throw new DataError(file, `truncated: expected an IDX ${what} header of ${headerSize} bytes, found ${buf.length}`);
  }
  const shape: number[] = [];
  for (let i = 0; i < dims; i++) shape.push(view.getUint32(4 + 4 * i, false));
  const payload = shape.reduce((a, b) => a * b, 1);
  const expected = headerSize + payload;
  if (buf.length !== expected) {
    const kind = buf.length < expected ? 'truncated' : 'trailing data';
    throw new DataError(
      file,
      `${kind}: expected ${expected} bytes (${headerSize} header + ${shape.join('x')}), found ${buf.length}`,
    );
  }
  return shape;
}

/** Parses an IDX ubyte image file's bytes (already gunzipped); `file` is only for messages. */
export function parseIdxImages(buf: Uint8Array, file: string): IdxImages {
  const [count, rows, cols] = header(buf, file, IDX_IMAGES_MAGIC, 3, 'ubyte images [n, rows, cols]');
  if (count === 0) throw new DataError(file, 'expected at least one image, found 0');
  if (rows === 0 || cols === 0) throw new DataError(file, `expected non-empty images, found ${rows}x${cols}`);
  return { count, rows, cols, data: buf.subarray(16) };
}

/** Parses an IDX ubyte label file's bytes (already gunzipped); `file` is only for messages. */
export function parseIdxLabels(buf: Uint8Array, file: string): Uint8Array {
  header(buf, file, IDX_LABELS_MAGIC, 1, 'ubyte labels [n]');
  return buf.subarray(8);
}

export interface IdxLoadOptions {
  /** Shown in messages and the run record instead of the path. */
  description?: string;
  /** Convert only the first N images (0 = all); the files are still checked in full. */
  limit?: number;
}

/** Loads an IDX image file (and optionally its labels) as one-channel images in [-1, 1]. */
export function loadIdx(imagesFile: string, labelsFile?: string, opts: IdxLoadOptions = {}): ImageDataset {
  const images = parseIdxImages(readMaybeGzip(imagesFile), imagesFile);
  let labels: Int32Array | null = null;
  let numClasses = 0;
  if (labelsFile !== undefined) {
    const raw = parseIdxLabels(readMaybeGzip(labelsFile), labelsFile);
    if (raw.length !== images.count) {
      throw new DataError(
        labelsFile,
        `label count mismatch: expected ${images.count} labels (one per image in ${imagesFile}), found ${raw.length}`,
      );
    }
    labels = Int32Array.from(raw);
    // IDX carries no class count; the largest label is the best evidence of it.
    for (const l of raw) numClasses = Math.max(numClasses, l + 1);
  }
  const limit = opts.limit ?? 0;
  const count = limit > 0 ? Math.min(limit, images.count) : images.count;
  const per = images.rows * images.cols;
  const pixels = bytesToUnit(images.data.subarray(0, count * per));
  return {
    kind: 'image',
    description: opts.description ?? `IDX ${imagesFile}`,
    count,
    height: images.rows,
    width: images.cols,
    channels: 1,
    pixels,
    labels: labels && count < labels.length ? labels.slice(0, count) : labels,
    numClasses,
  };
}
