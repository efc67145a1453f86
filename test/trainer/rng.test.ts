import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Rng } from '../../src/trainer/rng';

test('the same seed gives the same stream and state round-trips', () => {
  const a = new Rng(42);
  const b = new Rng(42);
  for (let i = 0; i < 100; i++) assert.equal(a.nextUint32(), b.nextUint32());
  a.normal();
  const st = JSON.parse(JSON.stringify(a.state())) as ReturnType<Rng['state']>;
  const c = Rng.fromState(st);
  for (let i = 0; i < 100; i++) assert.equal(a.normal(), c.normal());
  assert.notEqual(new Rng(1).nextUint32(), new Rng(2).nextUint32());
});

test('normal draws have mean 0 and variance 1', () => {
  const r = new Rng(7);
  const v = r.fillNormal(new Float32Array(200000));
  let m = 0;
  for (const x of v) m += x;
  m /= v.length;
  let s = 0;
  for (const x of v) s += (x - m) ** 2;
  s /= v.length - 1;
  assert.ok(Math.abs(m) < 0.01, `mean ${m}`);
  assert.ok(Math.abs(s - 1) < 0.01, `variance ${s}`);
});

test('fillNormal gives the draws of normal() one at a time, and leaves the same state', () => {
  for (const seed of [0, 3, 99]) {
    for (const lead of [0, 1]) {
      for (const n of [0, 1, 2, 7, 1000]) {
        const one = new Rng(seed);
        const many = new Rng(seed);
        // A leading odd draw starts fillNormal with a spare.
        for (let i = 0; i < lead; i++) assert.equal(many.normal(), one.normal());
        const expected = Float32Array.from({ length: n }, () => one.normal());
        assert.deepEqual(many.fillNormal(new Float32Array(n)), expected, `seed ${seed}, lead ${lead}, n ${n}`);
        assert.deepEqual(many.state(), one.state());
      }
    }
  }
});

test('the stream is the one earlier versions drew (a resumed run draws the same noise)', () => {
  // Values drawn by the implementation before the words moved into a typed array.
  const r = new Rng(42);
  assert.deepEqual(
    Array.from({ length: 6 }, () => r.nextUint32()),
    [1028872839, 2516511472, 400437680, 853279530, 1920286840, 3588795744],
  );
  const q = new Rng(3);
  q.normal();
  const v = q.fillNormal(new Float32Array(1001));
  assert.equal(createHash('sha256').update(v).digest('hex').slice(0, 16), '8fc3761d7a53612d');
  assert.deepEqual(q.state(), { s: [3420553876, 2718912360, 880139904, 1507036500], spare: null });
  // Earlier versions saved the first word signed; both spellings restore the same generator.
  const signed = Rng.fromState({ s: [-874413420, 2718912360, 880139904, 1507036500], spare: null });
  assert.equal(signed.uniform(), 0.7803401537239552);
  assert.equal(signed.int(1000), 829);
  assert.deepEqual([...new Rng(9).permutation(10)], [1, 5, 2, 9, 3, 4, 6, 0, 7, 8]);
});

test('fillNormal redraws a zero u, as normal() does, and keeps a zero v', () => {
  // sfc32 outputs a + b + d first: zero from [0, 0, c, 0]. The second output is
  // (b ^ b >>> 9) + 9c + d + 1, zero when d is chosen so.
  const c = 12345;
  const zeroV = (-(9 * c) - 1) | 0;
  for (const s of [[0, 0, c, 0], [77, 0, c, zeroV]] as [number, number, number, number][]) {
    const probe = Rng.fromState({ s, spare: null });
    const words = [probe.nextUint32(), probe.nextUint32()];
    assert.ok(words.includes(0), `state ${s} draws a zero word: ${words}`);
    const one = Rng.fromState({ s, spare: null });
    const many = Rng.fromState({ s, spare: null });
    const expected = Float32Array.from({ length: 9 }, () => one.normal());
    assert.deepEqual(many.fillNormal(new Float32Array(9)), expected);
    assert.deepEqual(many.state(), one.state());
  }
});

test('permutation is a permutation', () => {
  const p = new Rng(1).permutation(1000);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
});
