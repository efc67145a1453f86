// Picks the TF.js compute backend for a training run and says why the others were not used,
// so the UI can show which backend and device a run got (see
// docs/compute-backends.md).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerNativeKernels } from './nativeKernels';
import { registerWasmConvGradients } from './wasmConvGrads';
import { registerWasmIdentity } from './wasmIdentity';
import { activateWebgpu } from './webgpu';
import { cacheBindGroupsOf } from './webgpuBindGroups';
import { registerWebgpuKernels } from './webgpuKernels';

export type BackendRequest = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendChoice {
  /** The tf backend name now active (`tf.getBackend()`). */
  name: string;
  /** Human-readable device description for the UI. */
  device: string;
  /** For every other backend: why it was not used. */
  reasons: Record<string, string>;
}

/** The 'auto' order: fastest first. */
const AUTO_ORDER = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
type BackendName = (typeof AUTO_ORDER)[number];

type Attempt = { ok: true; device: string } | { ok: false; reason: string };

const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];

/**
 * Packages are resolved at run time from the installed node_modules, not from a path fixed at
 * build time (esbuild moves our JS to dist/). The bundle and tsx both run this as CommonJS, where
 * `require` exists. Under ESM we resolve from the entry script instead of `import.meta.url`,
 * which esbuild's CommonJS output would leave empty (with a build warning).
 */
