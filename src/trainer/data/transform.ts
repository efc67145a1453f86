/**
 * Resampling of NHWC float images, and bringing an ImageDataset to the configured square size.
 *
 * Resizing is separable: each axis gets its own 1-D kernel table. An axis that shrinks uses area
 * averaging (every output pixel is the coverage-weighted mean of the source pixels under it), so an
 * integer factor gives the exact block mean (28 -> 14 is the 2x2 mean) and non-integer factors do
 * not skip source pixels the way bilinear sampling would at ratios above 2. An axis that grows uses
 * bilinear interpolation with half-pixel centres (align_corners = false). Both kernels are convex
 * combinations, so values in [-1, 1] stay in [-1, 1].
 */

import type { ImageDataset } from './types';

/** Maps 0..255 bytes to [-1, 1]; all byte loaders share it so the scale is identical everywhere. */
export function byteToUnit(b: number): number {
  return b / 127.5 - 1;
}

/** byteToUnit over a whole array. */
export function bytesToUnit(bytes: Uint8Array): Float32Array {
  const n = bytes.length;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = bytes[i] / 127.5 - 1;
  return out;
}

/** For each output index, the source indices and weights that make it up (weights sum to 1). */
interface AxisKernel {
  start: Int32Array;
  length: Int32Array;
  /** Flattened: output i uses weights[offset[i] .. offset[i] + length[i]). */
  offset: Int32Array;
  weights: Float64Array;
}

function axisKernel(inSize: number, outSize: number): AxisKernel {
  const start = new Int32Array(outSize);
  const length = new Int32Array(outSize);
  const offset = new Int32Array(outSize);
  const w: number[] = [];
  if (outSize < inSize) {
    const scale = inSize / outSize;
    for (let i = 0; i < outSize; i++) {
      const lo = i * scale;
      const hi = (i + 1) * scale;
      const j0 = Math.floor(lo);
      // The tiny epsilon keeps an exact boundary (e.g. 28/14 * 1 = 2) from adding a zero-weight tap.
      const j1 = Math.min(inSize, Math.ceil(hi - 1e-9));
      start[i] = j0;
      length[i] = j1 - j0;
      offset[i] = w.length;
      for (let j = j0; j < j1; j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        w.push(overlap / scale);
      }
    }
  } else {
    const scale = inSize / outSize;
    for (let i = 0; i < outSize; i++) {
      const src = Math.min(inSize - 1, Math.max(0, (i + 0.5) * scale - 0.5));
      const j0 = Math.floor(src);
      const f = src - j0;
      offset[i] = w.length;
      start[i] = j0;
      if (f === 0 || j0 + 1 >= inSize) {
        length[i] = 1;
        w.push(1);
      } else {
        length[i] = 2;
        w.push(1 - f, f);
      }
    }
  }
  return { start, length, offset, weights: Float64Array.from(w) };
}

/** Resizes `count` NHWC images from inH x inW to outH x outW (see the file comment for kernels). */
export function resizeImages(
  src: Float32Array,
  count: number,
  inH: number,
  inW: number,
  channels: number,
  outH: number,
  outW: number,
): Float32Array {
  const out = new Float32Array(count * outH * outW * channels);
  if (inH === outH && inW === outW) {
    out.set(src.subarray(0, out.length));
    return out;
  }
  const kx = axisKernel(inW, outW);
  const ky = axisKernel(inH, outH);
  // The horizontal pass is kept in float64 so the result is rounded to float32 only once.
  const tmp = new Float64Array(inH * outW * channels);
  const inImg = inH * inW * channels;
  const outImg = outH * outW * channels;
  for (let n = 0; n < count; n++) {
    const base = n * inImg;
    for (let y = 0; y < inH; y++) {
      const row = base + y * inW * channels;
      for (let x = 0; x < outW; x++) {
        const s = kx.start[x];
        const len = kx.length[x];
        const o = kx.offset[x];
        for (let c = 0; c < channels; c++) {
          let acc = 0;
          for (let k = 0; k < len; k++) acc += kx.weights[o + k] * src[row + (s + k) * channels + c];
          tmp[(y * outW + x) * channels + c] = acc;
        }
      }
    }
    const ob = n * outImg;
    for (let y = 0; y < outH; y++) {
      const s = ky.start[y];
      const len = ky.length[y];
      const o = ky.offset[y];
      for (let x = 0; x < outW; x++) {
        for (let c = 0; c < channels; c++) {
          let acc = 0;
          for (let k = 0; k < len; k++) acc += ky.weights[o + k] * tmp[((s + k) * outW + x) * channels + c];
          // Rounding in the weights can overshoot by an ulp; the contract is [-1, 1].
          out[ob + (y * outW + x) * channels + c] = acc > 1 ? 1 : acc < -1 ? -1 : acc;
        }
      }
    }
  }
  return out;
}

/** Copies the centred square of side min(h, w) out of each image. */
export function centerCropSquare(
  src: Float32Array,
  count: number,
  h: number,
  w: number,
  channels: number,
): { pixels: Float32Array; side: number } {
  const side = Math.min(h, w);
  if (h === w) return { pixels: src, side };
  const y0 = Math.floor((h - side) / 2);
  const x0 = Math.floor((w - side) / 2);
  const out = new Float32Array(count * side * side * channels);
  const rowLen = side * channels;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < side; y++) {
      const from = ((n * h + y + y0) * w + x0) * channels;
      out.set(src.subarray(from, from + rowLen), (n * side + y) * rowLen);
    }
  }
  return { pixels: out, side };
}

/**
 * Brings a dataset to imageSize x imageSize. Same size passes the dataset through untouched;
 * non-square images are center-cropped first so that resizing never distorts the aspect ratio.
 */
export function resizeDataset(ds: ImageDataset, imageSize: number): ImageDataset {
  if (!Number.isInteger(imageSize) || imageSize < 1) {
    throw new RangeError(`imageSize must be a positive integer, got ${imageSize}`);
  }
  if (ds.height === imageSize && ds.width === imageSize) return ds;
  const { pixels, side } = centerCropSquare(ds.pixels, ds.count, ds.height, ds.width, ds.channels);
  const resized =
    side === imageSize ? pixels : resizeImages(pixels, ds.count, side, side, ds.channels, imageSize, imageSize);
  return {
    ...ds,
    description: `${ds.description}, resized ${ds.height}x${ds.width} -> ${imageSize}x${imageSize}`,
    height: imageSize,
    width: imageSize,
    pixels: resized,
  };
}

/** The first `n` examples (n <= 0 or n >= count keeps all). Shares no memory with the input. */
export function limitImages(ds: ImageDataset, n: number): ImageDataset {
  if (n <= 0 || n >= ds.count) return ds;
  const per = ds.height * ds.width * ds.channels;
  return {
    ...ds,
    count: n,
    pixels: ds.pixels.slice(0, n * per),
    labels: ds.labels ? ds.labels.slice(0, n) : null,
  };
}
