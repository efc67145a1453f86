/**
 * Our own WGSL compute shaders, recorded into tfjs-backend-webgpu's command stream. tfjs's program
 * machinery gives a shader exactly one output and read-only inputs, and every kernel we fuse
 * (Adam, GroupNorm + SiLU, the filter gradient with the bias gradient) has several outputs; so
 * these shaders declare their own bindings (outputs read_write, then inputs, then an optional
 * uniform block) and are recorded the way the backend records its own programs: in its current
 * compute pass, submitted in its batches, timed by its profiler, with the tensors marked as in
 * use by the queue so that their buffers are not recycled before the submit.
 *
 * This relies on internals of @tensorflow/tfjs-backend-webgpu 4.22 (pinned in package.json);
 * `checkBackendInternals` says which one is missing if a version changes them.
 */
import * as tf from '@tensorflow/tfjs';

/* The few WebGPU objects used here (the DOM typings do not describe Dawn's node objects). */
export interface GpuBuffer {
  readonly size: number;
}
interface GpuPipeline {
  getBindGroupLayout(index: number): unknown;
}
interface GpuPass {
  setPipeline(p: GpuPipeline): void;
  setBindGroup(index: number, group: unknown): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GpuDevice {
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): GpuPipeline;
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GpuBuffer; size: number } }[] }): unknown;
  createQuerySet(d: { type: 'timestamp'; count: number }): unknown;
}

/** The parts of tfjs-backend-webgpu's WebGPUBackend used here. */
interface Backend {
  device: GpuDevice;
  queue: { writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBuffer, dataOffset: number, size: number): void };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBuffer };
  tensorMap: { get(id: tf.DataId): { resource: unknown; refCount: number } };
  incRef(id: tf.DataId): void;
  makeTensorInfo(shape: number[], dtype: 'float32'): tf.TensorInfo;
  uploadToGPU(id: tf.DataId): void;
  disposeData(id: tf.DataId, force?: boolean): boolean;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
  commandEncoder: { beginComputePass(d: object): GpuPass } | null;
  computePassEncoder: GpuPass | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  uniformPendingDisposal: GpuBuffer[];
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: unknown;
  querySetCount: number;
}

const USAGE = { COPY_DST: 0x8, UNIFORM: 0x40 } as const;

const REQUIRED_METHODS = ['incRef', 'makeTensorInfo', 'uploadToGPU', 'disposeData', 'ensureCommandEncoderReady', 'endComputePassEncoder', 'submitQueue', 'getQueryTime'] as const;
const REQUIRED_FIELDS = ['device', 'queue', 'bufferManager', 'tensorMap', 'commandQueueOwnedIds', 'uniformPendingDisposal', 'dispatchCountInPass'] as const;

/** Null when the backend has what these shaders need, else what it lacks. */
export function checkBackendInternals(backend: object): string | null {
  const b = backend as Record<string, unknown>;
  const missing = [
    ...REQUIRED_METHODS.filter((m) => typeof b[m] !== 'function'),
    ...REQUIRED_FIELDS.filter((f) => b[f] === undefined),
  ];
  return missing.length ? `tfjs-backend-webgpu ${tf.version_core} lacks ${missing.join(', ')}` : null;
}

export function asBackend(backend: unknown): Backend {
  return backend as Backend;
}

const pipelines = new WeakMap<GpuDevice, Map<string, GpuPipeline>>();

/** The compute pipeline of `code` (entry point `main`), compiled once per device. */
export function pipeline(b: Backend, key: string, code: () => string): GpuPipeline {
  let cache = pipelines.get(b.device);
  if (!cache) pipelines.set(b.device, (cache = new Map()));
  let p = cache.get(key);
  if (!p) {
    p = b.device.createComputePipeline({ layout: 'auto', compute: { module: b.device.createShaderModule({ code: code() }), entryPoint: 'main' } });
    cache.set(key, p);
  }
  return p;
}

/** A new float32 tensor with its GPU buffer (contents undefined until a shader writes them). */
export function output(b: Backend, shape: number[]): tf.TensorInfo {
  const t = b.makeTensorInfo(shape, 'float32');
  b.uploadToGPU(t.dataId);
  return t;
}

/**
 * Whether `ts` may be written in place: distinct data, each held by one tensor only (a clone, or a
 * tensor saved for a backward pass, shares its input's data and raises the count).
 */
export function exclusive(b: Backend, ts: tf.TensorInfo[]): boolean {
  const ids = new Set(ts.map((t) => t.dataId));
  return ids.size === ts.length && ts.every((t) => b.tensorMap.get(t.dataId)?.refCount === 1);
}

