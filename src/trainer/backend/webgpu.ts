/**
 * The WebGPU backend in Node: Dawn's native addon (npm `webgpu`) provides `navigator.gpu` over
 * Vulkan, and `@tensorflow/tfjs-backend-webgpu` runs TF.js on it. Nothing is downloaded at
 * install; at run time Dawn needs the system Vulkan loader (`libvulkan.so.1`) and a Vulkan driver
 * (an ICD: NVIDIA's, Mesa's, or Mesa's CPU driver lavapipe, which is useful for tests only).
 *
 * Pitfalls handled here (docs/compute-backends.md):
 * - the tfjs backend registers itself only if `navigator.gpu` exists when its module is first
 *   evaluated, so it is imported dynamically, after the bootstrap;
 * - `tf.setBackend` returns false on failure (tfjs then stays on its previous backend);
 * - a software adapter (lavapipe / llvmpipe / SwiftShader) is slower than the CPU backends: it is
 *   never chosen automatically, only when 'webgpu' is requested.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { watchDeviceErrors, type WatchedDevice } from './webgpuErrors';

/** What Dawn says about the adapter it picked. */
export interface GpuAdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader): works, slowly. */
  software: boolean;
}

export type WebgpuProbe =
  | { ok: true; adapter: GpuAdapterDescription; dawn: string }
  | { ok: false; reason: string };

/** The subset of the WebGPU API used here (the DOM typings do not declare Dawn's extras). */
interface AdapterLike {
  readonly info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & { isFallbackAdapter?: boolean };
  readonly isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance' }): Promise<AdapterLike | null>;
}
interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

function nodeRequire(): NodeJS.Require {
  if (typeof require === 'function') return require;
  return createRequire(process.argv[1] ?? join(process.cwd(), 'index.js'));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib', '/usr/local/lib'];

/** Where `libvulkan.so.1` is (LD_LIBRARY_PATH first), or null. Linux only; elsewhere ''. */
export function findVulkanLoader(): string | null {
  if (process.platform !== 'linux') return '';
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  for (const d of dirs) if (existsSync(join(d, 'libvulkan.so.1'))) return join(d, 'libvulkan.so.1');
  return null;
}

export interface IcdFile {
  file: string;
  /** The driver library it names. */
  library: string;
  /** NVIDIA's, Mesa's CPU driver (lavapipe), or another. */
  kind: 'nvidia' | 'software' | 'other';
}

/**
 * The Vulkan driver manifests the loader would read: VK_DRIVER_FILES / VK_ICD_FILENAMES when set,
 * else the standard directories.
 */
export function findIcdFiles(): IcdFile[] {
  const explicit = (process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? '').split(':').filter(Boolean);
  const files: string[] = [];
  if (explicit.length > 0) {
    files.push(...explicit.filter((f) => existsSync(f)));
  } else {
    const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', join(process.env.HOME ?? '/nonexistent', '.local/share/vulkan/icd.d')];
    for (const d of dirs) {
      try {
        for (const f of readdirSync(d)) if (f.endsWith('.json')) files.push(join(d, f));
      } catch {
        // absent directory
      }
    }
  }
  return files.map((file) => {
    let library = '';
    try {
      library = String((JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } }).ICD?.library_path ?? '');
    } catch {
      library = '(unreadable manifest)';
    }
    const kind = /nvidia/i.test(file + library) ? 'nvidia' : /lvp|lavapipe|swiftshader/i.test(file + library) ? 'software' : 'other';
    return { file, library, kind };
  });
}

/**
 * NVIDIA's Vulkan driver manifest and its GLVND EGL vendor file where GPU node images mount the
 * driver outside the Vulkan loader's search path (/usr/local/nvidia, e.g. Kubernetes GPU nodes).
 */
const NVIDIA_ELSEWHERE = {
  icd: '/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json',
  egl: '/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json',
};

/**
 * The NVIDIA manifest to name in VK_DRIVER_FILES because the loader would not find it: neither
 * VK_DRIVER_FILES nor VK_ICD_FILENAMES set, no NVIDIA manifest among those found, and one at the
 * known place outside the search path. Null otherwise.
 */
export function nvidiaIcdToName(env: Record<string, string | undefined>, found: IcdFile[], exists: (path: string) => boolean): string | null {
  if (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || found.some((i) => i.kind === 'nvidia')) return null;
  return exists(NVIDIA_ELSEWHERE.icd) ? NVIDIA_ELSEWHERE.icd : null;
}

/** The NVIDIA manifest this process named in VK_DRIVER_FILES (nameNvidiaIcd), if any. */
let namedIcd: string | null = null;

