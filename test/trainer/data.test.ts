import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { DataConfig } from '../../src/core/config/types';
import { Rng } from '../../src/trainer/rng';
import {
  BatchSampler,
  DataError,
  TOY_DISTRIBUTIONS,
  TOY_NOISE,
  cifarFiles,
  gatherImages,
  gatherPoints,
  loadCifar10,
  loadDataset,
  loadIdx,
  loadImageFolder,
  loadMnist,
  resizeDataset,
  resizeImages,
  sampleToy,
  toyDataset,
  toyMoments,
  toySupportDistance,
  type ImageDataset,
} from '../../src/trainer/data';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'immiscible-data-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The value a byte must map to, rounded as the Float32Array stores it. */
const u = (b: number): number => Math.fround(b / 127.5 - 1);

function cfg(over: Partial<DataConfig>): DataConfig {
  return {
    source: 'mnist',
    split: 'train',
    imageSize: 28,
    flip: false,
    limit: 0,
    distribution: 'moons',
    count: 100,
    ...over,
  };
}

/** Asserts `fn` throws a DataError whose message contains every fragment. */
function throwsData(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

function idxImages(n: number, rows: number, cols: number, pixel: (i: number) => number): Buffer {
  const b = Buffer.alloc(16 + n * rows * cols);
  b.writeUInt32BE(0x803, 0);
  b.writeUInt32BE(n, 4);
  b.writeUInt32BE(rows, 8);
  b.writeUInt32BE(cols, 12);
  for (let i = 0; i < n * rows * cols; i++) b[16 + i] = pixel(i);
  return b;
}

function idxLabels(labels: number[]): Buffer {
  const b = Buffer.alloc(8 + labels.length);
  b.writeUInt32BE(0x801, 0);
  b.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (b[8 + i] = l));
  return b;
}

describe('IDX', () => {
  const pix = (i: number): number => (i * 37 + 5) % 256;

  it('reads raw and gzipped images and labels exactly', () => {
    const img = idxImages(3, 2, 3, pix);
    const lab = idxLabels([4, 0, 7]);
    writeFileSync(join(dir, 'a-images'), img);
    writeFileSync(join(dir, 'a-labels'), lab);
    // Deliberately not named .gz: gzip is recognised by content.
    writeFileSync(join(dir, 'b-images'), gzipSync(img));
    writeFileSync(join(dir, 'b-labels.gz'), gzipSync(lab));
    for (const [i, l] of [
      ['a-images', 'a-labels'],
      ['b-images', 'b-labels.gz'],
    ]) {
      const ds = loadIdx(join(dir, i), join(dir, l));
      assert.equal(ds.count, 3);
      assert.equal(ds.height, 2);
      assert.equal(ds.width, 3);
      assert.equal(ds.channels, 1);
      assert.deepEqual(Array.from(ds.labels ?? []), [4, 0, 7]);
      assert.equal(ds.numClasses, 8);
      for (let k = 0; k < 18; k++) assert.equal(ds.pixels[k], u(pix(k)));
    }
    const noLabels = loadIdx(join(dir, 'a-images'));
    assert.equal(noLabels.labels, null);
    assert.equal(noLabels.numClasses, 0);
    assert.equal(u(0), -1);
    assert.equal(u(255), 1);
  });

  it('rejects a wrong magic, truncation and a label count mismatch', () => {
    const labelsAsImages = join(dir, 'wrong-magic');
    writeFileSync(labelsAsImages, idxLabels([1, 2]));
    throwsData(() => loadIdx(labelsAsImages), labelsAsImages, 'expected 0x00000803', 'found 0x00000801');

    const truncated = join(dir, 'truncated');
    writeFileSync(truncated, idxImages(3, 2, 3, pix).subarray(0, 20));
    throwsData(() => loadIdx(truncated), truncated, 'truncated: expected 34 bytes', 'found 20');
    const truncatedGz = join(dir, 'truncated.gz');
    writeFileSync(truncatedGz, gzipSync(idxImages(3, 2, 3, pix).subarray(0, 20)));
    throwsData(() => loadIdx(truncatedGz), truncatedGz, 'expected 34 bytes', 'found 20');
    const shortHeader = join(dir, 'short-header');
    writeFileSync(shortHeader, Buffer.from([0, 0, 8, 3, 0, 0]));
    throwsData(() => loadIdx(shortHeader), shortHeader, 'header of 16 bytes', 'found 6');

    const imgs = join(dir, 'mm-images');
    const labs = join(dir, 'mm-labels');
    writeFileSync(imgs, idxImages(3, 2, 3, pix));
    writeFileSync(labs, idxLabels([1, 2]));
    throwsData(() => loadIdx(imgs, labs), labs, 'expected 3 labels', 'found 2');
  });

  it('loads through loadDataset with limit and resize', () => {
    const imgs = join(dir, 'ld-images');
    writeFileSync(imgs, idxImages(4, 4, 4, (i) => (i % 2) * 255));
    writeFileSync(join(dir, 'ld-labels'), idxLabels([0, 1, 2, 3]));
    const ds = loadDataset(cfg({ source: 'idx', path: imgs, labels: join(dir, 'ld-labels'), limit: 2, imageSize: 2 }), 0);
    assert.equal(ds.kind, 'image');
    if (ds.kind !== 'image') return;
    assert.equal(ds.count, 2);
    assert.equal(ds.height, 2);
    assert.deepEqual(Array.from(ds.labels ?? []), [0, 1]);
    // Each 2x2 block holds two 0s and two 255s: mean byte 127.5, i.e. exactly 0.
    assert.ok(ds.pixels.every((v) => v === 0));
  });
});

