// Philox4x32-10 (src/trainer/noise/philox.ts) against Random123's published known-answer vectors,
// its normal vectors' moments and layout, the WGSL kernel on 'webgpu' against the reference
// (lavapipe in CI; skipped saying why where there is no adapter), and kNN's choice on the backend
// (knnBackend.ts) against nearestOfK on the same candidates.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { knnStream, mulHi32, philox4x32, philoxUniform, philoxVectors, type PhiloxStream } from '../../src/trainer/noise/philox';
import { PHILOX_NORMAL, philoxNormalTensor } from '../../src/trainer/noise/philoxTensor';
import { knnChunkImages, knnOnBackend, readKnn, readKnnSync, KNN_CHUNK_VALUES } from '../../src/trainer/assignment/knnBackend';
import { nearestOfK } from '../../src/trainer/assignment/knn';
import { meanPairDistance } from '../../src/trainer/assignment/cost';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { selectBackend } from '../../src/trainer/backend/select';
import { Rng } from '../../src/trainer/rng';

// Random123 1.14, examples/kat_vectors: counter (4 words), key (2 words), output (4 words).
const KAT: [number[], number[], number[]][] = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

function data(n: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return r.fillNormal(new Float32Array(n));
}

describe('Philox4x32-10', () => {
  it('gives Random123 known answers', () => {
    const out = new Uint32Array(4);
    for (const [ctr, key, want] of KAT) {
      philox4x32(ctr, key, out);
      assert.deepEqual([...out], want, `counter ${ctr.map((w) => w.toString(16)).join(' ')}`);
    }
  });

  it('mulHi32 is the high word of the 64-bit product', () => {
    const r = new Rng(3);
    const cases = [[0xffffffff, 0xffffffff], [0xd2511f53, 0], [0xcd9e8d57, 1], [0x10000, 0x10000], [0xffff, 0xffff]];
    for (let i = 0; i < 2000; i++) cases.push([r.nextUint32(), r.nextUint32()]);
    for (const [a, b] of cases) assert.equal(mulHi32(a, b), Number((BigInt(a) * BigInt(b)) >> 32n), `${a} x ${b}`);
  });

  it('uniforms lie strictly inside (0, 1), at their extremes too', () => {
    assert.equal(philoxUniform(0), 0.5 / 2 ** 23);
    assert.equal(philoxUniform(0xffffffff), 1 - 0.5 / 2 ** 23);
    assert.equal(Math.fround(philoxUniform(0x12345678)), philoxUniform(0x12345678), 'exact in float32');
  });

  it('normal vectors have the moments of N(0, 1) and are independent across vectors', () => {
    const n = 200_000;
    const v = philoxVectors({ key: [7, 0], c1: 1, c2: 0 }, 0, 2, n, new Float32Array(2 * n));
    let s = 0;
    let s2 = 0;
    let s4 = 0;
    let cross = 0;
    for (let i = 0; i < n; i++) {
      const a = v[i];
      s += a;
      s2 += a * a;
      s4 += a ** 4;
      cross += a * v[n + i];
    }
    // Standard errors at n = 200,000: mean 0.0022, variance 0.0032, 4th moment 0.022, correlation 0.0022.
    assert.ok(Math.abs(s / n) < 0.012, `mean ${s / n}`);
    assert.ok(Math.abs(s2 / n - 1) < 0.016, `variance ${s2 / n}`);
    assert.ok(Math.abs(s4 / n - 3) < 0.12, `fourth moment ${s4 / n}`);
    assert.ok(Math.abs(cross / n) < 0.012, `correlation of two vectors ${cross / n}`);
  });

  it('a range of vectors equals those vectors of the whole set (any chunking gives the same draws)', () => {
    const st: PhiloxStream = { key: [1, 2], c1: 3, c2: 4 };
    const d = 7; // not a multiple of 4: the last block of each vector is cut
    const all = philoxVectors(st, 0, 10, d, new Float32Array(10 * d));
    const part = philoxVectors(st, 4, 3, d, new Float32Array(3 * d));
    assert.deepEqual(part, all.subarray(4 * d, 7 * d));
    const other = philoxVectors({ ...st, c1: 4 }, 0, 10, d, new Float32Array(10 * d));
    assert.notDeepEqual(other, all, 'another step draws other values');
  });

  it('knnStream keys by seed and counts by step and part, naming bad values', () => {
    assert.deepEqual(knnStream(5, 9, 1), { key: [5, 0], c1: 9, c2: 1 });
    assert.deepEqual(knnStream(2 ** 32 + 3, 0, 0).key, [3, 1]);
    assert.throws(() => knnStream(-1, 0, 0), /seed/);
    assert.throws(() => knnStream(1, 2 ** 32, 0), /step/);
    assert.throws(() => knnStream(1, 0, 0.5), /part/);
  });
});

