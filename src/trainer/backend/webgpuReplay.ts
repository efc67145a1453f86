/**
 * Replays a training step's WebGPU commands without running its JavaScript. On a GPU the step is
 * bound by the CPU that records it (docs/benchmarks.md: 24-42 ms to record a step the H200 runs in
 * 28 ms at batch 128); almost all of that is tfjs's engine, its autodiff and the kernels' own
 * JavaScript, while the commands themselves (set pipeline, set bind group, dispatch) cost a few
 * microseconds each. A step records the same commands every time: the same pipelines, dispatch
 * sizes and uniform contents (shapes), on the weights updated in place. What depends on the step
 * is tagged where it is made with how to make it from the step's values: Adam's learning rate and
 * bias corrections and the EMA's decay (`taggedWrite`), the uploads of the objective's inputs, the
 * time embedding, the labels and the dropout masks (`tagUpload`).
 *
 * `startCapture` records everything the step sends to the device; two consecutive steps are
 * captured and must match command for command, untagged bytes included (`traceDifference`); the
 * second step's intermediate buffers are then taken out of tfjs's pool so that nothing else can be
 * handed them, and `run` records its commands again in one loop, writing only the tagged values
 * and submitting only where a write needs it (webgpuSubmits.ts), and returns copies of the step's
 * outputs. It is exact: the GPU runs the same commands. It
 * refuses (returns null: run the step normally and capture again) when a tensor the step reads or
 * updates in place was disposed or reassigned, and while tfjs's profiler is timing kernels.
 *
 * The capture and the tags: webgpuCapture.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { envSwitch } from '../envSwitch';
import { MERGE_SUBMITS_FLAG, mergeSubmits } from './webgpuSubmits';
import { flush, POOL_GROWING, startCapture, traceDifference, UNIFORM, type Backend, type Buf, type Device, type GroupDescriptor, type Op, type Pass, type Queue, type Trace } from './webgpuCapture';

export interface StepReplay {
  /** Records the step's commands again; copies of its outputs, or null where the step must run normally. */
  run(params: Record<string, unknown>): tf.Tensor[] | null;
  /** Why the last run returned null. */
  refusal: string | null;
  /** Per replay: dispatches recorded, and writes made (of the captured step's). */
  readonly dispatches: number;
  readonly writes: number;
  /** Per replay: queue submits (the last one's included). */
  readonly submits: number;
  /** Gives the step's buffers back to the pool. */
  dispose(): void;
}

export type ReplayBuild = { ok: true; replay: StepReplay } | { ok: false; reason: string };

/**
 * A replay of the step captured as `a` then `c` (two consecutive steps), whose outputs were `outs`
 * (the second step's: they are kept, the caller may dispose its own). `persistent`: every tensor
 * the step reads or updates in place that lives across steps (weights, optimizer state, inputs).
 */
