// The FID Inception: pytorch-fid's preprocessing (resize cases of the reference file), the
// weights checks, and pool3 features against the same network run by Debian's python3-torch on
// a random-weights .pth (relative error <= 1e-4).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/trainer/backend/select';
import type { FeatureExtractor } from '../../src/trainer/metrics/extractor';
import { loadExtractor } from '../../src/trainer/metrics/extractors';
import { checkWeightsHash, loadInceptionExtractor } from '../../src/trainer/metrics/inception/extractor';
import { checkInceptionWeights, INCEPTION_CONVS, InceptionPool3 } from '../../src/trainer/metrics/inception/network';
import { bilinearResize, fidPreprocess, fidResize } from '../../src/trainer/metrics/inception/preprocess';
import { readStateDict, type TorchTensor } from '../../src/trainer/metrics/inception/pth';
import { runFixtureScript, torchMissing } from './fixtures/torch';

/** Pass/fail bound on the relative error of pool3 features (defined by `relErr`). */
const FEATURE_TOL = 1e-4;

/**
 * max |a - b| / max |b| over all features of a batch: element-wise relative error is meaningless
 * for the many features that are (nearly) zero after the ReLUs and averaging.
 */
function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-30);
}

/** The 28 -> 299 case stores statistics of the whole output plus values at 29 positions. */
interface ResizeSummary {
  sum: number;
  sumsq: number;
  min: number;
  max: number;
  at_positions: number[];
}

type ResizeOutput = number[][] | ResizeSummary;

interface ResizeCase {
  in_hw: [number, number];
  out_hw: [number, number];
  input: number[][];
  positions_yx?: [number, number][];
  torch_bilinear_ac_false: ResizeOutput;
  torch_bilinear_ac_true: ResizeOutput;
  tf1_bilinear_legacy: ResizeOutput;
}

const REFERENCE = resolve(__dirname, '../fixtures/fid-reference-vectors.json');
const resize = (JSON.parse(readFileSync(REFERENCE, 'utf8')) as { resize: { small: ResizeCase[]; mnist_like_28_to_299: ResizeCase } }).resize;
const RESIZE_CASES: [string, ResizeCase][] = [...resize.small.map((c, i): [string, ResizeCase] => [`small[${i}] ${c.in_hw.join('x')} -> ${c.out_hw.join('x')}`, c]), ['mnist_like_28_to_299', resize.mnist_like_28_to_299]];

/** float32 rounding of values up to 256: 2^-24 * 256 = 1.5e-5 on the 0..255 scale. */
const ROUNDING = 2 ** -24 * 256;

/**
 * The reference values are float64 on the 0..255 scale with a 1e-9 tolerance, which float32
 * arithmetic cannot meet. Our resize (weights computed in float64, rounded once) is w0*a + w1*b:
 * two products and a sum, so we allow 4 roundings on top of the 1e-9: 6e-5 on 0..255, 2.4e-7 of
 * the range.
 */
const RESIZE_TOL = 1e-9 + 4 * ROUNDING;

/**
 * tf.image.resizeBilinear computes source positions in float32 too, which costs more (wasm's
 * kernel more than cpu's): 16 roundings. Still 100x below the smallest difference between the
 * resize variants, which the test also checks.
 */
const TF_RESIZE_TOL = 1e-9 + 16 * ROUNDING;

/**
 * Largest |ours - reference| over what the case stores, in units of `tol` (<= 1 passes).
 * Whole-output sums are compared in float64 with the per-value bound summed over the outputs.
 */
function resizeError(c: ResizeCase, out: Float32Array, ref: ResizeOutput, tol = TF_RESIZE_TOL): number {
  const [, w] = c.out_hw;
  if (Array.isArray(ref)) {
    const want = ref.flat();
    assert.equal(out.length, want.length);
    return want.reduce((m, v, i) => Math.max(m, Math.abs(out[i] - v)), 0) / tol;
  }
  const at = (c.positions_yx ?? []).map(([y, x]) => out[y * w + x]);
  assert.equal(at.length, ref.at_positions.length);
  let e = ref.at_positions.reduce((m, v, i) => Math.max(m, Math.abs(at[i] - v)), 0) / tol;
  let sum = 0;
  let sumsq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of out) {
    sum += v;
    sumsq += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  e = Math.max(e, Math.abs(min - ref.min) / tol, Math.abs(max - ref.max) / tol);
  e = Math.max(e, Math.abs(sum - ref.sum) / (out.length * tol), Math.abs(sumsq - ref.sumsq) / (out.length * 2 * 256 * tol));
  return e;
}

