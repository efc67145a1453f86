/**
 * `npm run bench:gpu`: the standard UNet's training throughput on the GPU with TF.js 'webgpu'
 * (Dawn over Vulkan) and with PyTorch on CUDA (eager fp32) in the same run, and the ratio.
 * First it checks Vulkan (the loader, the driver manifests, NVIDIA's among them) and says what is
 * missing. Without a hardware adapter it says so and exits 0 after the report; --allow-software
 * runs the TF.js side on a software adapter (lavapipe) as a smoke test of the path, not of speed.
 * Options: --batch 64[,128...] --steps 20 --warmup 10 --model standard32|demo --python <exe>
 * --allow-software --no-torch --profile (one step's GPU time per kernel, from timestamp queries)
 * --kernels fused,stock (our WGSL kernels, tfjs's own, or both in turn; default fused)
 * --bind-cache on,off (bind groups reused across steps or created anew, or both in turn; default on)
 * --ema off,with-adam,after-adam (the step also updates the EMA of the weights, as the trainer's
 * does: in Adam's kernel, or after it; default off, as PyTorch's step here)
 * --null-device (Dawn's null device: every command is recorded and validated, none runs, so the
 * times are the CPU's cost of recording a step, the part that bounds a step on a fast GPU; it
 * needs no GPU, and the times of --profile read nothing there, only its counts)
 * --settle 10 (seconds of untimed steps before anything is timed, for the GPU's clocks and V8's
 * compiler; default 10, 0 on the null device) --profile-steps 3 (each profile is the step with the
 * median GPU time of this many; one profile per batch and set of flags)
 * --call-times (the CPU time inside Dawn's calls per step: queue submits, buffer writes and
 * creation, bind groups, encoders)
 * --replay on,off (the step replayed from its captured commands once steady, webgpuReplay.ts, as
 * the trainer does by default, or run normally, or both in turn; default on)
 * --variants 'FLAG=V,FLAG=V;FLAG=V' (extra timed runs, and profiles with --profile, with TF.js
 * flags, e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=60, IMMISCIBLE_WEBGPU_FLIPPED_CONV_DX=false for
 * tfjs's own conv input gradient, or IMMISCIBLE_WEBGPU_CONV_MM=false for tfjs's forward
 * convolutions; an IMMISCIBLE_ switch that is no TF.js flag, such as
 * IMMISCIBLE_WEBGPU_MERGE_SUBMITS=1, is set in the environment for its pass). Ends with one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { cpuBudget, describeCpuBudget } from '../src/trainer/cpuLimit';
import { selectBackend } from '../src/trainer/backend/select';
import { adapterLabel, findIcdFiles, findVulkanLoader, nameNvidiaIcd, probeWebgpu, type GpuAdapterDescription } from '../src/trainer/backend/webgpu';
import { bindGroupCacheOf, type BindGroupCacheStats } from '../src/trainer/backend/webgpuBindGroups';
import { adamGroupSize, registerWebgpuKernels, unregisterWebgpuKernels } from '../src/trainer/backend/webgpuKernels';
import { asBackend } from '../src/trainer/backend/webgpuRaw';
import * as tf from '@tensorflow/tfjs';
import { instrumentDawnCalls, type CallTime, type DawnCallTimes } from './dawnCallTimes';
import { countsOnly, formatGpuProfile, profileGpuStep, type GpuProfile } from './gpuProfile';
import type { ReplayerStatus } from '../src/trainer/backend/webgpuReplay';
import { median, MODELS, timeTorchUnet, unetBench, type EmaMode, type ModelSpec, type TorchTiming } from './unetBench';

function exists(p: string): boolean {
  try {
    return existsSync(p);
  } catch {
    return false;
  }
}

/** Shared libraries by soname, found through ldconfig's cache (Linux). */
function ldconfigHas(soname: string): boolean {
  const r = spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes(`${soname} `);
}

interface VulkanReport {
  nvidiaDriver: string | null;
  loader: string | null;
  icds: { file: string; kind: string }[];
  missing: string[];
}

