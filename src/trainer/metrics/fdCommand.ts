/**
 * `immiscible fd A.json B.json [--factor cholesky|eigh] [--json]`: the Frechet distance between
 * two saved feature statistics, each `{"mu": [...], "sigma": [[...]]}` (an optional "n" is
 * checked and only used for a warning). Prints the distance (shortest round-trip decimal) on
 * stdout, or with --json an object with its terms. Bad input exits with code 2 and a message
 * naming the file and the field, so a user can fix the right file.
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { FrechetInputError, frechetDistanceParts, type FrechetFactor } from './frechet';

export const FD_USAGE = 'usage: immiscible fd A.json B.json [--factor cholesky|eigh] [--json]';

interface Writable {
  write(s: string): unknown;
}

export interface CommandIo {
  stdout: Writable;
  stderr: Writable;
}

/** Input a user can fix; `message` already names the file and field. */
class StatsFileError extends Error {
  constructor(
    message: string,
    /** Argument mistakes get the usage line too; a bad file does not need it. */
    readonly showUsage = false,
  ) {
    super(message);
  }
}

function parseFdArgs(argv: string[]): { files: string[]; factor: FrechetFactor; json: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { factor: { type: 'string', default: 'cholesky' }, json: { type: 'boolean', default: false } },
    });
  } catch (e) {
    throw new StatsFileError((e as Error).message, true);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 2) throw new StatsFileError(`fd needs exactly two statistics files, got ${positionals.length}`, true);
  const factor = values.factor;
  if (factor !== 'cholesky' && factor !== 'eigh') throw new StatsFileError(`--factor must be cholesky or eigh, got ${factor}`, true);
  return { files: positionals, factor, json: values.json === true };
}

interface LoadedStats {
  file: string;
  mu: Float64Array;
  sigma: Float64Array;
  d: number;
  n: number | null;
}

function fieldError(file: string, field: string, problem: string): StatsFileError {
  return new StatsFileError(`${file}: field "${field}": ${problem}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? v.slice(0, 20) + '…' : v)}`;
  return typeof v === 'object' ? 'an object' : String(v);
}

function loadStats(file: string): LoadedStats {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StatsFileError(`${file}: cannot read the file (${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new StatsFileError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new StatsFileError(`${file}: expected a JSON object with fields "mu" and "sigma", found ${describe(parsed)}`);
  }
  const o = parsed as Record<string, unknown>;
  if (!('mu' in o)) throw fieldError(file, 'mu', 'missing');
  if (!('sigma' in o)) throw fieldError(file, 'sigma', 'missing');
  const { mu, sigma } = o;
  if (!Array.isArray(mu) || mu.length === 0) throw fieldError(file, 'mu', `expected a non-empty array of numbers, found ${describe(mu)}${Array.isArray(mu) ? ' with no entries' : ''}`);
  const d = mu.length;
  const muv = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    const v: unknown = mu[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw fieldError(file, `mu[${i}]`, `expected a finite number, found ${describe(v)}`);
    muv[i] = v;
  }
  if (!Array.isArray(sigma)) throw fieldError(file, 'sigma', `expected an array of ${d} rows, found ${describe(sigma)}`);
  if (sigma.length !== d) throw fieldError(file, 'sigma', `has ${sigma.length} rows but "mu" has ${d} entries; sigma must be ${d}×${d}`);
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    const row: unknown = sigma[i];
    if (!Array.isArray(row)) throw fieldError(file, `sigma[${i}]`, `expected an array of ${d} numbers, found ${describe(row)}`);
    if (row.length !== d) throw fieldError(file, `sigma[${i}]`, `has ${row.length} entries, expected ${d} (sigma must be square, ${d}×${d} to match "mu")`);
    for (let j = 0; j < d; j++) {
      const v: unknown = row[j];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fieldError(file, `sigma[${i}][${j}]`, `expected a finite number, found ${describe(v)}`);
      s[i * d + j] = v;
    }
  }
  let n: number | null = null;
  if ('n' in o) {
    const v = o.n;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 2) throw fieldError(file, 'n', `expected an integer >= 2 (the number of samples), found ${describe(v)}`);
    n = v;
  }
  return { file, mu: muv, sigma: s, d, n };
}

/** Runs `immiscible fd`; returns the exit code (0, or 2 for bad arguments or input). */
export async function fdCommand(argv: string[], io: CommandIo = process): Promise<number> {
  try {
    const { files, factor, json } = parseFdArgs(argv);
    const a = loadStats(files[0]);
    const b = loadStats(files[1]);
    if (a.d !== b.d) throw new StatsFileError(`dimension mismatch: ${a.file} has d = ${a.d} ("mu" length) but ${b.file} has d = ${b.d}`);
    let parts;
    try {
      parts = frechetDistanceParts(a.mu, a.sigma, b.mu, b.sigma, a.d, { factor });
    } catch (e) {
      if (!(e instanceof FrechetInputError)) throw e;
      // The loaders checked shapes and finiteness, so this is symmetry; map the argument back to its file.
      const src = e.field.endsWith('1') ? a.file : b.file;
      const field = e.field.replace(/[12]$/, '');
      throw new StatsFileError(`${src}: field "${field}": ${e.message.slice(e.field.length + 2)}`);
    }
    for (const s of [a, b]) {
      // Not an error (a quick metric on few samples is legitimate), but the value is not FID-comparable.
      if (s.n !== null && s.n <= s.d) io.stderr.write(`immiscible fd: warning: ${s.file} has n = ${s.n} <= d = ${s.d}: its covariance is rank-deficient\n`);
    }
    if (json) {
      io.stdout.write(
        JSON.stringify({ fd: parts.value, d: a.d, meanTerm: parts.meanTerm, trace1: parts.trace1, trace2: parts.trace2, traceSqrt: parts.traceSqrt, rank1: parts.rank1, n1: a.n, n2: b.n, factor }) + '\n',
      );
    } else {
      io.stdout.write(`${parts.value}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof StatsFileError) {
      io.stderr.write(`immiscible fd: ${e.message}\n${e.showUsage ? FD_USAGE + '\n' : ''}`);
      return 2;
    }
    throw e;
  }
}