describe('embedded MNIST', () => {
  it('loads 60000 train digits and resizes to 14x14 by 2x2 means', () => {
    const ds = loadMnist('train');
    assert.equal(ds.count, 60000);
    assert.equal(ds.height, 28);
    assert.equal(ds.width, 28);
    assert.equal(ds.channels, 1);
    assert.equal(ds.numClasses, 10);
    assert.equal(ds.pixels.length, 60000 * 784);
    const seen = new Set(ds.labels ?? []);
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let lo = Infinity;
    let hi = -Infinity;
    const px = ds.pixels;
    for (let i = 0; i < px.length; i++) {
      if (px[i] < lo) lo = px[i];
      if (px[i] > hi) hi = px[i];
    }
    assert.equal(lo, -1);
    assert.equal(hi, 1);

    const small = resizeDataset(ds, 14);
    assert.equal(small.height, 14);
    assert.equal(small.width, 14);
    assert.equal(small.pixels.length, 60000 * 196);
    for (const [n, y, x] of [
      [0, 7, 7],
      [123, 5, 9],
      [59999, 10, 3],
    ]) {
      const p = (yy: number, xx: number): number => ds.pixels[n * 784 + yy * 28 + xx];
      const mean = (p(2 * y, 2 * x) + p(2 * y, 2 * x + 1) + p(2 * y + 1, 2 * x) + p(2 * y + 1, 2 * x + 1)) / 4;
      assert.ok(Math.abs(small.pixels[n * 196 + y * 14 + x] - mean) < 1e-6);
    }
  });

  it('dispatches through loadDataset (test split, limited)', () => {
    const ds = loadDataset(cfg({ source: 'mnist', split: 'test', limit: 10, imageSize: 14 }), 0);
    assert.equal(ds.kind, 'image');
    assert.equal(ds.count, 10);
    if (ds.kind === 'image') assert.equal(ds.height, 14);
  });
});

function cifarRecord(label: number, seed: number): Buffer {
  const b = Buffer.alloc(3073);
  b[0] = label;
  for (let i = 1; i < 3073; i++) b[i] = (i * 13 + seed * 101) % 256;
  return b;
}