/** What a Linux GPU server needs for Dawn's Vulkan, and what is missing, with the fix. */
function checkVulkan(): VulkanReport {
  const missing: string[] = [];
  let nvidiaDriver: string | null = null;
  try {
    nvidiaDriver = readFileSync('/proc/driver/nvidia/version', 'utf8').split('\n')[0].replace(/\s+/g, ' ').trim();
  } catch {
    nvidiaDriver = exists('/dev/nvidia0') ? '(device /dev/nvidia0 present; /proc/driver/nvidia/version unreadable)' : null;
  }
  const loader = findVulkanLoader();
  if (loader === null) missing.push('libvulkan.so.1, the Vulkan loader (Debian/Ubuntu: apt-get install libvulkan1)');
  const icds = findIcdFiles();
  if (icds.length === 0) missing.push('Vulkan driver manifests (ICD json under /usr/share/vulkan/icd.d or /etc/vulkan/icd.d)');
  if (nvidiaDriver && !icds.some((i) => i.kind === 'nvidia')) {
    missing.push(
      "NVIDIA's Vulkan ICD (nvidia_icd.json): installed with the driver's graphics libraries (libnvidia-gl); in a container NVIDIA_DRIVER_CAPABILITIES must include 'graphics'; a manifest elsewhere can be named with VK_DRIVER_FILES=/path/nvidia_icd.json",
    );
  }
  if (nvidiaDriver) {
    // NVIDIA's Vulkan driver loads through GLVND / EGL.
    for (const [so, pkg] of [
      ['libEGL.so.1', 'libegl1'],
      ['libGLdispatch.so.0', 'libglvnd0'],
    ] as const) {
      if (!ldconfigHas(so)) missing.push(`${so} (apt-get install ${pkg}), which NVIDIA's Vulkan driver loads`);
    }
  }
  return { nvidiaDriver, loader, icds: icds.map((i) => ({ file: i.file, kind: i.kind })), missing };
}

interface WebgpuTiming {
  ms: number[];
  /** Time until the step's kernels were all enqueued (JavaScript and Dawn on the CPU). */
  enqueueMs: number[];
  firstMs: number;
  params: number;
  /** With --call-times: Dawn's calls over the timed steps, per step. */
  calls: Record<string, CallTime> | null;
  /** With --replay on: the steps replayed, and why none were if so. */
  replayed: ReplayerStatus | null;
}

async function timeWebgpu(spec: ModelSpec, batch: number, warmup: number, steps: number, ema: EmaMode, replay: boolean, callTimes: DawnCallTimes | null): Promise<WebgpuTiming> {
  const bench = unetBench(spec, batch, ema, replay);
  const ms: number[] = [];
  const enqueueMs: number[] = [];
  let firstMs = 0;
  let prev: tf.Scalar | null = null;
  let last = performance.now();
  for (let i = 0; i < warmup + steps; i++) {
    if (i === warmup) callTimes?.reset();
    const t0 = performance.now();
    const norm = bench.step(i);
    const t1 = performance.now();
    // One read-back per step, as the trainer does (its loss), of the step before: the GPU runs
    // this one meanwhile. A step's time is the time between two read-backs.
    if (prev) {
      await prev.data();
      prev.dispose();
    }
    prev = norm;
    const now = performance.now();
    const dt = now - last;
    last = now;
    if (i === 0) firstMs = t1 - t0;
    if (i >= warmup) {
      ms.push(dt);
      enqueueMs.push(t1 - t0);
    }
  }
  if (prev) {
    await prev.data();
    prev.dispose();
  }
  const calls = callTimes ? Object.fromEntries(Object.entries(callTimes.snapshot()).map(([k, v]) => [k, { calls: v.calls / steps, ms: v.ms / steps }])) : null;
  const replayed = bench.replayStatus();
  bench.dispose();
  return { ms, enqueueMs, firstMs, params: bench.params, calls, replayed };
}

