/**
 * Reuses WebGPU bind groups across training steps. On a GPU the step is bound by the CPU that
 * records it, and creating a bind group is the dearest call of a dispatch (about 24 us in Dawn's
 * front end alone, 35 us on Vulkan, against 5 us for setting and dispatching it:
 * docs/benchmarks.md). A training step makes the same allocations in the same order each time,
 * so tfjs's buffer pool hands out the same buffers and the same bindings recur step after step:
 * the device's createBindGroup is wrapped to return the bind group it made before for the same
 * layout and the same buffers, offsets and sizes.
 *
 * For the bindings to repeat, the buffers must: tfjs's pool hands out the free buffer released
 * last, so which buffer a tensor gets drifts from step to step; `orderBufferPool` makes it hand
 * out the oldest free one instead, which with the weights updated in place (webgpuKernels.ts)
 * gives every dispatch of a step the same buffers as in the step before.
 *
 * A bind group is immutable and names its buffers, not their contents, so reusing one is exact.
 * It must not outlive its buffers: every buffer created after install has its destroy() wrapped
 * to drop the bind groups that name it, and a binding that names anything else (a texture, a
 * buffer created before install, a layout not memoized here) is created as before, uncached.
 * Layouts: `pipeline.getBindGroupLayout(i)` returns a new object per call in Dawn, so the
 * pipelines created after install memoize theirs.
 * IMMISCIBLE_WEBGPU_BIND_CACHE=0 leaves the device alone.
 */
import { envSwitch } from '../envSwitch';

/* The few WebGPU objects used here (the DOM typings do not describe Dawn's node objects). */
interface BufferLike {
  destroy(): void;
}
interface PipelineLike {
  getBindGroupLayout(index: number): object;
}
interface BindEntry {
  binding: number;
  resource: unknown;
}
interface BindGroupDescriptor {
  layout: object;
  entries: BindEntry[];
}
export interface DeviceLike {
  createBuffer(d: object): BufferLike;
  createBindGroup(d: BindGroupDescriptor): object;
  createComputePipeline(d: object): PipelineLike;
  createComputePipelineAsync(d: object): Promise<PipelineLike>;
}

export interface BindGroupCacheStats {
  /** Bind groups returned from the cache. */
  hits: number;
  /** Bind groups created and kept. */
  misses: number;
  /** Bind groups created without caching (an unknown layout or resource, or the cache off). */
  uncached: number;
  /** Bind groups dropped because a buffer they name was destroyed. */
  dropped: number;
  /** Times the whole cache was cleared for growing past its bound. */
  clears: number;
  entries: number;
}

export interface BindGroupCache {
  stats(): BindGroupCacheStats;
  /** Off: every bind group is created anew (for comparisons); the cached ones are dropped. */
  setEnabled(on: boolean): void;
  enabled(): boolean;
  /** Puts the device's own methods back and drops every cached bind group. */
  uninstall(): void;
}

/** Enough for every binding of a few steps of a large model; beyond it the cache starts over. */
export const MAX_CACHED_BIND_GROUPS = 20000;

const installed = new WeakMap<object, BindGroupCache>();

/** Ids in order of first sight, shared by the cache keys and the pool's order. */
const ids = new WeakMap<object, number>();
let nextId = 1;
function idOf(o: object): number {
  let id = ids.get(o);
  if (id === undefined) ids.set(o, (id = nextId++));
  return id;
}

export function bindGroupCacheOf(device: object): BindGroupCache | null {
  return installed.get(device) ?? null;
}

/**
 * Wraps `device` (idempotent: the second call returns the first cache). `adopt`: pipelines made
 * before install (tfjs's pipeline cache) whose layouts should be memoized too.
 */
