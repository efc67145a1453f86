// The portable wasm conv gradient kernels (the native addon switched off) must agree with the
// reference cpu backend, train a small conv net identically, not leak tensors; selectBackend
// must pick wasm here and explain the others.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/trainer/backend/select';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { wasmKernelSuite } from './wasmKernelSuite';

// Read when the backend is first selected: this file tests the kernels used without the addon.
process.env.IMMISCIBLE_NATIVE = '0';

wasmKernelSuite('wasm conv gradients (portable, without the native addon)');

describe('selectBackend', () => {
  const nativeInstalled = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'].some((p) => {
    try {
      createRequire(__filename).resolve(p);
      return true;
    } catch {
      return false;
    }
  });

  it("'auto' picks wasm here and says why not tensorflow and webgpu", { skip: nativeInstalled && 'tfjs-node is installed here' }, async () => {
    const choice = await selectBackend('auto');
    assert.equal(choice.name, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
    assert.match(choice.device, /WebAssembly/);
    assert.match(choice.reasons.tensorflow, /not installed/);
    // No GPU here: either no adapter at all (the reason names what is missing) or only a
    // software one (lavapipe), which 'auto' must not pick.
    assert.match(choice.reasons.webgpu, /libvulkan\.so\.1|no WebGPU adapter|only a software adapter|Dawn/);
    assert.ok(choice.reasons.cpu);
    assert.equal(choice.reasons.wasm, undefined);
    // Our gradients are in place after selection.
    assert.ok(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm') != null);
  });

  it("'tensorflow' throws a clear error when it is not installed", { skip: nativeInstalled && 'tfjs-node is installed here' }, async () => {
    await assert.rejects(selectBackend('tensorflow'), /Backend 'tensorflow' cannot be used: not installed/);
  });

  it("'webgpu' requested without any adapter throws, naming what is missing", async (t) => {
    const probe = await probeWebgpu();
    if (probe.ok) {
      t.skip(`an adapter exists here (${probe.adapter.description}): test/trainer/webgpu.test.ts trains on it`);
      return;
    }
    await assert.rejects(selectBackend('webgpu'), /Backend 'webgpu' cannot be used: .*(libvulkan\.so\.1|no WebGPU adapter|Dawn)/);
  });

  it("'cpu' and 'wasm' can be requested explicitly", async () => {
    assert.equal((await selectBackend('cpu')).name, 'cpu');
    const wasm = await selectBackend('wasm');
    assert.equal(wasm.name, 'wasm');
    assert.match(wasm.reasons.cpu, /not requested/);
  });

  it('rejects an unknown backend name', async () => {
    await assert.rejects(selectBackend('gpu' as unknown as 'auto'), /Unknown backend 'gpu'/);
  });
});
