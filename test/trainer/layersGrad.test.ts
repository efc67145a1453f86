// The layers and the loss whose gradients are written out rather than left to tfjs's autodiff
// (silu, upsample2x, meanSquaredError) against autodiff of the composite ops they replace, on the
// reference cpu backend.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { silu, upsample2x } from '../../src/trainer/model/layers';
import { meanSquaredError } from '../../src/trainer/objectives/meanSquaredError';
import { relErr, seeded } from './wasmKernelSuite';

async function values(f: () => tf.Tensor[]): Promise<Float32Array[]> {
  const out = tf.tidy(f);
  const data = await Promise.all(out.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(out);
  return data;
}

describe('written-out gradients match autodiff of the composite ops', () => {
  before(async () => {
    assert.ok(await tf.setBackend('cpu'));
  });

  it('silu: value and gradient, large and small inputs', async () => {
    const x = () => tf.mul(tf.tensor(seeded(300, 1), [3, 100]), 8);
    const dy = () => tf.tensor(seeded(300, 2), [3, 100]);
    const composite = (a: tf.Tensor) => tf.mul(a, tf.sigmoid(a));
    const [want, wantGrad] = await values(() => [composite(x()), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(composite(a), dy())))(x())]);
    const [got, gotGrad] = await values(() => [silu(x()), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(silu(a), dy())))(x())]);
    assert.ok(relErr(got, want) < 1e-6, `value rel err ${relErr(got, want)}`);
    assert.ok(relErr(gotGrad, wantGrad) < 1e-5, `gradient rel err ${relErr(gotGrad, wantGrad)}`);
  });

  it('upsample2x repeats each pixel 2x2, and its gradient sums them back', async () => {
    const x = () => tf.tensor4d(seeded(2 * 3 * 4 * 5, 3), [2, 3, 4, 5]);
    const dy = () => tf.tensor4d(seeded(2 * 6 * 8 * 5, 4), [2, 6, 8, 5]);
    const [up, grad] = await values(() => [upsample2x(x()), tf.grad((a: tf.Tensor) => tf.sum(tf.mul(upsample2x(a as tf.Tensor4D), dy())))(x())]);
    const xs = seeded(2 * 3 * 4 * 5, 3);
    const ds = seeded(2 * 6 * 8 * 5, 4);
    const at = (b: number, i: number, j: number, c: number, h: number, w: number) => ((b * h + i) * w + j) * 5 + c;
    for (let b = 0; b < 2; b++) for (let i = 0; i < 6; i++) for (let j = 0; j < 8; j++) for (let c = 0; c < 5; c++) {
      assert.equal(up[at(b, i, j, c, 6, 8)], xs[at(b, i >> 1, j >> 1, c, 3, 4)]);
    }
    for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) for (let c = 0; c < 5; c++) {
      const want = [0, 1].reduce((s, di) => s + [0, 1].reduce((t, dj) => t + ds[at(b, 2 * i + di, 2 * j + dj, c, 6, 8)], 0), 0);
      assert.ok(Math.abs(grad[at(b, i, j, c, 3, 4)] - want) < 1e-6, `gradient at ${[b, i, j, c]}`);
    }
  });

  it('meanSquaredError: value and gradients of prediction and target', async () => {
    const p = () => tf.tensor(seeded(240, 5), [4, 6, 10]);
    const t = () => tf.tensor(seeded(240, 6), [4, 6, 10]);
    const composite = (a: tf.Tensor, b: tf.Tensor) => tf.mean(tf.square(tf.sub(a, b)));
    const want = await values(() => [composite(p(), t()), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.mul(composite(a, b), 3))([p(), t()])]);
    const got = await values(() => [meanSquaredError(p(), t()), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.mul(meanSquaredError(a, b), 3))([p(), t()])]);
    got.forEach((g, k) => assert.ok(relErr(g, want[k]) < 1e-6, `output ${k}: rel err ${relErr(g, want[k])}`));
  });
});