export function installBindGroupCache(device: DeviceLike, adopt: Iterable<PipelineLike> = [], maxEntries = MAX_CACHED_BIND_GROUPS): BindGroupCache {
  const existing = installed.get(device);
  if (existing) return existing;
  /** Layouts memoized per pipeline, and the buffers whose destroy() is watched: only these are cached. */
  const knownLayouts = new WeakSet<object>();
  const trackedBuffers = new WeakSet<object>();
  const cache = new Map<string, object>();
  /** Buffer id to the keys of the bind groups that name it. */
  const byBuffer = new Map<number, string[]>();
  /** Keys listed in byBuffer, stale ones included. */
  let indexed = 0;
  const stats = { hits: 0, misses: 0, uncached: 0, dropped: 0, clears: 0 };
  let on = true;

  const own = {
    createBuffer: device.createBuffer,
    createBindGroup: device.createBindGroup,
    createComputePipeline: device.createComputePipeline,
    createComputePipelineAsync: device.createComputePipelineAsync,
  };

  const clear = (): void => {
    cache.clear();
    byBuffer.clear();
    indexed = 0;
  };

  const memoizeLayouts = (p: PipelineLike): PipelineLike => {
    if (Object.prototype.hasOwnProperty.call(p, 'getBindGroupLayout')) return p;
    const get = p.getBindGroupLayout;
    const layouts = new Map<number, object>();
    Object.defineProperty(p, 'getBindGroupLayout', {
      configurable: true,
      writable: true,
      value(this: PipelineLike, index: number): object {
        let l = layouts.get(index);
        if (!l) {
          l = get.call(this, index);
          layouts.set(index, l);
          knownLayouts.add(l);
        }
        return l;
      },
    });
    return p;
  };
  for (const p of adopt) memoizeLayouts(p);

  const watch = (b: BufferLike): BufferLike => {
    const destroy = b.destroy;
    trackedBuffers.add(b);
    Object.defineProperty(b, 'destroy', {
      configurable: true,
      writable: true,
      value(this: BufferLike): void {
        const id = ids.get(b);
        const keys = id === undefined ? undefined : byBuffer.get(id);
        if (keys) {
          for (const k of keys) if (cache.delete(k)) stats.dropped++;
          byBuffer.delete(id as number);
          indexed -= keys.length;
        }
        trackedBuffers.delete(b);
        destroy.call(this);
      },
    });
    return b;
  };

  /** The cache key of a descriptor, or null when something in it is not cacheable. */
  const keyOf = (d: BindGroupDescriptor): { key: string; buffers: number[] } | null => {
    if (!knownLayouts.has(d.layout)) return null;
    let key = String(idOf(d.layout));
    const buffers: number[] = [];
    for (const e of d.entries) {
      const r = e.resource as { buffer?: object; offset?: number; size?: number } | null;
      if (r == null || typeof r !== 'object' || r.buffer == null || !trackedBuffers.has(r.buffer)) return null;
      const id = idOf(r.buffer);
      buffers.push(id);
      key += `|${e.binding}:${id}:${r.offset ?? 0}:${r.size ?? ''}`;
    }
    return { key, buffers };
  };

  const wrapped: Pick<DeviceLike, keyof typeof own> = {
    createBuffer(this: DeviceLike, d: object): BufferLike {
      return watch(own.createBuffer.call(this, d));
    },
    createComputePipeline(this: DeviceLike, d: object): PipelineLike {
      return memoizeLayouts(own.createComputePipeline.call(this, d));
    },
    async createComputePipelineAsync(this: DeviceLike, d: object): Promise<PipelineLike> {
      return memoizeLayouts(await own.createComputePipelineAsync.call(this, d));
    },
    createBindGroup(this: DeviceLike, d: BindGroupDescriptor): object {
      const k = on ? keyOf(d) : null;
      if (!k) {
        stats.uncached++;
        return own.createBindGroup.call(this, d);
      }
      const hit = cache.get(k.key);
      if (hit) {
        stats.hits++;
        return hit;
      }
      const group = own.createBindGroup.call(this, d);
      // byBuffer keeps the keys of entries another buffer's destroy() dropped: bounded with the cache.
      if (cache.size >= maxEntries || indexed >= 4 * maxEntries) {
        clear();
        stats.clears++;
      }
      cache.set(k.key, group);
      for (const id of new Set(k.buffers)) {
        const keys = byBuffer.get(id);
        if (keys) keys.push(k.key);
        else byBuffer.set(id, [k.key]);
        indexed++;
      }
      stats.misses++;
      return group;
    },
  };
  for (const name of Object.keys(wrapped) as (keyof typeof own)[]) {
    Object.defineProperty(device, name, { configurable: true, writable: true, value: wrapped[name] });
  }

  const handle: BindGroupCache = {
    stats: () => ({ ...stats, entries: cache.size }),
    setEnabled(v: boolean): void {
      on = v;
      if (!v) clear();
    },
    enabled: () => on,
    uninstall(): void {
      for (const name of Object.keys(own) as (keyof typeof own)[]) delete (device as unknown as Record<string, unknown>)[name];
      clear();
      on = false;
      installed.delete(device);
    },
  };
  installed.set(device, handle);
  return handle;
}

