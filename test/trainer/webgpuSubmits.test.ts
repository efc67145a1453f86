// mergeSubmits (webgpuSubmits.ts) on written-out command lists: which of a captured step's
// submits a replay keeps. The replay tests (webgpuReplay.test.ts) check on lavapipe that the
// trainer's steps replayed with merged submits train bit for bit as without replay; with every
// submit dropped they do not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Buf, Op } from '../../src/trainer/backend/webgpuCapture';
import { mergeSubmits } from '../../src/trainer/backend/webgpuSubmits';

function buf(name: string): Buf & { name: string } {
  return { name, size: 16, usage: 0x80, destroy: () => undefined };
}
const [A, B, C, D] = ['A', 'B', 'C', 'D'].map(buf);
const groups = new Map<object, Buf[]>();
function group(...bs: Buf[]): Op {
  const g = {};
  groups.set(g, bs);
  return { k: 'group', i: 0, g };
}
const write = (dst: Buf): Op => ({ k: 'write', dst, offset: 0, bytes: new Uint8Array(16), tag: null, staged: false });
const dispatch = (...bs: Buf[]): Op[] => [{ k: 'pass' }, { k: 'pipe', p: {} }, group(...bs), { k: 'dispatch', x: 1, y: 1, z: 1 }, { k: 'end' }];
const submit: Op = { k: 'submit' };
const merge = (ops: Op[]): Op[] => mergeSubmits(ops, (g) => groups.get(g) ?? []);
const submitsIn = (ops: Op[]): number[] => ops.flatMap((op, i) => (op.k === 'submit' ? [i] : []));

test('submits that no later write needs are dropped, and nothing else changes', () => {
  const ops = [write(A), ...dispatch(A, B), submit, ...dispatch(B, C), submit, write(D), ...dispatch(D, C), submit];
  const out = merge(ops);
  assert.deepEqual(submitsIn(out), []);
  assert.deepEqual(out, ops.filter((op) => op.k !== 'submit'));
});

test('a submit is kept where a write after it names a buffer that unsubmitted commands use', () => {
  // A is read by the first dispatch, then written anew for the third: the submit between stays.
  const ops = [write(A), ...dispatch(A, B), submit, ...dispatch(B, C), submit, write(A), ...dispatch(A, D)];
  const out = merge(ops);
  assert.equal(submitsIn(out).length, 1);
  const at = submitsIn(out)[0];
  assert.ok(out.slice(0, at).some((op) => op.k === 'dispatch') && out.slice(at).some((op) => op.k === 'write' && op.dst === A), 'between the use and the write');
});

test('uses accumulate across dropped submits; a kept submit clears them', () => {
  // A used in segment 1; submit 1 dropped (segment 2 writes nothing); submit 2 kept (segment 3
  // writes A, used since the last kept submit). B, written after submit 3, was used in segment 2,
  // before the kept submit 2: submit 3 goes.
  const ops = [...dispatch(A), submit, ...dispatch(B), submit, write(A), ...dispatch(A, C), submit, write(B), ...dispatch(B)];
  const out = merge(ops);
  assert.equal(submitsIn(out).length, 1);
  assert.equal(out[submitsIn(out)[0] + 1].k === 'write' && (out[submitsIn(out)[0] + 1] as { dst: Buf }).dst, A);
  // Used again after submit 2, B needs submit 3 too.
  const more = merge([...dispatch(A), submit, ...dispatch(B), submit, write(A), ...dispatch(A, B), submit, write(B), ...dispatch(B)]);
  assert.equal(submitsIn(more).length, 2);
});

test('copies count as uses of both buffers, and a write covers only its own segment', () => {
  const copy: Op = { k: 'copy', src: A, so: 0, dst: B, dO: 0, n: 16 };
  assert.equal(submitsIn(merge([copy, submit, write(B)])).length, 1);
  assert.equal(submitsIn(merge([copy, submit, write(A)])).length, 1);
  assert.equal(submitsIn(merge([copy, submit, write(C)])).length, 0);
  // The write of A comes two submits later: the first is dropped, the second kept.
  const out = merge([copy, submit, ...dispatch(C), submit, write(A)]);
  assert.deepEqual(out.map((op) => op.k), ['copy', 'pass', 'pipe', 'group', 'dispatch', 'end', 'submit', 'write']);
});