function nodeRequire(): NodeJS.Require {
  if (typeof require === 'function') return require;
  return createRequire(process.argv[1] ?? join(process.cwd(), 'index.js'));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Where native TensorFlow may be: beside us (node_modules), then the directory the extension
 * installs it into ("Install Native TensorFlow Backend"), passed as IMMISCIBLE_NATIVE_TF_DIR.
 */
function nativeTfRequires(): { req: NodeJS.Require; where: string }[] {
  const out = [{ req: nodeRequire(), where: 'node_modules' }];
  const dir = process.env.IMMISCIBLE_NATIVE_TF_DIR;
  if (dir) out.push({ req: createRequire(join(dir, 'package.json')), where: dir });
  return out;
}

async function tryTensorflow(): Promise<Attempt> {
  // Native TensorFlow is optional: its install downloads libtensorflow, so we never depend on it.
  const candidates: { pkg: string; req: NodeJS.Require; where: string }[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    for (const { req, where } of nativeTfRequires()) {
      try {
        req.resolve(pkg);
        candidates.push({ pkg, req, where });
        break;
      } catch {
        // not there
      }
    }
  }
  if (candidates.length === 0) {
    const dir = process.env.IMMISCIBLE_NATIVE_TF_DIR;
    return { ok: false, reason: `not installed (optional: @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node${dir ? `; looked in node_modules and ${dir}` : ''})` };
  }
  const failures: string[] = [];
  for (const { pkg, req, where } of candidates) {
    try {
      // Loading registers the 'tensorflow' backend with the tfjs-core it imports (tfjs keeps its
      // engine and kernel registry global, so a copy of tfjs-core elsewhere registers with ours).
      req(pkg);
    } catch (e) {
      failures.push(`${pkg} (in ${where}) is installed but failed to load: ${message(e)}`);
      continue;
    }
    if (tf.findBackendFactory('tensorflow') == null) {
      failures.push(`${pkg} loaded but registered no 'tensorflow' backend with our @tensorflow/tfjs ${tf.version_core} (version mismatch?)`);
      continue;
    }
    if (!(await tf.setBackend('tensorflow'))) {
      failures.push(`${pkg}: tf.setBackend('tensorflow') failed`);
      continue;
    }
    const device = pkg.endsWith('-gpu')
      ? 'native TensorFlow (libtensorflow 2.9; CUDA GPU when CUDA 11.2 / cuDNN 8.1 load, else CPU)'
      : 'CPU (native TensorFlow)';
    return { ok: true, device };
  }
  return { ok: false, reason: failures.join('; ') };
}

/** Under 'auto' a hardware adapter only; requested explicitly, a software one too (tests). */
async function tryWebgpu(requested: boolean): Promise<Attempt> {
  const r = await activateWebgpu(requested);
  if (!r.ok) return r;
  const fused = registerWebgpuKernels(r.adapter);
  const bind = cacheBindGroupsOf(tf.backend());
  const kernels = fused.ok ? '; fused WGSL kernels (GroupNorm + SiLU, conv gradients, Adam)' : `; fused kernels not used: ${fused.reason}`;
  return { ok: true, device: `${r.device}${kernels}${bind.ok ? '; bind groups reused across steps' : `; bind groups not reused: ${bind.reason}`}` };
}

/**
 * The directory holding the .wasm binaries: `wasm/` beside the bundle when the build copied them
 * there (the packaged extension has no node_modules), else the installed package.
 */
function wasmBinaryDir(): string {
  if (typeof __dirname === 'string' && WASM_BINARIES.every((f) => existsSync(join(__dirname, 'wasm', f)))) return join(__dirname, 'wasm');
  const pkgJson = nodeRequire().resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return join(dirname(pkgJson), 'dist');
}

async function tryWasm(): Promise<Attempt> {
  let native: ReturnType<typeof registerNativeKernels>;
  try {
    const dir = wasmBinaryDir();
    const missing = WASM_BINARIES.filter((f) => !existsSync(join(dir, f)));
    if (missing.length > 0) return { ok: false, reason: `missing ${missing.join(', ')} in ${dir}` };
    // A prefix, not a file map: tfjs picks the SIMD or plain binary itself. Must precede the
    // backend's first initialization; later calls only set the same prefix again.
    setWasmPaths(dir + sep);
    registerWasmConvGradients();
    registerWasmIdentity();
    native = registerNativeKernels();
    if (!(await tf.setBackend('wasm'))) return { ok: false, reason: `tf.setBackend('wasm') failed (binaries from ${dir})` };
  } catch (e) {
    return { ok: false, reason: `failed to initialize: ${message(e)}` };
  }
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  const kernels = native.ok ? `; convolutions and GroupNorm native (${native.info})` : `; native kernels not used: ${native.reason}`;
  return { ok: true, device: `CPU (WebAssembly${simd ? ' SIMD' : ''}, XNNPACK, ${threads} thread${threads === 1 ? '' : 's'}${kernels})` };
}

async function tryCpu(): Promise<Attempt> {
  if (!(await tf.setBackend('cpu'))) return { ok: false, reason: "tf.setBackend('cpu') failed" };
  return { ok: true, device: 'CPU (plain JavaScript; slow conv gradients)' };
}

/** Each attempt is told whether its backend was requested by name (rather than by 'auto'). */
const ATTEMPTS: Record<BackendName, (requested: boolean) => Promise<Attempt>> = {
  tensorflow: tryTensorflow,
  webgpu: tryWebgpu,
  wasm: tryWasm,
  cpu: tryCpu,
};

function isBackendName(s: string): s is BackendName {
  return (AUTO_ORDER as readonly string[]).includes(s);
}

/**
 * Activates the requested backend ('auto': the first usable one of tensorflow, webgpu, wasm,
 * cpu). A specific backend that cannot be used throws an Error saying why.
 */
export async function selectBackend(requested: BackendRequest): Promise<BackendChoice> {
  // Requests come from JSON configs and settings, so check at run time too.
  if (requested !== 'auto' && !isBackendName(requested)) {
    throw new Error(`Unknown backend '${String(requested)}': expected one of auto, ${AUTO_ORDER.join(', ')}`);
  }
  const reasons: Record<string, string> = {};
  if (requested !== 'auto') {
    const attempt = await ATTEMPTS[requested](true);
    if (!attempt.ok) throw new Error(`Backend '${requested}' cannot be used: ${attempt.reason}`);
    for (const other of AUTO_ORDER) if (other !== requested) reasons[other] = `not requested ('${requested}' was requested)`;
    return { name: tf.getBackend(), device: attempt.device, reasons };
  }
  for (let i = 0; i < AUTO_ORDER.length; i++) {
    const name = AUTO_ORDER[i];
    const attempt = await ATTEMPTS[name](false);
    if (!attempt.ok) {
      reasons[name] = attempt.reason;
      continue;
    }
    for (const later of AUTO_ORDER.slice(i + 1)) reasons[later] = `not needed: '${name}' comes first in the auto order and works`;
    return { name: tf.getBackend(), device: attempt.device, reasons };
  }
  throw new Error(`No TF.js backend could be used: ${AUTO_ORDER.map((n) => `${n}: ${reasons[n]}`).join('; ')}`);
}
