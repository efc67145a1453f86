/**
 * Gaussian draws with their Box-Muller transform shared among threads. The words stay drawn in
 * this thread, in order, by Rng; only log, sqrt, cos and sin (most of a draw's time) run in the
 * pool's threads, with the same functions, so the draws are the same values as in one thread.
 * This thread works on the job too, and a thread that has not started yet is never waited for.
 * The threads start at the first draw large enough to share (none for small runs), block in
 * Atomics.wait between jobs and are unreferenced: they never keep the process alive. A thread
 * that fails or hangs costs one job's time: this thread redoes the job (the same values) and does
 * every later one alone.
 */
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import * as path from 'node:path';
import { cpuBudget } from '../cpuLimit';
import { boxMuller, type PairTransformer } from '../rng';
import { startWorker, workerFile } from '../workerThread';
import { CLOSED, Ctrl, openClaim, SLICE_PAIRS, workSlices, type JobBuffers } from './normalJob';
import type { BuffersMessage, NormalWorkerData } from './normalWorker';

/** Fewer pairs than this are transformed here: waking threads would cost more than it saves. */
export const MIN_POOLED_PAIRS = 2 * SLICE_PAIRS;

/** A job's slices are numbered in 16 bits. */
const MAX_POOLED_PAIRS = 0xffff * SLICE_PAIRS;

/** A job waits this long for a claimed slice before it does the job itself (a thread hung). */
const STALL_MS = 10_000;

/** The worker's file: normalWorker.ts from source, dist/normal-worker.js beside a dist/ bundle. */
export function normalWorkerFile(): string | null {
  return workerFile(path.join('noise', 'normalWorker.ts'), 'normal-worker.js');
}

/** Threads for a pool beside this one: IMMISCIBLE_NOISE_THREADS, or one per further CPU of the budget (cpuLimit.ts), at most 7. */
export function defaultNoiseThreads(env: NodeJS.ProcessEnv = process.env): number {
  const set = env.IMMISCIBLE_NOISE_THREADS;
  if (set !== undefined && set !== '') {
    const n = Number(set);
    if (!Number.isInteger(n) || n < 0) throw new Error(`IMMISCIBLE_NOISE_THREADS: expected an integer >= 0 (threads besides the trainer's), found ${JSON.stringify(set)}`);
    return n;
  }
  return Math.max(0, Math.min(7, cpuBudget().cpus - 1));
}

export class NormalPool implements PairTransformer {
  private readonly ctrl = new Int32Array(new SharedArrayBuffer(Ctrl.LENGTH * 4));
  private readonly workers: Worker[] = [];
  private readonly ports: MessagePort[] = [];
  private buffers: JobBuffers = { version: 0, words: new Uint32Array(0), out: new Float32Array(0) };
  private gen = 0;
  private started = false;
  private failure: string | null = null;
  private threadError: string | null = null;
  private closed = false;
  /** Jobs shared, their slices, and the slices this thread took (tests read them). */
  readonly stats = { jobs: 0, slices: 0, slicesHere: 0 };

  /** threads: besides this one (0: all here); file: the worker script, null to run all here. */
  constructor(
    readonly wanted = defaultNoiseThreads(),
    private readonly file: string | null = normalWorkerFile(),
  ) {
    Atomics.store(this.ctrl, Ctrl.CLAIM, CLOSED);
  }

  private start(): void {
    const file = this.file;
    if (!file || this.started) return;
    this.started = true;
    for (let i = 0; i < this.wanted; i++) {
      const { port1, port2 } = new MessageChannel();
      const data: NormalWorkerData = { ctrl: this.ctrl.buffer as SharedArrayBuffer, port: port2 };
      const w = startWorker(file, { workerData: data, transferList: [port2] });
      w.unref();
      port1.unref();
      // Seen between jobs: later draws are transformed here.
      w.on('error', (e) => (this.threadError ??= e.message));
      w.on('exit', (code) => {
        if (!this.closed) this.failure ??= `a noise thread exited (code ${code})`;
      });
      this.workers.push(w);
      this.ports.push(port1);
      port1.postMessage(this.bufferMessage());
    }
  }