describe('kNN on the backend (wasm)', () => {
  it('picks the nearest of the candidates the stream gives, and reports their distances', async () => {
    assert.ok(await tf.setBackend('wasm'));
    const b = 5;
    const k = 6;
    const d = 10;
    const st = knnStream(11, 3, 0);
    const x = data(b * d, 1);
    const r = readKnnSync(knnOnBackend(x, b, k, d, st), b, k);
    const cand = philoxVectors(st, 0, b * k, d, new Float32Array(b * k * d));
    const pick = nearestOfK(x, cand, b, k, d, 'l2');
    const want = new Float32Array(b * d);
    const first = new Float32Array(b * d);
    for (let i = 0; i < b; i++) {
      want.set(cand.subarray((i * k + pick[i]) * d, (i * k + pick[i] + 1) * d), i * d);
      first.set(cand.subarray(i * k * d, (i * k + 1) * d), i * d);
    }
    assert.deepEqual(r.noise, want);
    assert.ok(Math.abs(r.distChosen - meanPairDistance(x, want, b, d)) < 1e-5);
    assert.ok(Math.abs(r.distFirst - meanPairDistance(x, first, b, d)) < 1e-5);
    assert.ok(r.distChosen < r.distFirst);
  });

  it('chunks of images, and one image\'s candidates in groups, give what one pass gives', () => {
    assert.equal(knnChunkImages(3, Math.ceil(KNN_CHUNK_VALUES / 3) + 1), 1);
    assert.equal(knnChunkImages(4, 784), Math.floor(KNN_CHUNK_VALUES / (4 * 784)));
    const b = 4;
    const k = 7;
    const d = 10;
    const st = knnStream(2, 0, 0);
    const x = data(b * d, 5);
    const whole = readKnnSync(knnOnBackend(x, b, k, d, st), b, k);
    const cand = philoxVectors(st, 0, b * k, d, new Float32Array(b * k * d));
    const pick = nearestOfK(x, cand, b, k, d, 'l2');
    for (let i = 0; i < b; i++) assert.deepEqual(whole.noise.subarray(i * d, (i + 1) * d), cand.subarray((i * k + pick[i]) * d, (i * k + pick[i] + 1) * d));
    // Some image's nearest is past the first group of 3, so the groups' nearest are compared.
    assert.ok(Array.from(pick).some((p) => p >= 3), `picks ${Array.from(pick).join(', ')}`);
    // 3 images a chunk (then 1), 1 image a chunk, groups of 3, 3 and 1 candidates, one candidate at a time.
    for (const chunk of [3 * k * d, k * d, 3 * d + 2, 1]) {
      const tensors = knnOnBackend(x, b, k, d, st, chunk);
      assert.deepEqual(tensors.noise.shape, [b, d]);
      assert.deepEqual(tensors.dist.shape, [b, k]);
      const r = readKnnSync(tensors, b, k);
      assert.deepEqual(r.noise, whole.noise, `chunks of ${chunk} values`);
      assert.equal(r.distChosen, whole.distChosen);
      assert.equal(r.distFirst, whole.distFirst);
    }
  });
});

describe('Philox on webgpu', async () => {
  const probe = await probeWebgpu();
  const skip = probe.ok || process.env.IMMISCIBLE_EXPECT_WEBGPU === '1' ? false : `no WebGPU adapter: ${probe.ok ? '' : probe.reason}`;

  it('the WGSL kernel makes the reference draws (to float32 rounding of log, sqrt, sin, cos)', { skip }, async () => {
    await selectBackend('webgpu');
    assert.ok(tf.getKernel(PHILOX_NORMAL, 'webgpu'), 'the kernel is registered on webgpu');
    const st: PhiloxStream = { key: [0x12345678, 9], c1: 77, c2: 2 };
    for (const [first, count, d] of [[0, 1, 4], [5, 9, 7], [1000, 300, 785]]) {
      const t = philoxNormalTensor(st, first, count, d);
      const got = (await t.data()) as Float32Array;
      t.dispose();
      const want = philoxVectors(st, first, count, d, new Float32Array(count * d));
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
      // Vulkan allows sin and cos 2^-11 absolute error on (-pi, pi), times radii up to 5.8; a
      // wrong word, lane or counter is off by O(1).
      assert.ok(worst < 4e-3, `first ${first}, ${count} x ${d}: worst error ${worst}`);
    }
  });

  it('kNN there picks a nearest candidate, read back asynchronously, also from groups of candidates', { skip }, async () => {
    await selectBackend('webgpu');
    const b = 9;
    const k = 8;
    const d = 48;
    const st = knnStream(4, 12, 1);
    const x = data(b * d, 8);
    const cand = philoxVectors(st, 0, b * k, d, new Float32Array(b * k * d));
    // One pass, then each image's candidates in groups of 3, 3 and 2.
    for (const chunk of [undefined, 3 * d]) {
      const r = await readKnn(knnOnBackend(x, b, k, d, st, chunk), b, k);
      for (let i = 0; i < b; i++) {
        const dist = (c: Float32Array, at: number): number => {
          let s = 0;
          for (let t = 0; t < d; t++) s += (x[i * d + t] - c[at + t]) ** 2;
          return s;
        };
        let best = Infinity;
        for (let c = 0; c < k; c++) best = Math.min(best, dist(cand, (i * k + c) * d));
        // The GPU's draws and sums round differently: its choice is nearest up to that.
        const chosen = dist(r.noise, i * d);
        assert.ok(chosen <= best * (1 + 1e-3), `chunk ${chunk}, image ${i}: chosen ${chosen}, nearest ${best}`);
      }
      assert.ok(r.distChosen < r.distFirst);
    }
  });
});
