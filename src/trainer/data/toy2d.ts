/**
 * 2-D toy distributions for quick experiments, each centred at the origin with coordinates of
 * roughly unit scale (per-coordinate standard deviation between 0.5 and 1.5), so they sit at the
 * same scale as the unit Gaussian noise they are diffused into. Definitions (all noise isotropic):
 *
 * - moons: scikit-learn's two moons, t ~ U[0, pi]; upper (cos t, sin t), lower (1 - cos t,
 *   0.5 - sin t), each with probability 1/2, plus N(0, 0.05^2), shifted by (-0.5, -0.25).
 * - gaussians8: 8 Gaussians, centres on the circle of radius 2 at angles k*pi/4, std 0.1.
 * - checkerboard: uniform on the 8 filled cells of a 4x4 board covering [-2, 2]^2, cell
 *   (col, row) filled when col + row is even (counted from the bottom-left corner).
 * - swissroll: t = 1.5 pi (1 + 2u), u ~ U[0, 1]; (t cos t, t sin t) / 7 (7 brings the std near 1),
 *   shifted by its exact mean, plus N(0, 0.05^2).
 * - rings: 4 concentric circles of radius 0.5, 1, 1.5, 2, each with probability 1/4, angle uniform,
 *   plus N(0, 0.05^2).
 *
 * `toyMoments` gives each distribution's exact mean and per-coordinate variance and
 * `toySupportDistance` the distance of a point to the noise-free support, so tests and
 * evaluations can judge generated samples without a reference sample.
 */

import type { ToyDistribution } from '../../core/config/types';
import { Rng } from '../rng';
import type { PointDataset } from './types';

export const TOY_DISTRIBUTIONS: readonly ToyDistribution[] = ['moons', 'gaussians8', 'checkerboard', 'swissroll', 'rings'];

export const TOY_NOISE: Readonly<Record<ToyDistribution, number>> = {
  moons: 0.05,
  gaussians8: 0.1,
  checkerboard: 0,
  swissroll: 0.05,
  rings: 0.05,
};

const GAUSSIANS8_RADIUS = 2;
const RING_RADII = [0.5, 1, 1.5, 2];
const SWISS_SCALE = 1 / 7;
const SWISS_A = 1.5 * Math.PI;
const SWISS_B = 4.5 * Math.PI;
// Exact means of t cos t and t sin t for t ~ U[1.5 pi, 4.5 pi]: [t sin t + cos t] / 3pi = 2, and
// [-t cos t + sin t] / 3pi = 2 / 3pi.
const SWISS_MEAN_X = 2 * SWISS_SCALE;
const SWISS_MEAN_Y = (2 / (3 * Math.PI)) * SWISS_SCALE;

function swissPoint(t: number): [number, number] {
  return [t * Math.cos(t) * SWISS_SCALE - SWISS_MEAN_X, t * Math.sin(t) * SWISS_SCALE - SWISS_MEAN_Y];
}

