// The wasm kernels' checks, shared by the portable kernels (wasmConvGrads.test.ts) and the native
// addon's (nativeKernels.test.ts): agreement with the reference cpu backend, gradients included,
// identical training of a small conv net, and no tensor leaks.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/trainer/backend/select';
import { registerWasmConvGradients } from '../../src/trainer/backend/wasmConvGrads';

export const TOL = 1e-4;

/** Deterministic data, so a failure reproduces exactly. */
export function seeded(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Max abs difference over the max abs reference value: element-wise relative error is
 * meaningless for gradient entries that are (nearly) zero by cancellation.
 */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

export async function use(backend: 'wasm' | 'cpu'): Promise<void> {
  assert.ok(await tf.setBackend(backend), `tf.setBackend('${backend}') failed`);
}

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
export interface ConvCase {
  x: [number, number, number, number];
  k: number;
  outC: number;
  stride: number;
  pad: Pad;
}

export const CASES: ConvCase[] = [
  { x: [1, 5, 5, 1], k: 1, outC: 1, stride: 1, pad: 'valid' },
  { x: [2, 8, 8, 3], k: 3, outC: 4, stride: 1, pad: 'same' },
  { x: [1, 7, 9, 2], k: 3, outC: 3, stride: 2, pad: 'same' },
  // 'valid' stride 2 on an even size: the last input row/column is never read.
  { x: [2, 6, 6, 3], k: 3, outC: 2, stride: 2, pad: 'valid' },
  { x: [3, 11, 10, 4], k: 3, outC: 5, stride: 2, pad: 'valid' },
  { x: [4, 16, 16, 32], k: 3, outC: 16, stride: 1, pad: 'same' },
  { x: [1, 6, 7, 2], k: 1, outC: 2, stride: 2, pad: 'same' },
  { x: [2, 9, 9, 8], k: 3, outC: 32, stride: 1, pad: 'valid' },
  { x: [2, 16, 16, 16], k: 3, outC: 32, stride: 2, pad: 'same' },
  { x: [1, 8, 8, 4], k: 3, outC: 4, stride: 1, pad: 1 },
  {
    x: [2, 10, 9, 3],
    k: 3,
    outC: 4,
    stride: 2,
    pad: [
      [0, 0],
      [2, 0],
      [1, 1],
      [0, 0],
    ],
  },
];

interface ConvGrads {
  dx: Float32Array;
  dw: Float32Array;
}

export function convGrads(c: ConvCase, seed: number): ConvGrads {
  const [b, h, w, ci] = c.x;
  const wShape: [number, number, number, number] = [c.k, c.k, ci, c.outC];
  return tf.tidy(() => {
    const x = tf.tensor4d(seeded(b * h * w * ci, seed), c.x);
    const filter = tf.tensor4d(seeded(c.k * c.k * ci * c.outC, seed + 1), wShape);
    const f = (a: tf.Tensor, f4: tf.Tensor) => tf.conv2d(a as tf.Tensor4D, f4 as tf.Tensor4D, c.stride, c.pad);
    const outShape = f(x, filter).shape;
    const dy = tf.tensor(seeded(outShape.reduce((p, q) => p * q, 1), seed + 2), outShape);
    const [dx, dw] = tf.grads(f)([x, filter], dy);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

export function wasmKernelSuite(label: string): void {
  describe(label, () => {
    before(async () => {
      await selectBackend('wasm');
    });

    it('is idempotent', () => {
      registerWasmConvGradients();
      registerWasmConvGradients();
      const filter = tf.getKernel(tf.Conv2DBackpropFilter, 'wasm');
      assert.ok(filter != null);
    });

    CASES.forEach((c, i) => {
      it(`conv2d grads match cpu: x=${c.x.join('x')} k=${c.k} out=${c.outC} stride=${c.stride} pad=${JSON.stringify(c.pad)}`, async () => {
        await use('cpu');
        const want = convGrads(c, 100 + i);
        await use('wasm');
        const got = convGrads(c, 100 + i);
        assert.ok(relErr(got.dx, want.dx) < TOL, `dx rel err ${relErr(got.dx, want.dx)}`);
        assert.ok(relErr(got.dw, want.dw) < TOL, `dw rel err ${relErr(got.dw, want.dw)}`);
      });
    });

    it('a clone shares its buffer (zero-copy Identity) and outlives the original', async () => {
      await use('wasm');
      const before = tf.backend().numDataIds();
      const a = tf.tensor1d([1, 2, 3]);
      const b = tf.clone(a);
      assert.equal(tf.backend().numDataIds(), before + 1, 'the clone allocated a buffer of its own');
      a.dispose();
      assert.deepEqual(Array.from(b.dataSync()), [1, 2, 3]);
      b.dispose();
      assert.equal(tf.backend().numDataIds(), before);
    });

    it('conv2dTranspose (Conv2DBackpropInput as a forward op) matches cpu', async () => {
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(seeded(2 * 5 * 6 * 8, 7), [2, 5, 6, 8]);
          const filter = tf.tensor4d(seeded(3 * 3 * 4 * 8, 8), [3, 3, 4, 8]);
          return tf.conv2dTranspose(x, filter, [2, 10, 12, 4], 2, 'same').dataSync() as Float32Array;
        });
      await use('cpu');
      const want = run();
      await use('wasm');
      assert.ok(relErr(run(), want) < TOL);
    });

    it('fused conv2d (bias + relu) grads match cpu', async () => {
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor4d(seeded(2 * 8 * 8 * 4, 11), [2, 8, 8, 4]);
          const filter = tf.tensor4d(seeded(3 * 3 * 4 * 6, 12), [3, 3, 4, 6]);
          const bias = tf.tensor1d(seeded(6, 13));
          const f = (a: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
            tf.fused.conv2d({ x: a as tf.Tensor4D, filter: w as tf.Tensor4D, bias: b, strides: 2, pad: 'same', activation: 'relu' }).sum();
          return tf.grads(f)([x, filter, bias]).map((g) => g.dataSync() as Float32Array);
        });
      await use('cpu');
      const want = run();
      await use('wasm');
      const got = run();
      want.forEach((w, i) => assert.ok(relErr(got[i], w) < TOL, `grad ${i}: ${relErr(got[i], w)}`));
    });

    describe('small conv net with Adam', () => {
      const B = 4;
      const H = 12;
      const C = 8;
      const G = 2;

      function makeParams(): tf.Variable[] {
        // Variables outlive tidy; the initial-value temporaries do not.
        return tf.tidy(() => [
          tf.variable(tf.tensor4d(seeded(3 * 3 * 3 * C, 21), [3, 3, 3, C]).mul(0.3)),
          tf.variable(tf.zeros([C])),
          tf.variable(tf.ones([C])),
          tf.variable(tf.zeros([C])),
          tf.variable(tf.tensor4d(seeded(3 * 3 * C * 3, 22), [3, 3, C, 3]).mul(0.2)),
          tf.variable(tf.zeros([3])),
        ]);
      }

      /** conv(stride 2) -> GroupNorm -> SiLU -> conv -> MSE, built from plain tf ops. */
      function loss(p: tf.Variable[], x: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
        const [w1, b1, gamma, beta, w2, b2] = p;
        const h = tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 2, 'same'), b1);
        const [n, hh, ww] = h.shape;
        const grouped = tf.reshape(h, [n, hh, ww, G, C / G]);
        const { mean, variance } = tf.moments(grouped, [1, 2, 4], true);
        const normed = tf.reshape(tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 1e-5))), h.shape);
        const g = tf.add(tf.mul(normed, gamma), beta);
        const act = tf.mul(g, tf.sigmoid(g));
        const y = tf.add(tf.conv2d(act as tf.Tensor4D, w2 as tf.Tensor4D, 1, 'same'), b2);
        return tf.mean(tf.squaredDifference(y, target));
      }

      function train(steps: number, onStep?: (step: number) => void): number[] {
        const params = makeParams();
        const opt = tf.train.adam(0.01);
        const x = tf.tensor4d(seeded(B * H * H * 3, 31), [B, H, H, 3]);
        const target = tf.tensor4d(seeded(B * (H / 2) * (H / 2) * 3, 32), [B, H / 2, H / 2, 3]);
        const losses: number[] = [];
        for (let s = 0; s < steps; s++) {
          const l = tf.tidy(() => {
            const cost = opt.minimize(() => loss(params, x, target), true, params);
            assert.ok(cost != null);
            return cost;
          });
          // Read outside tidy: tidy scans returned values and dataSync inside it is slow.
          losses.push(l.dataSync()[0]);
          l.dispose();
          onStep?.(s);
        }
        opt.dispose();
        tf.dispose([x, target, ...params]);
        return losses;
      }

      it('3 Adam steps give the same losses on wasm and cpu', async () => {
        await use('cpu');
        const want = train(3);
        await use('wasm');
        const got = train(3);
        for (let i = 0; i < want.length; i++) {
          assert.ok(Math.abs(got[i] - want[i]) <= TOL * Math.abs(want[i]), `step ${i}: wasm ${got[i]} cpu ${want[i]}`);
        }
        assert.ok(got[2] < got[0], 'loss should go down');
      });

      it('does not leak tensors over 20 steps on wasm', async () => {
        await use('wasm');
        const before = tf.memory();
        const counts: number[] = [];
        const bytes: number[] = [];
        const buffers: number[] = [];
        train(20, () => {
          counts.push(tf.memory().numTensors);
          bytes.push(tf.memory().numBytes);
          // The wasm heap's own buffer count: catches data freed from the engine but not the backend.
          buffers.push(tf.backend().numDataIds());
        });
        // Adam creates its slot variables on the first step; from then on nothing may grow.
        assert.equal(new Set(counts.slice(1)).size, 1, `numTensors per step: ${counts.join(',')}`);
        assert.equal(new Set(bytes.slice(1)).size, 1, `numBytes per step: ${bytes.join(',')}`);
        assert.equal(new Set(buffers.slice(1)).size, 1, `wasm data ids per step: ${buffers.join(',')}`);
        const after = tf.memory();
        assert.equal(after.numTensors, before.numTensors);
        assert.equal(after.numBytes, before.numBytes);
      });
    });
  });
}
