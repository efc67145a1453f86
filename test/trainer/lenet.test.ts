/**
 * The shipped LeNet feature extractor: its weights file matches the SHA-256 in its manifest, it
 * classifies the MNIST test split as its manifest reports, its features are 84-d for any input
 * side and channel count, and reference statistics are cached per key and recomputed when corrupt.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../../src/core/config/validate';
import { selectBackend } from '../../src/trainer/backend/select';
import { loadDataset, loadMnist } from '../../src/trainer/data';
import type { ImageDataset } from '../../src/trainer/data/types';
import { loadExtractor } from '../../src/trainer/metrics/extractors';
import { lenetAccuracy } from '../../src/trainer/metrics/lenet/accuracy';
import { lenetManifestPath, loadLenetExtractor } from '../../src/trainer/metrics/lenet/extractor';
import { referenceStats } from '../../src/trainer/metrics/refStats';

const root = path.resolve(__dirname, '../..');

test('the shipped weights match their manifest and classify the MNIST test split', async () => {
  await selectBackend('wasm');
  const manifestFile = lenetManifestPath();
  assert.equal(manifestFile, path.join(root, 'media/extractors/lenet-mnist.json'));
  const ex = loadLenetExtractor(manifestFile);
  try {
    const bin = fs.readFileSync(path.join(root, 'media/extractors/lenet-mnist.bin'));
    assert.equal(ex.weightsSha256, createHash('sha256').update(bin).digest('hex'));
    assert.equal(ex.weightsSha256, ex.manifest.sha256);
    assert.equal(ex.manifest.testExamples, 10000);
    assert.ok(ex.manifest.testAccuracy >= 0.98, `reported test accuracy ${ex.manifest.testAccuracy}`);
    // A 2000-image subset for speed; the full split is in the manifest (scripts/train-lenet.ts).
    const { accuracy, count } = await lenetAccuracy(ex.weights, loadMnist('test'), 2000);
    assert.equal(count, 2000);
    console.log(`lenet: accuracy ${accuracy} on the first 2000 MNIST test images`);
    assert.ok(accuracy >= 0.975, `accuracy ${accuracy} on the first 2000 test images (bound 0.975)`);
  } finally {
    ex.dispose();
  }
});

test('a weights file that does not match its manifest is refused, naming both files', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-lenet-'));
  fs.copyFileSync(path.join(root, 'media/extractors/lenet-mnist.json'), path.join(dir, 'lenet-mnist.json'));
  const bin = fs.readFileSync(path.join(root, 'media/extractors/lenet-mnist.bin'));
  bin[100] ^= 1;
  fs.writeFileSync(path.join(dir, 'lenet-mnist.bin'), bin);
  assert.throws(() => loadLenetExtractor(path.join(dir, 'lenet-mnist.json')), /lenet-mnist\.bin: SHA-256 is [0-9a-f]{64} but .*lenet-mnist\.json field "sha256"/);
});

test('features are 84-d for gray and RGB input of any side; RGB of a gray image gives its features', async () => {
  await selectBackend('wasm');
  const ex = await loadExtractor('lenet');
  try {
    assert.equal(ex.dim, 84);
    assert.deepEqual(ex.metricNames, { fd: 'fd_lenet', kid: 'kid_lenet' });
    const ds = loadMnist('test', 6);
    const gray = tf.tensor4d(ds.pixels.map((v) => (v + 1) / 2), [6, 28, 28, 1]);
    const rgb = tf.tile(gray, [1, 1, 1, 3]) as tf.Tensor4D;
    const small = tf.image.resizeBilinear(gray, [14, 14]);
    const fg = await ex.features(gray);
    const fc = await ex.features(rgb);
    const fs14 = await ex.features(small);
    assert.equal(fg.length, 6 * 84);
    assert.equal(fs14.length, 6 * 84);
    for (let i = 0; i < fg.length; i++) assert.ok(Math.abs(fg[i] - fc[i]) < 1e-4 * (1 + Math.abs(fg[i])), `feature ${i}: ${fg[i]} vs ${fc[i]}`);
    assert.ok(fg.some((v) => v > 0), 'some features are active');
    tf.dispose([gray, rgb, small]);
  } finally {
    ex.dispose();
  }
});

test('the registry names what inception needs and rejects unknown extractors', async () => {
  await assert.rejects(loadExtractor('inception'), /needs evaluation\.inceptionWeights/);
  await assert.rejects(loadExtractor('vgg'), /unknown extractor "vgg": expected one of lenet, inception/);
});

test('evaluation config: defaults, and errors that name the field', () => {
  const ok = validateConfig({});
  assert.ok(ok.ok);
  if (ok.ok) assert.deepEqual(ok.config.evaluation, { every: 0, samples: 500, referenceSamples: 10000, extractor: 'lenet', kid: false, seed: 4321 });
  const bad = (input: unknown): string => {
    const r = validateConfig(input);
    assert.equal(r.ok, false);
    return r.ok ? '' : JSON.stringify(r.issues);
  };
  assert.match(bad({ evaluation: { extractor: 'inception' } }), /evaluation\.inceptionWeights/);
  assert.match(bad({ evaluation: { extractor: 'vgg' } }), /evaluation\.extractor/);
  assert.match(bad({ evaluation: { samples: 1 } }), /evaluation\.samples/);
  assert.match(bad({ data: { source: 'toy2d' }, model: { type: 'mlp' }, evaluation: { every: 10 } }), /evaluation\.every/);
});

test('reference statistics are computed once per key, cached, and recomputed when the cache is corrupt', async () => {
  await selectBackend('wasm');
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'immiscible-cache-'));
  const before = process.env.IMMISCIBLE_CACHE_DIR;
  process.env.IMMISCIBLE_CACHE_DIR = cache;
  const ex = await loadExtractor('lenet');
  try {
    const r = validateConfig({ data: { source: 'mnist', imageSize: 14, limit: 300 }, model: { channelMults: [1, 2] } });
    assert.ok(r.ok);
    if (!r.ok) return;
    const ds = loadDataset(r.config.data, 0) as ImageDataset;
    const a = await referenceStats(ds, r.config.data, ex, 200);
    assert.equal(a.cached, false);
    assert.equal(a.stats.count, 200);
    assert.ok(a.file.startsWith(path.join(cache, 'ref-stats')), a.file);
    const b = await referenceStats(ds, r.config.data, ex, 200);
    assert.equal(b.cached, true);
    assert.deepEqual([...b.stats.mean()], [...a.stats.mean()]);
    // Another N is another key.
    const c = await referenceStats(ds, r.config.data, ex, 100);
    assert.equal(c.cached, false);
    assert.notEqual(c.file, a.file);
    fs.writeFileSync(a.file, '{"format": "immiscible-ref-stats", "version": 1, "key": ');
    const d = await referenceStats(ds, r.config.data, ex, 200);
    assert.equal(d.cached, false);
    assert.match(d.problem ?? '', /ref-stats/);
    assert.deepEqual([...d.stats.mean()], [...a.stats.mean()]);
    assert.equal((await referenceStats(ds, r.config.data, ex, 200)).cached, true);
    // A cache folder that cannot be created: the statistics are still computed, the problem named.
    const blocker = path.join(cache, 'not-a-folder');
    fs.writeFileSync(blocker, '');
    process.env.IMMISCIBLE_CACHE_DIR = blocker;
    const e = await referenceStats(ds, r.config.data, ex, 200);
    assert.equal(e.cached, false);
    assert.deepEqual([...e.stats.mean()], [...a.stats.mean()]);
    assert.match(e.problem ?? '', /cannot write the cache file .*not-a-folder.*IMMISCIBLE_CACHE_DIR/);
  } finally {
    ex.dispose();
    if (before === undefined) delete process.env.IMMISCIBLE_CACHE_DIR;
    else process.env.IMMISCIBLE_CACHE_DIR = before;
  }
});
