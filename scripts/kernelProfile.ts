/**
 * Per-kernel profile of the active backend for `npm run bench:train -- --profile`: every kernel
 * registered for the backend is wrapped to record its calls and its exclusive time (kernels that
 * run other kernels, like the portable conv gradients, are charged only for their own work).
 * tf.profile cannot give this: it records nested kernels without their depth.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
}

export interface KernelProfiler {
  reset(): void;
  /** Kernels by exclusive time, largest first. */
  report(): KernelTime[];
}

export function profileKernels(backend: string): KernelProfiler {
  const totals = new Map<string, KernelTime>();
  // Time spent in kernels called from the kernel at each depth.
  const childMs: number[] = [];
  for (const config of tf.getKernelsForBackend(backend)) {
    const inner = config.kernelFunc;
    const name = config.kernelName;
    const wrapped: tf.KernelFunc = (args) => {
      childMs.push(0);
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        const dt = performance.now() - t0;
        const own = dt - (childMs.pop() ?? 0);
        if (childMs.length) childMs[childMs.length - 1] += dt;
        const t = totals.get(name) ?? { kernel: name, calls: 0, ms: 0 };
        t.calls += 1;
        t.ms += own;
        totals.set(name, t);
      }
    };
    tf.unregisterKernel(name, backend);
    // The setupFunc already ran when the backend started; the kernel keeps what it set up.
    tf.registerKernel({ ...config, setupFunc: undefined, kernelFunc: wrapped });
  }
  return {
    reset: () => totals.clear(),
    report: () => [...totals.values()].sort((a, b) => b.ms - a.ms),
  };
}

/** The profile as lines: kernel, calls, ms, share of the kernels' total. */
export function formatProfile(rows: KernelTime[], top = 14): string[] {
  const total = rows.reduce((s, r) => s + r.ms, 0);
  const lines = rows.slice(0, top).map((r) => `  ${r.kernel.padEnd(28)} ${String(r.calls).padStart(5)} calls ${r.ms.toFixed(1).padStart(8)} ms ${((100 * r.ms) / total).toFixed(1).padStart(5)}%`);
  const rest = rows.slice(top);
  if (rest.length) {
    const ms = rest.reduce((s, r) => s + r.ms, 0);
    lines.push(`  ${`${rest.length} other kernels`.padEnd(28)} ${String(rest.reduce((s, r) => s + r.calls, 0)).padStart(5)} calls ${ms.toFixed(1).padStart(8)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%`);
  }
  lines.push(`  ${'all kernels'.padEnd(28)} ${String(rows.reduce((s, r) => s + r.calls, 0)).padStart(5)} calls ${total.toFixed(1).padStart(8)} ms`);
  return lines;
}
