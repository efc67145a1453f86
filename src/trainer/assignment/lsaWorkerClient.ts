/**
 * The main-thread side of the assignment worker (./lsaWorker): solve() posts a cost matrix and
 * resolves with the optimal columns. The worker is referenced only while a solve is pending, so an
 * idle worker never keeps the process alive, and close() terminates it. When the worker file is
 * not there (a bundle built without its entry) solves run in this thread instead, with the same
 * results.
 */
import * as path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startWorker, workerFile } from '../workerThread';
import { linearSumAssignment } from './lsa';
import type { LsaReply, LsaRequest } from './lsaWorker';

export interface Solved {
  col: Int32Array;
  /** Time the solve itself took (in the worker), not the time waited for it. */
  ms: number;
}

/** The worker's file: lsaWorker.ts from source, dist/lsa-worker.js beside a dist/ bundle. */
export function lsaWorkerFile(): string | null {
  return workerFile(path.join('assignment', 'lsaWorker.ts'), 'lsa-worker.js');
}

export class LsaWorker {
  private worker: Worker | null = null;
  private failure: Error | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (s: Solved) => void; reject: (e: Error) => void }>();

  /** file: the worker script, or null to solve in this thread. */
  constructor(readonly file: string | null = lsaWorkerFile()) {
    if (!file) return;
    const w = startWorker(file);
    w.unref();
    w.on('message', (m: LsaReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) w.unref();
      if ('error' in m) p.reject(new Error(`assignment worker: ${m.error}`));
      else p.resolve({ col: m.col, ms: m.ms });
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      this.worker = null;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    w.on('error', (e) => fail(new Error(`assignment worker failed: ${e.message}`)));
    w.on('exit', (code) => fail(new Error(`assignment worker exited (code ${code})`)));
    this.worker = w;
  }

  /** Whether solves run in a worker thread (false: in this thread). */
  get threaded(): boolean {
    return this.file !== null;
  }

  /** Solves the n x n assignment; the cost's buffer is transferred to the worker (do not reuse it). */
  solve(cost: Float64Array, n: number): Promise<Solved> {
    if (!this.file) {
      const t0 = performance.now();
      return Promise.resolve().then(() => ({ col: linearSumAssignment(cost, n), ms: performance.now() - t0 }));
    }
    const w = this.worker;
    if (!w) return Promise.reject(this.failure ?? new Error('assignment worker is closed'));
    const id = this.nextId++;
    return new Promise<Solved>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Referenced while a result is awaited, so the process cannot exit under a pending solve.
      w.ref();
      const req: LsaRequest = { id, cost, n };
      w.postMessage(req, [cost.buffer as ArrayBuffer]);
    });
  }

  /** Terminates the worker; pending solves are rejected. */
  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.failure ??= new Error('assignment worker is closed');
    this.worker = null;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    await w.terminate();
  }
}
