/**
 * Cost matrices for the assignment benchmark: the notes' "smooth" images in [-1, 1] against
 * N(0, I) noise (squared L2), and the 2-D toy case. Shared by bench-assign.ts and anyone who
 * wants to reproduce a single matrix.
 */
import { pairwiseCostTf } from '../src/trainer/assignment/costTf';
import type { CostKind } from '../src/trainer/assignment/cost';
import { sampleToy } from '../src/trainer/data/toy2d';
import { Rng } from '../src/trainer/rng';

/** Smooth images in [-1, 1]: three random low-frequency waves per channel, squashed by tanh
 * (the same generator as the assignment tests and the notes' solver table). */
export function smoothImages(rng: Rng, b: number, side: number, channels: number): Float32Array {
  const d = side * side * channels;
  const out = new Float32Array(b * d);
  for (let i = 0; i < b; i++) {
    for (let ch = 0; ch < channels; ch++) {
      const waves = Array.from({ length: 3 }, () => ({
        fx: rng.normal() * 2,
        fy: rng.normal() * 2,
        ph: rng.uniform() * 2 * Math.PI,
        a: rng.normal(),
      }));
      for (let y = 0; y < side; y++) {
        for (let x = 0; x < side; x++) {
          let s = 0;
          for (const w of waves) s += w.a * Math.sin(((w.fx * x + w.fy * y) / side) * 2 * Math.PI + w.ph);
          out[i * d + (y * side + x) * channels + ch] = Math.tanh(s);
        }
      }
    }
  }
  return out;
}

export interface BenchCase {
  label: string;
  kind: CostKind;
  b: number;
  d: number;
  cost: Float64Array;
}

/** B smooth side x side x 3 images against B Gaussian noise vectors (cost on the TF.js backend). */
export function imageCase(b: number, side: number, seed: number, kind: CostKind = 'sqeuclidean'): BenchCase {
  const rng = new Rng(seed);
  const d = side * side * 3;
  const x = smoothImages(rng, b, side, 3);
  const noise = rng.fillNormal(new Float32Array(b * d));
  const label = kind === 'l2' ? `images l2 ${side}x${side}x3` : `images ${side}x${side}x3`;
  return { label, kind, b, d, cost: pairwiseCostTf(x, noise, b, d, kind) };
}

/** B points of the 2-D toy distribution against B Gaussian points: a rank-2 cost, the hardest
 * shape for augmenting-path solvers. Built in Float64 directly (D = 2 needs no matMul). */
export function toyCase(b: number, seed: number): BenchCase {
  const rng = new Rng(seed);
  const p = sampleToy('moons', b, rng);
  const q = rng.fillNormal(new Float32Array(2 * b));
  const cost = new Float64Array(b * b);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < b; j++) {
      const dx = p[2 * i] - q[2 * j];
      const dy = p[2 * i + 1] - q[2 * j + 1];
      cost[i * b + j] = dx * dx + dy * dy;
    }
  }
  return { label: 'toy2d moons', kind: 'sqeuclidean', b, d: 2, cost };
}
