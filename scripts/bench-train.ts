/**
 * `npm run bench:train`: the training step time of the same UNet per available TF.js backend,
 * and in Debian's PyTorch (/usr/bin/python3, 2 threads) in the same run, with the ratio.
 * Options: --models demo,standard32 --batches 16,64 --steps N --warmup N --backends wasm,cpu [--cpu-all]
 *   --kernels native,portable (wasm with the native addon's kernels, or without)
 *   --profile (per-kernel exclusive time of each case)  --memory 128 (the standard UNet at that
 *   batch, whole or in micro-batches, with the peak wasm heap and RSS)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendRequest } from '../src/trainer/backend/select';
import { formatProfile, profileKernels, type KernelProfiler, type KernelTime } from './kernelProfile';
import { median, MODELS, timeTorchUnet, unetBench, type ModelSpec } from './unetBench';

interface Timed {
  ms: number[];
  params: number;
  profile?: KernelTime[];
}

/** Peak memory of this process: the wasm heap only grows, so its size now is its peak. */
function peakMemory(): { heapMB: number | null; rssMB: number } {
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return { heapMB: wasm ? wasm.HEAPU8.length / 2 ** 20 : null, rssMB: process.resourceUsage().maxRSS / 1024 };
}

async function timeTfjs(spec: ModelSpec, batch: number, warmup: number, steps: number, profile = false, micro = 1): Promise<Timed> {
  const bench = unetBench(spec, batch);
  const ms: number[] = [];
  let profiler: KernelProfiler | null = null;
  for (let i = 0; i < warmup + steps; i++) {
    if (profile && i === warmup) profiler = profileKernels(tf.getBackend());
    const t0 = performance.now();
    const norm = bench.step(i, micro);
    await norm.data();
    norm.dispose();
    if (i >= warmup) ms.push(performance.now() - t0);
  }
  bench.dispose();
  return { ms, params: bench.params, profile: profiler?.report().map((r) => ({ ...r, ms: r.ms / steps, calls: r.calls / steps })) };
}

function timeTorch(spec: ModelSpec, batch: number, warmup: number, steps: number): { ms: number[]; params: number; version: string } | string {
  const py = '/usr/bin/python3';
  const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return 'PyTorch not installed (apt-get install python3-torch)';
  const out = timeTorchUnet(py, spec, batch, warmup, steps, { threads: 2 });
  return typeof out === 'string' ? out : { ms: out.ms, params: out.params, version: out.torch };
}

/**
 * The whole trainer step (data, noise, assignment, forward/backward, Adam, EMA, logging) of the
 * demo config with each assignment mode, run through the real CLI; step time from metrics.jsonl.
 */