describe('CIFAR-10', () => {
  it('reads records into NHWC exactly, from a file or a folder', () => {
    const folder = join(dir, 'cifar');
    mkdirSync(folder);
    writeFileSync(join(folder, 'data_batch_1.bin'), Buffer.concat([cifarRecord(3, 0), cifarRecord(9, 1)]));
    writeFileSync(join(folder, 'data_batch_2.bin'), cifarRecord(0, 2));
    writeFileSync(join(folder, 'test_batch.bin'), cifarRecord(5, 3));
    writeFileSync(join(folder, 'batches.meta.txt'), 'airplane\n');

    const train = loadCifar10(folder);
    assert.equal(train.count, 3);
    assert.equal(train.channels, 3);
    assert.equal(train.height, 32);
    assert.deepEqual(Array.from(train.labels ?? []), [3, 9, 0]);
    // Record 1 (seed 1), pixel (y=4, x=7): R at 1 + 4*32+7, G at +1024, B at +2048.
    const rec = cifarRecord(9, 1);
    const p = 4 * 32 + 7;
    const at = (1 * 1024 + p) * 3;
    assert.equal(train.pixels[at], u(rec[1 + p]));
    assert.equal(train.pixels[at + 1], u(rec[1 + 1024 + p]));
    assert.equal(train.pixels[at + 2], u(rec[1 + 2048 + p]));

    const test = loadCifar10(folder, { split: 'test' });
    assert.deepEqual(Array.from(test.labels ?? []), [5]);
    const single = loadCifar10(join(folder, 'data_batch_2.bin'));
    assert.deepEqual(Array.from(single.labels ?? []), [0]);

    const custom = join(dir, 'cifar-custom');
    mkdirSync(custom);
    writeFileSync(join(custom, 'b.bin'), cifarRecord(2, 0));
    writeFileSync(join(custom, 'a.bin'), cifarRecord(1, 0));
    assert.deepEqual(cifarFiles(custom), [join(custom, 'a.bin'), join(custom, 'b.bin')]);
    const viaConfig = loadDataset(cfg({ source: 'cifar10', path: custom, imageSize: 32 }), 0);
    assert.deepEqual(Array.from(viaConfig.labels ?? []), [1, 2]);
  });

  it('rejects a length that is not a multiple of 3073 and labels above 9', () => {
    const bad = join(dir, 'bad-length.bin');
    writeFileSync(bad, Buffer.concat([cifarRecord(1, 0), Buffer.alloc(10)]));
    throwsData(() => loadCifar10(bad), bad, 'multiple of 3073', 'found 3083');
    const badLabel = join(dir, 'bad-label.bin');
    writeFileSync(badLabel, Buffer.concat([cifarRecord(1, 0), cifarRecord(10, 0)]));
    throwsData(() => loadCifar10(badLabel), badLabel, 'record 1', 'expected a label in 0..9', 'found 10');
  });
});

function pngFile(w: number, h: number, rgba: (x: number, y: number) => [number, number, number, number]): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = rgba(x, y);
      for (let k = 0; k < 4; k++) png.data[(y * w + x) * 4 + k] = v[k];
    }
  }
  return PNG.sync.write(png);
}

