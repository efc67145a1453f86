/**
 * Fewer queue submits in a replayed step, on request (IMMISCIBLE_WEBGPU_MERGE_SUBMITS=1). tfjs submits every 15 dispatches, so a captured step
 * holds about 40 submits, and on a GPU server a Dawn submit has cost about 0.3 ms of CPU
 * (docs/compute-backends.md). A replay needs a submit only where WebGPU's ordering does: a
 * queue.writeBuffer takes effect before the next submitted command buffer, so a write must not
 * come while commands that read or write its buffer are still unsubmitted. Each captured submit
 * is kept where a write after it, before the captured submit that follows, names a buffer that
 * commands since the last kept submit use; the others are dropped, and their command buffers
 * merge. The captured step was correct with all its submits, so the writes this keeps apart from
 * those commands are the only hazard: the GPU runs the same commands on the same values.
 */
import type { Buf, Op } from './webgpuCapture';

/**
 * 1 or true: merge the submits; by default every captured submit is replayed. On the H200 the
 * trainer's replayed step was 1.08-1.26x faster with every submit (three pairs of runs,
 * docs/benchmarks.md), presumably because the GPU starts on the step's first commands while the
 * CPU still replays the rest, where one merged submit leaves it idle until the end.
 */
export const MERGE_SUBMITS_FLAG = 'IMMISCIBLE_WEBGPU_MERGE_SUBMITS';

/** `ops` with the submits that no later write needs dropped. `buffersOf` gives a bind group's buffers. */
export function mergeSubmits(ops: readonly Op[], buffersOf: (group: object) => readonly Buf[]): Op[] {
  // The writes in each segment after a submit, up to the next one.
  const writesAfter = new Map<number, Buf[]>();
  let segment = -1;
  ops.forEach((op, i) => {
    if (op.k === 'submit') {
      segment = i;
      writesAfter.set(i, []);
    } else if (op.k === 'write' && segment >= 0) {
      writesAfter.get(segment)?.push(op.dst);
    }
  });
  const out: Op[] = [];
  let pending = new Set<Buf>();
  ops.forEach((op, i) => {
    if (op.k === 'submit') {
      if (!(writesAfter.get(i) ?? []).some((dst) => pending.has(dst))) return;
      pending = new Set();
    } else if (op.k === 'group') {
      for (const x of buffersOf(op.g)) pending.add(x);
    } else if (op.k === 'copy') {
      pending.add(op.src);
      pending.add(op.dst);
    }
    out.push(op);
  });
  return out;
}