/**
 * Names NVIDIA's manifest (and its EGL vendor file, if unnamed) in this process's environment
 * when nvidiaIcdToName finds one, keeping the other drivers found; before Dawn starts. Returns
 * what it named, for the run record.
 */
export function nameNvidiaIcd(): string | null {
  if (namedIcd) return namedIcd;
  const found = findIcdFiles();
  const icd = nvidiaIcdToName(process.env, found, existsSync);
  if (!icd) return null;
  process.env.VK_DRIVER_FILES = [icd, ...found.map((i) => i.file)].join(':');
  if (!process.env.__EGL_VENDOR_LIBRARY_FILENAMES && existsSync(NVIDIA_ELSEWHERE.egl)) process.env.__EGL_VENDOR_LIBRARY_FILENAMES = NVIDIA_ELSEWHERE.egl;
  namedIcd = icd;
  return icd;
}


/**
 * Software rasterizers that Vulkan / Dawn expose as adapters, and Dawn's null device (asked for
 * with IMMISCIBLE_DAWN_FLAGS=backend=null: it records and validates commands and runs none).
 */
const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|software|null-backend/i;
const NULL_DEVICE = 'null-backend';

export function describeAdapter(a: AdapterLike): GpuAdapterDescription {
  const info = a.info ?? {};
  const d: GpuAdapterDescription = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    software: false,
  };
  d.software = Boolean(info.isFallbackAdapter ?? a.isFallbackAdapter) || SOFTWARE.test([d.vendor, d.architecture, d.device, d.description].join(' '));
  return d;
}

/** One line for the UI and run records: the adapter and its vendor and architecture. */
export function adapterLabel(a: GpuAdapterDescription): string {
  const name = a.description || a.device || 'unnamed adapter';
  if (a.device === NULL_DEVICE) return "Dawn's null device (records commands and runs none: for measuring the CPU's cost of recording)";
  return `${name} (vendor ${a.vendor || 'unknown'}, architecture ${a.architecture || 'unknown'}${a.software ? ', software adapter: slow, for tests' : ''})`;
}

let dawn: { module: DawnModule; path: string } | null = null;
let gpu: GpuLike | null = null;

/**
 * Dawn's addon: `webgpu/<platform>-<arch>/dawn.node` beside the bundle when the build copied it
 * there (the packaged extension has no node_modules), else the installed `webgpu` package's.
 * Loaded as the addon itself: the package's entry is an ES module, which this CommonJS bundle
 * cannot require on every Node 20.
 */
function loadDawn(): { module: DawnModule; path: string } {
  if (dawn) return dawn;
  const sub = join(`${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`, 'dawn.node');
  const candidates: string[] = [];
  if (typeof __dirname === 'string') candidates.push(join(__dirname, 'webgpu', sub));
  try {
    candidates.push(join(dirname(nodeRequire().resolve('webgpu/package.json')), 'dist', sub));
  } catch {
    // not installed: said below
  }
  const path = candidates.find((p) => existsSync(p));
  if (!path) throw new Error(`Dawn's addon (${sub}) not found: the npm package 'webgpu' is not installed or has no build for ${process.platform}-${process.arch}`);
  dawn = { module: nodeRequire()(path) as DawnModule, path };
  return dawn;
}