export function buildReplay(backend: object, a: Trace, c: Trace, outs: tf.Tensor[], persistent: tf.Tensor[]): ReplayBuild {
  const b = backend as Backend;
  const problem = a.problem ?? c.problem ?? traceDifference(a, c);
  if (problem) return { ok: false, reason: problem };
  const notFloat = outs.find((t) => t.dtype !== 'float32');
  if (notFloat) return { ok: false, reason: `an output of the step is ${notFloat.dtype}, not float32` };
  const bufferOf = (t: tf.Tensor): Buf | null => {
    if (t.isDisposed || !b.tensorMap.has(t.dataId)) return null;
    const r = b.tensorMap.get(t.dataId).resource as Buf | null;
    return r != null && typeof r === 'object' && 'size' in r ? r : null;
  };
  const kept = outs.map((t) => tf.keep(tf.clone(t)));
  const keptBuffers = kept.map(bufferOf);
  const held: { t: tf.Tensor; id: tf.DataId; buffer: Buf }[] = [];
  for (const t of persistent) {
    const buffer = bufferOf(t);
    if (buffer) held.push({ t, id: t.dataId, buffer });
  }
  const ops = c.ops;
  const used = new Set<Buf>();
  for (const op of ops) {
    if (op.k === 'group') for (const e of c.groups.get(op.g)?.entries ?? []) used.add(e.resource.buffer);
    else if (op.k === 'write') used.add(op.dst);
    else if (op.k === 'copy') {
      used.add(op.src);
      used.add(op.dst);
    }
  }
  // The step's own buffers are free in the pool now: taken out, so that nothing else gets them.
  const heldBuffers = new Set<Buf>([...held.map((h) => h.buffer), ...keptBuffers.filter((x): x is Buf => x != null)]);
  const pool = b.bufferManager;
  const owned: { key: string; buffer: Buf }[] = [];
  let stray = 0;
  for (const x of used) {
    if (heldBuffers.has(x)) continue;
    const key = `${x.size}_${x.usage}`;
    const free = pool.freeBuffers.get(key);
    const i = free ? free.indexOf(x) : -1;
    if (i < 0) stray++;
    else owned.push({ key, buffer: x });
  }
  if (keptBuffers.includes(null) || stray > 0) {
    tf.dispose(kept);
    return { ok: false, reason: keptBuffers.includes(null) ? 'an output of the step is not in a GPU buffer' : `${stray} buffers of the step belong to tensors not named as persistent` };
  }
  const results = kept.map((t, i) => ({ shape: t.shape, bytes: 4 * tf.util.sizeFromShape(t.shape), buffer: keptBuffers[i] as Buf }));
  for (const { key, buffer } of owned) {
    const free = pool.freeBuffers.get(key) as Buf[];
    free.splice(free.indexOf(buffer), 1);
    pool.numFreeBuffers--;
  }
  const dedicated = dedicateUniforms(b.device, b.queue, ops, c.groups);
  // A uniform buffer (no shader writes one) written once with the same bytes keeps them, in a
  // buffer now ours: only the other writes are made again.
  const writesTo = new Map<Buf, number>();
  for (const op of dedicated.ops) if (op.k === 'write') writesTo.set(op.dst, (writesTo.get(op.dst) ?? 0) + 1);
  const kept1 = (op: Op): boolean => op.k === 'write' && !op.staged && op.tag == null && writesTo.get(op.dst) === 1 && (op.dst.usage & UNIFORM) !== 0;
  const unmerged = dedicated.ops.filter((op) => !kept1(op));
  const buffersOf = (g: object): Buf[] => (dedicated.groups.get(g)?.entries ?? []).map((e) => e.resource.buffer);
  const replayed = envSwitch(MERGE_SUBMITS_FLAG, false) ? mergeSubmits(unmerged, buffersOf) : unmerged;
  let disposed = false;

  const replay: StepReplay = {
    refusal: null,
    dispatches: ops.filter((op) => op.k === 'dispatch').length,
    writes: replayed.filter((op) => op.k === 'write').length,
    submits: replayed.filter((op) => op.k === 'submit').length + 1,
    run(params: Record<string, unknown>): tf.Tensor[] | null {
      const refuse = (why: string): null => {
        replay.refusal = why;
        return null;
      };
      if (disposed) return refuse('disposed');
      if (b.activeTimers != null) return refuse("tfjs's profiler is timing kernels");
      for (const h of held) {
        if (h.t.isDisposed) return refuse('a tensor the step uses was disposed');
        if (h.t.dataId !== h.id || !b.tensorMap.has(h.id) || b.tensorMap.get(h.id).resource !== h.buffer) return refuse('a tensor the step uses has new data');
      }
      flush(b);
      const device = b.device;
      const queue = b.queue;
      let enc = device.createCommandEncoder();
      let pass: Pass | null = null;
      for (const op of replayed) {
        switch (op.k) {
          case 'pass': pass = enc.beginComputePass(); break;
          case 'pipe': (pass as Pass).setPipeline(op.p); break;
          case 'group': (pass as Pass).setBindGroup(op.i, op.g); break;
          case 'dispatch': (pass as Pass).dispatchWorkgroups(op.x, op.y, op.z); break;
          case 'end': (pass as Pass).end(); pass = null; break;
          case 'copy': enc.copyBufferToBuffer(op.src, op.so, op.dst, op.dO, op.n); break;
          case 'write': {
            if (op.tag) {
              if (!(op.tag.param in params)) throw new Error(`webgpu step replay: no value for "${op.tag.param}", which the step's writes depend on`);
              const made = op.tag.encode(params[op.tag.param]);
              const data = made instanceof ArrayBuffer ? new Uint8Array(made) : new Uint8Array(made.buffer, made.byteOffset, made.byteLength);
              if (data.length !== op.bytes.length) throw new Error(`webgpu step replay: "${op.tag.param}" made ${data.length} bytes, the captured write has ${op.bytes.length}`);
              queue.writeBuffer(op.dst, op.offset, data, 0, data.length);
            } else {
              queue.writeBuffer(op.dst, op.offset, op.bytes, 0, op.bytes.length);
            }
            break;
          }
          case 'submit': queue.submit([enc.finish()]); enc = device.createCommandEncoder(); break;
        }
      }
      const infos = results.map((r) => {
        const info = b.makeTensorInfo(r.shape, 'float32');
        b.uploadToGPU(info.dataId);
        enc.copyBufferToBuffer(r.buffer, 0, b.tensorMap.get(info.dataId).resource as Buf, 0, r.bytes);
        return info;
      });
      queue.submit([enc.finish()]);
      return infos.map((info) => tf.engine().makeTensorFromTensorInfo(info));
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      for (const { key, buffer } of owned) {
        const free = pool.freeBuffers.get(key);
        if (free) {
          free.push(buffer);
          pool.numFreeBuffers++;
        }
      }
      for (const x of dedicated.made) x.destroy();
      tf.dispose(kept);
    },
  };
  return { ok: true, replay };
}

