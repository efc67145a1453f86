/**
 * Replays a training step's WebGPU commands without running its JavaScript. On a GPU the step is
 * bound by the CPU that records it (docs/benchmarks.md: 24-42 ms to record a step the H200 runs in
 * 28 ms at batch 128); almost all of that is tfjs's engine, its autodiff and the kernels' own
 * JavaScript, while the commands themselves (set pipeline, set bind group, dispatch) cost a few
 * microseconds each. A step records the same commands every time: the same pipelines, dispatch
 * sizes and uniform contents (shapes), on the weights updated in place. What depends on the step
 * is tagged where it is made with how to make it from the step's values: Adam's learning rate and
 * bias corrections and the EMA's decay (`taggedWrite`), the uploads of the objective's inputs, the
 * time embedding and the labels (`tagUpload`).
 *
 * `startCapture` records everything the step sends to the device; two consecutive steps are
 * captured and must match command for command, untagged bytes included (`traceDifference`); the
 * second step's intermediate buffers are then taken out of tfjs's pool so that nothing else can be
 * handed them, and `run` records its commands again in one loop, writing only the tagged values,
 * and returns copies of the step's outputs. It is exact: the GPU runs the same commands. It
 * refuses (returns null: run the step normally and capture again) when a tensor the step reads or
 * updates in place was disposed or reassigned, and while tfjs's profiler is timing kernels.
 *
 * This relies on internals of @tensorflow/tfjs-backend-webgpu 4.22 (pinned in package.json), as
 * webgpuRaw.ts does: its device, queue, buffer pool, tensor map and command encoder.
 */
import * as tf from '@tensorflow/tfjs';

