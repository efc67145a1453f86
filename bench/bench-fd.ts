/**
 * Frechet distance timing: `node --import tsx bench/bench-fd.ts [--sizes 512,1024,2048]
 * [--factor cholesky|eigh|both] [--no-scipy]`.
 *
 * For each d it builds two random SPD covariances (diagonally dominant, so SPD by Gershgorin
 * without an O(d^3) product) and random means, times `frechetDistance` in this process, and,
 * when Debian's /usr/bin/python3 has scipy, times pytorch-fid's route on the same numbers
 * (scipy.linalg.sqrtm(sigma1 @ sigma2), 1e-6 retry, real part) and prints the ratio and the
 * difference of the two values, plus the JS default's own algorithm run by numpy/LAPACK (what
 * native BLAS would give). numpy's BLAS may use both cores; the JS code uses one. Wall and CPU
 * seconds are both printed because this machine is often shared.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { frechetDistance, type FrechetFactor } from '../src/trainer/metrics/frechet';
import { Rng } from '../src/trainer/rng';

const PYTHON = '/usr/bin/python3';

const SCIPY_SCRIPT = `
import sys, time, json, numpy as np
from scipy import linalg
d = int(sys.argv[1]); base = sys.argv[2]
mu1 = np.fromfile(base + 'mu1.f64'); mu2 = np.fromfile(base + 'mu2.f64')
s1 = np.fromfile(base + 's1.f64').reshape(d, d); s2 = np.fromfile(base + 's2.f64').reshape(d, d)
t = time.perf_counter(); c = time.process_time()
diff = mu1 - mu2
covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
if not np.isfinite(covmean).all():
    offset = np.eye(d) * 1e-6
    covmean = linalg.sqrtm((s1 + offset).dot(s2 + offset))
if np.iscomplexobj(covmean):
    covmean = covmean.real
fd = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
out = {"fd": float(fd), "seconds": time.perf_counter() - t, "cpu": time.process_time() - c}
# The same symmetric route as the JS default (Cholesky, L^T S2 L, eigenvalues only) on numpy's
# BLAS/LAPACK: what a native-BLAS implementation of this code would cost on these cores.
t = time.perf_counter(); c = time.process_time()
L = linalg.cholesky(s1, lower=True)
w = linalg.eigvalsh(L.T @ s2 @ L, check_finite=False)
fd2 = diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(np.clip(w, 0, None)).sum()
out["native"] = {"fd": float(fd2), "seconds": time.perf_counter() - t, "cpu": time.process_time() - c}
print(json.dumps(out))
`;

function randomSpd(d: number, rng: Rng): Float64Array {
  const s = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const v = rng.uniform() - 0.5;
      s[i * d + j] = v;
      s[j * d + i] = v;
    }
  }
  for (let i = 0; i < d; i++) {
    let r = 0;
    for (let j = 0; j < d; j++) if (j !== i) r += Math.abs(s[i * d + j]);
    s[i * d + i] = r + 0.01 + rng.uniform();
  }
  return s;
}

function hasScipy(): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ['-c', 'import scipy.linalg'], { stdio: 'ignore' }).status === 0;
}

interface Timed {
  fd: number;
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds of the process (all threads): on a busy machine a steadier measure than wall time. */
  cpu: number;
}

interface ScipyResult extends Timed {
  /** numpy/LAPACK running the JS default's algorithm (Cholesky + eigvalsh of L^T S2 L). */
  native: Timed;
}