describe('image folder', () => {
  it('decodes PNG exactly, center-crops and resizes', () => {
    const folder = join(dir, 'flat');
    mkdirSync(folder);
    // 4 wide, 2 high: the centre square is columns 1..2.
    writeFileSync(join(folder, 'a.png'), pngFile(4, 2, (x, y) => [x * 60, y * 200, 10, 255]));
    const ds = loadImageFolder(folder, { imageSize: 2 });
    assert.equal(ds.count, 1);
    assert.equal(ds.channels, 3);
    assert.equal(ds.labels, null);
    assert.equal(ds.numClasses, 0);
    const expect = [
      [60, 0, 10],
      [120, 0, 10],
      [60, 200, 10],
      [120, 200, 10],
    ].flat();
    assert.deepEqual(Array.from(ds.pixels), expect.map(u));

    const one = loadImageFolder(folder, { imageSize: 1 });
    assert.ok(Math.abs(one.pixels[0] - (90 / 127.5 - 1)) < 1e-6);
    assert.ok(Math.abs(one.pixels[1] - (100 / 127.5 - 1)) < 1e-6);
  });

  it('labels nested class folders by sorted subfolder name and reads JPEG', () => {
    const root = join(dir, 'classes');
    mkdirSync(join(root, 'dog'), { recursive: true });
    mkdirSync(join(root, 'cat', 'deep'), { recursive: true });
    mkdirSync(join(root, 'empty'));
    writeFileSync(join(root, 'cat', 'x.png'), pngFile(2, 2, () => [255, 0, 0, 255]));
    writeFileSync(join(root, 'cat', 'deep', 'y.PNG'), pngFile(2, 2, () => [0, 255, 0, 255]));
    const rgba = Buffer.alloc(8 * 8 * 4);
    for (let i = 0; i < 64; i++) rgba.set([200, 100, 50, 255], i * 4);
    const jpg = jpeg.encode({ width: 8, height: 8, data: rgba }, 95).data;
    writeFileSync(join(root, 'dog', 'z.jpg'), jpg);
    writeFileSync(join(root, 'dog', 'notes.txt'), 'ignored');

    const ds = loadImageFolder(root, { imageSize: 8 });
    assert.equal(ds.count, 3);
    assert.equal(ds.numClasses, 2);
    assert.deepEqual(Array.from(ds.labels ?? []), [0, 0, 1]);
    // Depth-first sorted order: cat/deep/y.PNG (green) before cat/x.png (red). A solid 2x2
    // upscaled to 8x8 bilinearly stays solid.
    assert.deepEqual(Array.from(ds.pixels.subarray(0, 3)), [-1, 1, -1]);
    assert.deepEqual(Array.from(ds.pixels.subarray(189, 195)), [-1, 1, -1, 1, -1, -1]);
    const decoded = jpeg.decode(jpg, { useTArray: true });
    for (let k = 0; k < 64; k++) {
      for (let c = 0; c < 3; c++) assert.equal(ds.pixels[2 * 192 + k * 3 + c], u(decoded.data[k * 4 + c]));
    }
    const viaConfig = loadDataset(cfg({ source: 'folder', path: root, imageSize: 4, limit: 2 }), 0);
    assert.equal(viaConfig.count, 2);
  });

  it('rejects an undecodable file and an empty folder', () => {
    const folder = join(dir, 'broken');
    mkdirSync(folder);
    const bad = join(folder, 'bad.png');
    writeFileSync(bad, 'this is not a png');
    throwsData(() => loadImageFolder(folder, { imageSize: 4 }), bad, 'expected a PNG image');
    const badJpg = join(dir, 'broken-jpg');
    mkdirSync(badJpg);
    writeFileSync(join(badJpg, 'b.jpg'), 'nope');
    throwsData(() => loadImageFolder(badJpg, { imageSize: 4 }), join(badJpg, 'b.jpg'), 'expected a JPEG image');
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'readme.txt'), 'no images');
    throwsData(() => loadImageFolder(empty, { imageSize: 4 }), empty, 'expected .png, .jpg or .jpeg images, found none');
  });
});

describe('loadDataset paths', () => {
  it('names the missing path and its config field', () => {
    const missing = join(dir, 'nope', 'images-idx3-ubyte');
    throwsData(() => loadDataset(cfg({ source: 'idx', path: missing }), 0), missing, 'file not found', 'data.path');
    const img = join(dir, 'p-images');
    writeFileSync(img, idxImages(1, 2, 2, () => 0));
    const labels = join(dir, 'nope-labels');
    throwsData(() => loadDataset(cfg({ source: 'idx', path: img, labels }), 0), labels, 'file not found', 'data.labels');
    throwsData(() => loadDataset(cfg({ source: 'cifar10', path: missing }), 0), missing, 'data.path');
    throwsData(() => loadDataset(cfg({ source: 'folder' }), 0), 'data.path', 'required');
  });
});