/**
 * Gives each write of a uniform buffer that the step writes several times (the pool hands a
 * uniform buffer out again after each submit, with other contents) a buffer of its own, written
 * here once unless tagged, and the bind groups that read that write a copy naming it: a replay
 * then writes only what changes from step to step. Not for a buffer that a bind group reads before
 * the step first writes it (it holds the step before's last value) or that a write covers in part.
 */
function dedicateUniforms(device: Device, queue: Queue, ops: Op[], groups: Map<object, GroupDescriptor>): { ops: Op[]; made: Buf[]; groups: Map<object, GroupDescriptor> } {
  const writes = new Map<Buf, number>();
  for (const op of ops) if (op.k === 'write' && !op.staged) writes.set(op.dst, (writes.get(op.dst) ?? 0) + 1);
  const split = new Set([...writes].filter(([x, n]) => n > 1 && (x.usage & UNIFORM) !== 0).map(([x]) => x));
  const written = new Set<Buf>();
  for (const op of ops) {
    if (op.k === 'write' && split.has(op.dst)) {
      written.add(op.dst);
      if (op.offset !== 0 || op.bytes.length !== op.dst.size) split.delete(op.dst);
    } else if (op.k === 'group') {
      for (const e of groups.get(op.g)?.entries ?? []) if (!written.has(e.resource.buffer)) split.delete(e.resource.buffer);
    }
  }
  const current = new Map<Buf, Buf>();
  const made: Buf[] = [];
  // The step's bind groups, and those made here naming the dedicated buffers.
  const allGroups = new Map(groups);
  const out: Op[] = [];
  for (const op of ops) {
    if (op.k === 'write' && split.has(op.dst)) {
      const own = device.createBuffer({ size: op.dst.size, usage: op.dst.usage });
      made.push(own);
      current.set(op.dst, own);
      if (op.tag) out.push({ ...op, dst: own });
      else queue.writeBuffer(own, 0, op.bytes, 0, op.bytes.length);
    } else if (op.k === 'group' && (groups.get(op.g)?.entries ?? []).some((e) => current.has(e.resource.buffer))) {
      const d = groups.get(op.g) as GroupDescriptor;
      const entries = d.entries.map((e) => ({ binding: e.binding, resource: { ...e.resource, buffer: current.get(e.resource.buffer) ?? e.resource.buffer } }));
      const g = device.createBindGroup({ layout: d.layout, entries });
      allGroups.set(g, { layout: d.layout, entries });
      out.push({ k: 'group', i: op.i, g });
    } else {
      out.push(op);
    }
  }
  return { ops: out, made, groups: allGroups };
}