/** A kernel output that is `t` itself, written in place (as tfjs's Identity shares its input). */
export function alias(b: Backend, t: tf.TensorInfo): tf.TensorInfo {
  b.incRef(t.dataId);
  return { dataId: t.dataId, shape: t.shape, dtype: t.dtype };
}

function bufferOf(b: Backend, t: tf.TensorInfo): GpuBuffer {
  b.uploadToGPU(t.dataId);
  const r = b.tensorMap.get(t.dataId).resource;
  // `in`, not a read of `size`: that is a call into Dawn, once per binding of every dispatch.
  if (typeof r !== 'object' || r === null || !('size' in r)) throw new Error('webgpu kernel: an input is not in a GPU buffer (a texture?)');
  return r as GpuBuffer;
}

/** A uniform block: its f32 fields, then its u32 fields (the shader's struct declares them in that order), padded to 16 bytes. */
export function uniforms(fields: { u32?: number[]; f32?: number[] }): ArrayBuffer {
  const u = fields.u32 ?? [];
  const f = fields.f32 ?? [];
  const buf = new ArrayBuffer(Math.ceil((u.length + f.length) / 4) * 16 || 16);
  new Float32Array(buf, 0, f.length).set(f);
  new Uint32Array(buf, 4 * f.length, u.length).set(u);
  return buf;
}

/** Workgroup counts for `groups` workgroups in a 1-D kernel: 2-D beyond the per-dimension limit. */
export function grid1d(groups: number): [number, number, number] {
  const x = Math.min(groups, 65535);
  return [Math.max(x, 1), Math.ceil(groups / 65535) || 1, 1];
}

/**
 * A uniform buffer holding `block`, shared by the dispatches that record it until the backend's
 * next submit (it goes back to the pool then, as the backend's own uniforms do).
 */
export function uniformBuffer(b: Backend, block: ArrayBuffer): GpuBuffer {
  const ub = b.bufferManager.acquireBuffer(block.byteLength, USAGE.UNIFORM | USAGE.COPY_DST);
  b.queue.writeBuffer(ub, 0, block, 0, block.byteLength);
  b.uniformPendingDisposal.push(ub);
  return ub;
}

/**
 * Changes at each submit of the backend (whose submitQueue starts a new list of pending
 * uniforms): a uniformBuffer stays valid while this is the same object.
 */
export function submitEpoch(b: Backend): object {
  return b.uniformPendingDisposal;
}

/**
 * Records one dispatch of `pipe`: bindings are `outputs` (read_write), then `inputs` (read),
 * then the uniform block if any (its data, or a buffer from uniformBuffer), in the shader's
 * binding order.
 */
export function dispatch(
  b: Backend,
  name: string,
  pipe: GpuPipeline,
  outputs: tf.TensorInfo[],
  inputs: tf.TensorInfo[],
  block: ArrayBuffer | GpuBuffer | null,
  groups: [number, number, number],
): void {
  // Bound at the tensor's size: a pooled buffer can be larger, and shaders use arrayLength.
  const entries = [...outputs, ...inputs].map((t, i) => ({ binding: i, resource: { buffer: bufferOf(b, t), size: 4 * tf.util.sizeFromShape(t.shape) } }));
  if (block instanceof ArrayBuffer) entries.push({ binding: entries.length, resource: { buffer: uniformBuffer(b, block), size: block.byteLength } });
  else if (block) entries.push({ binding: entries.length, resource: { buffer: block, size: block.size } });
  for (const t of [...outputs, ...inputs]) b.commandQueueOwnedIds.add(t.dataId);
  const group = b.device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
  const timed = b.activeTimers != null;
  b.ensureCommandEncoderReady();
  const encoder = b.commandEncoder as NonNullable<Backend['commandEncoder']>;
  if (timed && b.supportTimestampQuery) {
    b.endComputePassEncoder();
    if (b.querySet == null) b.querySet = b.device.createQuerySet({ type: 'timestamp', count: b.querySetCount });
    b.computePassEncoder = encoder.beginComputePass({ timestampWrites: { querySet: b.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  } else if (!b.computePassEncoder) {
    b.computePassEncoder = encoder.beginComputePass({});
  }
  const pass = b.computePassEncoder as GpuPass;
  pass.setPipeline(pipe);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
  b.dispatchCountInPass++;
  if (timed || (tf.env().get('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE') as number) <= b.dispatchCountInPass) {
    b.endComputePassEncoder();
    if (timed) b.activeTimers?.push({ name, query: b.getQueryTime() });
    else b.submitQueue();
  }
}
