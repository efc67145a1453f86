// Our WGSL kernels stay within WebGPU's default limits (workgroup memory and invocations per
// workgroup), which is all that a device from another adapter may grant: lavapipe and NVIDIA
// grant more, so the kernel tests on them would not see a kernel that needs more.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as shaders from '../../src/trainer/backend/webgpuShaders';

const DEFAULT_WORKGROUP_STORAGE = 16384;
const DEFAULT_INVOCATIONS = 256;

/** Bytes of a WGSL type made of f32, i32, u32, vec4<f32> and fixed-size arrays of them. */
function wgslBytes(type: string): number {
  const t = type.replace(/\s+/g, '');
  if (t === 'f32' || t === 'i32' || t === 'u32') return 4;
  if (t === 'vec4<f32>') return 16;
  const m = /^array<(.+),(\d+)u?>$/.exec(t);
  if (!m) throw new Error(`unsupported WGSL type ${type}`);
  return wgslBytes(m[1]) * Number(m[2]);
}

function workgroupBytes(source: string): number {
  return [...source.matchAll(/var<workgroup>\s+\w+\s*:\s*([^;]+);/g)].reduce((s, m) => s + wgslBytes(m[1]), 0);
}

function invocations(source: string): number {
  const m = /@workgroup_size\(([^)]*)\)/.exec(source);
  if (!m) throw new Error('no @workgroup_size');
  return m[1].split(',').map((v) => Number(v.trim().replace(/u$/, ''))).reduce((a, b) => a * b, 1);
}

it("every WGSL kernel fits WebGPU's default workgroup memory (16 KiB) and invocations (256)", () => {
  const sources: [string, string][] = Object.entries(shaders).filter((e): e is [string, string] => typeof e[1] === 'string' && e[0].endsWith('_WGSL'));
  for (const k of [1, 4, 7]) sources.push([`sumSquaresWgsl(${k})`, shaders.sumSquaresWgsl(k)]);
  for (const n of [2, 8]) for (const ema of [false, true]) sources.push([`adamMultiWgsl(${n}, ${ema})`, shaders.adamMultiWgsl(n, ema)]);
  for (const tile of [32, 64] as const) for (const vecX of [false, true]) for (const vecDy of [false, true]) sources.push([`convDwWgsl(${vecX}, ${vecDy}, ${tile})`, shaders.convDwWgsl(vecX, vecDy, tile)]);
  for (const tn of [16, 32, 64] as const) for (const vecX of [false, true]) for (const vecW of [false, true]) for (const flipped of [false, true]) sources.push([`convMmWgsl(${vecX}, ${vecW}, ${flipped}, ${tn})`, shaders.convMmWgsl({ vecX, vecW, flipped, bias: !flipped, tn })]);
  assert.ok(sources.length >= 32, `found ${sources.length} kernels`);
  for (const [name, source] of sources) {
    assert.ok(workgroupBytes(source) <= DEFAULT_WORKGROUP_STORAGE, `${name}: ${workgroupBytes(source)} bytes of workgroup memory`);
    assert.ok(invocations(source) <= DEFAULT_INVOCATIONS, `${name}: ${invocations(source)} invocations per workgroup`);
  }
  // The 64 tile's two tiles and row tables: 2 x 16 x 16 x 16 + 3 x 16 x 4 bytes.
  assert.equal(workgroupBytes(shaders.convDwWgsl(true, true, 64)), 8384);
  // The forward GEMM's two tiles: 16 (k) x (64 + 64) x 4 bytes; 16 x (128 + 32) x 4; 8 x (256 + 16) x 4.
  const mmBytes = (tn: 16 | 32 | 64) => workgroupBytes(shaders.convMmWgsl({ vecX: true, vecW: true, flipped: false, bias: true, tn }));
  assert.deepEqual([mmBytes(64), mmBytes(32), mmBytes(16)], [8192, 10240, 8704]);
});

it('the forward GEMM tile is the narrowest of 16, 32 and 64 output channels that covers the conv', () => {
  assert.deepEqual([1, 16, 17, 32, 33, 64, 128].map(shaders.convMmWidth), [16, 16, 32, 32, 64, 64, 64]);
  assert.deepEqual(([16, 32, 64] as const).map(shaders.convMmTile), [{ tm: 256, ks: 8 }, { tm: 128, ks: 16 }, { tm: 64, ks: 16 }]);
});