function scipyFd(d: number, mu1: Float64Array, s1: Float64Array, mu2: Float64Array, s2: Float64Array): ScipyResult | string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fd-'));
  try {
    const base = dir + path.sep;
    const save = (name: string, a: Float64Array): void => fs.writeFileSync(base + name, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    save('mu1.f64', mu1);
    save('mu2.f64', mu2);
    save('s1.f64', s1);
    save('s2.f64', s2);
    const r = spawnSync(PYTHON, ['-c', SCIPY_SCRIPT, String(d), base], { encoding: 'utf8', timeout: 30 * 60_000 });
    if (r.status !== 0) return `scipy failed: ${r.stderr || r.error?.message || `status ${r.status}`}`.trim();
    return JSON.parse(r.stdout) as ScipyResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function main(): void {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '512,1024,2048' },
      factor: { type: 'string', default: 'cholesky' },
      'no-scipy': { type: 'boolean', default: false },
    },
  });
  const sizes = (values.sizes ?? '').split(',').map(Number);
  if (sizes.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`--sizes: expected comma-separated positive integers, got ${values.sizes}`);
  const factors: FrechetFactor[] = values.factor === 'both' ? ['cholesky', 'eigh'] : [values.factor as FrechetFactor];
  if (factors.some((f) => f !== 'cholesky' && f !== 'eigh')) throw new Error(`--factor: expected cholesky, eigh or both, got ${values.factor}`);
  const scipy = !values['no-scipy'] && hasScipy();
  console.log(`node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); JS single-threaded${scipy ? `; scipy via ${PYTHON}` : '; no scipy'}`);
  const rng = new Rng(2048);
  // Compile the kernels first so that the smallest size is not charged for JIT warm-up.
  for (const factor of factors) frechetDistance(new Float64Array(200), randomSpd(200, rng), new Float64Array(200), randomSpd(200, rng), 200, { factor });
  console.log(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')} (wall time is inflated when other processes share the cores; cpu time less so)`);
  for (const d of sizes) {
    const mu1 = new Float64Array(d).map(() => rng.uniform());
    const mu2 = new Float64Array(d).map(() => rng.uniform());
    const s1 = randomSpd(d, rng);
    const s2 = randomSpd(d, rng);
    const js: (Timed & { factor: FrechetFactor })[] = [];
    for (const factor of factors) {
      // V8 needs a few calls to settle its optimised code; small sizes are timed as the best
      // of several runs so that they measure the algorithm rather than the JIT.
      const runs = d <= 512 ? 5 : d <= 1024 ? 2 : 1;
      let best: Timed | null = null;
      for (let k = 0; k < runs; k++) {
        const t = performance.now();
        const c = process.cpuUsage();
        const fd = frechetDistance(mu1, s1, mu2, s2, d, { factor });
        const seconds = (performance.now() - t) / 1000;
        const cu = process.cpuUsage(c);
        const cpu = (cu.user + cu.system) / 1e6;
        if (!best || cpu < best.cpu) best = { fd, seconds, cpu };
      }
      if (!best) continue;
      js.push({ factor, ...best });
      console.log(`d=${d}  js ${factor.padEnd(8)} ${best.seconds.toFixed(3)} s wall  ${best.cpu.toFixed(3)} s cpu  fd=${best.fd}${runs > 1 ? `  (best of ${runs})` : ''}`);
    }
    if (scipy) {
      const r = scipyFd(d, mu1, s1, mu2, s2);
      if (typeof r === 'string') {
        console.log(`d=${d}  ${r}`);
        continue;
      }
      console.log(`d=${d}  scipy sqrtm    ${r.seconds.toFixed(3)} s wall  ${r.cpu.toFixed(3)} s cpu  fd=${r.fd}  (pytorch-fid route)`);
      console.log(`d=${d}  numpy cholesky ${r.native.seconds.toFixed(3)} s wall  ${r.native.cpu.toFixed(3)} s cpu  fd=${r.native.fd}  (the JS algorithm on native BLAS/LAPACK)`);
      for (const j of js) {
        const nd = Math.abs(j.fd - r.native.fd);
        console.log(`d=${d}  js ${j.factor} vs numpy cholesky: |fd difference| ${nd.toExponential(2)} (relative ${(nd / Math.abs(r.native.fd)).toExponential(2)})`);
        const diff = Math.abs(j.fd - r.fd);
        console.log(`d=${d}  js ${j.factor} / scipy: wall ${(j.seconds / r.seconds).toFixed(2)}x, cpu ${(j.cpu / r.cpu).toFixed(2)}x; |fd difference| ${diff.toExponential(2)} (relative ${(diff / Math.abs(r.fd)).toExponential(2)})`);
      }
    }
  }
}

main();
