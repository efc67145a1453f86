/**
 * A folder of .png / .jpg / .jpeg images, searched recursively. When the folder has subfolders
 * holding images, each such subfolder (sorted by name) is a class and every image under it,
 * however deep, gets its label; otherwise the images are unlabelled. Every image is converted to
 * RGB, center-cropped to a square and resized to one common size.
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { bytesToUnit, centerCropSquare, resizeImages } from './transform';
import { DataError, type ImageDataset } from './types';

const EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

function isImage(name: string): boolean {
  return EXTENSIONS.has(extname(name).toLowerCase());
}

/** Entries skipped everywhere: hidden files and folders (.git, .DS_Store, ...) are never data. */
function visible(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort();
}

/** All image files under `dir`, in a stable (sorted, depth-first) order. */
function walk(dir: string, out: string[] = []): string[] {
  for (const name of visible(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (isImage(name)) out.push(p);
  }
  return out;
}

export interface FolderListing {
  files: string[];
  /** Per file, or null when the folder has no class subfolders. */
  labels: Int32Array | null;
  classNames: string[];
}

export function listImageFolder(root: string): FolderListing {
  let st;
  try {
    st = statSync(root);
  } catch {
    throw new DataError(root, 'file not found');
  }
  if (!st.isDirectory()) throw new DataError(root, 'expected a folder of images, found a file');
  const topFiles: string[] = [];
  const classes: { name: string; files: string[] }[] = [];
  for (const name of visible(root)) {
    const p = join(root, name);
    if (statSync(p).isDirectory()) {
      const files = walk(p);
      // A subfolder without images (e.g. a cache) is not a class: it would never be sampled.
      if (files.length > 0) classes.push({ name, files });
    } else if (isImage(name)) {
      topFiles.push(p);
    }
  }
  if (classes.length === 0) {
    if (topFiles.length === 0) throw new DataError(root, 'expected .png, .jpg or .jpeg images, found none');
    return { files: topFiles, labels: null, classNames: [] };
  }
  if (topFiles.length > 0) {
    // Mixing would leave these images without a class; refuse rather than guess.
    throw new DataError(
      topFiles[0],
      `expected every image inside a class subfolder of ${root} (classes: ${classes.map((c) => c.name).join(', ')}), found one at the top level`,
    );
  }
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, k) => {
    for (const f of c.files) {
      files.push(f);
      labels.push(k);
    }
  });
  return { files, labels: Int32Array.from(labels), classNames: classes.map((c) => c.name) };
}

export interface RgbImage {
  width: number;
  height: number;
  /** width * height * 3 bytes, row-major RGB. */
  data: Uint8Array;
}

/**
 * Decodes a PNG or JPEG (chosen by extension) to 8-bit RGB. Alpha is dropped rather than
 * composited, as PIL's convert('RGB') does, so results match torchvision ImageFolder pipelines.
 */
export function decodeImage(file: string): RgbImage {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new DataError(file, `cannot read: ${(e as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  try {
    if (ext === '.png') {
      // pngjs rescales 16-bit and expands palette / grey to 8-bit RGBA.
      const png = PNG.sync.read(buf);
      ({ width, height } = png);
      rgba = png.data;
    } else {
      const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true });
      ({ width, height } = img);
      rgba = img.data;
    }
  } catch (e) {
    const what = ext === '.png' ? 'a PNG image' : 'a JPEG image';
    // jpeg-js throws plain strings for some malformed inputs, so do not assume an Error.
    const why = e instanceof Error ? e.message : String(e);
    throw new DataError(file, `expected ${what}, could not decode it: ${why}`);
  }
  if (width === 0 || height === 0 || rgba.length < width * height * 4) {
    throw new DataError(file, `expected a non-empty image, decoded ${width}x${height}`);
  }
  const data = new Uint8Array(width * height * 3);
  for (let p = 0, q = 0; p < data.length; p += 3, q += 4) {
    data[p] = rgba[q];
    data[p + 1] = rgba[q + 1];
    data[p + 2] = rgba[q + 2];
  }
  return { width, height, data };
}

export interface FolderLoadOptions {
  /** Side of the square output images. */
  imageSize: number;
  /** Decode only the first N files in listing order (0 = all). */
  limit?: number;
}

export function loadImageFolder(root: string, opts: FolderLoadOptions): ImageDataset {
  const listing = listImageFolder(root);
  const limit = opts.limit ?? 0;
  const count = limit > 0 ? Math.min(limit, listing.files.length) : listing.files.length;
  const size = opts.imageSize;
  const per = size * size * 3;
  const pixels = new Float32Array(count * per);
  for (let i = 0; i < count; i++) {
    const img = decodeImage(listing.files[i]);
    const f = bytesToUnit(img.data);
    const sq = centerCropSquare(f, 1, img.height, img.width, 3);
    pixels.set(resizeImages(sq.pixels, 1, sq.side, sq.side, 3, size, size), i * per);
  }
  const labels = listing.labels ? listing.labels.slice(0, count) : null;
  const n = listing.files.length;
  return {
    kind: 'image',
    description: `image folder ${root} (${n} images${listing.classNames.length ? `, ${listing.classNames.length} classes` : ''})`,
    count,
    height: size,
    width: size,
    channels: 3,
    pixels,
    labels,
    numClasses: listing.classNames.length,
  };
}