export interface ReplayerStatus {
  /** Steps replayed, and steps run normally (warm-up, captures, refusals). */
  replayed: number;
  normal: number;
  /** Why the step is not replayed, once capturing has given up. */
  reason: string | null;
  /** Why the last replay refused or the last capture could not be replayed, if one did (the step then ran normally and was captured again). */
  refusal: string | null;
  dispatches: number;
  writes: number;
  submits: number;
}

export interface StepReplayer {
  step(): tf.Tensor[];
  status(): ReplayerStatus;
  dispose(): void;
}

/**
 * Runs `run` (one training step, returning its outputs) normally for `warmup` steps, captures the
 * next two, and replays from then on; where a replay is refused it runs normally and captures
 * again. `params()` gives the tagged writes' values for the coming step and `replayed()` does
 * what the step's JavaScript would have done besides recording (Adam's step count). Gives up after
 * two captures that cannot be replayed (eight while the buffer pool still grows), or a replay that
 * failed (`status().reason`).
 */
export function stepReplayer(opts: {
  run: () => tf.Tensor[];
  persistent: () => tf.Tensor[];
  params: () => Record<string, unknown>;
  replayed: () => void;
  warmup?: number;
}): StepReplayer {
  const warmup = opts.warmup ?? 2;
  const backend = tf.backend() as unknown as Backend;
  let replay: StepReplay | null = null;
  let first: Trace | null = null;
  let since = 0;
  let failures = 0;
  /** Captures during which the pool still grew (it settles a few steps in): not counted as failures. */
  let growing = 0;
  const st: ReplayerStatus = { replayed: 0, normal: 0, reason: tf.getBackend() === 'webgpu' ? null : `the backend is ${tf.getBackend()}, not webgpu`, refusal: null, dispatches: 0, writes: 0, submits: 0 };
  const normal = (): tf.Tensor[] => {
    st.normal++;
    return opts.run();
  };
  const drop = (): void => {
    replay?.dispose();
    replay = null;
    since = 0;
  };
  return {
    step(): tf.Tensor[] {
      if (st.reason) return normal();
      if (replay) {
        let outs: tf.Tensor[] | null;
        try {
          outs = replay.run(opts.params());
        } catch (e) {
          // What it wrote went to its own buffers only: the step runs normally, from now on.
          st.reason = `a replay failed: ${(e as Error).message}`;
          drop();
          return normal();
        }
        if (outs) {
          opts.replayed();
          st.replayed++;
          return outs;
        }
        st.refusal = replay.refusal;
        drop();
      }
      if (since < warmup || backend.activeTimers != null) {
        since++;
        return normal();
      }
      const cap = startCapture(backend);
      let outs: tf.Tensor[];
      let trace: Trace;
      try {
        outs = normal();
      } finally {
        trace = cap.finish();
      }
      if (!first) {
        first = trace;
        return outs;
      }
      const built = buildReplay(backend, first, trace, outs, opts.persistent());
      first = null;
      if (built.ok) {
        replay = built.replay;
        st.dispatches = replay.dispatches;
        st.writes = replay.writes;
        st.submits = replay.submits;
      } else if ((built.reason === POOL_GROWING ? ++growing >= 8 : ++failures >= 2)) {
        st.reason = built.reason;
      } else {
        st.refusal = `a capture could not be replayed: ${built.reason}`;
        since = 0;
      }
      return outs;
    },
    status: () => ({ ...st }),
    dispose: drop,
  };
}
