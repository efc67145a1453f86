/**
 * Records what a training step sends to the WebGPU device, for webgpuReplay.ts to send again
 * without running the step's JavaScript: writes (uniforms, and uploads through staging buffers,
 * kept as bytes), compute passes, pipelines, bind groups with the buffers they name, dispatches,
 * copies, submits. What depends on the step is tagged where it is made, with how to make it from
 * the step's values (`taggedWrite` for a kernel's uniform, `tagUpload` for a tensor made on the
 * CPU); `traceDifference` says whether two captured steps send the same commands.
 *
 * This relies on internals of @tensorflow/tfjs-backend-webgpu 4.22 (pinned in package.json), as
 * webgpuRaw.ts does: its device, queue, buffer pool, tensor map and command encoder.
 */
import * as tf from '@tensorflow/tfjs';

/* The WebGPU objects used here (the DOM typings do not describe Dawn's node objects). */
export interface Buf {
  readonly size: number;
  readonly usage: number;
  destroy(): void;
}
export interface Pass {
  setPipeline(p: object): void;
  setBindGroup(index: number, group: object, offsets?: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
export interface Encoder {
  beginComputePass(d?: object): Pass;
  copyBufferToBuffer(src: Buf, srcOffset: number, dst: Buf, dstOffset: number, size: number): void;
  finish(): object;
}
export interface Device {
  createCommandEncoder(d?: object): Encoder;
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): Buf;
  createBindGroup(d: { layout: object; entries: { binding: number; resource: unknown }[] }): object;
}
export interface Queue {
  writeBuffer(buffer: Buf, offset: number, data: ArrayBuffer | ArrayBufferView, dataOffset?: number, size?: number): void;
  submit(buffers: object[]): void;
}
export interface Backend {
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

export interface BufferBinding {
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
export const UNIFORM = 0x40;

/** Why a capture failed when tfjs's buffer pool still grew during the step: worth capturing again later. */
export const POOL_GROWING = 'a buffer created during the step (the pool is not steady yet)';

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

/**
 * The time input's parameter for the network's call `slot` in a step: a step that calls it more
 * than once (consistency training: the teacher, then the student) has a time input per call.
 */
export function timeParam(slot: number): string {
  return slot === 0 ? REPLAY_PARAMS.time : `${REPLAY_PARAMS.time}.${slot}`;
}

/**
 * A parameter of micro-batch `m` of a step that accumulates gradients over several: its uploads
 * are made from its own micro-batch, labels, seed and time inputs.
 */
export function microParam(param: string, m: number): string {
  return m === 0 ? param : `${param}@${m}`;
}

let micro = 0;

/** Runs `f`, which builds and differentiates micro-batch `m`'s loss: its uploads' tags name microParam(param, m). */
export function inMicroBatch<T>(m: number, f: () => T): T {
  const prev = micro;
  micro = m;
  try {
    return f();
  } finally {
    micro = prev;
  }
}

export type Op =
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
  if (capturing) uploadTags.set(t.dataId, micro === 0 ? tag : { param: microParam(tag.param, micro), encode: tag.encode });
  // On the GPU at once, in every step: an op whose inputs are all small and still on the CPU runs
  // there (tfjs's CPU forwarding), and its result, untagged, would be what the step uploads.
  if (tf.getBackend() === 'webgpu') (tf.backend() as unknown as { uploadToGPU(id: tf.DataId): void }).uploadToGPU(t.dataId);
  return t;
}

/** Runs `write` (which writes one uniform, or uploads one tensor) so that a capture knows how to make its bytes at each replay. */
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
      fail(POOL_GROWING);
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
    return tag ? taggedWrite(tag, () => orig.call(b, id as never)) : orig.call(b, id as never);
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
export function flush(b: Backend): void {
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