async function resized(c: ResizeCase, alignCorners: boolean, halfPixelCenters: boolean): Promise<Float32Array> {
  const [h, w] = c.in_hw;
  const x = tf.tensor4d(c.input.flat(), [1, h, w, 1]);
  const y = tf.image.resizeBilinear(x, c.out_hw, alignCorners, halfPixelCenters);
  const out = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  return out;
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`FID resize on ${backend}`, () => {
    before(async () => {
      await selectBackend(backend);
    });

    for (const [name, c] of RESIZE_CASES) {
      it(`${name}: our resize and resizeBilinear(halfPixelCenters) are torch's bilinear align_corners=False`, async () => {
        const [h, w] = c.in_hw;
        const x = tf.tensor4d(c.input.flat(), [1, h, w, 1]);
        const ours = bilinearResize(x, c.out_hw[0], c.out_hw[1]);
        const e = resizeError(c, (await ours.data()) as Float32Array, c.torch_bilinear_ac_false, RESIZE_TOL);
        tf.dispose([x, ours]);
        assert.ok(e <= 1, `ours: error ${e} x the tolerance ${RESIZE_TOL}`);
        const got = await resized(c, false, true);
        const eTf = resizeError(c, got, c.torch_bilinear_ac_false);
        assert.ok(eTf <= 1, `tf.image.resizeBilinear: error ${eTf} x the tolerance ${TF_RESIZE_TOL}`);
        // The case tells the variants apart, so the match above is not an accident...
        assert.ok(resizeError(c, got, c.torch_bilinear_ac_true) > 100);
        assert.ok(resizeError(c, got, c.tf1_bilinear_legacy) > 100);
        // ...and the other flags give the other variants.
        assert.ok(resizeError(c, await resized(c, true, false), c.torch_bilinear_ac_true) <= 1);
        assert.ok(resizeError(c, await resized(c, false, false), c.tf1_bilinear_legacy) <= 1);
      });
    }

    it('fidResize on the 28x28 case; grayscale becomes 3 equal channels scaled to [-1, 1]', async () => {
      const c = resize.mnist_like_28_to_299;
      const x = tf.tensor4d(c.input.flat(), [1, 28, 28, 1]).div(255) as tf.Tensor4D;
      const out = (await fidResize(x).mul(255).data()) as Float32Array;
      // Two more float32 roundings (the division and the multiplication by 255).
      assert.ok(resizeError(c, out, c.torch_bilinear_ac_false, RESIZE_TOL + 2 * ROUNDING) <= 1);
      const pre = fidPreprocess(x);
      assert.deepEqual(pre.shape, [1, 299, 299, 3]);
      const v = (await pre.data()) as Float32Array;
      const [y0, x0] = c.positions_yx?.[0] ?? [0, 0];
      const i = (y0 * 299 + x0) * 3;
      assert.equal(v[i], v[i + 1]);
      assert.equal(v[i], v[i + 2]);
      assert.ok(Math.abs((v[i] + 1) / 2 - out[y0 * 299 + x0] / 255) < 1e-6);
      assert.throws(() => fidPreprocess(tf.zeros([1, 4, 4, 2])), /need 1 or 3 channels, got 2/);
      // Already 299x299: torch's formula reads each pixel itself, so the resize is the identity.
      const same = tf.randomUniform([1, 299, 299, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
      assert.deepEqual(await fidResize(same).data(), await same.data());
      same.dispose();
      tf.dispose([x, pre]);
    });
  });
}

describe('Inception weights checks', () => {
  it('names missing and mis-shaped keys', () => {
    const sd = new Map<string, TorchTensor>();
    const empty = new Float32Array(0);
    for (const s of INCEPTION_CONVS) {
      sd.set(`${s.name}.conv.weight`, { dtype: 'float32', shape: [s.cout, s.cin, s.kh, s.kw], data: empty });
      for (const k of ['weight', 'bias', 'running_mean', 'running_var']) sd.set(`${s.name}.bn.${k}`, { dtype: 'float32', shape: [s.cout], data: empty });
    }
    sd.set('fc.weight', { dtype: 'float32', shape: [1008, 2048], data: empty });
    assert.doesNotThrow(() => checkInceptionWeights(sd, 'w.pth'));
    assert.equal(INCEPTION_CONVS.length, 94);
    sd.delete('Mixed_6b.branch7x7dbl_3.bn.running_var');
    sd.set('Mixed_7c.branch3x3_2b.conv.weight', { dtype: 'float32', shape: [384, 384, 1, 3], data: empty });
    assert.throws(
      () => checkInceptionWeights(sd, 'w.pth'),
      /^Error: w\.pth: not pytorch-fid's Inception weights \(pt_inception-2015-12-05-\*\.pth\): 2 problems: missing Mixed_6b\.branch7x7dbl_3\.bn\.running_var \(expected shape \[128\]\); Mixed_7c\.branch3x3_2b\.conv\.weight has shape \[384, 384, 1, 3\], expected \[384, 384, 3, 1\]$/,
    );
  });

  it('runs on weights built here (no torch needed): 2048 finite, non-negative features per image', async () => {
    await selectBackend('wasm');
    // Deterministic He-scaled weights and unit BatchNorm: enough to run every layer.
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return seed / 2 ** 32 - 0.5;
    };
    const sd = new Map<string, TorchTensor>();
    for (const s of INCEPTION_CONVS) {
      const n = s.cout * s.cin * s.kh * s.kw;
      const scale = Math.sqrt(24 / (s.cin * s.kh * s.kw));
      sd.set(`${s.name}.conv.weight`, { dtype: 'float32', shape: [s.cout, s.cin, s.kh, s.kw], data: Float32Array.from({ length: n }, () => rand() * scale) });
      const fill = (v: number): TorchTensor => ({ dtype: 'float32', shape: [s.cout], data: new Float32Array(s.cout).fill(v) });
      sd.set(`${s.name}.bn.weight`, fill(1));
      sd.set(`${s.name}.bn.bias`, fill(0.01));
      sd.set(`${s.name}.bn.running_mean`, fill(0));
      sd.set(`${s.name}.bn.running_var`, fill(1));
    }
    const net = new InceptionPool3(sd, 'built-here');
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([2, 20, 24, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const y = tf.tidy(() => net.pool3(fidPreprocess(x)));
    assert.deepEqual(y.shape, [2, 2048]);
    const v = (await y.data()) as Float32Array;
    assert.ok(v.every((a) => Number.isFinite(a) && a >= 0), 'features are finite and non-negative (ReLU, then averages)');
    assert.ok(v.some((a) => a > 0));
    assert.notDeepEqual(Array.from(v.subarray(0, 2048)), Array.from(v.subarray(2048)), 'two different images give different features');
    tf.dispose([x, y]);
    assert.equal(tf.memory().numTensors, before);
    net.dispose();
  });

  it("checks the SHA-256 prefix in a torch hub file name and always reports the full hash", () => {
    const bytes = new TextEncoder().encode('weights');
    const sha = checkWeightsHash(bytes, '/x/any-name.pth');
    assert.match(sha, /^[0-9a-f]{64}$/);
    assert.equal(checkWeightsHash(bytes, `/x/pt_inception-2015-12-05-${sha.slice(0, 8)}.pth`), sha);
    assert.throws(() => checkWeightsHash(bytes, '/x/pt_inception-2015-12-05-6726825d.pth'), new RegExp(`pt_inception-2015-12-05-6726825d\\.pth: SHA-256 is ${sha}, but the file name says it starts with 6726825d`));
    // A date is not a hash.
    assert.equal(checkWeightsHash(bytes, '/x/pt_inception-2015-12-05.pth'), sha);
  });

  it('says which file could not be read', async () => {
    await assert.rejects(loadInceptionExtractor('/nonexistent/pt_inception.pth'), /Cannot read the Inception weights \/nonexistent\/pt_inception\.pth: .*ENOENT/);
  });
});

interface RefCase {
  name: string;
  shape: [number, number, number, number];
  input: string;
  features: string;
  features64: string;
}

const missing = torchMissing();

describe('Inception pool3 against python3-torch', () => {
  let dir = '';
  let extractor: FeatureExtractor | undefined;
  /** Features of each case from the first test, by case name. */
  const computed = new Map<string, Float32Array>();
  before(async () => {
    if (missing) return;
    dir = mkdtempSync(join(tmpdir(), 'inception-test-'));
    runFixtureScript('inception_reference.py', [dir, '--legacy'], 300_000);
    await selectBackend('wasm');
  });
  after(() => {
    extractor?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads the random-weights .pth (zip) and matches torch on every case', async (t) => {
    if (missing) return t.skip(missing);
    extractor = await loadInceptionExtractor(join(dir, 'weights.pth'));
    assert.equal(extractor.name, 'inception');
    assert.deepEqual(extractor.metricNames, { fd: 'fid', kid: 'kid' });
    assert.equal(extractor.dim, 2048);
    assert.match(extractor.weightsSha256, /^[0-9a-f]{64}$/);
    const { cases } = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: RefCase[] };
    const before = tf.memory().numTensors;
    for (const c of cases) {
      const raw = (f: string): Uint8Array => new Uint8Array(readFileSync(join(dir, f)));
      const input = new Float32Array(raw(c.input).buffer);
      const want = new Float32Array(raw(c.features).buffer);
      const want64 = new Float64Array(raw(c.features64).buffer);
      const images = tf.tensor4d(input, c.shape);
      const got = await extractor.features(images);
      computed.set(c.name, got);
      images.dispose();
      assert.equal(got.length, c.shape[0] * 2048);
      const e = relErr(got, want);
      const torchOwn = relErr(want, want64);
      t.diagnostic(`${c.name} [${c.shape.join(', ')}]: relative error vs torch float32 ${e.toExponential(2)}, vs torch float64 ${relErr(got, want64).toExponential(2)} (torch float32 vs float64: ${torchOwn.toExponential(2)})`);
      assert.ok(e <= FEATURE_TOL, `${c.name}: relative error ${e} > ${FEATURE_TOL}`);
    }
    assert.equal(tf.memory().numTensors, before, 'features() leaks no tensors');
  });

  it('is what the extractor registry gives for `inception` with evaluation.inceptionWeights', async (t) => {
    await assert.rejects(loadExtractor('inception'), /evaluation\.inceptionWeights/);
    if (missing) return t.skip(missing);
    const e = await loadExtractor('inception', { inceptionWeights: join(dir, 'weights.pth') });
    try {
      assert.deepEqual([e.name, e.metricNames.fd, e.dim], ['inception', 'fid', 2048]);
      assert.equal(e.weightsSha256, extractor?.weightsSha256);
    } finally {
      e.dispose();
    }
  });

  it('gives the same features when a batch is split into chunks', async (t) => {
    if (missing) return t.skip(missing);
    const { cases } = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: RefCase[] };
    const c = cases.find((x) => x.shape[0] > 1) as RefCase;
    const one = await loadInceptionExtractor(join(dir, 'weights.pth'), { maxChunk: 1 });
    try {
      const images = tf.tensor4d(new Float32Array(new Uint8Array(readFileSync(join(dir, c.input))).buffer), c.shape);
      const chunked = await one.features(images);
      const whole = computed.get(c.name);
      assert.ok(whole, 'the first test computed this case');
      images.dispose();
      const e = relErr(chunked, whole);
      t.diagnostic(`${c.name}: chunks of 1 vs one batch of ${c.shape[0]}: relative difference ${e.toExponential(2)}`);
      assert.ok(e <= 1e-6, `relative difference ${e}`);
    } finally {
      one.dispose();
    }
    await assert.rejects(loadInceptionExtractor(join(dir, 'weights.pth'), { maxChunk: 0 }), /maxChunk must be a positive integer, got 0/);
  });

  it('reads the same weights from the legacy (pre-1.6) format', (t) => {
    if (missing) return t.skip(missing);
    const zip = readStateDict(readFileSync(join(dir, 'weights.pth')), 'weights.pth');
    const legacy = readStateDict(readFileSync(join(dir, 'weights_legacy.pth')), 'weights_legacy.pth');
    assert.deepEqual([...legacy.keys()], [...zip.keys()]);
    assert.ok(zip.has('fc.weight'), 'the fixture has the fc layer that features ignore');
    for (const [k, v] of zip) assert.deepEqual(legacy.get(k), v, k);
  });
});