function modeSteps(modes: string[], steps: number): Record<string, { msPerStep: number; assignMs: number }> {
  const out: Record<string, { msPerStep: number; assignMs: number }> = {};
  if (!modes.length) return out;
  const trainer = path.resolve(__dirname, 'trainer.js');
  const config = path.resolve(__dirname, '../configs/mnist-immiscible.json');
  const runs = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-modes-'));
  for (const mode of modes) {
    const r = spawnSync(
      process.execPath,
      [trainer, 'train', '--config', config, '--runs', runs, '--name', mode, '--set', `assignment.mode=${mode}`, '--set', `training.steps=${steps}`, '--set', 'training.sampleEvery=0', '--set', 'training.checkpointEvery=0', '--set', 'sampling.count=1', '--set', 'sampling.steps=1'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error(`trainer failed for mode ${mode}: ${r.stderr}`);
    const dir = fs.readdirSync(runs).map((d) => path.join(runs, d)).find((d) => d.includes(`-${mode}-`));
    const lines = fs.readFileSync(path.join(dir as string, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { wallTime: number; assign: { ms: number } });
    // Skip the first 5 steps (warm-up), then the median step duration.
    const d = lines.slice(5).map((m, i) => (m.wallTime - lines[i + 4].wallTime) * 1000);
    out[mode] = { msPerStep: median(d), assignMs: median(lines.slice(5).map((m) => m.assign.ms)) };
    console.log(`trainer step, demo config, batch 32, assignment ${mode.padEnd(6)} ${out[mode].msPerStep.toFixed(0).padStart(5)} ms/step (assignment ${out[mode].assignMs.toFixed(1)} ms)`);
  }
  fs.rmSync(runs, { recursive: true, force: true });
  return out;
}

interface CellResult {
  ms: number;
  params: number;
  backend: string;
  device: string;
  profile?: KernelTime[];
  heapMB: number | null;
  rssMB: number;
}

/** One case in a fresh process, so that a wasm heap exhausted by one case cannot spoil the next. */
function runCell(cell: string, kernels: string, profile: boolean): CellResult | string {
  const env = { ...process.env, ...(kernels === 'portable' ? { IMMISCIBLE_NATIVE: '0' } : {}) };
  const r = spawnSync(process.execPath, [__filename, '--cell', cell, ...(profile ? ['--profile'] : [])], { encoding: 'utf8', env });
  if (r.status !== 0) return (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 120);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as CellResult;
}

const mb = (x: number | null): string => (x === null ? 'n/a' : `${x.toFixed(0)} MB`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'demo,standard32' },
      batches: { type: 'string', default: '16,64' },
      steps: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '2' },
      backends: { type: 'string', default: 'wasm,cpu' },
      kernels: { type: 'string', default: 'native' },
      profile: { type: 'boolean', default: false },
      memory: { type: 'string', default: '128' },
      'cpu-all': { type: 'boolean', default: false },
      cell: { type: 'string' },
      modes: { type: 'string', default: 'none,linear,knn' },
      'mode-steps': { type: 'string', default: '30' },
    },
  });
  if (values.cell) {
    const [key, batch, backend, n, w, micro] = values.cell.split(':');
    const choice = await selectBackend(backend as BackendRequest);
    const r = await timeTfjs(MODELS[key], Number(batch), Number(w), Number(n), values.profile, Number(micro ?? 1));
    const out: CellResult = { ms: median(r.ms), params: r.params, backend: choice.name, device: choice.device, profile: r.profile, ...peakMemory() };
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const steps = Number(values.steps);
  const warmup = Number(values.warmup);
  const kernelSets = (values.kernels ?? 'native').split(',').filter(Boolean);
  console.log(`bench:train on ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString()}`);
  const results: Record<string, unknown>[] = [];
  for (const key of (values.models ?? '').split(',').filter(Boolean)) {
    const spec = MODELS[key];
    if (!spec) throw new Error(`unknown model ${key}; known: ${Object.keys(MODELS).join(', ')}`);
    for (const batch of (values.batches ?? '').split(',').map(Number)) {
      const torch = timeTorch(spec, batch, warmup, steps);
      const torchMs = typeof torch === 'string' ? null : median(torch.ms);
      for (const b of (values.backends ?? '').split(',') as BackendRequest[]) {
        // The plain-JS backend takes ~50 s per step at batch 16 here: one step of the smallest case.
        const slow = b === 'cpu' && !values['cpu-all'];
        if (slow && (key !== 'demo' || batch > 16)) {
          console.log(`${spec.name.padEnd(36)} batch ${String(batch).padStart(3)}  cpu   skipped (one step of the demo model at batch 16 only; --cpu-all for all)`);
          continue;
        }
        for (const kernels of b === 'wasm' ? kernelSets : ['default']) {
          const label = b === 'wasm' ? `${b} ${kernels}` : b;
          const cell = runCell(`${key}:${batch}:${b}:${slow ? 1 : steps}:${slow ? 0 : warmup}:1`, kernels, values.profile);
          if (typeof cell === 'string') {
            console.log(`${spec.name.padEnd(36)} batch ${String(batch).padStart(3)}  ${label.padEnd(14)} failed: ${cell}`);
            results.push({ model: key, batch, backend: b, kernels, error: cell, torchMs });
            continue;
          }
          const ratio = torchMs ? cell.ms / torchMs : null;
          if (typeof torch !== 'string' && torch.params !== cell.params) throw new Error(`parameter counts differ: tfjs ${cell.params}, torch ${torch.params}`);
          console.log(
            `${spec.name.padEnd(36)} batch ${String(batch).padStart(3)}  ${label.padEnd(14)} ${cell.ms.toFixed(0).padStart(6)} ms/step` +
              (torchMs ? `   torch ${torchMs.toFixed(0).padStart(5)} ms/step   ratio ${ratio?.toFixed(2)}x` : `   (${torch as string})`) +
              `   peak heap ${mb(cell.heapMB)}, RSS ${mb(cell.rssMB)}`,
          );
          if (cell.profile) for (const line of formatProfile(cell.profile)) console.log(line);
          results.push({ model: key, params: cell.params, batch, backend: cell.backend, kernels, device: cell.device, ms: cell.ms, torchMs, ratio, heapMB: cell.heapMB, rssMB: cell.rssMB, profile: cell.profile?.slice(0, 14) });
        }
      }
    }
  }
  const memory = memoryCases(Number(values.memory), kernelSets[0] ?? 'native');
  const modes = modeSteps((values.modes ?? '').split(',').filter(Boolean), Number(values['mode-steps']));
  const anchor = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  console.log(JSON.stringify({ anchor: anchor.status === 0 ? `torch ${anchor.stdout.trim()} (2 threads)` : null, results, memory, modes }));
}

/**
 * The standard UNet at a large batch (one step after one warm-up): the whole batch at once, then
 * in 2, 4, ... micro-batches (gradient accumulation) until one fits, with the peak memory of each.
 */
function memoryCases(batch: number, kernels: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (!batch) return out;
  for (let micro = 1; micro <= batch; micro *= 2) {
    const cell = runCell(`standard32:${batch}:wasm:1:1:${micro}`, kernels, false);
    const what = `standard32 batch ${batch} as ${micro} x ${batch / micro}`;
    if (typeof cell === 'string') {
      console.log(`memory: ${what.padEnd(32)} failed: ${cell}`);
      out.push({ batch, micro, error: cell });
      continue;
    }
    console.log(`memory: ${what.padEnd(32)} ${cell.ms.toFixed(0).padStart(6)} ms/step   peak wasm heap ${mb(cell.heapMB)}, peak RSS ${mb(cell.rssMB)}`);
    out.push({ batch, micro, ms: cell.ms, heapMB: cell.heapMB, rssMB: cell.rssMB });
    break;
  }
  return out;
}

main().catch((e: unknown) => {
  console.error((e as Error).message);
  process.exitCode = 1;
});
