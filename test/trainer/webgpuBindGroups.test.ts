// Bind groups reused across steps (webgpuBindGroups.ts) on a real Dawn device: the cache returns
// the bind group it made only for the same layout, buffers, offsets and sizes; it forgets those of
// a destroyed buffer; it leaves alone what it cannot track; the ordered pool hands out the oldest
// free buffer; and a steady training step, with Adam in place, makes no new bind group and trains
// the same weights bit for bit as without the cache. Runs on whatever adapter Dawn finds (lavapipe
// in CI); skips saying why where there is none, unless IMMISCIBLE_EXPECT_WEBGPU=1.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../../src/core/config/validate';
import { selectBackend } from '../../src/trainer/backend/select';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { bindGroupCacheOf, installBindGroupCache, orderBufferPool, type DeviceLike } from '../../src/trainer/backend/webgpuBindGroups';
import { buildUnet } from '../../src/trainer/model/unet';
import { asWeights, createVariables, initialValues } from '../../src/trainer/model/params';
import { adamStep, newAdamState } from '../../src/trainer/train/adam';
import { Rng } from '../../src/trainer/rng';

/* WebGPU usage flags (the DOM's GPUBufferUsage is not declared in Node's typings). */
const STORAGE = 0x80;
const COPY_DST = 0x8;
const COPY_SRC = 0x4;

const SHADER = `
@group(0) @binding(0) var<storage, read_write> o: array<f32>;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < arrayLength(&o)) { o[g.x] = a[g.x] * 2.0; }
}`;

interface Device extends DeviceLike {
  createShaderModule(d: { code: string }): object;
}
interface Adapter {
  requestDevice(): Promise<Device>;
}

async function freshDevice(): Promise<Device> {
  const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<Adapter | null> } } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  assert.ok(adapter, 'an adapter');
  return adapter.requestDevice();
}

function pipelineOf(d: Device): { getBindGroupLayout(i: number): object } {
  return d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code: SHADER }), entryPoint: 'main' } });
}

const SIZE = 8;
const BATCH = 2;

/**
 * `steps` Adam steps of a small UNet (three levels and attention: with tfjs's own pool order its
 * bindings drift from step to step) on fixed data (as webgpu.test.ts), the per-step bind group counts and the final weights. */
async function trainSmall(steps: number): Promise<{ made: number[]; final: Float32Array[]; sameData: boolean[] }> {
  const r = validateConfig({ data: { imageSize: SIZE }, model: { baseChannels: 8, channelMults: [1, 1, 2], resBlocks: 1, groups: 4, dropout: 0, attentionResolutions: [4] } });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  const model = buildUnet(r.config.model, SIZE, 1, 0);
  const params = createVariables(model.params.specs, initialValues(model.params.specs, new Rng(0)));
  const adam = newAdamState(params);
  const vars = [...params.values()];
  const nameOf = new Map(vars.map((v, i) => [v.name, [...params.keys()][i]]));
  const rng = new Rng(1);
  const n = BATCH * SIZE * SIZE;
  const x = tf.tensor4d(rng.fillNormal(new Float32Array(n)), [BATCH, SIZE, SIZE, 1]);
  const eps = tf.tensor4d(rng.fillNormal(new Float32Array(n)), [BATCH, SIZE, SIZE, 1]);
  const t = Float32Array.from({ length: BATCH }, () => rng.int(1000));
  const cache = bindGroupCacheOf((tf.backend() as unknown as { device: object }).device);
  const made: number[] = [];
  const sameData: boolean[] = [];
  for (let i = 0; i < steps; i++) {
    const before = cache?.stats();
    const ids = vars.map((v) => v.dataId);
    const norm = tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(model.apply(asWeights(params), { x, t, labels: null, training: true, seed: i }), eps))) as tf.Scalar, vars);
      return adamStep(params, new Map(Object.entries(grads).map(([k, g]) => [nameOf.get(k) as string, g])), adam, 1e-3, 1);
    });
    await norm.data();
    norm.dispose();
    const after = cache?.stats();
    made.push(before && after ? after.misses + after.uncached - before.misses - before.uncached : -1);
    sameData.push(vars.every((v, k) => v.dataId === ids[k]));
  }
  const final = await Promise.all(vars.map(async (v) => (await v.data()) as Float32Array));
  tf.dispose([x, eps, ...vars, ...adam.m.values(), ...adam.v.values()]);
  return { made, final, sameData };
}

