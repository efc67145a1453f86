/**
 * Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011), the
 * counter-based generator behind PyTorch's and cuRAND's GPU draws: block n of a stream is a pure
 * function of (counter n, key), so any thread or GPU invocation makes any block. Used for the kNN
 * candidates drawn on the compute backend (assignment.knnOn = "backend"); its WGSL twin is
 * PHILOX_NORMAL_WGSL, and this file is its reference.
 */

/** The round multipliers and the key's Weyl increments (Random123's PHILOX_M4x32_* and PHILOX_W32_*). */
export const PHILOX = { M0: 0xd2511f53, M1: 0xcd9e8d57, W0: 0x9e3779b9, W1: 0xbb67ae85, ROUNDS: 10 } as const;

/**
 * The high 32 bits of a * b for uint32 a, b, from 16-bit halves so that every partial product
 * fits in 32 bits: the WGSL version has no wider integer, and this one does the same steps.
 */
export function mulHi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const u = ah * bl + ((al * bl) >>> 16);
  const w = (u & 0xffff) + al * bh;
  return (ah * bh + (u >>> 16) + (w >>> 16)) >>> 0;
}

/** One block: the four output words of counter `ctr` under `key`, written to out[at..at+3]. */
export function philox4x32(ctr: ArrayLike<number>, key: ArrayLike<number>, out: Uint32Array, at = 0): void {
  let c0 = ctr[0] >>> 0;
  let c1 = ctr[1] >>> 0;
  let c2 = ctr[2] >>> 0;
  let c3 = ctr[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < PHILOX.ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX.W0) >>> 0;
      k1 = (k1 + PHILOX.W1) >>> 0;
    }
    const hi0 = mulHi32(PHILOX.M0, c0);
    const lo0 = Math.imul(PHILOX.M0, c0) >>> 0;
    const hi1 = mulHi32(PHILOX.M1, c2);
    const lo1 = Math.imul(PHILOX.M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[at] = c0;
  out[at + 1] = c1;
  out[at + 2] = c2;
  out[at + 3] = c3;
}

/**
 * Where a set of normal vectors is drawn: component t of vector q is lane t & 3 of block
 * (t >> 2, c1, c2, q). Each vector is a stream of its own, so any range of vectors can be made
 * alone (the GPU makes a batch's candidates in chunks) with the same values.
 */
export interface PhiloxStream {
  key: [number, number];
  c1: number;
  c2: number;
}

/** 2^-23: a uniform's 23-bit level times this is exact in float32, on the GPU as here. */
const LEVEL = 1 / 8388608;

/**
 * A uniform in (0, 1) from a word's top 23 bits: ((w >> 9) + 0.5) / 2^23, exact in float32, so
 * the GPU's uniforms equal these and only log, sqrt, sin and cos may round differently there.
 */
export function philoxUniform(word: number): number {
  return ((word >>> 9) + 0.5) * LEVEL;
}

/**
 * Vectors first .. first + count - 1 of `stream`, d normal draws each, into out (count x d). A
 * block's words (w0, w1, w2, w3) give two Box-Muller pairs, r(w0) (cos, sin)(theta(w1)) and
 * r(w2) (cos, sin)(theta(w3)), with r(w) = sqrt(-2 ln u(w)) and theta(w) = 2 pi u(w) - pi (an
 * angle in (-pi, pi), where a GPU's sin and cos are most accurate). Radii reach 5.8 (u >= 2^-24).
 */
export function philoxVectors(stream: PhiloxStream, first: number, count: number, d: number, out: Float32Array): Float32Array {
  if (out.length !== count * d) throw new RangeError(`philoxVectors: out must hold ${count} x ${d} = ${count * d} values, found ${out.length}`);
  if (!Number.isInteger(first) || first < 0 || first + count > 2 ** 32) throw new RangeError(`philoxVectors: vectors ${first} .. ${first + count - 1} are outside [0, 2^32)`);
  const words = new Uint32Array(4);
  const ctr = [0, stream.c1 >>> 0, stream.c2 >>> 0, 0];
  for (let q = 0; q < count; q++) {
    ctr[3] = first + q;
    const base = q * d;
    for (let t = 0; t < d; t += 4) {
      ctr[0] = t >>> 2;
      philox4x32(ctr, stream.key, words);
      for (let p = 0; p < 2 && t + 2 * p < d; p++) {
        const r = Math.sqrt(-2 * Math.log(philoxUniform(words[2 * p])));
        const theta = 2 * Math.PI * philoxUniform(words[2 * p + 1]) - Math.PI;
        out[base + t + 2 * p] = r * Math.cos(theta);
        if (t + 2 * p + 1 < d) out[base + t + 2 * p + 1] = r * Math.sin(theta);
      }
    }
  }
  return out;
}

/**
 * The kNN candidates' stream of a run's draw: the key from the run's seed (its low and high 32
 * bits), the counter's second word the step, its third the part (the micro-batch, or 0).
 */
export function knnStream(seed: number, step: number, part: number): PhiloxStream {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`knnStream: seed must be a non-negative safe integer, got ${seed}`);
  if (!Number.isInteger(step) || step < 0 || step >= 2 ** 32) throw new RangeError(`knnStream: step must be an integer in [0, 2^32), got ${step}`);
  if (!Number.isInteger(part) || part < 0 || part >= 2 ** 32) throw new RangeError(`knnStream: part must be an integer in [0, 2^32), got ${part}`);
  return { key: [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0], c1: step, c2: part };
}
