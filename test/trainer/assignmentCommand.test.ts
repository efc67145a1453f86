import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assignmentCost, linearSumAssignment } from '../../src/trainer/assignment';
import { lsaCommand } from '../../src/trainer/assignment/lsaCommand';
import { Rng } from '../../src/trainer/rng';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function run(argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await lsaCommand(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

function f64File(dir: string, name: string, values: ArrayLike<number>): string {
  const buf = Buffer.alloc(values.length * 8);
  for (let k = 0; k < values.length; k++) buf.writeDoubleLE(values[k], k * 8);
  const file = join(dir, name);
  writeFileSync(file, buf);
  return file;
}

test('lsa command: prints the assigned column of each row as one JSON array', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-cmd-'));
  try {
    const file = f64File(dir, 'c3.f64', [4, 1, 3, 2, 0, 5, 3, 2, 2]);
    const r = await run(['--cost', file, '--n', '3']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.equal(r.out, '[1,0,2]\n');

    const rng = new Rng(3);
    const n = 37;
    const c = new Float64Array(n * n);
    for (let k = 0; k < c.length; k++) c[k] = rng.normal();
    const big = await run(['--cost', f64File(dir, 'c37.f64', c), '--n', String(n)]);
    assert.equal(big.code, 0, big.err);
    const col = Int32Array.from(JSON.parse(big.out) as number[]);
    assert.equal(assignmentCost(c, n, col), assignmentCost(c, n, linearSumAssignment(c, n)));

    const empty = await run(['--cost', f64File(dir, 'empty.f64', []), '--n', '0']);
    assert.deepEqual([empty.code, empty.out], [0, '[]\n']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lsa command: exit code 2 naming the file for a missing, mis-sized or non-finite matrix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-cmd-'));
  try {
    const missing = join(dir, 'nope.f64');
    let r = await run(['--cost', missing, '--n', '2']);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.ok(r.err.includes(missing), r.err);
    assert.match(r.err, /ENOENT/);

    const short = f64File(dir, 'short.f64', [1, 2, 3]);
    r = await run(['--cost', short, '--n', '2']);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(short), r.err);
    assert.match(r.err, /32 bytes.*found 24 bytes/);

    const odd = join(dir, 'odd.f64');
    writeFileSync(odd, Buffer.alloc(33));
    r = await run(['--cost', odd, '--n', '2']);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(odd), r.err);

    const nan = f64File(dir, 'nan.f64', [0, 1, NaN, 2]);
    r = await run(['--cost', nan, '--n', '2']);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(nan), r.err);
    assert.match(r.err, /row 1, column 0.*NaN/);

    const inf = f64File(dir, 'inf.f64', [0, -Infinity, 1, 2]);
    r = await run(['--cost', inf, '--n', '2']);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(inf), r.err);
    assert.match(r.err, /row 0, column 1.*-Infinity/);

    // A directory is not a readable file either.
    r = await run(['--cost', dir, '--n', '1']);
    assert.equal(r.code, 2);
    assert.ok(r.err.includes(dir), r.err);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lsa command: exit code 2 for a bad or missing --n and for bad usage', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-cmd-'));
  try {
    const file = f64File(dir, 'c2.f64', [1, 2, 3, 4]);
    for (const n of ['-1', '2.5', 'abc', '', '0x2', '1e1', '99999999']) {
      const r = await run(['--cost', file, '--n', n]);
      assert.equal(r.code, 2, `--n '${n}'`);
      assert.match(r.err, /--n/, `--n '${n}': ${r.err}`);
      assert.equal(r.out, '');
    }
    for (const argv of [['--cost', file], ['--n', '2'], ['--cost', file, '--n', '2', '--bogus'], ['--cost', file, '--n', '2', 'extra']]) {
      const r = await run(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /usage: immiscible lsa/);
    }
    const help = await run(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /usage: immiscible lsa --cost FILE --n B/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lsa command: writes to process.stdout by default', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lsa-cmd-'));
  const write = process.stdout.write;
  let captured = '';
  try {
    const file = f64File(dir, 'c1.f64', [7]);
    process.stdout.write = ((s: string | Uint8Array): boolean => {
      captured += String(s);
      return true;
    }) as typeof process.stdout.write;
    const code = await lsaCommand(['--cost', file, '--n', '1']);
    process.stdout.write = write;
    assert.equal(code, 0);
    assert.equal(captured, '[0]\n');
  } finally {
    process.stdout.write = write;
    rmSync(dir, { recursive: true, force: true });
  }
});