/** The parts of tfjs-backend-webgpu's BufferManager used here (4.22). */
interface BufferPool {
  freeBuffers: Map<string, object[]>;
  releaseBuffer(buffer: object, reuse?: boolean): void;
}

const ordered = new WeakSet<object>();

/**
 * Makes the pool hand out the oldest free buffer of a size and usage instead of the last one
 * released: its free lists are kept sorted, newest first (acquireBuffer pops the last).
 */
export function orderBufferPool(pool: BufferPool): void {
  if (ordered.has(pool)) return;
  ordered.add(pool);
  const release = pool.releaseBuffer;
  Object.defineProperty(pool, 'releaseBuffer', {
    configurable: true,
    writable: true,
    value(this: BufferPool, buffer: { size: number; usage: number }, reuse = true): void {
      release.call(this, buffer, reuse);
      if (!reuse) return;
      // tfjs's key (getBufferKey); where the buffer is not last on its list, the list is left alone.
      const list = this.freeBuffers.get(`${buffer.size}_${buffer.usage}`);
      if (!list || list[list.length - 1] !== buffer) return;
      const rank = idOf(buffer);
      let i = list.length - 1;
      while (i > 0 && idOf(list[i - 1]) < rank) {
        list[i] = list[i - 1];
        i--;
      }
      list[i] = buffer;
    },
  });
}

export type BindGroupCacheLoad = { ok: true; cache: BindGroupCache } | { ok: false; reason: string };

/** Installs the cache on tfjs-backend-webgpu's device (`backend` is tf.backend() on 'webgpu'). */
export function cacheBindGroupsOf(backend: object): BindGroupCacheLoad {
  if (!envSwitch('IMMISCIBLE_WEBGPU_BIND_CACHE', true)) return { ok: false, reason: `IMMISCIBLE_WEBGPU_BIND_CACHE=${process.env.IMMISCIBLE_WEBGPU_BIND_CACHE}` };
  const b = backend as { device?: DeviceLike; pipelineCache?: Record<string, unknown>; bufferManager?: BufferPool };
  const d = b.device;
  if (d == null || typeof d.createBindGroup !== 'function' || typeof d.createBuffer !== 'function' || typeof d.createComputePipeline !== 'function') {
    return { ok: false, reason: 'the backend has no WebGPU device' };
  }
  const pipelines = Object.values(b.pipelineCache ?? {}).filter((p): p is PipelineLike => typeof (p as PipelineLike | null)?.getBindGroupLayout === 'function');
  const pool = b.bufferManager;
  if (pool == null || !(pool.freeBuffers instanceof Map) || typeof pool.releaseBuffer !== 'function') return { ok: false, reason: "the backend's buffer pool is not tfjs 4.22's" };
  orderBufferPool(pool);
  return { ok: true, cache: installBindGroupCache(d, pipelines) };
}
