import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../../src/core/config/validate';
import type { RunConfigInput } from '../../src/core/config/types';
import { selectBackend } from '../../src/trainer/backend/select';
import { buildUnet } from '../../src/trainer/model/unet';
import { dropout, uniformDraws } from '../../src/trainer/model/layers';
import { buildMlp } from '../../src/trainer/model/mlp';
import { asWeights } from '../../src/trainer/model/params';
import { freshModelState, disposeModelState } from '../../src/trainer/train/modelState';
import { Rng } from '../../src/trainer/rng';
import { encodeGrid, gridLayout } from '../../src/trainer/sample/grid';
import { PNG } from 'pngjs';

function model(input: RunConfigInput) {
  const r = validateConfig(input);
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config.model;
}

test('the UNet maps [B, H, W, C] to the same shape, with attention and class labels', async () => {
  await selectBackend('wasm');
  const cfg = model({ data: { imageSize: 16 }, model: { baseChannels: 8, channelMults: [1, 2, 2], resBlocks: 2, groups: 4, attentionResolutions: [8, 4], classConditional: true } });
  const unet = buildUnet(cfg, 16, 3, 10);
  const s = freshModelState(unet, new Rng(0));
  const x = tf.randomNormal([2, 16, 16, 3]);
  const y = unet.apply(asWeights(s.params), { x, t: Float32Array.from([0, 999]), labels: Int32Array.from([3, 10]), training: false, seed: 0 });
  assert.deepEqual(y.shape, [2, 16, 16, 3]);
  // The output conv starts at zero, so the untrained model predicts zero noise.
  assert.equal(Math.max(...Array.from(await y.data()).map(Math.abs)), 0);
  tf.dispose([x, y]);
  disposeModelState(s);
});

test('the MLP denoiser maps [B, 2] to [B, 2]', async () => {
  await selectBackend('wasm');
  const mlp = buildMlp(model({ data: { source: 'toy2d' }, model: { type: 'mlp', hidden: 16, layers: 2 } }), 2);
  const s = freshModelState(mlp, new Rng(0));
  const y = mlp.apply(asWeights(s.params), { x: tf.ones([5, 2]), t: new Float32Array(5), labels: null, training: false, seed: 0 });
  assert.deepEqual(y.shape, [5, 2]);
  y.dispose();
  disposeModelState(s);
});

test('the UNet has exactly as many parameters as the same architecture in PyTorch', (t) => {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3-torch not installed (apt-get install python3-torch)');
    return;
  }
  for (const [size, ch, m] of [
    [14, 1, { baseChannels: 16, channelMults: [1, 2], resBlocks: 1, groups: 8, attentionResolutions: [] }],
    [32, 3, { baseChannels: 32, channelMults: [1, 2, 4], resBlocks: 2, groups: 8, attentionResolutions: [16] }],
  ] as const) {
    const cfg = model({ data: { imageSize: size }, model: { ...m, channelMults: [...m.channelMults], attentionResolutions: [...m.attentionResolutions] } });
    const ours = buildUnet(cfg, size, ch, 0).params.count();
    const spec = { size, channels: ch, base: m.baseChannels, mults: m.channelMults, resBlocks: m.resBlocks, attn: m.attentionResolutions, groups: m.groups, batch: 2, warmup: 0, steps: 1, threads: 1 };
    const r = spawnSync('/usr/bin/python3', [path.resolve(__dirname, '../../bench/torch_unet.py'), JSON.stringify(spec)], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const theirs = (JSON.parse(r.stdout) as { params: number }).params;
    assert.equal(ours, theirs, `size ${size}`);
  }
});

test('sample grids are square PNGs with the images upscaled into place', () => {
  assert.deepEqual(gridLayout(64), { rows: 8, cols: 8 });
  assert.deepEqual(gridLayout(10), { rows: 3, cols: 4 });
  const px = new Float32Array(4 * 2 * 2).fill(-1);
  px[0] = 1; // top-left pixel of the first image white
  const png = PNG.sync.read(encodeGrid(px, { count: 4, height: 2, width: 2, channels: 1, minSide: 8, pad: 1 }));
  // 2 columns of 2-pixel images upscaled x2, with 1-pixel padding: 2*4 + 3 = 11.
  assert.equal(png.width, 11);
  assert.equal(png.height, 11);
  const at = (x: number, y: number): number => png.data[(y * png.width + x) * 4];
  assert.equal(at(1, 1), 255);
  assert.equal(at(2, 2), 255);
  assert.equal(at(3, 1), 0);
  assert.equal(at(0, 0), 255, 'padding is white');
});

test("uniform draws and dropout are tfjs's own for the same seed (a replayed step makes the masks anew from it)", async () => {
  await selectBackend('wasm');
  for (const seed of [0, 7, 4294967295]) {
    const reference = (await tf.randomUniform([1000], 0, 1, 'float32', seed).data()) as Float32Array;
    assert.deepEqual(uniformDraws(seed, 1000), reference, `seed ${seed}`);
  }
  const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1);
  const ours = await dropout(x, 0.3, 12345, () => 0).data();
  const theirs = await tf.dropout(x, 0.3, undefined, 12345).data();
  assert.deepEqual(ours, theirs);
  assert.ok(Array.from(ours).some((v) => v === 0) && Array.from(ours).some((v) => v !== 0), 'some dropped, some kept');
  x.dispose();
});
