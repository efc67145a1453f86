/**
 * One training step's GPU time per kernel on the 'webgpu' backend, for `npm run bench:gpu --
 * --profile`. tf.profile times every kernel with WebGPU timestamp queries (each kernel's shader
 * programs in their own compute pass), so the times are the GPU's own, not the wall clock's; the
 * step also runs far slower than unprofiled, which is why it is separate from the timed steps.
 * Where the device has no 'timestamp-query' feature every time reads 0 and the report says so.
 */
import * as tf from '@tensorflow/tfjs';

export interface GpuKernelTime {
  kernel: string;
  calls: number;
  ms: number;
  /** The shader programs it ran, with their GPU time. */
  programs: Record<string, { dispatches: number; ms: number }>;
}

export interface GpuProfile {
  timestampQuery: boolean;
  kernels: GpuKernelTime[];
  dispatches: number;
  gpuMs: number;
}

/** "Conv2DMMProgram: 0.12, BinaryOpProgram: 0.01" (tfjs-backend-webgpu's extra profile info). */
function parsePrograms(extra: string): { name: string; ms: number }[] {
  return extra
    .split(', ')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const i = part.lastIndexOf(': ');
      return { name: i < 0 ? part : part.slice(0, i), ms: i < 0 ? 0 : Number(part.slice(i + 2)) };
    });
}

/** Profiles `run` (which must return a tensor it owns; it is disposed here). */
export async function profileGpuStep(run: () => tf.Tensor): Promise<GpuProfile> {
  const backend = tf.backend() as unknown as { supportTimestampQuery?: boolean };
  // tfjs would read every output back to check it for NaN in debug mode: keep the step's readback single.
  const check = tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS');
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  let out: tf.Tensor | null = null;
  try {
    const info = await tf.profile(() => {
      out = run();
      return out;
    });
    const byKernel = new Map<string, GpuKernelTime>();
    let dispatches = 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const row = byKernel.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0, programs: {} };
      row.calls += 1;
      row.ms += ms;
      for (const p of parsePrograms(typeof k.extraInfo === 'string' ? k.extraInfo : '')) {
        const prog = row.programs[p.name] ?? { dispatches: 0, ms: 0 };
        prog.dispatches += 1;
        prog.ms += p.ms;
        row.programs[p.name] = prog;
        dispatches += 1;
      }
      byKernel.set(k.name, row);
    }
    const kernels = [...byKernel.values()].sort((a, b) => b.ms - a.ms);
    return { timestampQuery: backend.supportTimestampQuery === true, kernels, dispatches, gpuMs: kernels.reduce((s, r) => s + r.ms, 0) };
  } finally {
    tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', check);
    if (out) tf.dispose(out);
  }
}

/** The profile with its times zeroed and its kernels by calls (Dawn's null device: its timestamps are garbage, the counts are right). */
export function countsOnly(p: GpuProfile): GpuProfile {
  return {
    ...p,
    gpuMs: 0,
    kernels: p.kernels.map((k) => ({ ...k, ms: 0, programs: Object.fromEntries(Object.entries(k.programs).map(([n, v]) => [n, { ...v, ms: 0 }])) })).sort((a, b) => b.calls - a.calls),
  };
}

/** The profile as lines: kernel, calls, dispatches, GPU ms, share; its top programs. */
export function formatGpuProfile(p: GpuProfile, top = 16, times = true): string[] {
  if (!times) return [`Kernels and dispatches per step (no GPU times on this device): ${p.dispatches} dispatches`, ...formatGpuProfile(countsOnly(p), top).slice(1)];
  const lines = [`GPU time per kernel, one step (timestamp queries: ${p.timestampQuery ? 'yes' : 'NO, times read 0'}): ${p.gpuMs.toFixed(2)} ms in ${p.dispatches} dispatches`];
  for (const r of p.kernels.slice(0, top)) {
    const progs = Object.entries(r.programs)
      .sort((a, b) => b[1].ms - a[1].ms)
      .slice(0, 3)
      .map(([n, v]) => `${n} x${v.dispatches} ${v.ms.toFixed(2)}`)
      .join(', ');
    lines.push(`  ${r.kernel.padEnd(28)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(2).padStart(8)} ms ${p.gpuMs > 0 ? ((100 * r.ms) / p.gpuMs).toFixed(1).padStart(5) : '    -'}%  ${progs}`);
  }
  const rest = p.kernels.slice(top);
  if (rest.length) lines.push(`  ${`${rest.length} other kernels`.padEnd(28)} ${String(rest.reduce((s, r) => s + r.calls, 0)).padStart(5)} calls ${rest.reduce((s, r) => s + r.ms, 0).toFixed(2).padStart(8)} ms`);
  return lines;
}
