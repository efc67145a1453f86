import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { nearestOfK, pairwiseCost } from '../../src/trainer/assignment';
import { pairwiseCostTf } from '../../src/trainer/assignment/costTf';
import { nearestOfKTf } from '../../src/trainer/assignment/knnTf';
import { selectBackend } from '../../src/trainer/backend/select';
import { Rng } from '../../src/trainer/rng';
import type { CostKind } from '../../src/trainer/assignment/cost';

function gaussian(rng: Rng, len: number, scale = 1): Float32Array {
  const a = rng.fillNormal(new Float32Array(len));
  if (scale !== 1) for (let k = 0; k < len; k++) a[k] *= scale;
  return a;
}

test('pairwiseCostTf on wasm equals pairwiseCost within float32 rounding of the dot products', async () => {
  await selectBackend('wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const rng = new Rng(2024);
  for (const [b, d] of [
    [0, 4],
    [1, 1],
    [3, 0],
    [5, 7],
    [33, 300],
    [64, 3072],
  ] as const) {
    // Images in [-1, 1] as in training, noise N(0, 1).
    const x = Float32Array.from(gaussian(rng, b * d), (t) => Math.tanh(t));
    const noise = gaussian(rng, b * d);
    if (b > 2) noise.set(x.subarray(0, d), 2 * d); // identical pair: must give 0, never NaN
    for (const kind of ['l2', 'sqeuclidean'] as const) {
      const want = pairwiseCost(x, noise, b, d, kind);
      const got = pairwiseCostTf(x, noise, b, d, kind);
      assert.ok(got instanceof Float64Array);
      assert.equal(got.length, b * b);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < b; j++) {
          const g = got[i * b + j];
          const w = want[i * b + j];
          assert.ok(g >= 0, `negative or NaN at ${i},${j}: ${g}`);
          // float32 dot product of length d: error ~ 2^-24 sqrt(d) |x| |n|; bound it by d units of
          // 1e-6 on the squared distance (and on its square for l2).
          const gSq = kind === 'l2' ? g * g : g;
          const wSq = kind === 'l2' ? w * w : w;
          assert.ok(Math.abs(gSq - wSq) <= 1e-6 * (1 + 2 * d), `${kind} b=${b} d=${d} (${i},${j}): ${gSq} vs ${wSq}`);
        }
      }
      // An identical pair: 0 up to the same rounding (sqrt magnifies it for l2), never NaN.
      const tolSq = 1e-6 * (1 + 2 * d);
      if (b > 2) assert.ok(got[2] <= (kind === 'l2' ? Math.sqrt(tolSq) : tolSq), `identical pair gives ${got[2]}`);
    }
  }
  assert.throws(() => pairwiseCostTf(new Float32Array(5), new Float32Array(6), 2, 3, 'l2'), RangeError);
  assert.throws(() => pairwiseCostTf(new Float32Array(6), new Float32Array(6), 2, 3, 'l1' as CostKind), RangeError);
  assert.throws(() => pairwiseCostTf(new Float32Array(0), new Float32Array(0), -1, 3, 'l2'), RangeError);
});

test('pairwiseCostTf frees its tensors', async () => {
  await selectBackend('wasm');
  const rng = new Rng(5);
  const before = tf.memory().numTensors;
  pairwiseCostTf(gaussian(rng, 8 * 16), gaussian(rng, 8 * 16), 8, 16, 'l2');
  assert.equal(tf.memory().numTensors, before);
});

test('nearestOfKTf on wasm picks the same candidate as nearestOfK (k up to 64)', async () => {
  await selectBackend('wasm');
  const rng = new Rng(99);
  for (const [b, k, d] of [
    [1, 2, 3],
    [7, 4, 16],
    [5, 9, 1],
    [16, 64, 768],
    [3, 64, 3072],
  ] as const) {
    const x = Float32Array.from(gaussian(rng, b * d), (t) => Math.tanh(t));
    const cand = gaussian(rng, b * k * d);
    for (const kind of ['l2', 'sqeuclidean'] as const) {
      const want = nearestOfK(x, cand, b, k, d, kind);
      const got = nearestOfKTf(x, cand, b, k, d, kind);
      for (let i = 0; i < b; i++) {
        if (got[i] === want[i]) continue;
        // Only a float32 near-tie may differ: then both distances agree to float32 precision.
        const dist = (c: number): number => {
          let s = 0;
          for (let t = 0; t < d; t++) {
            const e = x[i * d + t] - cand[(i * k + c) * d + t];
            s += e * e;
          }
          return s;
        };
        const gd = dist(got[i]);
        const wd = dist(want[i]);
        assert.ok(Math.abs(gd - wd) <= 1e-5 * (1 + wd), `b=${b} k=${k} d=${d} image ${i}: ${got[i]} (${gd}) vs ${want[i]} (${wd})`);
      }
    }
  }
  const before = tf.memory().numTensors;
  // Exact ties: candidates 1 and 3 are the same nearest vector; the first one wins.
  const x = Float32Array.of(0, 0);
  const cand = Float32Array.of(5, 5, 1, 0, 2, 2, 1, 0);
  assert.deepEqual(Array.from(nearestOfKTf(x, cand, 1, 4, 2, 'l2')), [1]);
  assert.deepEqual(Array.from(nearestOfKTf(gaussian(rng, 12), gaussian(rng, 12), 4, 1, 3, 'l2')), [0, 0, 0, 0]);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(() => nearestOfKTf(x, cand, 1, 3, 2, 'l2'), RangeError);
  assert.throws(() => nearestOfKTf(x, cand, 1, 0, 2, 'l2'), RangeError);
  assert.throws(() => nearestOfKTf(x, cand, 1, 4, 2, 'cos' as CostKind), RangeError);
});
