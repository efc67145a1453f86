/**
 * `npm run bench:gpu`: the standard UNet's training throughput on the GPU with TF.js 'webgpu'
 * (Dawn over Vulkan) and with PyTorch on CUDA (eager fp32) in the same run, and the ratio.
 * First it checks Vulkan (the loader, the driver manifests, NVIDIA's among them) and says what is
 * missing. Without a hardware adapter it says so and exits 0 after the report; --allow-software
 * runs the TF.js side on a software adapter (lavapipe) as a smoke test of the path, not of speed.
 * Options: --batch 64 --steps 20 --warmup 3 --model standard32|demo --python <exe> --allow-software
 * Ends with one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/trainer/backend/select';
import { adapterLabel, findIcdFiles, findVulkanLoader, probeWebgpu, type GpuAdapterDescription } from '../src/trainer/backend/webgpu';
import { median, MODELS, timeTorchUnet, unetBench, type ModelSpec, type TorchTiming } from './unetBench';

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

async function timeWebgpu(spec: ModelSpec, batch: number, warmup: number, steps: number): Promise<{ ms: number[]; firstMs: number; params: number }> {
  const bench = unetBench(spec, batch);
  const ms: number[] = [];
  let firstMs = 0;
  for (let i = 0; i < warmup + steps; i++) {
    const t0 = performance.now();
    const norm = bench.step(i);
    // One read-back per step, as the trainer does (its loss); it waits for the GPU.
    await norm.data();
    norm.dispose();
    const dt = performance.now() - t0;
    if (i === 0) firstMs = dt;
    if (i >= warmup) ms.push(dt);
  }
  bench.dispose();
  return { ms, firstMs, params: bench.params };
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
  return timeTorchUnet(exe, spec, batch, warmup, steps, { threads: os.cpus().length, device: 'cuda' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'standard32' },
      batch: { type: 'string', default: '64' },
      steps: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '3' },
      python: { type: 'string' },
      'allow-software': { type: 'boolean', default: false },
    },
  });
  const spec = MODELS[values.model ?? ''];
  if (!spec) throw new Error(`unknown model ${values.model}; known: ${Object.keys(MODELS).join(', ')}`);
  const batch = Number(values.batch);
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  console.log(`bench:gpu on ${os.hostname()}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}`);
  console.log(`model ${spec.name}, batch ${batch}, ${steps} timed steps after ${warmup} warm-up`);

  const vk = checkVulkan();
  console.log(`NVIDIA driver: ${vk.nvidiaDriver ?? 'none (no /proc/driver/nvidia/version)'}`);
  console.log(`Vulkan loader: ${vk.loader === null ? 'missing' : vk.loader || 'n/a on this OS'}`);
  console.log(`Vulkan drivers: ${vk.icds.length ? vk.icds.map((i) => `${i.file} (${i.kind})`).join(', ') : 'none'}`);
  for (const m of vk.missing) console.log(`missing: ${m}`);

  const probe = await probeWebgpu();
  let adapter: GpuAdapterDescription | null = null;
  let webgpu: { imagesPerSec: number; msPerStep: number; firstStepMs: number; params: number; device: string } | null = null;
  let webgpuSkipped: string | null = null;
  if (!probe.ok) {
    webgpuSkipped = `no WebGPU adapter: ${probe.reason}`;
  } else {
    adapter = probe.adapter;
    console.log(`WebGPU adapter: ${adapterLabel(adapter)}`);
    if (adapter.software && !values['allow-software']) webgpuSkipped = 'no hardware WebGPU adapter (only a software one; --allow-software runs on it as a smoke test)';
  }
  if (webgpuSkipped) {
    console.log(`webgpu: skipped: ${webgpuSkipped}`);
  } else {
    const choice = await selectBackend('webgpu');
    const r = await timeWebgpu(spec, batch, warmup, steps);
    const ms = median(r.ms);
    webgpu = { imagesPerSec: (batch / ms) * 1000, msPerStep: ms, firstStepMs: r.firstMs, params: r.params, device: choice.device };
    console.log(`webgpu: ${ms.toFixed(1)} ms/step, ${webgpu.imagesPerSec.toFixed(1)} images/s (first step, with shader compiles: ${r.firstMs.toFixed(0)} ms) on ${choice.device}`);
  }

  const torch = timeTorchCuda(spec, batch, warmup, steps, values.python);
  let torchOut: { imagesPerSec: number; msPerStep: number; params: number; version: string; device: string } | null = null;
  if (typeof torch === 'string') {
    console.log(`pytorch: skipped: ${torch}`);
  } else {
    const ms = median(torch.ms);
    torchOut = { imagesPerSec: (batch / ms) * 1000, msPerStep: ms, params: torch.params, version: torch.torch, device: torch.device };
    console.log(`pytorch ${torch.torch} (CUDA, eager fp32): ${ms.toFixed(1)} ms/step, ${torchOut.imagesPerSec.toFixed(1)} images/s on ${torch.device}`);
    if (webgpu && webgpu.params !== torch.params) console.log(`warning: parameter counts differ: tfjs ${webgpu.params}, torch ${torch.params}`);
  }
  const ratio = webgpu && torchOut ? webgpu.imagesPerSec / torchOut.imagesPerSec : null;
  if (ratio !== null) console.log(`ratio webgpu / pytorch: ${ratio.toFixed(3)} (goal: at least 0.5)`);
  console.log(
    JSON.stringify({
      bench: 'gpu',
      time: new Date().toISOString(),
      host: os.hostname(),
      model: values.model,
      batch,
      steps,
      warmup,
      vulkan: vk,
      adapter,
      webgpu,
      webgpuSkipped,
      pytorch: torchOut,
      pytorchSkipped: typeof torch === 'string' ? torch : null,
      ratio,
    }),
  );
  // A process holding a Dawn device may linger: the report is complete.
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
