/**
 * A thread of NormalPool (./normalPool): waits for a job, transforms the slices it claims, and
 * waits again. It blocks in Atomics.wait, so new shared buffers come through its port, read
 * synchronously. Bundled as dist/normal-worker.js beside dist/trainer.js.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { Ctrl, workSlices, type JobBuffers } from './normalJob';

export interface NormalWorkerData {
  ctrl: SharedArrayBuffer;
  port: MessagePort;
}

export interface BuffersMessage {
  version: number;
  words: SharedArrayBuffer;
  out: SharedArrayBuffer;
}

function serve(data: NormalWorkerData): void {
  const ctrl = new Int32Array(data.ctrl);
  let current: JobBuffers = { version: -1, words: new Uint32Array(0), out: new Float32Array(0) };
  const buffers = (): JobBuffers => {
    const want = Atomics.load(ctrl, Ctrl.BUFFERS);
    // The owner posts a size's buffers before any job uses them.
    while (current.version !== want) {
      const m = receiveMessageOnPort(data.port);
      if (!m) break;
      const b = m.message as BuffersMessage;
      current = { version: b.version, words: new Uint32Array(b.words), out: new Float32Array(b.out) };
    }
    return current;
  };
  let gen = 0;
  for (;;) {
    Atomics.wait(ctrl, Ctrl.GEN, gen);
    if (Atomics.load(ctrl, Ctrl.QUIT)) return;
    gen = Atomics.load(ctrl, Ctrl.GEN);
    try {
      workSlices(ctrl, gen, buffers);
    } catch (e) {
      // The claimed slice will not be done: wake the owner, which redoes the job.
      Atomics.store(ctrl, Ctrl.FAILED, 1);
      Atomics.notify(ctrl, Ctrl.DONE);
      throw e;
    }
  }
}

if (workerData) serve(workerData as NormalWorkerData);