/**
 * Steps of one configuration, untimed, for `seconds`: the first configuration timed in a process
 * was up to 1.65x slower than the same one timed later (H200, 2026-11-27: batch 64 45.8 against
 * 27.8 ms), as the GPU's clocks rise from idle and V8 compiles the hot paths.
 */
async function settle(spec: ModelSpec, batch: number, ema: EmaMode, seconds: number): Promise<{ steps: number; lastMs: number }> {
  const bench = unetBench(spec, batch, ema);
  const end = performance.now() + seconds * 1000;
  let steps = 0;
  let lastMs = 0;
  while (performance.now() < end) {
    const t0 = performance.now();
    const norm = bench.step(steps++);
    await norm.data();
    norm.dispose();
    lastMs = performance.now() - t0;
  }
  bench.dispose();
  return { steps, lastMs };
}

/** The profile of the step whose GPU time is the median of `n` consecutive steps' (one step's varied 2x). */
async function medianProfile(spec: ModelSpec, batch: number, ema: EmaMode, n: number): Promise<GpuProfile> {
  const bench = unetBench(spec, batch, ema);
  tf.dispose(bench.step(0));
  const runs: GpuProfile[] = [];
  for (let i = 1; i <= n; i++) runs.push(await profileGpuStep(() => bench.step(i)));
  bench.dispose();
  return runs.sort((a, b) => a.gpuMs - b.gpuMs)[Math.floor((runs.length - 1) / 2)];
}

/** ' [FLAG=V,...]' for a variant's flags, '' for the defaults. */
function flagLabel(flags: Record<string, number | boolean>): string {
  return Object.keys(flags).length ? ` [${Object.entries(flags).map(([k, v]) => `${k}=${v}`).join(',')}]` : '';
}

/** 'A=1,B=false' as TF.js flag values. */
function parseFlags(s: string): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const kv of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!k || v === undefined) throw new Error(`--variants: expected FLAG=VALUE, got '${kv}'`);
    out[k] = v === 'true' ? true : v === 'false' ? false : Number(v);
    if (typeof out[k] === 'number' && !Number.isFinite(out[k])) throw new Error(`--variants: ${k} needs a number, true or false, got '${v}'`);
  }
  return out;
}

/**
 * How a variant's flags are set: a TF.js flag through tf.env(); an IMMISCIBLE_* switch that is
 * no TF.js flag (IMMISCIBLE_WEBGPU_MERGE_SUBMITS, read when a step is captured) in the
 * environment. `defaults`: the TF.js flags' values before any variant.
 */
