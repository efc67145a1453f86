// The .pth reader against files written by Debian's python3-torch (zip and legacy formats, views,
// strides, dtypes) and against damaged or hostile files, which must fail with a clear message.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readStateDict, toFloat32, type TorchTensor } from '../../src/trainer/metrics/inception/pth';
import { runFixtureScript, torchMissing } from './fixtures/torch';

interface Expected {
  dtype: string;
  shape: number[];
  values: (number | boolean)[];
}

const missing = torchMissing();
let dir = '';

function values(t: TorchTensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

function load(name: string): Map<string, TorchTensor> {
  const file = join(dir, name);
  return readStateDict(readFileSync(file), file);
}

describe('pth reader', () => {
  before(() => {
    if (missing) return;
    dir = mkdtempSync(join(tmpdir(), 'pth-test-'));
    runFixtureScript('pth_cases.py', [dir]);
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const file of ['small.pth', 'small_legacy.pth', 'deflated.pth']) {
    it(`reads every tensor of ${file} exactly (dtypes, offsets, views, strides, scalars)`, (t) => {
      if (missing) return t.skip(missing);
      const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Record<string, Expected>;
      const got = load(file);
      assert.deepEqual([...got.keys()], Object.keys(expected), 'keys in the saved order');
      for (const [k, e] of Object.entries(expected)) {
        const g = got.get(k) as TorchTensor;
        assert.equal(g.dtype, e.dtype, `${k} dtype`);
        assert.deepEqual(g.shape, e.shape, `${k} shape`);
        // Float16 and float32 values come through float64 JSON exactly; so do the int64 and bools.
        assert.deepEqual(values(g), e.values.map(Number), `${k} values`);
      }
      assert.ok(toFloat32(got.get('d') as TorchTensor, 'd') instanceof Float32Array);
      assert.throws(() => toFloat32(got.get('n') as TorchTensor, 'n'), /tensor n has dtype int64, expected a floating-point tensor/);
    });
  }

  it("reads an nn.Module's state_dict (OrderedDict with _metadata, num_batches_tracked)", (t) => {
    if (missing) return t.skip(missing);
    const shapes = JSON.parse(readFileSync(join(dir, 'module.json'), 'utf8')) as Record<string, number[]>;
    const got = load('module.pth');
    assert.deepEqual(Object.fromEntries([...got].map(([k, v]) => [k, v.shape])), shapes);
  });

  it('refuses a pickle that calls a Python function, naming it', (t) => {
    if (missing) return t.skip(missing);
    assert.throws(() => load('evil.pth'), /evil\.pth: the pickle refers to (posix|os)\.system, which is not part of a plain state dict/);
  });

  it('names an unsupported opcode and the file', (t) => {
    if (missing) return t.skip(missing);
    assert.throws(() => load('proto4.pth'), /proto4\.pth \(.*data\.pkl\): pickle byte \d+: unsupported pickle opcode 0x8f \(EMPTY_SET\)/);
  });

  it('explains a zip without data.pkl, a short storage and a truncated file', (t) => {
    if (missing) return t.skip(missing);
    assert.throws(() => load('nopkl.pth'), /nopkl\.pth: a zip archive but not a torch\.save file: no <name>\/data\.pkl entry/);
    assert.throws(() => load('short_storage.pth'), /short_storage\.pth: storage .*data\/\d+ is truncated: 100 bytes, expected 1000 x 4 = 4000 \(FloatStorage\)/);
    const whole = readFileSync(join(dir, 'small.pth'));
    const cut = join(dir, 'cut.pth');
    writeFileSync(cut, whole.subarray(0, whole.length - 200));
    assert.throws(() => readStateDict(readFileSync(cut), cut), /cut\.pth: not a readable zip archive: no end-of-central-directory record/);
    const legacy = readFileSync(join(dir, 'small_legacy.pth'));
    writeFileSync(cut, legacy.subarray(0, legacy.length - 100));
    // The legacy format keys storages by object id, so the last storage (data or its 8-byte header)
    // that the cut lands in differs between runs of the fixture script: either is named.
    assert.throws(
      () => readStateDict(readFileSync(cut), cut),
      /cut\.pth: (storage \d+ is truncated: expected \d+ bytes at byte \d+, the file has \d+|truncated: storage \d+'s header is missing at byte \d+)/,
    );
  });

  it('refuses big-endian storages', (t) => {
    if (missing) return t.skip(missing);
    assert.throws(() => load('bigendian.pth'), /bigendian\.pth: tensors are stored big-endian; only little-endian files are supported/);
  });

  it('says when a torch.save file is not a state dict of tensors', (t) => {
    if (missing) return t.skip(missing);
    assert.throws(() => load('list.pth'), /list\.pth: expected a state dict \(a dict of tensors\), found a list/);
    assert.throws(() => load('mixed.pth'), /mixed\.pth: state dict entry epoch is a number, not a tensor/);
  });

  it('refuses a file that is neither format', () => {
    assert.throws(() => readStateDict(new TextEncoder().encode('hello, not weights'), 'notes.pth'), /notes\.pth: not a PyTorch \.pth file: expected a zip archive .* found bytes 68 65 6c 6c/);
    assert.throws(() => readStateDict(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0, 0]), 'stub.pth'), /stub\.pth: not a readable zip archive/);
  });
});