/** Extra Dawn flags, e.g. `adapter=NVIDIA` or `verbose=1`, comma-separated. */
function dawnFlags(): string[] {
  return (process.env.IMMISCIBLE_DAWN_FLAGS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * Loads Dawn, installs `navigator.gpu` and asks for the adapter tfjs will use (high-performance,
 * as tfjs-backend-webgpu asks). Says what is missing when there is none.
 */
export async function probeWebgpu(): Promise<WebgpuProbe> {
  const loader = findVulkanLoader();
  let d: { module: DawnModule; path: string };
  try {
    d = loadDawn();
  } catch (e) {
    return { ok: false, reason: message(e) };
  }
  try {
    if (!gpu) {
      // Before Dawn starts: the Vulkan loader reads the environment when it is created.
      nameNvidiaIcd();
      Object.assign(globalThis, d.module.globals);
      const g = globalThis as unknown as { navigator?: object };
      if (g.navigator == null) g.navigator = {};
      gpu = d.module.create(dawnFlags());
      // Node 21+ has a global navigator object; define rather than assign in case it is frozen.
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (adapter == null) {
      if (loader === null) return { ok: false, reason: 'libvulkan.so.1 (the Vulkan loader) not found: install it (Debian/Ubuntu: apt-get install libvulkan1)' };
      const icds = findIcdFiles();
      const explicit = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
      const drivers = icds.length === 0
        ? explicit
          ? `no Vulkan driver manifest found at VK_DRIVER_FILES / VK_ICD_FILENAMES (${explicit})`
          : 'no Vulkan driver manifests (ICD json) found under /usr/share/vulkan/icd.d or /etc/vulkan/icd.d (install a driver: NVIDIA\'s, or mesa-vulkan-drivers for a CPU one)'
        : `Vulkan drivers found: ${icds.map((i) => i.file).join(', ')} (none usable: no GPU, a driver too old for Dawn, or NVIDIA_DRIVER_CAPABILITIES without 'graphics' in a container)`;
      return { ok: false, reason: `no WebGPU adapter: Dawn's requestAdapter() returned null; ${drivers}` };
    }
    return { ok: true, adapter: describeAdapter(adapter), dawn: d.path };
  } catch (e) {
    return { ok: false, reason: `Dawn failed: ${message(e)}${loader === null ? ' (libvulkan.so.1 not found: apt-get install libvulkan1)' : ''}` };
  }
}

export type WebgpuAttempt =
  | { ok: true; device: string; adapter: GpuAdapterDescription }
  | { ok: false; reason: string };

interface DeviceAdapter {
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  info?: object;
  requestDevice(descriptor: { requiredFeatures: string[]; requiredLimits: Record<string, number> }): Promise<object>;
}

let factoryReplaced = false;

/**
 * Registers 'webgpu' again with tfjs's own factory but for one limit: the device also gets the
 * adapter's storage buffers per shader stage (tfjs asks for the default, 8), so that Adam can
 * update several tensors per dispatch (4 or 5 bindings each). Done before the backend is first
 * made; a backend already made is left alone.
 */
async function registerWebgpuFactory(): Promise<void> {
  const made = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry.webgpu != null;
  if (factoryReplaced || made) return;
  const { WebGPUBackend } = (await import('@tensorflow/tfjs-backend-webgpu')) as unknown as { WebGPUBackend: new (device: object, info?: object) => tf.KernelBackend };
  tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const g = (globalThis as unknown as { navigator: { gpu: { requestAdapter(o: object): Promise<DeviceAdapter | null> } } }).navigator.gpu;
      const adapter = await g.requestAdapter({ powerPreference: tf.env().getBool('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance' });
      if (!adapter) throw new Error("Dawn's requestAdapter() returned null");
      const l = adapter.limits;
      const requiredLimits: Record<string, number> = {};
      // tfjs-backend-webgpu 4.22's list, then ours.
      for (const name of ['maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage']) {
        if (typeof l[name] === 'number') requiredLimits[name] = l[name];
      }
      const requiredFeatures = ['timestamp-query', 'bgra8unorm-storage'].filter((f) => adapter.features.has(f));
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
  factoryReplaced = true;
}

/**
 * Activates tfjs's 'webgpu' backend on Dawn. `allowSoftware`: use a software adapter too (when
 * 'webgpu' was requested explicitly); under 'auto' only a hardware adapter is used.
 */
export async function activateWebgpu(allowSoftware: boolean): Promise<WebgpuAttempt> {
  const probe = await probeWebgpu();
  if (!probe.ok) return probe;
  const label = adapterLabel(probe.adapter);
  if (probe.adapter.software && !allowSoftware) {
    return { ok: false, reason: `only a software adapter: ${label}; not chosen automatically (slower than the CPU backends), request 'webgpu' to use it` };
  }
  try {
    if (tf.findBackendFactory('webgpu') == null) {
      // Registers the backend on evaluation, only now that navigator.gpu exists.
      await import('@tensorflow/tfjs-backend-webgpu');
    }
    if (tf.findBackendFactory('webgpu') == null) {
      return { ok: false, reason: `@tensorflow/tfjs-backend-webgpu registered no 'webgpu' backend with our @tensorflow/tfjs ${tf.version_core} (version mismatch?)` };
    }
    await registerWebgpuFactory();
    if (!(await tf.setBackend('webgpu'))) return { ok: false, reason: `tf.setBackend('webgpu') failed on ${label}` };
    const device = (tf.backend() as unknown as { device?: WatchedDevice }).device;
    if (device) watchDeviceErrors(device);
  } catch (e) {
    return { ok: false, reason: `failed to initialize on ${label}: ${message(e)}` };
  }
  const driver = namedIcd ? `; Vulkan driver ${namedIcd}, named in VK_DRIVER_FILES` : '';
  return { ok: true, device: `${probe.adapter.software ? 'software GPU' : 'GPU'} (WebGPU through Dawn and Vulkan: ${label}${driver})`, adapter: probe.adapter };
}
