/**
 * The shared-memory protocol between NormalPool (./normalPool) and its threads
 * (./normalWorker): one Box-Muller job at a time, cut into slices that any thread claims.
 *
 * `ctrl` is an Int32Array over a SharedArrayBuffer. The owner publishes a job by writing its
 * fields, then opening CLAIM with the job's tag, then bumping GEN and waking the threads. A thread
 * claims a slice by compare-and-swap on CLAIM (tag and next index in one word), so it can only
 * claim slices of the job whose fields it read: the owner closes CLAIM before it rewrites them,
 * and does that only when every claimed slice is done.
 */
import { boxMuller } from '../rng';

/** Pairs per slice: 16,384 draws, about 0.3 ms here; small enough to share a batch's draws out. */
export const SLICE_PAIRS = 8192;

/** Indices into ctrl. */
export const Ctrl = {
  /** Bumped for each job; threads wait on it. */
  GEN: 0,
  /** (tag << 16) | next slice; CLOSED between jobs. */
  CLAIM: 1,
  /** Slices finished in the current job. */
  DONE: 2,
  PAIRS: 3,
  SLICES: 4,
  /** Which shared buffers the job uses (threads fetch new ones from their port). */
  BUFFERS: 5,
  /** Set when the threads should exit. */
  QUIT: 6,
  /** Set by a thread whose slice failed: the owner does the job itself. */
  FAILED: 7,
  LENGTH: 8,
} as const;

export const CLOSED = -1;
const TAGS = 0x7fff;

export function openClaim(gen: number): number {
  return (gen & TAGS) << 16;
}

/** The shared arrays of one size: the words of the pairs, and their draws. */
export interface JobBuffers {
  version: number;
  words: Uint32Array;
  out: Float32Array;
}

/**
 * Claims and transforms slices of job `gen` until none is left; returns how many it did. Each
 * slice's draws go to out[2 * first pair, ...), as boxMuller writes them.
 */
export function workSlices(ctrl: Int32Array, gen: number, buffers: () => JobBuffers): number {
  const tag = openClaim(gen);
  const pairs = Atomics.load(ctrl, Ctrl.PAIRS);
  const slices = Atomics.load(ctrl, Ctrl.SLICES);
  const version = Atomics.load(ctrl, Ctrl.BUFFERS);
  let count = 0;
  for (;;) {
    const cur = Atomics.load(ctrl, Ctrl.CLAIM);
    if ((cur & ~0xffff) !== tag) return count;
    const slice = cur & 0xffff;
    if (slice >= slices) return count;
    if (Atomics.compareExchange(ctrl, Ctrl.CLAIM, cur, cur + 1) !== cur) continue;
    // The claim holds the job open, so the fields read above are this job's.
    const b = buffers();
    if (b.version !== version) throw new Error(`noise thread: buffers ${b.version}, the job uses ${version}`);
    const from = slice * SLICE_PAIRS;
    boxMuller(b.words, from, Math.min(pairs, from + SLICE_PAIRS), b.out, 2 * from);
    count++;
    if (Atomics.add(ctrl, Ctrl.DONE, 1) + 1 === slices) Atomics.notify(ctrl, Ctrl.DONE);
  }
}