  /** Threads besides this one that transform draws: what was asked, where the worker file is there, until one fails. */
  get threads(): number {
    return this.failure || !this.file ? 0 : this.wanted;
  }

  words(pairs: number): Uint32Array {
    if (this.buffers.words.length < 2 * pairs) this.grow(2 * pairs);
    return this.buffers.words;
  }

  transform(words: Uint32Array, pairs: number, out: Float32Array, at: number): void {
    if (pairs < MIN_POOLED_PAIRS || pairs > MAX_POOLED_PAIRS || this.threads === 0 || words !== this.buffers.words) {
      boxMuller(words, 0, pairs, out, at);
      return;
    }
    this.start();
    const ctrl = this.ctrl;
    const slices = Math.ceil(pairs / SLICE_PAIRS);
    const gen = ++this.gen;
    Atomics.store(ctrl, Ctrl.PAIRS, pairs);
    Atomics.store(ctrl, Ctrl.SLICES, slices);
    Atomics.store(ctrl, Ctrl.BUFFERS, this.buffers.version);
    Atomics.store(ctrl, Ctrl.DONE, 0);
    Atomics.store(ctrl, Ctrl.CLAIM, openClaim(gen));
    Atomics.store(ctrl, Ctrl.GEN, gen);
    Atomics.notify(ctrl, Ctrl.GEN);
    const own = this.buffers;
    this.stats.slicesHere += workSlices(ctrl, gen, () => own);
    let seen = Atomics.load(ctrl, Ctrl.DONE);
    let since = performance.now();
    while (seen < slices && !this.failure) {
      Atomics.wait(ctrl, Ctrl.DONE, seen, 1000);
      const now = Atomics.load(ctrl, Ctrl.DONE);
      if (Atomics.load(ctrl, Ctrl.FAILED)) this.failure = 'a noise thread failed';
      else if (now !== seen) {
        seen = now;
        since = performance.now();
      } else if (performance.now() - since > STALL_MS) this.failure = `a noise thread left a slice unfinished for ${STALL_MS / 1000} s`;
    }
    Atomics.store(ctrl, Ctrl.CLAIM, CLOSED);
    if (this.failure) {
      // Every value again, here: a slice a thread still writes gets the same values.
      boxMuller(words, 0, pairs, out, at);
      return;
    }
    out.set(own.out.subarray(0, 2 * pairs), at);
    this.stats.jobs++;
    this.stats.slices += slices;
  }

  /** Why the threads are no longer used (null while they are, or were never needed). */
  get failed(): string | null {
    if (!this.failure || this.closed) return null;
    return this.threadError ? `${this.failure}: ${this.threadError}` : this.failure;
  }

  /** Ends the threads; later draws are transformed here. */
  async close(): Promise<void> {
    this.closed = true;
    this.failure ??= 'the noise pool is closed';
    Atomics.store(this.ctrl, Ctrl.QUIT, 1);
    Atomics.add(this.ctrl, Ctrl.GEN, 1);
    Atomics.notify(this.ctrl, Ctrl.GEN);
    const workers = this.workers.splice(0);
    for (const p of this.ports.splice(0)) p.close();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private grow(words: number): void {
    const size = Math.max(words, 2 * this.buffers.words.length);
    const w = new SharedArrayBuffer(size * 4);
    const o = new SharedArrayBuffer(size * 4);
    this.buffers = { version: this.buffers.version + 1, words: new Uint32Array(w), out: new Float32Array(o) };
    for (const p of this.ports) p.postMessage(this.bufferMessage());
  }

  private bufferMessage(): BuffersMessage {
    const b = this.buffers;
    return { version: b.version, words: b.words.buffer as SharedArrayBuffer, out: b.out.buffer as SharedArrayBuffer };
  }
}