describe('resize', () => {
  it('averages areas when shrinking and interpolates bilinearly when growing', () => {
    // 3 -> 2 along one row: outputs cover [0, 1.5) and [1.5, 3).
    const shrunk = resizeImages(Float32Array.from([0, 0.3, 0.9]), 1, 1, 3, 1, 1, 2);
    assert.ok(Math.abs(shrunk[0] - (0 + 0.15) / 1.5) < 1e-6);
    assert.ok(Math.abs(shrunk[1] - (0.15 + 0.9) / 1.5) < 1e-6);
    // 2 -> 4 with half-pixel centres: sample points -0.25, 0.25, 0.75, 1.25 (clamped at the ends).
    const grown = resizeImages(Float32Array.from([-1, 1]), 1, 1, 2, 1, 1, 4);
    assert.deepEqual(Array.from(grown), [-1, -0.5, 0.5, 1]);
    const ds: ImageDataset = {
      kind: 'image',
      description: 't',
      count: 1,
      height: 2,
      width: 2,
      channels: 1,
      pixels: new Float32Array(4),
      labels: null,
      numClasses: 0,
    };
    assert.equal(resizeDataset(ds, 2), ds);
  });
});

describe('BatchSampler', () => {
  it('is deterministic, permutes each epoch and crosses epochs seamlessly', () => {
    const a = new BatchSampler(10, 7);
    const b = new BatchSampler(10, 7);
    const c = new BatchSampler(10, 8);
    const seqA: number[] = [];
    for (let i = 0; i < 10; i++) {
      const x = Array.from(a.next(3).indices);
      assert.deepEqual(x, Array.from(b.next(3).indices));
      seqA.push(...x);
    }
    const seqC: number[] = [];
    for (let i = 0; i < 10; i++) seqC.push(...c.next(3).indices);
    assert.notDeepEqual(seqA, seqC);
    // 30 indices = 3 full epochs, each a permutation of 0..9, and not all the same order.
    const epochs = [0, 1, 2].map((e) => seqA.slice(e * 10, e * 10 + 10));
    for (const e of epochs) assert.deepEqual([...e].sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(epochs[0], epochs[1]);
    assert.equal(a.epoch, 2);
    // A batch larger than the dataset spans several epochs.
    assert.equal(new BatchSampler(4, 1).next(10).indices.length, 10);
  });

  it('resumes from a saved state with exactly the same next 1000 indices', () => {
    const s = new BatchSampler(37, 123);
    for (let i = 0; i < 11; i++) s.next(5);
    const saved = JSON.parse(JSON.stringify(s.state()));
    const r = BatchSampler.fromState(37, saved);
    assert.deepEqual(r.state(), s.state());
    const fromOriginal: number[] = [];
    const fromResumed: number[] = [];
    for (let i = 0; i < 125; i++) {
      fromOriginal.push(...s.next(8).indices);
      fromResumed.push(...r.next(8).indices);
    }
    assert.equal(fromOriginal.length, 1000);
    assert.deepEqual(fromResumed, fromOriginal);
    assert.deepEqual(r.state(), s.state());
  });

  it('gathers images with per-image random flips, and points', () => {
    const ds: ImageDataset = {
      kind: 'image',
      description: 't',
      count: 2,
      height: 1,
      width: 3,
      channels: 2,
      pixels: Float32Array.from([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]),
      labels: Int32Array.from([7, 8]),
      numClasses: 9,
    };
    const idx = Int32Array.from([1, 0, 1, 1, 0, 0, 1, 0]);
    const plain = gatherImages(ds, idx, false, new Rng(1));
    assert.deepEqual(Array.from(plain.x.subarray(0, 6)), [10, 11, 12, 13, 14, 15]);
    assert.deepEqual(Array.from(plain.labels ?? []), [8, 7, 8, 8, 7, 7, 8, 7]);
    const rng = new Rng(1);
    const flips = Array.from(idx, () => rng.uniform() < 0.5);
    assert.ok(flips.includes(true) && flips.includes(false));
    const flipped = gatherImages(ds, idx, true, new Rng(1));
    for (let b = 0; b < idx.length; b++) {
      const src = Array.from(ds.pixels.subarray(idx[b] * 6, idx[b] * 6 + 6));
      const want = flips[b] ? [src[4], src[5], src[2], src[3], src[0], src[1]] : src;
      assert.deepEqual(Array.from(flipped.x.subarray(b * 6, b * 6 + 6)), want);
    }
    const untouched = new Rng(5);
    gatherImages(ds, idx, false, untouched);
    assert.deepEqual(untouched.state(), new Rng(5).state());

    const pts = toyDataset('rings', 5, 0);
    const g = gatherPoints(pts, Int32Array.from([4, 0]));
    assert.deepEqual(Array.from(g.x), [pts.points[8], pts.points[9], pts.points[0], pts.points[1]]);
    assert.equal(g.labels, null);
  });
});

describe('toy 2-D', () => {
  it('is deterministic from the seed and limited through loadDataset', () => {
    const a = toyDataset('swissroll', 50, 3);
    assert.deepEqual(Array.from(a.points), Array.from(toyDataset('swissroll', 50, 3).points));
    assert.notDeepEqual(Array.from(a.points), Array.from(toyDataset('swissroll', 50, 4).points));
    const ds = loadDataset(cfg({ source: 'toy2d', distribution: 'gaussians8', count: 40, limit: 10 }), 3);
    assert.equal(ds.kind, 'points');
    assert.equal(ds.count, 10);
    if (ds.kind === 'points') {
      assert.equal(ds.dim, 2);
      assert.deepEqual(Array.from(ds.points), Array.from(toyDataset('gaussians8', 40, 3).points.subarray(0, 20)));
    }
  });

  for (const dist of TOY_DISTRIBUTIONS) {
    it(`${dist}: matches its exact moments and lies on its support`, () => {
      const n = 40000;
      const p = sampleToy(dist, n, new Rng(11));
      const m = toyMoments(dist);
      for (let d = 0; d < 2; d++) {
        let s = 0;
        let s2 = 0;
        for (let i = 0; i < n; i++) {
          s += p[2 * i + d];
          s2 += p[2 * i + d] ** 2;
        }
        const mean = s / n;
        const variance = s2 / n - mean * mean;
        assert.ok(Math.abs(mean - m.mean[d]) < 0.03, `${dist} mean[${d}] ${mean}`);
        assert.ok(Math.abs(variance / m.variance[d] - 1) < 0.04, `${dist} var[${d}] ${variance} vs ${m.variance[d]}`);
        // "Roughly unit scale".
        assert.ok(Math.sqrt(variance) > 0.45 && Math.sqrt(variance) < 1.5, `${dist} std ${Math.sqrt(variance)}`);
      }
      // With isotropic noise sigma the distance to the support is at most |noise|, and
      // E|noise| = sigma sqrt(pi/2) for 2-D Gaussian noise.
      let dist2 = 0;
      const m2 = 2000;
      for (let i = 0; i < m2; i++) dist2 += toySupportDistance(dist, p[2 * i], p[2 * i + 1]);
      const meanDist = dist2 / m2;
      const bound = TOY_NOISE[dist] * Math.sqrt(Math.PI / 2) * 1.1 + 1e-9;
      assert.ok(meanDist <= bound, `${dist} mean distance to support ${meanDist} > ${bound}`);
      // Points far from the support must score far.
      assert.ok(toySupportDistance(dist, 5, 5) > 1);
    });
  }
});
