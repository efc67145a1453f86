// Our WGSL kernels on 'webgpu' (webgpuKernels.ts) against the reference cpu backend's composite
// ops, gradients included: the conv filter + bias gradient (strides, dilation, padding, channel
// counts across the 32-wide tiles), GroupNorm + SiLU both ways (channels per group from 1 to 24),
// the sum of squares, and Adam with clipping over several steps. Runs on whatever adapter Dawn
// finds (lavapipe in CI); skips saying why where there is none, unless IMMISCIBLE_EXPECT_WEBGPU=1.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ADAM_EMA_UPDATE, ADAM_MULTI_UPDATE, ADAM_UPDATE, CONV2D_BACKPROP_FILTER_BIAS, CONV2D_BIAS, fusedKernelsAvailable, SUM_SQUARES } from '../../src/trainer/backend/nativeKernels';
import { asBackend } from '../../src/trainer/backend/webgpuRaw';
import { selectBackend } from '../../src/trainer/backend/select';
import { probeWebgpu } from '../../src/trainer/backend/webgpu';
import { adamGroupSize, CONV_DW_INVOCATIONS_FLAG, CONV_DW_TILE_FLAG, convDwTileNow, convForwardCalls, convInputGradCalls, CONV_MM_FLAG, registerWebgpuKernels, flippedConvPadding, FLIPPED_CONV_DX_FLAG, sumSplit, SUM_SQUARES_PARTS, sumSquaresGroupSize } from '../../src/trainer/backend/webgpuKernels';
import { groupNormSilu } from '../../src/trainer/model/layers';
import { adamStep, newAdamState } from '../../src/trainer/train/adam';
import { emaDecay, newEma, updateEma } from '../../src/trainer/train/ema';
import { relErr, seeded } from './wasmKernelSuite';
import { MODELS, unetBench } from '../../scripts/unetBench';

const TOL = 1e-4;

async function on(backend: 'cpu' | 'webgpu', f: () => tf.Tensor | tf.Tensor[]): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), backend);
  const out = tf.tidy(f);
  const list = Array.isArray(out) ? out : [out];
  const data = await Promise.all(list.map(async (t) => (await t.data()) as Float32Array));
  tf.dispose(list);
  return data;
}

