/**
 * `immiscible lsa --cost FILE --n B`: solves the linear sum assignment of a raw cost matrix
 * (little-endian float64, row-major, B x B) and prints the column of each row as one JSON array.
 * Lets other tools (and scipy comparisons) call the solver without writing TypeScript.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { linearSumAssignment } from './lsa';

const USAGE = 'usage: immiscible lsa --cost FILE --n B   (FILE: B x B little-endian float64, row-major)';

export interface LsaIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Exit code 2 for every input problem, as the other commands do for usage and config errors. */
class InputError extends Error {}

function parseN(s: string | undefined): number {
  if (s === undefined) throw new InputError('lsa needs --n B (the matrix is B x B)');
  // Digits only: Number() would also accept '', '0x10', '1e3' and ' 5 '.
  if (!/^[0-9]+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw new InputError(`--n must be a non-negative integer, got '${s}'`);
  }
  const n = Number(s);
  // n*n*8 bytes must be a valid Buffer length; far beyond any matrix this solver can finish.
  if (n > 46340) throw new InputError(`--n ${n} is too large (at most 46340)`);
  return n;
}

function readMatrix(file: string, n: number): Float64Array {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`${file}: cannot read the cost file (${code ?? (e as Error).message})`);
  }
  const want = n * n * 8;
  if (buf.length !== want) {
    throw new InputError(
      `${file}: expected ${n} x ${n} float64 values = ${want} bytes for --n ${n}, found ${buf.length} bytes`,
    );
  }
  // Copied so the values are 8-byte aligned and read as little-endian on any host.
  const cost = new Float64Array(n * n);
  for (let k = 0; k < cost.length; k++) cost[k] = buf.readDoubleLE(k * 8);
  return cost;
}

/** Runs the command on argv (the words after `lsa`); returns the process exit code. */
export async function lsaCommand(argv: string[], io: LsaIo = process): Promise<number> {
  try {
    let values: { cost?: string; n?: string; help?: boolean };
    try {
      ({ values } = parseArgs({
        args: argv,
        options: { cost: { type: 'string' }, n: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
        strict: true,
        allowPositionals: false,
      }));
    } catch (e) {
      throw new InputError((e as Error).message);
    }
    if (values.help) {
      io.stdout.write(USAGE + '\n');
      return 0;
    }
    if (values.cost === undefined) throw new InputError('lsa needs --cost FILE');
    const n = parseN(values.n);
    const cost = readMatrix(values.cost, n);
    let col: Int32Array;
    try {
      col = linearSumAssignment(cost, n);
    } catch (e) {
      // The solver names the entry (row, column, value); the user also needs the file.
      if (e instanceof RangeError) throw new InputError(`${values.cost}: ${e.message}`);
      throw e;
    }
    io.stdout.write(JSON.stringify(Array.from(col)) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof InputError) {
      io.stderr.write(`immiscible lsa: ${e.message}\n${USAGE}\n`);
      return 2;
    }
    io.stderr.write(`immiscible lsa: ${(e as Error).message}\n`);
    return 1;
  }
}