/* The WebGPU objects used here (the DOM typings do not describe Dawn's node objects). */
interface Buf {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}
interface Pass {
  setPipeline(p: object): void;
  setBindGroup(index: number, group: object, offsets?: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface Encoder {
  beginComputePass(d?: object): Pass;
  copyBufferToBuffer(src: Buf, srcOffset: number, dst: Buf, dstOffset: number, size: number): void;
  finish(): object;
}
interface Device {
  createCommandEncoder(d?: object): Encoder;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): Buf;
  createBindGroup(d: { layout: object; entries: { binding: number; resource: unknown }[] }): object;
}
interface Queue {
  writeBuffer(buffer: Buf, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number): void;
  submit(buffers: object[]): void;
}
interface Backend {
  device: Device;
  queue: Queue;
  bufferManager: { freeBuffers: Map<string, Buf[]>; numFreeBuffers: number };
  tensorMap: { has(id: tf.DataId): boolean; get(id: tf.DataId): { resource: unknown } };
  commandEncoder: Encoder | null;
  computePassEncoder: Pass | null;
  activeTimers: unknown[] | null;
  endComputePassEncoder(): void;
  submitQueue(): void;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
  uploadToGPU(id: tf.DataId): void;
}

interface BufferBinding {
  buffer: Buf;
  offset?: number;
  size?: number;
}
/** A bind group's layout and buffers, as given to createBindGroup. */
export interface GroupDescriptor {
  layout: object;
  entries: { binding: number; resource: BufferBinding }[];
}

const MAP_WRITE = 0x2;
const UNIFORM = 0x40;

/** A write whose bytes depend on the step: `encode(params[param])` makes them at each replay. */
export interface ReplayTag {
  param: string;
  encode(value: unknown): ArrayBuffer | ArrayBufferView;
}

/**
 * The names of the values a replay is given (StepReplay.run's params), shared by the code that
 * tags writes and the code that replays: Adam's attributes, the micro-batch (the objective's
 * inputs), the time input of the network (its sinusoidal embedding), the class labels, the
 * network's seed (its dropout masks).
 */
export const REPLAY_PARAMS = { adam: 'adam', batch: 'batch', time: 'time', labels: 'labels', seed: 'seed' } as const;

type Op =
  | { k: 'pass' }
  | { k: 'pipe'; p: object }
  | { k: 'group'; i: number; g: object }
  | { k: 'dispatch'; x: number; y: number; z: number }
  | { k: 'end' }
  | { k: 'copy'; src: Buf; so: number; dst: Buf; dO: number; n: number }
  /** queue.writeBuffer, or an upload through a staging buffer (replayed as a write before the batch's submit). */
  | { k: 'write'; dst: Buf; offset: number; bytes: Uint8Array; tag: ReplayTag | null; staged: boolean }
  | { k: 'submit' };

/** What one captured step sent to the device. */
export interface Trace {
  ops: Op[];
  /** How each bind group of the step was made. */
  groups: Map<object, GroupDescriptor>;
  /** Why the step cannot be replayed, if something in it cannot be (the first reason). */
  problem: string | null;
}

let tagged: ReplayTag | null = null;
let capturing = false;
const uploadTags = new WeakMap<tf.DataId, ReplayTag>();

/**
 * Tags the upload of `t` (a tensor made from values on the CPU, uploaded at its first use on the
 * GPU) with how to make its values at each replay. Returns `t`.
 */
export function tagUpload<T extends tf.Tensor>(t: T, tag: ReplayTag): T {
  if (capturing) uploadTags.set(t.dataId, tag);
  return t;
}

/** Runs `write` (which writes one uniform) so that a capture knows how to make its bytes at each replay. */
export function taggedWrite<T>(tag: ReplayTag, write: () => T): T {
  if (!capturing) return write();
  const prev = tagged;
  tagged = tag;
  try {
    return write();
  } finally {
    tagged = prev;
  }
}

function bytesOf(data: ArrayBuffer | ArrayBufferView, dataOffset = 0, size?: number): Uint8Array {
  // WebGPU: offsets and sizes count bytes for an ArrayBuffer, elements for a typed array.
  if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(dataOffset, size == null ? undefined : dataOffset + size));
  const el = 'BYTES_PER_ELEMENT' in data ? (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT : 1;
  const start = data.byteOffset + dataOffset * el;
  const end = size == null ? data.byteOffset + data.byteLength : start + size * el;
  return new Uint8Array(data.buffer.slice(start, end));
}

/** Replaces `obj[name]` with `make(original)` until `undo` runs. */
function patch(obj: object, name: string, make: (orig: (...a: never[]) => unknown) => (...a: never[]) => unknown, undo: (() => void)[]): void {
  const rec = obj as Record<string, unknown>;
  const own = Object.getOwnPropertyDescriptor(obj, name);
  const orig = rec[name] as (...a: never[]) => unknown;
  Object.defineProperty(obj, name, { configurable: true, writable: true, value: make(orig) });
  undo.push(() => {
    if (own) Object.defineProperty(obj, name, own);
    else delete rec[name];
  });
}

export interface Capture {
  /** Submits what the step left open, stops recording and returns what it recorded. */
  finish(): Trace;
}

/** Flushes the backend's open commands (so a capture or a replay starts on its own) and starts recording. */
export function startCapture(backend: object): Capture {
  const b = backend as Backend;
  flush(b);
  const trace: Trace = { ops: [], groups: new Map(), problem: null };
  const fail = (why: string): void => {
    trace.problem ??= why;
  };
  const staging = new Map<Buf, Uint8Array | null>();
  const finished = new Set<object>();
  const undo: (() => void)[] = [];
  const ops = trace.ops;

  const watchPass = (pass: Pass): Pass => {
    const p = pass as unknown as Record<string, unknown>;
    const o = { setPipeline: pass.setPipeline, setBindGroup: pass.setBindGroup, dispatchWorkgroups: pass.dispatchWorkgroups, end: pass.end };
    p.setPipeline = (pipe: object): void => {
      ops.push({ k: 'pipe', p: pipe });
      o.setPipeline.call(pass, pipe);
    };
    p.setBindGroup = (i: number, g: object, offsets?: unknown): void => {
      if (offsets != null && (offsets as unknown[]).length > 0) fail('a bind group with dynamic offsets');
      if (!trace.groups.has(g)) fail('a bind group made before the capture');
      ops.push({ k: 'group', i, g });
      o.setBindGroup.call(pass, i, g, offsets);
    };
    p.dispatchWorkgroups = (x: number, y = 1, z = 1): void => {
      ops.push({ k: 'dispatch', x, y, z });
      o.dispatchWorkgroups.call(pass, x, y, z);
    };
    p.end = (): void => {
      ops.push({ k: 'end' });
      o.end.call(pass);
    };
    p.dispatchWorkgroupsIndirect = (): void => fail('an indirect dispatch');
    return pass;
  };

  const watchEncoder = (enc: Encoder): Encoder => {
    const e = enc as unknown as Record<string, unknown>;
    const o = { beginComputePass: enc.beginComputePass, copyBufferToBuffer: enc.copyBufferToBuffer, finish: enc.finish };
    e.beginComputePass = (d?: { timestampWrites?: unknown }): Pass => {
      if (d?.timestampWrites != null) fail('a timed compute pass (the profiler)');
      ops.push({ k: 'pass' });
      return watchPass(o.beginComputePass.call(enc, d));
    };
    e.copyBufferToBuffer = (src: Buf, so: number, dst: Buf, dO: number, n: number): void => {
      if (staging.has(src)) {
        const data = staging.get(src);
        if (!data) fail('an upload from a staging buffer still mapped');
        else ops.push({ k: 'write', dst, offset: dO, bytes: data.slice(so, so + n), tag: tagged, staged: true });
      } else {
        ops.push({ k: 'copy', src, so, dst, dO, n });
      }
      o.copyBufferToBuffer.call(enc, src, so, dst, dO, n);
    };
    e.finish = (): object => {
      const cb = o.finish.call(enc);
      finished.add(cb);
      return cb;
    };
    for (const name of ['clearBuffer', 'resolveQuerySet', 'writeTimestamp', 'copyBufferToTexture', 'copyTextureToBuffer', 'copyTextureToTexture']) {
      e[name] = (): void => fail(`a command encoder's ${name}`);
    }
    return enc;
  };

  patch(b.device, 'createCommandEncoder', (orig) => (d?: object) => watchEncoder(orig.call(b.device, d as never) as Encoder), undo);
  patch(b.device, 'createBindGroup', (orig) => (d: Parameters<Device['createBindGroup']>[0]) => {
    const g = orig.call(b.device, d as never) as object;
    const entries: GroupDescriptor['entries'] = [];
    for (const entry of d.entries) {
      const r = entry.resource as BufferBinding | null;
      if (r?.buffer == null) fail('a bind group that names something other than a buffer');
      else entries.push({ binding: entry.binding, resource: { ...r } });
    }
    trace.groups.set(g, { layout: d.layout, entries });
    return g;
  }, undo);
  patch(b.device, 'createBuffer', (orig) => (d: Parameters<Device['createBuffer']>[0]) => {
    const buf = orig.call(b.device, d as never) as Buf;
    if (!(d.usage & MAP_WRITE) || !d.mappedAtCreation) {
      fail('a buffer created during the step (the pool is not steady yet)');
      return buf;
    }
    // A staging buffer for an upload: its bytes are kept when it is unmapped.
    staging.set(buf, null);
    const s = buf as unknown as { getMappedRange(o?: number, n?: number): ArrayBuffer; unmap(): void };
    const ranges: ArrayBuffer[] = [];
    const get = s.getMappedRange;
    const unmap = s.unmap;
    Object.defineProperty(buf, 'getMappedRange', { configurable: true, value: (o?: number, n?: number) => {
      if (o) fail('a partly mapped staging buffer');
      const r = get.call(buf, o, n);
      ranges.push(r);
      return r;
    } });
    Object.defineProperty(buf, 'unmap', { configurable: true, value: () => {
      if (ranges.length === 1) staging.set(buf, new Uint8Array(ranges[0].slice(0)));
      else fail('a staging buffer mapped in several ranges');
      unmap.call(buf);
    } });
    return buf;
  }, undo);
  patch(b.queue, 'writeBuffer', (orig) => (buffer: Buf, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number) => {
    ops.push({ k: 'write', dst: buffer, offset, bytes: bytesOf(data, dataOffset, size), tag: tagged, staged: false });
    orig.call(b.queue, buffer as never, offset as never, data as never, dataOffset as never, size as never);
  }, undo);
  patch(b.queue, 'submit', (orig) => (cbs: object[]) => {
    if (cbs.length !== 1 || !finished.has(cbs[0])) fail('a submit of commands recorded before the capture');
    ops.push({ k: 'submit' });
    orig.call(b.queue, cbs as never);
  }, undo);
  patch(b.queue, 'writeTexture', () => () => fail('a texture upload'), undo);
  patch(b, 'uploadToGPU', (orig) => (id: tf.DataId) => {
    const tag = uploadTags.get(id);
    if (!tag) return orig.call(b, id as never);
    const prev = tagged;
    tagged = tag;
    try {
      return orig.call(b, id as never);
    } finally {
      tagged = prev;
    }
  }, undo);
  capturing = true;

  return {
    finish(): Trace {
      try {
        flush(b);
      } finally {
        capturing = false;
        for (const u of undo.reverse()) u();
      }
      return trace;
    },
  };
}

/** Submits the backend's open commands. */
function flush(b: Backend): void {
  b.endComputePassEncoder();
  if (b.commandEncoder) b.submitQueue();
}

function sameBytes(a: Uint8Array, c: Uint8Array): boolean {
  if (a.length !== c.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== c[i]) return false;
  return true;
}

/**
 * Null when `a` and `c` send the same commands (tagged bytes aside), else where they differ. The
 * buffers may differ: work between steps (the assignment's cost matrix, read-backs) can change
 * which ones the pool hands out, and `c` is replayed on its own buffers; what is compared is
 * what the GPU computes: pipelines, dispatch sizes, bindings' layouts, offsets and sizes, and the
 * bytes written.
 */
export function traceDifference(a: Trace, c: Trace): string | null {
  if (a.ops.length !== c.ops.length) return `${a.ops.length} commands, then ${c.ops.length}`;
  const sameGroup = (g: object, h: object): boolean => {
    const d = a.groups.get(g);
    const e = c.groups.get(h);
    if (!d || !e) return g === h && d === e;
    return d.layout === e.layout && d.entries.length === e.entries.length && d.entries.every((x, i) => {
      const y = e.entries[i];
      return x.binding === y.binding && x.resource.offset === y.resource.offset && x.resource.size === y.resource.size;
    });
  };
  for (let i = 0; i < a.ops.length; i++) {
    const x = a.ops[i];
    const y = c.ops[i] as typeof x;
    const differs = ((): boolean => {
      switch (x.k) {
        case 'pipe': return x.p !== (y as typeof x).p;
        case 'group': return x.i !== (y as typeof x).i || !sameGroup(x.g, (y as typeof x).g);
        case 'dispatch': { const z = y as typeof x; return x.x !== z.x || x.y !== z.y || x.z !== z.z; }
        case 'copy': { const z = y as typeof x; return x.so !== z.so || x.dO !== z.dO || x.n !== z.n; }
        case 'write': {
          const z = y as typeof x;
          if (x.offset !== z.offset || x.staged !== z.staged || x.bytes.length !== z.bytes.length || x.tag?.param !== z.tag?.param) return true;
          return x.tag == null && !sameBytes(x.bytes, z.bytes);
        }
        default: return false;
      }
    })();
    if (x.k !== y.k || differs) return `command ${i} (${x.k}${x.k === y.k ? '' : ` then ${y.k}`})`;
  }
  return null;
}

export interface StepReplay {
  /** Records the step's commands again; copies of its outputs, or null where the step must run normally. */
  run(params: Record<string, unknown>): tf.Tensor[] | null;
  /** Per replay: dispatches recorded, and writes made (of the captured step's). */
  readonly dispatches: number;
  readonly writes: number;
  readonly capturedWrites: number;
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
  const replayed = dedicated.ops.filter((op) => !kept1(op));
  let disposed = false;