/** n points, interleaved (x0, y0, x1, y1, ...), drawn from `rng`. */
export function sampleToy(dist: ToyDistribution, n: number, rng: Rng): Float32Array {
  const out = new Float32Array(2 * n);
  const sigma = TOY_NOISE[dist];
  for (let i = 0; i < n; i++) {
    let x: number;
    let y: number;
    switch (dist) {
      case 'moons': {
        const t = Math.PI * rng.uniform();
        if (rng.uniform() < 0.5) {
          x = Math.cos(t);
          y = Math.sin(t);
        } else {
          x = 1 - Math.cos(t);
          y = 0.5 - Math.sin(t);
        }
        x -= 0.5;
        y -= 0.25;
        break;
      }
      case 'gaussians8': {
        const a = (rng.int(8) * Math.PI) / 4;
        x = GAUSSIANS8_RADIUS * Math.cos(a);
        y = GAUSSIANS8_RADIUS * Math.sin(a);
        break;
      }
      case 'checkerboard': {
        x = 4 * rng.uniform() - 2;
        const col = Math.min(3, Math.floor(x + 2));
        const row = 2 * rng.int(2) + (col % 2);
        y = row - 2 + rng.uniform();
        break;
      }
      case 'swissroll': {
        [x, y] = swissPoint(SWISS_A + (SWISS_B - SWISS_A) * rng.uniform());
        break;
      }
      case 'rings': {
        const r = RING_RADII[rng.int(RING_RADII.length)];
        const a = 2 * Math.PI * rng.uniform();
        x = r * Math.cos(a);
        y = r * Math.sin(a);
        break;
      }
      default: {
        const never: never = dist;
        throw new RangeError(`unknown toy distribution ${String(never)}`);
      }
    }
    if (sigma > 0) {
      x += sigma * rng.normal();
      y += sigma * rng.normal();
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}

/** A constant mixed into the seed so toy points never replay another Rng seeded with the run seed. */
const TOY_SEED_SALT = 0x7a2d3c41;

export function toyDataset(dist: ToyDistribution, count: number, seed: number): PointDataset {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`toy2d count must be a positive integer, got ${count}`);
  return {
    kind: 'points',
    description: `toy2d ${dist} (${count} points, seed ${seed})`,
    count,
    dim: 2,
    points: sampleToy(dist, count, new Rng((seed ^ TOY_SEED_SALT) >>> 0)),
    labels: null,
    numClasses: 0,
  };
}

/** Exact mean and per-coordinate variance of each distribution (noise included). */
export function toyMoments(dist: ToyDistribution): { mean: [number, number]; variance: [number, number] } {
  const s2 = TOY_NOISE[dist] ** 2;
  switch (dist) {
    case 'moons':
      // E x^2 = (1/2)(1/2) + (1/2)(3/2) = 1; E y^2 = (1/2)(1/2) + (1/2)(3/4 - 2/pi); less the means.
      return { mean: [0, 0], variance: [0.75 + s2, 0.25 + 0.5 * (0.75 - 2 / Math.PI) - 0.0625 + s2] };
    case 'gaussians8':
      return { mean: [0, 0], variance: [GAUSSIANS8_RADIUS ** 2 / 2 + s2, GAUSSIANS8_RADIUS ** 2 / 2 + s2] };
    case 'checkerboard':
      // Both marginals are uniform on [-2, 2].
      return { mean: [0, 0], variance: [16 / 12, 16 / 12] };
    case 'swissroll': {
      // E t^2 cos^2 t = (1/(b-a)) (int t^2/2 + int t^2 cos 2t / 2); the second integral is -1.5 pi.
      const span = SWISS_B - SWISS_A;
      const t2 = (SWISS_B ** 3 - SWISS_A ** 3) / 3;
      const ex2 = (t2 / 2 - 0.75 * Math.PI) / span;
      const ey2 = (t2 / 2 + 0.75 * Math.PI) / span;
      const k = SWISS_SCALE ** 2;
      return { mean: [0, 0], variance: [ex2 * k - SWISS_MEAN_X ** 2 + s2, ey2 * k - SWISS_MEAN_Y ** 2 + s2] };
    }
    case 'rings': {
      const er2 = RING_RADII.reduce((a, r) => a + r * r, 0) / RING_RADII.length;
      return { mean: [0, 0], variance: [er2 / 2 + s2, er2 / 2 + s2] };
    }
    default: {
      const never: never = dist;
      throw new RangeError(`unknown toy distribution ${String(never)}`);
    }
  }
}

/** Distance from (px, py) to the arc centre + (cos t, sin t), t in [t0, t0 + pi]. */
function halfCircleDistance(px: number, py: number, cx: number, cy: number, t0: number): number {
  const dx = px - cx;
  const dy = py - cy;
  const rel = (((Math.atan2(dy, dx) - t0) % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI);
  if (rel <= Math.PI) return Math.abs(Math.hypot(dx, dy) - 1);
  const e0 = Math.hypot(px - (cx + Math.cos(t0)), py - (cy + Math.sin(t0)));
  const e1 = Math.hypot(px - (cx - Math.cos(t0)), py - (cy - Math.sin(t0)));
  return Math.min(e0, e1);
}

let swissCurve: Float64Array | null = null;

/**
 * Distance from a point to the distribution's noise-free support (the moons' arcs, the 8 centres,
 * the filled cells, the spiral, the circles). Samples of a good model sit within a few noise
 * standard deviations (`TOY_NOISE`) of it; checkerboard samples should be at distance 0.
 */
export function toySupportDistance(dist: ToyDistribution, px: number, py: number): number {
  switch (dist) {
    case 'moons':
      return Math.min(halfCircleDistance(px, py, -0.5, -0.25, 0), halfCircleDistance(px, py, 0.5, 0.25, Math.PI));
    case 'gaussians8': {
      let best = Infinity;
      for (let k = 0; k < 8; k++) {
        const a = (k * Math.PI) / 4;
        best = Math.min(best, Math.hypot(px - GAUSSIANS8_RADIUS * Math.cos(a), py - GAUSSIANS8_RADIUS * Math.sin(a)));
      }
      return best;
    }
    case 'checkerboard': {
      let best = Infinity;
      for (let col = 0; col < 4; col++) {
        for (let row = col % 2; row < 4; row += 2) {
          const x0 = col - 2;
          const y0 = row - 2;
          const dx = Math.max(x0 - px, 0, px - (x0 + 1));
          const dy = Math.max(y0 - py, 0, py - (y0 + 1));
          best = Math.min(best, Math.hypot(dx, dy));
        }
      }
      return best;
    }
    case 'swissroll': {
      // A dense polyline is accurate to well under the noise std and avoids solving for t.
      if (!swissCurve) {
        const m = 4000;
        swissCurve = new Float64Array(2 * m);
        for (let i = 0; i < m; i++) {
          const [x, y] = swissPoint(SWISS_A + ((SWISS_B - SWISS_A) * i) / (m - 1));
          swissCurve[2 * i] = x;
          swissCurve[2 * i + 1] = y;
        }
      }
      let best = Infinity;
      for (let i = 0; i < swissCurve.length; i += 2) {
        best = Math.min(best, (px - swissCurve[i]) ** 2 + (py - swissCurve[i + 1]) ** 2);
      }
      return Math.sqrt(best);
    }
    case 'rings': {
      const r = Math.hypot(px, py);
      return Math.min(...RING_RADII.map((q) => Math.abs(r - q)));
    }
    default: {
      const never: never = dist;
      throw new RangeError(`unknown toy distribution ${String(never)}`);
    }
  }
}
