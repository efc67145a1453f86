/**
 * Finds and loads the optional native kernels addon (native/, built at install time when Debian's
 * oneDNN is there). Never required: when it is absent or fails to load, the reason is returned
 * and the trainer keeps the portable wasm kernels.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { limitOpenMpThreads } from '../cpuLimit';

/** The addon's entry points; every array is a view that the call reads or writes in place. */
export interface NativeKernels {
  conv2d(x: Float32Array, filter: Float32Array, bias: Float32Array | null, y: Float32Array, shape: Int32Array): void;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, dx: Float32Array, shape: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, db: Float32Array | null, shape: Int32Array): void;
  groupNormSilu(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array, eps: number, silu: boolean, shape: Int32Array): void;
  groupNormSiluGrad(
    dy: Float32Array,
    x: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    mean: Float32Array,
    rstd: Float32Array,
    dx: Float32Array,
    dgamma: Float32Array,
    dbeta: Float32Array,
    silu: boolean,
    shape: Int32Array,
  ): void;
  splitLast(x: Float32Array, outs: Float32Array[], sizes: Int32Array, outer: number): void;
  concatLast(ins: Float32Array[], y: Float32Array, sizes: Int32Array, outer: number): void;
  adam(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, scale: Float32Array, p2: Float32Array, m2: Float32Array, v2: Float32Array, hyper: Float32Array, n: number): void;
  /** The assignment solver's row and column reduction; max |c|, or NaN for a non-finite entry. */
  lsaReduce(c: Float64Array, n: number, v: Float64Array, argMin: Int32Array): number;
  /** The solver's column reduction and full-row reduction transfer; the number of free rows. */
  lsaColumnReduction(c: Float64Array, n: number, v: Float64Array, argMin: Int32Array, matches: Int32Array, x: Int32Array, y: Int32Array, free: Int32Array): number;
  /** One pass of the assignment solver's augmenting row reduction (src/trainer/assignment/lsa.ts). */
  lsaRowReduction(
    c: Float64Array,
    v: Float64Array,
    x: Int32Array,
    y: Int32Array,
    built: Uint8Array,
    candCol: Int32Array,
    candC: Float64Array,
    theta: Float64Array,
    seeded: Uint8Array,
    selVal: Float64Array,
    selCol: Int32Array,
    free: Int32Array,
    dims: Int32Array,
    budget: number,
    eps: number,
    out: Float64Array,
  ): void;
  info(): string;
}

export type NativeLoad = { ok: true; kernels: NativeKernels; file: string; info: string } | { ok: false; reason: string };

const FILE = 'immiscible_kernels.node';

/** dist/native/ beside the bundle (packaged extension, `npm run build`), then the build tree. */
function candidates(): string[] {
  const here = typeof __dirname === 'string' ? __dirname : process.cwd();
  return [join(here, 'native', FILE), resolve(here, '../native/build/Release', FILE), resolve(here, '../../../native/build/Release', FILE)];
}

let cached: NativeLoad | null = null;

export function loadNativeKernels(): NativeLoad {
  if (cached) return cached;
  if (process.env.IMMISCIBLE_NATIVE === '0') return (cached = { ok: false, reason: 'disabled by IMMISCIBLE_NATIVE=0' });
  const file = candidates().find((f) => existsSync(f));
  if (!file) return (cached = { ok: false, reason: 'not built (needs Debian libdnnl-dev and g++ at npm install; see docs/cpu-kernels.md)' });
  try {
    limitOpenMpThreads();
    const req = typeof require === 'function' ? require : createRequire(file);
    const kernels = req(file) as NativeKernels;
    return (cached = { ok: true, kernels, file, info: kernels.info() });
  } catch (e) {
    return (cached = { ok: false, reason: `${file} failed to load: ${(e as Error).message.split('\n')[0]}` });
  }
}