describe('bind groups reused across steps on webgpu', async () => {
  const probe = await probeWebgpu();
  const skip = probe.ok || process.env.IMMISCIBLE_EXPECT_WEBGPU === '1' ? false : `no WebGPU adapter: ${probe.ok ? '' : probe.reason}`;
  before(async () => {
    if (skip) return;
    const choice = await selectBackend('webgpu');
    assert.match(choice.device, /bind groups reused across steps/);
  });

  it('returns the bind group it made only for the same layout, buffers, offsets and sizes', { skip }, async () => {
    const d = await freshDevice();
    const early = d.createBuffer({ size: 256, usage: STORAGE });
    const cache = installBindGroupCache(d);
    assert.equal(installBindGroupCache(d), cache, 'installing twice returns the first cache');
    const p = pipelineOf(d);
    const layout = p.getBindGroupLayout(0);
    assert.equal(p.getBindGroupLayout(0), layout, 'layouts are memoized');
    const [a, b, c] = [0, 1, 2].map(() => d.createBuffer({ size: 512, usage: STORAGE | COPY_DST }));
    const group = (o: object, i: object, size = 256, offset = 0): object => d.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: o, size, offset } }, { binding: 1, resource: { buffer: i, size: 256 } }] });
    const g1 = group(a, b);
    assert.equal(group(a, b), g1);
    assert.notEqual(group(b, a), g1, 'other buffers');
    assert.notEqual(group(a, c), g1, 'another input');
    assert.notEqual(group(a, b, 128), g1, 'another size');
    assert.notEqual(group(a, b, 256, 256), g1, 'another offset');
    assert.deepEqual({ ...cache.stats() }, { hits: 1, misses: 5, uncached: 0, dropped: 0, clears: 0, entries: 5 });
    // A buffer made before install cannot be watched: created anew every time.
    group(early, b);
    group(early, b);
    assert.equal(cache.stats().uncached, 2);
    // Destroying a buffer drops every bind group that names it.
    const g3 = group(c, b);
    a.destroy();
    assert.equal(cache.stats().dropped, 5);
    assert.equal(cache.stats().entries, 1);
    assert.equal(group(c, b), g3, 'the others stay');
    cache.setEnabled(false);
    assert.equal(cache.stats().entries, 0);
    assert.notEqual(group(c, b), group(c, b), 'off: made anew');
    cache.uninstall();
    assert.equal(Object.prototype.hasOwnProperty.call(d, 'createBindGroup'), false, "the device's own method is back");
    assert.equal(bindGroupCacheOf(d), null);
  });

  it('starts over when it grows past its bound', { skip }, async () => {
    const d = await freshDevice();
    const cache = installBindGroupCache(d, [], 3);
    const layout = pipelineOf(d).getBindGroupLayout(0);
    const bufs = Array.from({ length: 5 }, () => d.createBuffer({ size: 256, usage: STORAGE }));
    for (let i = 0; i < 4; i++) d.createBindGroup({ layout, entries: [{ binding: 0, resource: { buffer: bufs[i] } }, { binding: 1, resource: { buffer: bufs[4] } }] });
    assert.equal(cache.stats().clears, 1);
    assert.equal(cache.stats().entries, 1);
    cache.uninstall();
  });

  it('the ordered pool hands out the oldest free buffer of a size', { skip }, async () => {
    assert.ok(await tf.setBackend('webgpu'));
    const pool = (tf.backend() as unknown as { bufferManager: { acquireBuffer(size: number, usage: number): object; releaseBuffer(b: object): void; freeBuffers: Map<string, object[]> } }).bufferManager;
    orderBufferPool(pool);
    const usage = STORAGE | COPY_SRC | COPY_DST;
    const size = 4 * 1237; // a size nothing else in this file uses
    const [b1, b2, b3] = [0, 1, 2].map(() => pool.acquireBuffer(size, usage));
    for (const b of [b2, b3, b1]) pool.releaseBuffer(b);
    assert.deepEqual([0, 1, 2].map(() => pool.acquireBuffer(size, usage)), [b1, b2, b3]);
    for (const b of [b3, b1, b2]) pool.releaseBuffer(b);
  });

  it('a steady training step makes no new bind group, keeps the weights in their buffers, and trains the same weights bit for bit as without the cache', { skip }, async () => {
    assert.ok(await tf.setBackend('webgpu'));
    const cache = bindGroupCacheOf((tf.backend() as unknown as { device: object }).device);
    assert.ok(cache?.enabled());
    const tensors = tf.memory().numTensors;
    const on = await trainSmall(5);
    assert.equal(tf.memory().numTensors, tensors, 'in-place updates leak no tensors');
    // Step 1 makes them; step 2 may differ (the moments change buffers once); from step 3 on, all are reused.
    assert.ok(on.made[0] > 50, `step 1 made ${on.made[0]}`);
    assert.deepEqual(on.made.slice(2), [0, 0, 0], `bind groups made per step: ${on.made.join(', ')}`);
    assert.deepEqual(on.sameData.slice(1), [true, true, true, true], 'Adam updates the weights in place');
    cache?.setEnabled(false);
    try {
      const off = await trainSmall(5);
      assert.ok(off.made.every((m) => m > 50), `made anew: ${off.made.join(', ')}`);
      off.final.forEach((f, k) => assert.deepEqual(on.final[k], f, `weights ${k} differ with the cache`));
    } finally {
      cache?.setEnabled(true);
    }
  });
});
