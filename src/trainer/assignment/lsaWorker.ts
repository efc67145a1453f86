/**
 * Worker-thread entry that solves linear sum assignments, so the trainer's main thread (where
 * TF.js runs its kernels synchronously) can train one step while the next batch's assignment is
 * solved. It only solves: every random draw and the cost matrix stay on the main thread, so the
 * result is exactly what linearSumAssignment gives there. Loaded by LsaWorker (./lsaWorkerClient);
 * bundled as dist/lsa-worker.js beside dist/trainer.js.
 */
import { parentPort } from 'node:worker_threads';
import { linearSumAssignment } from './lsa';

export interface LsaRequest {
  id: number;
  cost: Float64Array;
  n: number;
}

export type LsaReply = { id: number; col: Int32Array; ms: number } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', (m: LsaRequest) => {
    try {
      const t0 = performance.now();
      const col = linearSumAssignment(m.cost, m.n);
      const reply: LsaReply = { id: m.id, col, ms: performance.now() - t0 };
      port.postMessage(reply, [col.buffer as ArrayBuffer]);
    } catch (e) {
      const reply: LsaReply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
      port.postMessage(reply);
    }
  });
}