  const replay: StepReplay = {
    dispatches: ops.filter((op) => op.k === 'dispatch').length,
    writes: replayed.filter((op) => op.k === 'write').length,
    capturedWrites: ops.filter((op) => op.k === 'write').length,
    run(params: Record<string, unknown>): tf.Tensor[] | null {
      if (disposed || b.activeTimers != null) return null;
      for (const h of held) {
        if (h.t.isDisposed || h.t.dataId !== h.id || !b.tensorMap.has(h.id) || b.tensorMap.get(h.id).resource !== h.buffer) return null;
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
function dedicateUniforms(device: Device, queue: Queue, ops: Op[], groups: Map<object, GroupDescriptor>): { ops: Op[]; made: Buf[] } {
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
      out.push({ k: 'group', i: op.i, g: device.createBindGroup({ layout: d.layout, entries }) });
    } else {
      out.push(op);
    }
  }
  return { ops: out, made };
}

export interface ReplayerStatus {
  /** Steps replayed, and steps run normally (warm-up, captures, refusals). */
  replayed: number;
  normal: number;
  /** Why the step is not replayed, once capturing has given up. */
  reason: string | null;
  dispatches: number;
  writes: number;
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
 * two captures that cannot be replayed, or a replay that failed (`status().reason`).
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
  const st: ReplayerStatus = { replayed: 0, normal: 0, reason: tf.getBackend() === 'webgpu' ? null : `the backend is ${tf.getBackend()}, not webgpu`, dispatches: 0, writes: 0 };
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
      } else if (++failures >= 2) {
        st.reason = built.reason;
      } else {
        since = 0;
      }
      return outs;
    },
    status: () => ({ ...st }),
    dispose: drop,
  };
}
