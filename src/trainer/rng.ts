/**
 * Seeded pseudo-random numbers (sfc32) whose whole state is four 32-bit words, so it can be
 * saved in a checkpoint and restored exactly. Gaussian draws use Box-Muller; the spare draw is
 * part of the state.
 */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

/**
 * Turns the words of Box-Muller pairs into draws: `words` gives an array that fillPairWords fills,
 * `transform` must write what boxMuller writes. Lets a pool of threads do the transform
 * (src/trainer/noise), the costly part of a draw, with the same values.
 */
export interface PairTransformer {
  words(pairs: number): Uint32Array;
  transform(words: Uint32Array, pairs: number, out: Float32Array, at: number): void;
}

/** The transform in this thread. */
export const transformHere: PairTransformer = {
  words: pairWords,
  transform: (words, pairs, out, at) => boxMuller(words, 0, pairs, out, at),
};

export class Rng {
  // The words as int32 in a typed array: V8 then keeps them unboxed. As class fields holding
  // uint32 values they were heap numbers, and a draw took 10-16 times as long (docs/benchmarks.md).
  private readonly s = new Int32Array(4);
  private spare: number | null = null;
  private transformer: PairTransformer = transformHere;

  constructor(seed: number) {
    // splitmix32 expands one seed into four well-mixed words.
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (let i = 0; i < 4; i++) this.s[i] = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    // Words are read as int32 or uint32: earlier versions saved the first one signed.
    for (let i = 0; i < 4; i++) r.s[i] = state.s[i] | 0;
    r.spare = state.spare;
    return r;
  }

  /** Where fillNormal's transform runs from now on (the draws stay the same). */
  transformWith(t: PairTransformer): void {
    this.transformer = t;
  }

  /** The words as uint32. */
  state(): RngState {
    const s = this.s;
    return { s: [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0], spare: this.spare };
  }

  nextUint32(): number {
    const s = this.s;
    const a = s[0];
    const b = s[1];
    const c = s[2];
    const d = s[3];
    const t = (a + b + d) | 0;
    s[3] = (d + 1) | 0;
    s[0] = b ^ (b >>> 9);
    s[1] = (c + (c << 3)) | 0;
    s[2] = (((c << 21) | (c >>> 11)) + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * The words of `pairs` Box-Muller pairs into words[0, 2 * pairs): for each pair u (a zero
   * word is skipped, as normal() redraws u = 0) then v. What normal() would draw, in its order.
   * The step is nextUint32's, written out over locals: twice as fast as a call per word (0.7
   * against 1.3-1.7 ms for 393,216 words here).
   */
  fillPairWords(words: Uint32Array, pairs: number): void {
    const s = this.s;
    let a = s[0];
    let b = s[1];
    let c = s[2];
    let d = s[3];
    for (let k = 0; k < 2 * pairs; ) {
      const t = (a + b + d) | 0;
      d = (d + 1) | 0;
      a = b ^ (b >>> 9);
      b = (c + (c << 3)) | 0;
      c = (((c << 21) | (c >>> 11)) + t) | 0;
      if (t !== 0 || (k & 1) === 1) words[k++] = t;
    }
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
  }

  fillNormal(out: Float32Array): Float32Array {
    // The draws of normal() called out.length times. The words are drawn first, in a loop that
    // keeps the state in locals, then transformed: 0.5 of the time of a call per draw (a batch of
    // 128 CIFAR images takes 393,216 draws a step; docs/benchmarks.md).
    const n = out.length;
    let i = 0;
    if (n > 0 && this.spare !== null) {
      out[i++] = this.spare;
      this.spare = null;
    }
    const pairs = (n - i) >> 1;
    const words = this.transformer.words(pairs);
    this.fillPairWords(words, pairs);
    this.transformer.transform(words, pairs, out, i);
    i += 2 * pairs;
    // An odd count: the last draw leaves its pair's other half as the spare.
    if (i < n) out[i] = this.normal();
    return out;
  }

  /** Fisher-Yates permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }
}

/**
 * Box-Muller on pairs [from, to) of `words` (u, v as drawn by fillPairWords) into out from
 * `at`: out[at + 2j] = r cos(2 pi v), out[at + 2j + 1] = r sin(2 pi v), as normal() computes them.
 */
export function boxMuller(words: Uint32Array, from: number, to: number, out: Float32Array, at: number): void {
  for (let j = from, o = at; j < to; j++, o += 2) {
    const u = (words[2 * j] >>> 0) / 4294967296;
    const v = (words[2 * j + 1] >>> 0) / 4294967296;
    const r = Math.sqrt(-2 * Math.log(u));
    out[o] = r * Math.cos(2 * Math.PI * v);
    out[o + 1] = r * Math.sin(2 * Math.PI * v);
  }
}

let scratch = new Uint32Array(0);

/** A scratch array for `pairs` pairs' words, reused across calls (one thread draws at a time). */
function pairWords(pairs: number): Uint32Array {
  if (scratch.length < 2 * pairs) scratch = new Uint32Array(Math.max(2 * pairs, 2 * scratch.length));
  return scratch;
}
