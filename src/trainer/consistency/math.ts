/**
 * The math of improved consistency training (Song & Dhariwal 2023, "iCT") as pure functions on
 * numbers and Float64Arrays, so each can be tested against its closed form.
 */

/** Karras et al. (2022) noise levels sigma_1 < ... < sigma_n (ascending), n >= 2. */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho: number): Float64Array {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`karrasSigmas: n must be an integer >= 2, got ${n}`);
  const lo = sigmaMin ** (1 / rho);
  const hi = sigmaMax ** (1 / rho);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (lo + (i / (n - 1)) * (hi - lo)) ** rho;
  // Exact end points: the boundary condition is at sigmaMin and one-step sampling starts at sigmaMax.
  out[0] = sigmaMin;
  out[n - 1] = sigmaMax;
  return out;
}

/**
 * The discretisation curriculum: N(k) = min(s0 * 2^floor(k / K'), s1) + 1 points at training
 * step k (0-based) of K, with K' = floor(K / (log2 floor(s1 / s0) + 1)): the number of intervals
 * doubles in equal stages from s0 to s1.
 */
export function ctPoints(k: number, totalSteps: number, s0: number, s1: number): number {
  const stages = Math.floor(Math.log2(Math.floor(s1 / s0))) + 1;
  // A run shorter than its number of stages still ends at s1 rather than dividing by zero.
  const kPrime = Math.max(1, Math.floor(totalSteps / stages));
  return Math.min(s0 * 2 ** Math.floor(k / kPrime), s1) + 1;
}

/** erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/**
 * Probability of training on interval i (between sigmas[i] and sigmas[i+1]):
 * p_i proportional to erf((ln sigma_{i+1} - pMean) / (sqrt2 pStd)) - erf((ln sigma_i - pMean) / (sqrt2 pStd)),
 * the lognormal mass of the interval. Computed as a difference of erfc values, which keeps the
 * relative accuracy in the upper tail.
 */
export function lognormalIntervalProbs(sigmas: Float64Array, pMean: number, pStd: number): Float64Array {
  const n = sigmas.length - 1;
  const p = new Float64Array(n);
  const c = (s: number): number => erfc((Math.log(s) - pMean) / (Math.SQRT2 * pStd));
  let sum = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.max(0, c(sigmas[i]) - c(sigmas[i + 1]));
    sum += p[i];
  }
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

/** The interval whose cumulative probability first exceeds u in [0, 1). */
export function sampleInterval(probs: Float64Array, u: number): number {
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i];
    if (u < acc) return i;
  }
  return probs.length - 1;
}

/** The pseudo-Huber distance sqrt(||a - b||^2 + c^2) - c of one example. */
export function pseudoHuber(a: ArrayLike<number>, b: ArrayLike<number>, c: number): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s + c * c) - c;
}

/** c = hubercScale * sqrt(d): 0.00054 sqrt(3072) = 0.03 on CIFAR-10, as in iCT. */
export function huberC(hubercScale: number, dims: number): number {
  return hubercScale * Math.sqrt(dims);
}

/** Loss weight lambda(sigma_i) = 1 / (sigma_{i+1} - sigma_i). */
export function ctWeight(sigmaLo: number, sigmaHi: number): number {
  return 1 / (sigmaHi - sigmaLo);
}

export interface CtScalings {
  cSkip: number;
  cOut: number;
  cIn: number;
}

/**
 * f(x, sigma) = cSkip x + cOut F(cIn x, cNoise): cSkip = 1 and cOut = 0 at sigmaMin, so the
 * boundary condition f(x, sigmaMin) = x holds for any network F.
 */
export function ctScalings(sigma: number, sigmaMin: number, sigmaData: number): CtScalings {
  const sd2 = sigmaData * sigmaData;
  return {
    cSkip: sd2 / ((sigma - sigmaMin) ** 2 + sd2),
    cOut: ((sigma - sigmaMin) * sigmaData) / Math.sqrt(sd2 + sigma * sigma),
    cIn: 1 / Math.sqrt(sigma * sigma + sd2),
  };
}

/**
 * The model's time input for noise level sigma: timeScale * ln sigma. The reference
 * implementation's 1000 * 0.25 ln sigma (timeScale 250) puts it in the range the sinusoidal
 * embedding sees for DDPM timesteps; a small MLP learns far faster from a smoother input
 * (timeScale 1 on the 2-D toys), because adjacent noise levels then get similar embeddings.
 */
export function ctTimeInput(sigma: number, timeScale: number): number {
  return timeScale * Math.log(sigma);
}
