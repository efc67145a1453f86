/**
 * How many CPUs this process may use. os.availableParallelism() counts the cores it may be
 * scheduled on, but a container or batch job with a CPU limit (Docker's --cpus, a Kubernetes
 * limit, systemd's CPUQuota) gets a CFS quota instead: all the cores, for a share of each period.
 * Threads sized by the cores then run a moment and are throttled for the rest of the period; with
 * a 1-CPU quota on this project's 2-core VM, oneDNN's 2 OpenMP threads trained at 0.5-0.7x the
 * images/s of 1 (docs/benchmarks.md, "CPU quotas").
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isMainThread } from 'node:worker_threads';

/** CPUs allowed by a cgroup v2 `cpu.max` ("max 100000" or "150000 100000"), or null for no limit. */
export function parseCpuMax(text: string): number | null {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === 'max') return null;
  return quotaCpus(Number(quota), Number(period ?? 100000));
}

/** CPUs allowed by cgroup v1's `cpu.cfs_quota_us` (-1: no limit) and `cpu.cfs_period_us`, or null. */
export function parseCfsQuota(quotaText: string, periodText: string): number | null {
  return quotaCpus(Number(quotaText.trim()), Number(periodText.trim()));
}

function quotaCpus(quota: number, period: number): number | null {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return null;
  return quota / period;
}

/** The tightest CPU quota on this process's cgroup or any above it, and the file that sets it. */
export interface CpuQuota {
  cpus: number;
  file: string;
}

type Read = (file: string) => string | null;

const readIfThere = (file: string): string | null => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
};

/** The cgroup folder and every folder above it, up to the mount point. */
function upward(mount: string, cgroup: string): string[] {
  const out: string[] = [];
  let rel = path.posix.normalize(cgroup || '/');
  for (;;) {
    out.push(path.join(mount, rel));
    if (rel === '/' || rel === '.') return out;
    rel = path.posix.dirname(rel);
  }
}

function tighter(a: CpuQuota | null, b: CpuQuota | null): CpuQuota | null {
  if (!a) return b;
  if (!b) return a;
  return b.cpus < a.cpus ? b : a;
}

/**
 * Reads /proc/self/cgroup and the cpu controller's files under /sys/fs/cgroup (v2, or v1's
 * `cpu` / `cpu,cpuacct` hierarchies). `root` is a folder standing for `/` (tests lay out both
 * versions in a temporary one). A container with its own cgroup namespace sees its group as `/`.
 */
export function cgroupCpuQuota(root = '/', read: Read = readIfThere): CpuQuota | null {
  const own = read(path.join(root, 'proc/self/cgroup'));
  if (!own) return null;
  const base = path.join(root, 'sys/fs/cgroup');
  let best: CpuQuota | null = null;
  for (const line of own.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, group] = m;
    if (id === '0' && controllers === '') {
      for (const dir of upward(base, group)) {
        const file = path.join(dir, 'cpu.max');
        const text = read(file);
        const cpus = text === null ? null : parseCpuMax(text);
        if (cpus !== null) best = tighter(best, { cpus, file });
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of new Set([path.join(base, controllers), path.join(base, 'cpu'), path.join(base, 'cpu,cpuacct')])) {
        for (const dir of upward(mount, group)) {
          const file = path.join(dir, 'cpu.cfs_quota_us');
          const quota = read(file);
          const period = read(path.join(dir, 'cpu.cfs_period_us'));
          const cpus = quota === null || period === null ? null : parseCfsQuota(quota, period);
          if (cpus !== null) best = tighter(best, { cpus, file });
        }
      }
    }
  }
  return best;
}

/** CPUs this process can keep busy: the schedulable cores, or fewer under a cgroup quota (rounded up). */
export interface CpuBudget {
  cpus: number;
  cores: number;
  quota: CpuQuota | null;
}

let budget: CpuBudget | null = null;

export function cpuBudget(): CpuBudget {
  if (budget) return budget;
  const cores = os.availableParallelism();
  const quota = cgroupCpuQuota();
  return (budget = { cpus: quota ? Math.max(1, Math.min(cores, Math.ceil(quota.cpus - 1e-9))) : cores, cores, quota });
}

/** What the budget means, for the log: null when no quota lowers it. */
export function describeCpuBudget(b: CpuBudget): string | null {
  if (!b.quota || b.cpus >= b.cores) return null;
  const cpus = +b.quota.cpus.toFixed(2);
  return `CPU quota of ${cpus} CPU${cpus === 1 ? '' : 's'} (${b.quota.file}) on ${b.cores} cores: threads sized for ${b.cpus}`;
}

/**
 * Sizes OpenMP (the native kernels' oneDNN) to the budget unless the user set OMP_NUM_THREADS.
 * It must run in the main thread before the addon loads: libgomp reads the environment once, when
 * it is loaded, and a worker's process.env is its own copy.
 */
export function limitOpenMpThreads(env: NodeJS.ProcessEnv = process.env): void {
  if (!isMainThread || (env.OMP_NUM_THREADS !== undefined && env.OMP_NUM_THREADS !== '')) return;
  const b = cpuBudget();
  if (b.cpus < b.cores) env.OMP_NUM_THREADS = String(b.cpus);
}
