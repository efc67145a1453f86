// bench:gpu --call-times: Dawn's calls are counted and timed on the device they wrap, and still
// do their work. Runs on whatever adapter Dawn finds (lavapipe in CI); skips saying why where
// there is none, unless IMMISCIBLE_EXPECT_WEBGPU=1.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { instrumentDawnCalls } from '../../scripts/dawnCallTimes';

const MAP_READ = 0x1;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;

interface Buffer {
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
}
interface Encoder {
  copyBufferToBuffer(a: Buffer, ao: number, b: Buffer, bo: number, n: number): void;
  finish(): object;
}
interface Device {
  queue: { writeBuffer(b: Buffer, o: number, d: Float32Array): void; submit(c: object[]): void };
  createBuffer(d: { size: number; usage: number }): Buffer;
  createCommandEncoder(): Encoder;
}

describe("Dawn's call times", async () => {
  const probe = await probeWebgpu();
  const skip = probe.ok || process.env.IMMISCIBLE_EXPECT_WEBGPU === '1' ? false : `no WebGPU adapter: ${probe.ok ? '' : probe.reason}`;

  it('counts each call on the wrapped device, times it, and leaves its work done', { skip }, async () => {
    const gpu = (globalThis as unknown as { navigator: { gpu: { requestAdapter(): Promise<{ requestDevice(): Promise<Device> } | null> } } }).navigator.gpu;
    const adapter = await gpu.requestAdapter();
    assert.ok(adapter);
    const device = await adapter.requestDevice();
    const times = instrumentDawnCalls(device);
    const src = device.createBuffer({ size: 16, usage: COPY_SRC | COPY_DST });
    const dst = device.createBuffer({ size: 16, usage: MAP_READ | COPY_DST });
    device.queue.writeBuffer(src, 0, new Float32Array([1, 2, 3, 4]));
    device.queue.writeBuffer(src, 8, new Float32Array([5]));
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(src, 0, dst, 0, 16);
    device.queue.submit([encoder.finish()]);
    await dst.mapAsync(MAP_READ);
    assert.deepEqual([...new Float32Array(dst.getMappedRange())], [1, 2, 5, 4]);
    const s = times.snapshot();
    const counts = Object.fromEntries(Object.entries(s).map(([k, v]) => [k, v.calls]));
    assert.deepEqual(counts, { 'queue.submit': 1, 'queue.writeBuffer': 2, 'queue.onSubmittedWorkDone': 0, 'device.createBuffer': 2, 'device.createBindGroup': 0, 'device.createQuerySet': 0, 'encoder.finish': 1, 'device.createCommandEncoder': 1 });
    assert.ok(Object.values(s).every((v) => v.ms >= 0 && (v.calls > 0 || v.ms === 0)));
    assert.ok(s['queue.submit'].ms > 0, 'a submit takes time');
    times.reset();
    assert.ok(Object.values(times.snapshot()).every((v) => v.calls === 0 && v.ms === 0));
  });
});