describe('WGSL kernels on webgpu', async () => {
  const probe = await probeWebgpu();
  const skip = probe.ok || process.env.IMMISCIBLE_EXPECT_WEBGPU === '1' ? false : `no WebGPU adapter: ${probe.ok ? '' : probe.reason}`;
  before(async () => {
    if (skip) return;
    const choice = await selectBackend('webgpu');
    assert.match(choice.device, /fused WGSL kernels/);
    assert.ok(fusedKernelsAvailable());
  });

  [
    { x: [2, 8, 8, 3], k: 3, outC: 5, stride: 1, pad: 'same', dil: 1 },
    { x: [3, 9, 7, 4], k: 3, outC: 6, stride: 2, pad: 'same', dil: 1 },
    { x: [2, 16, 16, 8], k: 3, outC: 40, stride: 2, pad: 'same', dil: 1 },
    { x: [2, 5, 5, 40], k: 1, outC: 33, stride: 1, pad: 'valid', dil: 1 },
    { x: [2, 11, 9, 3], k: 3, outC: 7, stride: 1, pad: 'same', dil: 2 },
    { x: [1, 6, 6, 70], k: 3, outC: 3, stride: 1, pad: 'valid', dil: 1 },
    { x: [2, 7, 6, 6], k: 3, outC: 8, stride: 1, pad: 'same', dil: 1 },
    { x: [3, 12, 12, 16], k: 3, outC: 36, stride: 1, pad: 'same', dil: 1 },
  ].forEach((c, i) => {
    it(`conv filter and bias gradients match cpu: x=${c.x.join('x')} k=${c.k} out=${c.outC} stride=${c.stride} ${c.pad} dilation=${c.dil}`, { skip }, async () => {
      const [b, h, w, ci] = c.x;
      const x = () => tf.tensor4d(seeded(b * h * w * ci, 10 + i), c.x as [number, number, number, number]);
      const f = () => tf.tensor4d(seeded(c.k * c.k * ci * c.outC, 20 + i), [c.k, c.k, ci, c.outC]);
      const conv = (xi: tf.Tensor4D, fi: tf.Tensor4D, dil = c.dil) => tf.conv2d(xi, fi, c.stride, c.pad as 'same' | 'valid', 'NHWC', dil);
      const dyShape = () => conv(x(), f()).shape;
      const dy = () => tf.tensor4d(seeded(tf.util.sizeFromShape(dyShape()), 30 + i), dyShape());
      // tfjs has no gradient for dilated convolutions: the reference takes the gradient of the
      // equivalent undilated convolution with zeros between the taps, at the taps.
      const span = (c.k - 1) * c.dil + 1;
      const bigFilter = () => {
        const small = f().arraySync();
        const big = Array.from({ length: span }, (_, r) => Array.from({ length: span }, (_, q) => (r % c.dil === 0 && q % c.dil === 0 ? small[r / c.dil][q / c.dil] : small[0][0].map((row) => row.map(() => 0)))));
        return tf.tensor4d(big);
      };
      const reference = () => {
        const g = dy();
        const [, df] = tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.mul(conv(xi as tf.Tensor4D, fi as tf.Tensor4D, 1), g)))([x(), c.dil > 1 ? bigFilter() : f()]);
        return [c.dil > 1 ? tf.stridedSlice(df, [0, 0, 0, 0], [span, span, ci, c.outC], [c.dil, c.dil, 1, 1]) : df, tf.sum(g, [0, 1, 2])];
      };
      const [wantW, wantB] = await on('cpu', reference);
      const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dilations: [c.dil, c.dil], filterShape: [c.k, c.k, ci, c.outC] };
      // Both tiles: 32 k x 32 co (the default) and 64 x 64.
      for (const tile of [32, 64]) {
        tf.env().set(CONV_DW_TILE_FLAG, tile);
        try {
          const [gotW, gotB] = await on('webgpu', () => tf.engine().runKernel(CONV2D_BACKPROP_FILTER_BIAS, { x: x(), dy: dy() }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[]);
          assert.ok(relErr(gotW, wantW) < TOL, `tile ${tile}: filter gradient rel err ${relErr(gotW, wantW)}`);
          assert.ok(relErr(gotB, wantB) < TOL, `tile ${tile}: bias gradient rel err ${relErr(gotB, wantB)}`);
        } finally {
          tf.env().set(CONV_DW_TILE_FLAG, 0);
        }
      }
      // tfjs's own conv2d gradient goes through our Conv2DBackpropFilter on webgpu.
      if (c.dil > 1) return;
      const [viaGrad] = await on('webgpu', () => reference()[0]);
      assert.ok(relErr(viaGrad, wantW) < TOL, `Conv2DBackpropFilter rel err ${relErr(viaGrad, wantW)}`);
    });
  });

  it("the filter gradient's tile is 64 on a GPU and 32 on a software adapter, unless the flag names one", { skip }, () => {
    try {
      assert.ok(registerWebgpuKernels({ software: true }).ok);
      assert.equal(convDwTileNow(), 32);
      assert.ok(registerWebgpuKernels({ software: false }).ok);
      assert.equal(convDwTileNow(), 64);
      assert.ok(registerWebgpuKernels().ok);
      assert.equal(convDwTileNow(), 64, 'kept when not given');
      tf.env().set(CONV_DW_TILE_FLAG, 32);
      assert.equal(convDwTileNow(), 32);
      assert.throws(() => tf.env().set(CONV_DW_TILE_FLAG, 48), /IMMISCIBLE_WEBGPU_CONV_DW_TILE: expected 32, 64 or 0/);
    } finally {
      tf.env().set(CONV_DW_TILE_FLAG, 0);
      registerWebgpuKernels(probe.ok ? probe.adapter : undefined);
    }
  });

  it('the forward convolutions are our GEMM on a GPU and tfjs\'s on a software adapter, unless the environment names one', { skip }, () => {
    const saved = process.env[CONV_MM_FLAG];
    try {
      delete process.env[CONV_MM_FLAG];
      assert.ok(registerWebgpuKernels({ software: false }).ok);
      assert.equal(tf.env().getBool(CONV_MM_FLAG), true);
      assert.ok(registerWebgpuKernels({ software: true }).ok);
      assert.equal(tf.env().getBool(CONV_MM_FLAG), false);
      assert.ok(registerWebgpuKernels().ok);
      assert.equal(tf.env().getBool(CONV_MM_FLAG), false, 'kept when not given');
      process.env[CONV_MM_FLAG] = 'false';
      assert.ok(registerWebgpuKernels({ software: false }).ok);
      assert.equal(tf.env().getBool(CONV_MM_FLAG), false, 'the environment wins on a GPU');
      process.env[CONV_MM_FLAG] = 'true';
      tf.env().set(CONV_MM_FLAG, true);
      assert.ok(registerWebgpuKernels({ software: true }).ok);
      assert.equal(tf.env().getBool(CONV_MM_FLAG), true, 'the environment wins on a software adapter');
    } finally {
      if (saved === undefined) delete process.env[CONV_MM_FLAG];
      else process.env[CONV_MM_FLAG] = saved;
      tf.env().set(CONV_MM_FLAG, false);
      registerWebgpuKernels(probe.ok ? probe.adapter : undefined);
    }
  });

  it('the filter gradient is the same whatever number of splits its invocation target gives', { skip }, async () => {
    const shape: [number, number, number, number] = [4, 16, 16, 8];
    const x = () => tf.tensor4d(seeded(4 * 16 * 16 * 8, 70), shape);
    const dy = () => tf.tensor4d(seeded(4 * 16 * 16 * 12, 71), [4, 16, 16, 12]);
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], filterShape: [3, 3, 8, 12] } as unknown as tf.NamedAttrMap;
    const [want] = await on('cpu', () => tf.engine().runKernel('Conv2DBackpropFilter', { x: x(), dy: dy() }, attrs) as tf.Tensor);
    const results: Float32Array[] = [];
    const saved = tf.env().getNumber(CONV_DW_INVOCATIONS_FLAG);
    // 64 invocations: one split over all 1,024 rows; 2^24: one split per 256 rows (4 splits).
    for (const invocations of [64, 262144, 1 << 24]) {
      tf.env().set(CONV_DW_INVOCATIONS_FLAG, invocations);
      try {
        const [gotW] = await on('webgpu', () => tf.engine().runKernel(CONV2D_BACKPROP_FILTER_BIAS, { x: x(), dy: dy() }, attrs) as tf.Tensor[]);
        assert.ok(relErr(gotW, want) < TOL, `${invocations} invocations: filter gradient rel err ${relErr(gotW, want)}`);
        results.push(gotW);
      } finally {
        tf.env().set(CONV_DW_INVOCATIONS_FLAG, saved);
      }
    }
    assert.equal(results.length, 3);
  });

  it('pads the flipped-filter convolution by k - 1 - p, and declines strided and dilated ones', () => {
    const attrs = (stride: number, pad: 'same' | 'valid', dil = 1) => ({ strides: stride, pad, dilations: dil, dataFormat: 'NHWC' as const });
    assert.equal(flippedConvPadding([2, 8, 8, 3], [3, 3, 3, 5], attrs(1, 'same')), 'same');
    assert.equal(flippedConvPadding([2, 8, 8, 3], [1, 1, 3, 5], attrs(1, 'same')), 'same');
    assert.deepEqual(flippedConvPadding([2, 8, 8, 3], [3, 3, 3, 5], attrs(1, 'valid')), [[0, 0], [2, 2], [2, 2], [0, 0]]);
    // An even filter's 'same' padding is 0 before and 1 after; flipped, 1 before and 0 after.
    assert.deepEqual(flippedConvPadding([2, 8, 8, 3], [2, 2, 3, 5], attrs(1, 'same')), [[0, 0], [1, 0], [1, 0], [0, 0]]);
    assert.equal(flippedConvPadding([2, 8, 8, 3], [3, 3, 3, 5], attrs(2, 'same')), null);
    assert.equal(flippedConvPadding([2, 8, 8, 3], [3, 3, 3, 5], attrs(1, 'same', 2)), null);
    assert.equal(flippedConvPadding([2, 8, 8, 3], [3, 3, 3, 5], { ...attrs(1, 'same'), dataFormat: 'NCHW' }), null);
  });

  [
    { x: [2, 8, 8, 5], k: 3, outC: 7, stride: 1, pad: 'same', flipped: true },
    { x: [2, 6, 5, 40], k: 1, outC: 33, stride: 1, pad: 'same', flipped: true },
    { x: [1, 6, 7, 4], k: 3, outC: 6, stride: 1, pad: 'valid', flipped: true },
    { x: [2, 5, 6, 4], k: 2, outC: 8, stride: 1, pad: 'same', flipped: true },
    { x: [2, 16, 16, 32], k: 3, outC: 64, stride: 1, pad: 'same', flipped: true },
    { x: [3, 9, 7, 4], k: 3, outC: 6, stride: 2, pad: 'same', flipped: false },
  ].forEach((c, i) => {
    it(`conv input gradient matches cpu (${c.flipped ? 'flipped-filter conv' : "tfjs's kernel"}): x=${c.x.join('x')} k=${c.k} out=${c.outC} stride=${c.stride} ${c.pad}`, { skip }, async () => {
      const [b, h, w, ci] = c.x;
      const x = () => tf.tensor4d(seeded(b * h * w * ci, 40 + i), c.x as [number, number, number, number]);
      const f = () => tf.tensor4d(seeded(c.k * c.k * ci * c.outC, 50 + i), [c.k, c.k, ci, c.outC]);
      const conv = (xi: tf.Tensor, fi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, c.stride, c.pad as 'same' | 'valid');
      const dyShape = conv(x(), f()).shape;
      const dy = () => tf.tensor4d(seeded(tf.util.sizeFromShape(dyShape), 60 + i), dyShape);
      const reference = () => tf.grads((xi: tf.Tensor, fi: tf.Tensor) => tf.sum(tf.mul(conv(xi, fi), dy())))([x(), f()])[0];
      const [want] = await on('cpu', reference);
      const before = { ...convInputGradCalls };
      const [got] = await on('webgpu', reference);
      assert.ok(relErr(got, want) < TOL, `input gradient rel err ${relErr(got, want)}`);
      assert.equal(convInputGradCalls.flipped - before.flipped, c.flipped ? 1 : 0, 'flipped-filter conv calls');
      assert.equal(convInputGradCalls.stock - before.stock, c.flipped ? 0 : 1, "tfjs's kernel calls");
      // Our tile GEMM reading the filter flipped in place: the same result, one kernel.
      tf.env().set(CONV_MM_FLAG, true);
      try {
        const mm = convForwardCalls.mm;
        const [viaMm] = await on('webgpu', reference);
        assert.ok(relErr(viaMm, want) < TOL, `tile GEMM input gradient rel err ${relErr(viaMm, want)}`);
        assert.equal(convForwardCalls.mm - mm, c.flipped ? 1 : 0, 'tile GEMM calls');
      } finally {
        tf.env().set(CONV_MM_FLAG, false);
      }
      // The flag puts tfjs's kernel back, with the same result.
      tf.env().set(FLIPPED_CONV_DX_FLAG, false);
      try {
        const [stock] = await on('webgpu', reference);
        assert.ok(relErr(stock, want) < TOL, `tfjs's input gradient rel err ${relErr(stock, want)}`);
        assert.equal(convInputGradCalls.stock - before.stock, c.flipped ? 1 : 3);
      } finally {
        tf.env().set(FLIPPED_CONV_DX_FLAG, true);
      }
    });
  });

  [
    { x: [2, 8, 8, 3], k: 3, outC: 5, stride: 1, pad: 'same', dil: 1 },
    { x: [3, 9, 7, 4], k: 3, outC: 6, stride: 2, pad: 'same', dil: 1 },
    { x: [2, 16, 16, 8], k: 3, outC: 72, stride: 1, pad: 'same', dil: 1 },
    { x: [2, 5, 5, 40], k: 1, outC: 33, stride: 1, pad: 'valid', dil: 1 },
    { x: [2, 11, 9, 3], k: 3, outC: 7, stride: 1, pad: 'same', dil: 2 },
    { x: [1, 6, 6, 70], k: 3, outC: 3, stride: 1, pad: 'valid', dil: 1 },
    { x: [3, 12, 12, 16], k: 3, outC: 36, stride: 2, pad: 'valid', dil: 1 },
    { x: [2, 6, 6, 4], k: 2, outC: 8, stride: 1, pad: 'same', dil: 1 },
    // The 128 x 32 and 256 x 16 tiles over several row tiles, with and without vec4 channels.
    { x: [2, 10, 10, 8], k: 3, outC: 24, stride: 1, pad: 'same', dil: 1 },
    { x: [2, 9, 9, 6], k: 3, outC: 30, stride: 1, pad: 'same', dil: 1 },
    { x: [3, 12, 12, 4], k: 3, outC: 12, stride: 1, pad: 'same', dil: 1 },
  ].forEach((c, i) => {
    it(`conv + bias by the tile GEMM matches cpu: x=${c.x.join('x')} k=${c.k} out=${c.outC} stride=${c.stride} ${c.pad} dilation=${c.dil}`, { skip }, async () => {
      const [b, h, w, ci] = c.x;
      const x = () => tf.tensor4d(seeded(b * h * w * ci, 80 + i), c.x as [number, number, number, number]);
      const f = () => tf.tensor4d(seeded(c.k * c.k * ci * c.outC, 90 + i), [c.k, c.k, ci, c.outC]);
      const bias = () => tf.tensor1d(seeded(c.outC, 100 + i));
      const [want] = await on('cpu', () => tf.add(tf.conv2d(x(), f(), c.stride, c.pad as 'same' | 'valid', 'NHWC', c.dil), bias()));
      const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dilations: [c.dil, c.dil] } as unknown as tf.NamedAttrMap;
      const run = () => tf.engine().runKernel(CONV2D_BIAS, { x: x(), filter: f(), bias: bias() }, attrs) as tf.Tensor;
      for (const mm of [true, false]) {
        tf.env().set(CONV_MM_FLAG, mm);
        try {
          const before = { ...convForwardCalls };
          const [got] = await on('webgpu', run);
          assert.ok(relErr(got, want) < TOL, `${mm ? 'tile GEMM' : "tfjs's conv"}: rel err ${relErr(got, want)}`);
          assert.deepEqual([convForwardCalls.mm - before.mm, convForwardCalls.stock - before.stock], mm ? [1, 0] : [0, 1]);
        } finally {
          tf.env().set(CONV_MM_FLAG, false);
        }
      }
    });
  });

  [
    { x: [2, 4, 4, 8], groups: 4 },
    { x: [3, 5, 3, 12], groups: 3 },
    { x: [2, 8, 8, 64], groups: 8 },
    { x: [1, 3, 3, 24], groups: 1 },
    { x: [2, 2, 2, 6], groups: 6 },
    // More samples than the 64 invocations that sum each channel's partials: each adds several.
    { x: [150, 2, 2, 8], groups: 2 },
  ].forEach((c, i) => {
    it(`GroupNorm + SiLU and its gradients match the composite ops on cpu: x=${c.x.join('x')} groups=${c.groups}`, { skip }, async () => {
      const [, , , ch] = c.x;
      const run = () => {
        // Offset and scaled input: the variance pass must not lose the small spread to the mean.
        const x = tf.add(tf.mul(tf.tensor4d(seeded(tf.util.sizeFromShape(c.x), 40 + i), c.x as [number, number, number, number]), 3), 5);
        const gamma = tf.add(tf.tensor1d(seeded(ch, 50 + i)), 1);
        const beta = tf.tensor1d(seeded(ch, 60 + i));
        const wy = tf.tensor4d(seeded(tf.util.sizeFromShape(c.x), 70 + i), c.x as [number, number, number, number]);
        const f = (xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => groupNormSilu({ 'n.gamma': g, 'n.beta': b }, 'n', xi as tf.Tensor4D, c.groups);
        const y = f(x, gamma, beta);
        const grads = tf.grads((xi: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(xi, g, b), wy)))([x, gamma, beta]);
        return [y, ...grads];
      };
      const want = await on('cpu', run);
      const got = await on('webgpu', run);
      ['y', 'dx', 'dgamma', 'dbeta'].forEach((what, k) => assert.ok(relErr(got[k], want[k]) < TOL, `${what} rel err ${relErr(got[k], want[k])}`));
    });
  });

  it('sums over axes that are not innermost without a transpose, split in parts where outputs are few, as the cpu backend does', { skip }, async () => {
    const cases: { shape: number[]; axis: number[]; keepDims?: boolean; parts?: number }[] = [
      { shape: [5, 7], axis: [0] },
      { shape: [3, 4, 5, 6], axis: [1, 2] },
      { shape: [3, 4, 5, 6], axis: [1, 2], keepDims: true },
      { shape: [2, 3, 2, 4, 2, 5], axis: [2, 4] },
      { shape: [4, 1, 6], axis: [0] },
      { shape: [3, 4, 5], axis: [0, 2] },
      { shape: [70, 300], axis: [0] },
      // A bias gradient (16 outputs of 6,144 elements each: 48 parts of 128) and a time
      // embedding's (3 x 8 outputs of 930 each: 8 parts of 117 that start mid-row, the last short).
      { shape: [6, 32, 32, 16], axis: [0, 1, 2], parts: 48 },
      { shape: [3, 30, 31, 8], axis: [1, 2], parts: 8 },
      // Two reduced blocks (41 and 29): 10 parts of 119, each starting inside the inner block.
      { shape: [4, 41, 3, 29, 2], axis: [1, 3], parts: 10 },
      // Innermost axes need no transpose: tfjs's own kernel runs.
      { shape: [3, 4, 5], axis: [1, 2] },
    ];
    for (const [i, c] of cases.entries()) {
      const x = (): tf.Tensor => tf.tensor(seeded(tf.util.sizeFromShape(c.shape), 60 + i), c.shape);
      const [want] = await on('cpu', () => tf.sum(x(), c.axis, c.keepDims));
      assert.ok(await tf.setBackend('webgpu'));
      const info = await tf.profile(() => tf.sum(x(), c.axis, c.keepDims));
      const [got] = await on('webgpu', () => tf.sum(x(), c.axis, c.keepDims));
      assert.ok(relErr(got, want) < 1e-5, `${JSON.stringify(c)}: rel err ${relErr(got, want)}`);
      const programs = info.kernels.filter((k) => k.name === 'Sum').map((k) => String(k.extraInfo));
      const n = tf.util.sizeFromShape(c.shape.filter((_, d) => !c.axis.includes(d)));
      assert.equal(sumSplit(n, tf.util.sizeFromShape(c.shape) / n).parts, c.parts ?? 1, `${JSON.stringify(c)}: parts`);
      if (c.parts) {
        assert.match(programs.join(), /^ImmiscibleSumProgram: [^,]*, ImmiscibleSumPartsProgram: [^,]*$/, `${JSON.stringify(c)}: parts, then their sum`);
      } else if (i < cases.length - 1) assert.match(programs.join(), /^ImmiscibleSumProgram: [^,]*$/, `${JSON.stringify(c)}: one dispatch of ours`);
      else assert.match(programs.join(), /^ReduceProgram/, "innermost axes: tfjs's kernel");
    }
    // The gradient of a broadcast bias add, as in every dense layer and time embedding.
    const grad = (): tf.Tensor[] => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.add(a, b), tf.tensor(seeded(3 * 4 * 4 * 6, 77), [3, 4, 4, 6]))))([tf.tensor(seeded(3 * 4 * 4 * 6, 78), [3, 4, 4, 6]), tf.tensor(seeded(3 * 6, 79), [3, 1, 1, 6])]);
    const want = await on('cpu', grad);
    const got = await on('webgpu', grad);
    got.forEach((g, k) => assert.ok(relErr(g, want[k]) < 1e-5, `gradient ${k}: rel err ${relErr(g, want[k])}`));
  });

  it('sums squares of many tensors in one kernel call, as many per dispatch as the device binds, empty ones included', { skip }, async () => {
    // Large enough (over 64 x 8 x 256 elements) that each of the 64 workgroups sums a share.
    const shapes = [[3, 5], [0], [1], [300, 70], [2, 2, 2], [120000], [4]];
    const [parts] = await on('webgpu', () => tf.engine().runKernel(SUM_SQUARES, shapes.map((s, i) => tf.tensor(seeded(tf.util.sizeFromShape(s), 80 + i), s)) as unknown as tf.NamedTensorMap) as tf.Tensor);
    const k = sumSquaresGroupSize(asBackend(tf.backend()));
    assert.equal(parts.length, Math.ceil(6 / k) * SUM_SQUARES_PARTS);
    assert.ok(parts.slice(0, SUM_SQUARES_PARTS).every((p) => p > 0), 'every workgroup sums a share');
    // A small input takes one workgroup, which zeroes the other partial sums (the buffer comes from a pool).
    const [small] = await on('webgpu', () => tf.engine().runKernel(SUM_SQUARES, [tf.tensor([3, 4])] as unknown as tf.NamedTensorMap) as tf.Tensor);
    assert.deepEqual([...small], [25, ...new Array(SUM_SQUARES_PARTS - 1).fill(0)]);
    const got = parts.reduce((a, p) => a + p, 0);
    let want = 0;
    shapes.forEach((s, i) => seeded(tf.util.sizeFromShape(s), 80 + i).forEach((v) => (want += v * v)));
    assert.ok(Math.abs(got - want) < 1e-5 * want, `${got} vs ${want}`);
    const [empty] = await on('webgpu', () => tf.engine().runKernel(SUM_SQUARES, [tf.zeros([0])] as unknown as tf.NamedTensorMap) as tf.Tensor);
    assert.deepEqual([...empty], new Array(SUM_SQUARES_PARTS).fill(0));
    assert.throws(() => tf.engine().runKernel(SUM_SQUARES, [] as unknown as tf.NamedTensorMap), /no inputs/);
    // 40 tensors (3 of them empty): ceil(37 / k) dispatches, each writing its own partial sums.
    const many = Array.from({ length: 40 }, (_, i) => (i % 13 === 5 ? [0] : [i + 1, 3]));
    await tf.setBackend('webgpu');
    const profile = await tf.profile(() => tf.tidy(() => tf.keep(tf.engine().runKernel(SUM_SQUARES, many.map((s, i) => tf.tensor(seeded(tf.util.sizeFromShape(s), 200 + i), s)) as unknown as tf.NamedTensorMap) as tf.Tensor)));
    const result = profile.result as tf.Tensor;
    const sums = (await result.data()) as Float32Array;
    result.dispose();
    assert.equal(sums.length, Math.ceil(37 / k) * SUM_SQUARES_PARTS);
    let wantMany = 0;
    many.forEach((s, i) => seeded(tf.util.sizeFromShape(s), 200 + i).forEach((v) => (wantMany += v * v)));
    const gotMany = sums.reduce((a, p) => a + p, 0);
    assert.ok(Math.abs(gotMany - wantMany) < 1e-5 * wantMany, `${gotMany} vs ${wantMany}`);
    const programs = profile.kernels.map((kern) => String(kern.extraInfo)).join();
    assert.equal((programs.match(/ImmiscibleSumSquaresProgram/g) ?? []).length, Math.ceil(37 / k), programs);
  });

  it('Adam with clipping: 5 steps give the weights and gradient norms of the composite update on cpu, in place or not', { skip }, async () => {
    const shapes = [[3, 3, 4, 8], [8], [17], [5, 9], [2], [4, 4], [3], [6, 1], [11]];
    const run = async (backend: 'cpu' | 'webgpu') => {
      assert.ok(await tf.setBackend(backend));
      // Odd parameters keep sharing their data with the tensor they were made from (which is never
      // disposed here), so the webgpu kernel must write them out of place; even ones own theirs.
      const held: tf.Tensor[] = [];
      const params = new Map(
        shapes.map((s, i) => {
          const init = (): tf.Tensor => tf.tensor(seeded(tf.util.sizeFromShape(s), 90 + i), s);
          if (i % 2) held.push(init());
          return [`p${i}`, i % 2 ? tf.variable(held[held.length - 1], true, `adam-${backend}-${i}`) : tf.tidy(() => tf.variable(init(), true, `adam-${backend}-${i}`))];
        }),
      );
      const state = newAdamState(params);
      const norms: number[] = [];
      for (let step = 0; step < 5; step++) {
        const ids = [...params.values()].map((p) => p.dataId);
        const grads = new Map(shapes.map((s, i) => [`p${i}`, tf.mul(tf.tensor(seeded(tf.util.sizeFromShape(s), 100 + 7 * step + i), s), step + 1)]));
        const norm = adamStep(params, grads, state, 1e-2, 2);
        norms.push((await norm.data())[0]);
        tf.dispose([norm, ...grads.values()]);
        if (backend === 'webgpu' && step === 0) {
          const kept = [...params.values()].map((p, i) => p.dataId === ids[i]);
          assert.deepEqual(kept, shapes.map((_, i) => i % 2 === 0), 'in place exactly where nothing else holds the data');
        }
      }
      for (const [k, t] of held.entries()) assert.deepEqual(await t.data(), seeded(t.size, 90 + 2 * k + 1), `the tensor p${2 * k + 1} was made from is untouched`);
      tf.dispose(held);
      // The updates (final - initial): the initial weights would hide a wrong update.
      const final = await Promise.all([...params.values()].map(async (p, i) => (await p.data()).map((v, k) => v - seeded(p.size, 90 + i)[k])));
      tf.dispose([...params.values(), ...state.m.values(), ...state.v.values()]);
      return { norms, final };
    };
    const want = await run('cpu');
    const got = await run('webgpu');
    got.norms.forEach((n, k) => assert.ok(Math.abs(n - want.norms[k]) < 1e-5 * want.norms[k], `step ${k + 1} norm ${n} vs ${want.norms[k]}`));
    got.final.forEach((f, k) => assert.ok(relErr(f, want.final[k]) < TOL, `p${k} update rel err ${relErr(f, want.final[k])}`));
  });

  it('Adam with the EMA in the same kernel gives the weights and averages of Adam then the EMA on cpu', { skip }, async () => {
    const shapes = [[3, 3, 2, 4], [4], [7, 5]];
    const run = async (backend: 'cpu' | 'webgpu') => {
      assert.ok(await tf.setBackend(backend));
      const params = new Map(shapes.map((s, i) => [`p${i}`, tf.tidy(() => tf.variable(tf.tensor(seeded(tf.util.sizeFromShape(s), 150 + i), s), true, `adamema-${backend}-${i}`))]));
      const state = newAdamState(params);
      const ema = newEma(params);
      const kernels: string[][] = [];
      for (let step = 0; step < 4; step++) {
        const ids = [...params.values(), ...ema.values()].map((t) => t.dataId);
        const grads = new Map(shapes.map((s, i) => [`p${i}`, tf.tensor(seeded(tf.util.sizeFromShape(s), 160 + 5 * step + i), s)]));
        const info = await tf.profile(() => adamStep(params, grads, state, 1e-2, 1, { weights: ema, decay: emaDecay(step + 1, 0.999) }));
        tf.dispose([...grads.values(), info.result as tf.Tensor]);
        kernels.push(info.kernels.map((k) => k.name));
        // From the second step on (the average starts as the weights' clone) all of it is in place.
        if (backend === 'webgpu' && step > 0) assert.ok([...params.values(), ...ema.values()].every((t, k) => t.dataId === ids[k]), `step ${step + 1}: in place`);
      }
      if (backend === 'webgpu') {
        assert.ok(kernels.slice(1).every((ks) => ks.includes('ImmiscibleAdamMulti') && !ks.includes('ImmiscibleEma')), `kernels: ${JSON.stringify(kernels.slice(1))}`);
      }
      const out = await Promise.all([...params.values(), ...ema.values()].map(async (t) => (await t.data()) as Float32Array));
      tf.dispose([...params.values(), ...ema.values(), ...state.m.values(), ...state.v.values()]);
      return out;
    };
    const want = await run('cpu');
    const got = await run('webgpu');
    got.forEach((g, k) => assert.ok(relErr(g, want[k]) < TOL, `${k < shapes.length ? 'weights' : 'average'} ${k % shapes.length} rel err ${relErr(g, want[k])}`));
  });

  it('updates several tensors per Adam dispatch as the device allows, as one per dispatch does, bit for bit', { skip }, async () => {
    assert.ok(await tf.setBackend('webgpu'));
    const shapes = [[3, 3, 4, 8], [8], [300], [5, 9], [0], [2], [4, 4], [1]];
    const attrs = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, bc1: 0.1, bc2: 0.001 };
    for (const emaDecay of [undefined, 0.99]) {
      // Fresh tensors each time (a clone would share the data, and be updated out of place).
      const make = (seed: number, i: number) => tf.tensor(seeded(tf.util.sizeFromShape(shapes[i]), seed + i), shapes[i]);
      const fresh = (i: number) => ({ p: make(200, i), m: make(220, i), v: tf.tidy(() => tf.abs(make(230, i))), e: make(240, i) });
      const gs = shapes.map((_, i) => make(210, i));
      const ps = shapes.map((_, i) => make(200, i));
      const scale = tf.scalar(0.5);
      // One kernel call for all: each p, m, v (and e) is held by nothing else, so in place.
      const inputs: tf.NamedTensorMap = { scale };
      shapes.forEach((_, i) => {
        const t = fresh(i);
        Object.assign(inputs, { [`p${i}`]: t.p, [`g${i}`]: gs[i], [`m${i}`]: t.m, [`v${i}`]: t.v, ...(emaDecay ? { [`e${i}`]: t.e } : {}) });
        if (!emaDecay) t.e.dispose();
      });
      const info = await tf.profile(() => tf.engine().runKernel(ADAM_MULTI_UPDATE, inputs, { ...attrs, count: shapes.length, ...(emaDecay ? { emaDecay } : {}) }) as tf.Tensor[]);
      const multi = info.result as tf.Tensor[];
      const programs = info.kernels.map((k) => String(k.extraInfo)).join();
      const group = adamGroupSize(asBackend(tf.backend()), emaDecay != null);
      // 7 non-empty tensors (the empty one goes alone and dispatches nothing).
      const dispatches = (programs.match(/ImmiscibleAdamMultiProgram/g) ?? []).length + (programs.match(/ImmiscibleAdam(Ema)?Program/g) ?? []).length;
      assert.equal(dispatches, group > 1 ? Math.ceil(7 / group) : 7, `group ${group}: ${programs}`);
      if (group > 1) assert.match(programs, /ImmiscibleAdamMultiProgram/);
      // The same, one tensor per kernel call.
      const single = shapes.flatMap((_, i) => {
        const { p, m, v, e } = fresh(i);
        if (!emaDecay) e.dispose();
        return emaDecay
          ? (tf.engine().runKernel(ADAM_EMA_UPDATE, { p, g: gs[i], m, v, scale, ema: e }, { ...attrs, emaDecay }) as tf.Tensor[])
          : (tf.engine().runKernel(ADAM_UPDATE, { p, g: gs[i], m, v, scale }, attrs) as tf.Tensor[]);
      });
      assert.equal(multi.length, single.length);
      for (const [k, t] of multi.entries()) assert.deepEqual(await t.data(), await single[k].data(), `output ${k}`);
      // The updates moved the weights (a kernel that wrote nothing would pass the comparison).
      assert.notDeepEqual(await multi[0].data(), await ps[0].data());
      tf.dispose([...multi, ...single, ...Object.values(inputs), ...ps, ...gs]);
    }
  });

  it('updates the EMA of the weights as the composite ops do on cpu', { skip }, async () => {
    const run = async (backend: 'cpu' | 'webgpu') => {
      assert.ok(await tf.setBackend(backend));
      const params = new Map([[3, 3, 2], [7], [1]].map((s, i) => [`p${i}`, tf.variable(tf.tensor(seeded(tf.util.sizeFromShape(s), 120 + i), s), true, `ema-p-${backend}-${i}`)]));
      const ema = newEma(params);
      for (let n = 0; n < 4; n++) {
        const shared = [...ema.values()].map((e, k) => e.dataId === [...params.values()][k].dataId);
        const ids = [...ema.values()].map((e) => e.dataId);
        updateEma(ema, params, emaDecay(n, 0.999));
        // The average starts as the weights' clone: the first update must not write into the weights.
        if (backend === 'webgpu') assert.deepEqual([...ema.values()].map((e, k) => e.dataId === ids[k]), shared.map((s) => !s), `update ${n}: in place once the average owns its data`);
        for (const p of params.values()) p.assign(tf.tidy(() => tf.add(p, tf.tensor(seeded(p.size, 130 + n), p.shape))));
      }
      const out = await Promise.all([...ema.values()].map(async (e) => (await e.data()) as Float32Array));
      tf.dispose([...params.values(), ...ema.values()]);
      return out;
    };
    const want = await run('cpu');
    const got = await run('webgpu');
    got.forEach((g, k) => assert.ok(relErr(g, want[k]) < 1e-6, `ema ${k} rel err ${relErr(g, want[k])}`));
  });

  it('leaks no tensors over a fused forward and backward pass', { skip }, async () => {
    assert.ok(await tf.setBackend('webgpu'));
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([2, 4, 4, 8]) as tf.Tensor4D;
      tf.grads((xi: tf.Tensor) => tf.sum(groupNormSilu({ 'n.gamma': tf.ones([8]), 'n.beta': tf.zeros([8]) }, 'n', xi as tf.Tensor4D, 4)))([x]);
    });
    assert.equal(tf.memory().numTensors, before);
  });

  it("uploads only the step's own data from the CPU during a UNet training step", { skip }, async () => {
    assert.ok(await tf.setBackend('webgpu'));
    // Each tensor made on the CPU costs a staging buffer and a copy when a kernel first reads it
    // (about 0.3 ms of the CPU's time each on the H200's host): 11 per step before silu, the loss
    // and Adam's clipping made their constants on the GPU.
    const backend = tf.backend() as unknown as { uploadToGPU(id: object): void; tensorMap: { get(id: object): { values: unknown } | undefined } };
    const bench = unetBench(MODELS.demo, 2);
    const norm0 = bench.step(0);
    await norm0.data();
    norm0.dispose();
    const original = backend.uploadToGPU;
    let uploads = 0;
    backend.uploadToGPU = function (this: typeof backend, id: object) {
      if (this.tensorMap.get(id)?.values != null) uploads++;
      return original.call(this, id);
    };
    try {
      const norm = bench.step(1);
      await norm.data();
      norm.dispose();
    } finally {
      backend.uploadToGPU = original;
      bench.dispose();
    }
    // The time embedding's sinusoids (of this step's timesteps) and the loss's 2 / n.
    assert.equal(uploads, 2);
  });
});
