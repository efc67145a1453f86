/** DDPM noise schedules as pure functions on Float64Arrays (Ho et al. 2020; Nichol & Dhariwal 2021). */

export interface Schedule {
  timesteps: number;
  betas: Float64Array;
  alphas: Float64Array;
  /** alphaBar[t] = prod_{s<=t} alphas[s]. */
  alphaBar: Float64Array;
}

export function linearBetas(timesteps: number, betaStart: number, betaEnd: number): Float64Array {
  const b = new Float64Array(timesteps);
  for (let t = 0; t < timesteps; t++) b[t] = timesteps === 1 ? betaStart : betaStart + ((betaEnd - betaStart) * t) / (timesteps - 1);
  return b;
}

/** Cosine schedule: alphaBar(t) = cos^2(((t/T + s) / (1 + s)) * pi/2), betas clipped at 0.999. */
export function cosineBetas(timesteps: number, s = 0.008): Float64Array {
  const f = (t: number): number => Math.cos((((t / timesteps) + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const b = new Float64Array(timesteps);
  for (let t = 0; t < timesteps; t++) b[t] = Math.min(1 - f(t + 1) / f(t), 0.999);
  return b;
}

export function makeSchedule(kind: 'linear' | 'cosine', timesteps: number, betaStart: number, betaEnd: number): Schedule {
  const betas = kind === 'linear' ? linearBetas(timesteps, betaStart, betaEnd) : cosineBetas(timesteps);
  const alphas = betas.map((b) => 1 - b);
  const alphaBar = new Float64Array(timesteps);
  let prod = 1;
  for (let t = 0; t < timesteps; t++) {
    prod *= alphas[t];
    alphaBar[t] = prod;
  }
  return { timesteps, betas, alphas, alphaBar };
}

/** Evenly spaced DDIM timesteps from T-1 down to 0 (descending, distinct). */
export function ddimTimesteps(timesteps: number, steps: number): number[] {
  if (steps >= timesteps) return Array.from({ length: timesteps }, (_, i) => timesteps - 1 - i);
  if (steps === 1) return [timesteps - 1];
  const ts = new Set<number>();
  for (let i = 0; i < steps; i++) ts.add(Math.round((i * (timesteps - 1)) / (steps - 1)));
  return [...ts].sort((a, b) => b - a);
}