function variantFlags(variants: readonly Record<string, number | boolean>[]): { defaults: Record<string, number | boolean>; apply: (flags: Record<string, number | boolean>) => void } {
  const keys = Object.keys(Object.assign({}, ...variants) as object);
  const isTfFlag = (k: string): boolean => {
    try {
      tf.env().get(k);
      return true;
    } catch {
      return false;
    }
  };
  const envKeys = keys.filter((k) => !isTfFlag(k));
  const unknown = envKeys.filter((k) => !k.startsWith('IMMISCIBLE_'));
  if (unknown.length) throw new Error(`--variants: ${unknown.join(', ')}: neither a TF.js flag nor an IMMISCIBLE_ environment switch`);
  const defaults = Object.fromEntries(keys.filter((k) => !envKeys.includes(k)).map((k) => [k, tf.env().get(k) as number | boolean]));
  const envBefore = Object.fromEntries(envKeys.map((k) => [k, process.env[k]]));
  const apply = (flags: Record<string, number | boolean>): void => {
    tf.env().setFlags({ ...defaults, ...Object.fromEntries(Object.entries(flags).filter(([k]) => !envKeys.includes(k))) });
    for (const k of envKeys) {
      const v = k in flags ? String(flags[k]) : envBefore[k];
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
  return { defaults, apply };
}

/** PyTorch with CUDA: the first of the given / usual interpreters whose torch sees a GPU. */
function timeTorchCuda(spec: ModelSpec, batch: number, warmup: number, steps: number, python: string | undefined): TorchTiming | string {
  const candidates = python ? [python] : ['python3', '/usr/bin/python3', 'python'];
  const seen: string[] = [];
  let exe: string | null = null;
  for (const c of candidates) {
    const probe = spawnSync(c, ['-c', 'import torch; print(torch.__version__, torch.cuda.is_available())'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      seen.push(`${c}: ${probe.error ? 'not found' : 'no torch'}`);
      continue;
    }
    const [version, cuda] = probe.stdout.trim().split(' ');
    if (cuda === 'True') {
      exe = c;
      break;
    }
    seen.push(`${c}: torch ${version} without CUDA`);
  }
  if (!exe) return `no PyTorch with CUDA (${seen.join('; ')})`;
  return timeTorchUnet(exe, spec, batch, warmup, steps, { threads: cpuBudget().cpus, device: 'cuda' });
}

interface WebgpuResult {
  batch: number;
  kernels: string;
  bindCache: 'on' | 'off';
  ema: EmaMode;
  replay: 'on' | 'off';
  /** With replay on: steps replayed and run normally over the row's steps, dispatches, writes and submits per replay, why none where so. */
  replayed: ReplayerStatus | null;
  /** Over the warm-up and timed steps of this row. */
  bindGroups: BindGroupCacheStats | null;
  flags: Record<string, number | boolean>;
  imagesPerSec: number;
  msPerStep: number;
  enqueueMsPerStep: number;
  firstStepMs: number;
  params: number;
  /** With --call-times: Dawn's calls per timed step, count and CPU ms. */
  dawnCalls: Record<string, CallTime> | null;
}
interface TorchResult {
  batch: number;
  imagesPerSec: number;
  msPerStep: number;
  params: number;
  version: string;
  device: string;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'standard32' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '10' },
      python: { type: 'string' },
      'allow-software': { type: 'boolean', default: false },
      'no-torch': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      variants: { type: 'string', default: '' },
      kernels: { type: 'string', default: 'fused' },
      'bind-cache': { type: 'string', default: 'on' },
      ema: { type: 'string', default: 'off' },
      replay: { type: 'string', default: 'on' },
      'null-device': { type: 'boolean', default: false },
      settle: { type: 'string' },
      'profile-steps': { type: 'string', default: '3' },
      'call-times': { type: 'boolean', default: false },
    },
  });
  const nullDevice = values['null-device'] === true;
  if (nullDevice) process.env.IMMISCIBLE_DAWN_FLAGS = [process.env.IMMISCIBLE_DAWN_FLAGS, 'backend=null'].filter(Boolean).join(',');
  const spec = MODELS[values.model ?? ''];
  if (!spec) throw new Error(`unknown model ${values.model}; known: ${Object.keys(MODELS).join(', ')}`);
  const batches = (values.batch ?? '64').split(',').map(Number);
  if (batches.some((b) => !Number.isInteger(b) || b < 1)) throw new Error(`--batch: expected positive integers, got '${values.batch}'`);
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const settleSeconds = Number(values.settle ?? (nullDevice ? 0 : 10));
  if (!Number.isFinite(settleSeconds) || settleSeconds < 0) throw new Error(`--settle: expected seconds (0 or more), got '${values.settle}'`);
  const profileSteps = Number(values['profile-steps']);
  if (!Number.isInteger(profileSteps) || profileSteps < 1) throw new Error(`--profile-steps: expected a positive integer, got '${values['profile-steps']}'`);
  const variants = (values.variants ?? '').split(';').map((v) => v.trim()).filter(Boolean).map(parseFlags);
  const kernelSets = (values.kernels ?? 'fused').split(',').map((k) => k.trim());
  for (const k of kernelSets) if (k !== 'fused' && k !== 'stock') throw new Error(`--kernels: fused or stock, got '${k}'`);
  const cacheSets = (values['bind-cache'] ?? 'on').split(',').map((k) => k.trim());
  for (const c of cacheSets) if (c !== 'on' && c !== 'off') throw new Error(`--bind-cache: on or off, got '${c}'`);
  const emaModes = (values.ema ?? 'off').split(',').map((k) => k.trim()) as EmaMode[];
  for (const e of emaModes) if (!['off', 'with-adam', 'after-adam'].includes(e)) throw new Error(`--ema: off, with-adam or after-adam, got '${e}'`);
  const replaySets = (values.replay ?? 'on').split(',').map((k) => k.trim()) as ('on' | 'off')[];
  for (const r of replaySets) if (r !== 'on' && r !== 'off') throw new Error(`--replay: on or off, got '${r}'`);
  console.log(`bench:gpu on ${os.hostname()}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}`);
  const quota = describeCpuBudget(cpuBudget());
  // The CPU records each step: a quota below the cores slows ours, so say it where it applies.
  if (quota) console.log(`${quota}; PyTorch's threads too`);
  console.log(`model ${spec.name}, batch ${batches.join(', ')}, ${steps} timed steps after ${warmup} warm-up`);

  // Where the driver is mounted outside the loader's path: named before anything starts Vulkan.
  const named = nameNvidiaIcd();
  if (named) console.log(`NVIDIA's Vulkan driver outside the loader's search path: named in VK_DRIVER_FILES (${named})`);
  const vk = checkVulkan();
  console.log(`NVIDIA driver: ${vk.nvidiaDriver ?? 'none (no /proc/driver/nvidia/version)'}`);
  console.log(`Vulkan loader: ${vk.loader === null ? 'missing' : vk.loader || 'n/a on this OS'}`);
  console.log(`Vulkan drivers: ${vk.icds.length ? vk.icds.map((i) => `${i.file} (${i.kind})`).join(', ') : 'none'}`);
  for (const m of vk.missing) console.log(`missing: ${m}`);

  const probe = await probeWebgpu();
  let adapter: GpuAdapterDescription | null = null;
  const webgpu: WebgpuResult[] = [];
  let webgpuSkipped: string | null = null;
  let device = '';
  const profiles: Record<string, GpuProfile> = {};
  const defaultFlags: Record<string, number | boolean> = {};
  if (!probe.ok) {
    webgpuSkipped = `no WebGPU adapter: ${probe.reason}`;
  } else {
    adapter = probe.adapter;
    console.log(`WebGPU adapter: ${adapterLabel(adapter)}`);
    if (nullDevice) console.log("Dawn's null device: commands are recorded and validated but none runs; the times below are the CPU's cost of recording a step");
    if (adapter.software && !values['allow-software'] && !nullDevice) webgpuSkipped = 'no hardware WebGPU adapter (only a software one; --allow-software runs on it as a smoke test)';
  }
  if (webgpuSkipped) {
    console.log(`webgpu: skipped: ${webgpuSkipped}`);
  } else {
    device = (await selectBackend('webgpu')).device;
    console.log(`webgpu device: ${device}`);
    const gpuDevice = (tf.backend() as unknown as { device: { limits: Record<string, number> } }).device;
    console.log(`storage buffers per shader stage: ${gpuDevice.limits.maxStorageBuffersPerShaderStage}; Adam updates ${adamGroupSize(asBackend(tf.backend()), false)} tensors per dispatch (${adamGroupSize(asBackend(tf.backend()), true)} with the EMA)`);
    const setFlags = variantFlags(variants);
    Object.assign(defaultFlags, setFlags.defaults);
    const cache = bindGroupCacheOf((tf.backend() as unknown as { device: object }).device);
    const callTimes = values['call-times'] ? instrumentDawnCalls((tf.backend() as unknown as { device: object }).device) : null;
    if (settleSeconds > 0) {
      if (kernelSets[0] === 'stock') unregisterWebgpuKernels();
      const s = await settle(spec, batches[0], emaModes[0], settleSeconds);
      console.log(`settled: ${s.steps} untimed steps of batch ${batches[0]} in ${settleSeconds} s (the last ${s.lastMs.toFixed(1)} ms)`);
    }
    for (const kernels of kernelSets) {
      if (kernels === 'stock') unregisterWebgpuKernels();
      else if (!registerWebgpuKernels().ok) throw new Error('--kernels fused: our WGSL kernels could not be registered');
      for (const bindCache of cacheSets as ('on' | 'off')[]) {
        if (bindCache === 'on' && !cache) throw new Error('--bind-cache on: the bind group cache is not installed (IMMISCIBLE_WEBGPU_BIND_CACHE=0?)');
        cache?.setEnabled(bindCache === 'on');
        for (const flags of [{}, ...variants]) {
          setFlags.apply(flags);
          for (const batch of batches) for (const ema of emaModes) for (const replay of replaySets) {
            const before = cache?.stats() ?? null;
            const r = await timeWebgpu(spec, batch, warmup, steps, ema, replay === 'on', callTimes);
            const after = cache?.stats() ?? null;
            const bindGroups = before && after ? { hits: after.hits - before.hits, misses: after.misses - before.misses, uncached: after.uncached - before.uncached, dropped: after.dropped - before.dropped, clears: after.clears - before.clears, entries: after.entries } : null;
            const ms = median(r.ms);
            const row: WebgpuResult = { batch, kernels, bindCache, ema, replay, replayed: r.replayed, bindGroups, flags, imagesPerSec: (batch / ms) * 1000, msPerStep: ms, enqueueMsPerStep: median(r.enqueueMs), firstStepMs: r.firstMs, params: r.params, dawnCalls: r.calls };
            webgpu.push(row);
            const label = flagLabel(flags);
            const reuse = bindGroups && bindCache === 'on' ? `; bind groups: ${bindGroups.hits} reused, ${bindGroups.misses} made, ${bindGroups.uncached} uncached` : '';
            const rp = r.replayed;
            const replayNote = rp ? (rp.reason ? `; not replayed: ${rp.reason}` : `; replayed ${rp.replayed} of ${rp.replayed + rp.normal} steps (${rp.dispatches} dispatches, ${rp.writes} writes, ${rp.submits} submits each)${rp.refusal ? `; last refusal: ${rp.refusal}` : ''}`) : '';
            console.log(`webgpu ${kernels} kernels, bind cache ${bindCache}${ema === 'off' ? '' : `, EMA ${ema}`}${replay === 'on' ? ', replayed' : ''}, batch ${batch}${label}: ${ms.toFixed(1)} ms/step (enqueue ${row.enqueueMsPerStep.toFixed(1)} ms), ${row.imagesPerSec.toFixed(1)} images/s (first step, with shader compiles: ${r.firstMs.toFixed(0)} ms)${reuse}${replayNote}`);
            if (r.calls) {
              const busy = Object.entries(r.calls).filter(([, c]) => c.calls > 0).sort((a, b) => b[1].ms - a[1].ms);
              console.log(`  Dawn's calls per step: ${busy.map(([k, c]) => `${k} ${c.calls.toFixed(0)} x = ${c.ms.toFixed(2)} ms`).join(', ')}`);
            }
          }
        }
      }
      cache?.setEnabled(true);
      // One profile per set of flags, so that a variant's kernels can be compared with the default's.
      for (const flags of values.profile ? [{}, ...variants] : []) {
        setFlags.apply(flags);
        for (const batch of batches) {
          const measured = await medianProfile(spec, batch, emaModes[0], profileSteps);
          const p = nullDevice ? countsOnly(measured) : measured;
          const label = flagLabel(flags);
          profiles[`${kernels} batch ${batch}${label}`] = p;
          console.log(`${kernels} kernels, batch ${batch}${label} (median of ${profileSteps} steps' GPU time):`);
          for (const line of formatGpuProfile(p, 16, !nullDevice)) console.log(line);
        }
      }
      setFlags.apply({});
    }
  }

  const torch: TorchResult[] = [];
  let torchSkipped: string | null = values['no-torch'] ? '--no-torch' : nullDevice ? '--null-device (no GPU work to compare)' : null;
  for (const batch of torchSkipped ? [] : batches) {
    const t = timeTorchCuda(spec, batch, warmup, steps, values.python);
    if (typeof t === 'string') {
      torchSkipped = t;
      break;
    }
    const ms = median(t.ms);
    torch.push({ batch, imagesPerSec: (batch / ms) * 1000, msPerStep: ms, params: t.params, version: t.torch, device: t.device });
    console.log(`pytorch ${t.torch} (CUDA, eager fp32) batch ${batch}: ${ms.toFixed(1)} ms/step, ${((batch / ms) * 1000).toFixed(1)} images/s on ${t.device}`);
    const ours = webgpu.find((w) => w.batch === batch);
    if (ours && ours.params !== t.params) console.log(`warning: parameter counts differ: tfjs ${ours.params}, torch ${t.params}`);
  }
  if (torchSkipped) console.log(`pytorch: skipped: ${torchSkipped}`);
  const ratios: Record<string, number> = {};
  /** The same with the step replayed (--replay on), where timed. */
  const replayRatios: Record<string, number> = {};
  for (const t of torch) {
    for (const replay of ['off', 'on'] as const) {
      // Every pass with the default flags (a variant that sets a flag to its default is a repeat):
      // their median, and each pass's ratio, since the first pass in a process tends to be slower.
      const passes = webgpu.filter((w) => w.batch === t.batch && w.kernels === kernelSets[0] && w.bindCache === cacheSets[0] && w.ema === 'off' && w.replay === replay && Object.entries(w.flags).every(([k, v]) => defaultFlags[k] === v)).map((w) => w.imagesPerSec);
      if (!passes.length) continue;
      const r = median(passes) / t.imagesPerSec;
      if (replay === 'off') ratios[t.batch] = r;
      else replayRatios[t.batch] = r;
      const each = passes.length > 1 ? ` (median of ${passes.length} passes with the default flags: ${passes.map((p) => (p / t.imagesPerSec).toFixed(3)).join(', ')})` : '';
      console.log(`ratio webgpu (${kernelSets[0]} kernels${replay === 'on' ? ', step replayed' : ''}) / pytorch at batch ${t.batch}: ${r.toFixed(3)}${each} (goal: at least 0.5)`);
    }
  }
  // The anchor of the bind group cache: the same step with every bind group created anew, same run.
  const bindCacheRatios: Record<string, number> = {};
  for (const on of webgpu.filter((w) => w.bindCache === 'on' && Object.keys(w.flags).length === 0)) {
    const off = webgpu.find((w) => w.bindCache === 'off' && w.batch === on.batch && w.kernels === on.kernels && w.ema === on.ema && w.replay === on.replay && Object.keys(w.flags).length === 0);
    if (!off) continue;
    const ema = on.ema === 'off' ? '' : `, EMA ${on.ema}`;
    bindCacheRatios[`${on.kernels} ${on.batch}${ema}`] = off.msPerStep / on.msPerStep;
    console.log(`ratio ms/step bind groups made anew / reused, ${on.kernels} kernels${ema}, batch ${on.batch}: ${(off.msPerStep / on.msPerStep).toFixed(2)} (enqueue ${off.enqueueMsPerStep.toFixed(1)} / ${on.enqueueMsPerStep.toFixed(1)} ms)`);
  }
  console.log(
    JSON.stringify({
      bench: 'gpu',
      nullDevice,
      time: new Date().toISOString(),
      host: os.hostname(),
      model: values.model,
      batches,
      steps,
      warmup,
      vulkan: vk,
      adapter,
      device,
      webgpu,
      webgpuSkipped,
      pytorch: torch,
      pytorchSkipped: torchSkipped,
      ratios,
      replayRatios,
      bindCacheRatios,
      profiles,
    }),
  );
  // A process holding a Dawn device may linger: the report is complete.
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
