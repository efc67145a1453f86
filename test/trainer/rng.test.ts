import { test } from 'node:test';
import * as assert from 'node:assert/strict';
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

test('permutation is a permutation', () => {
  const p = new Rng(1).permutation(1000);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
});
