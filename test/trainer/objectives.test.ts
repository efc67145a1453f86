/**
 * The math of the consistency and flow-matching objectives against closed forms: the Karras
 * noise levels, the iCT discretisation curriculum, the lognormal interval distribution (values
 * from scipy), the pseudo-Huber loss as the trainer assembles it, the flow path and its target,
 * and the Euler and Dormand-Prince samplers on a flow whose exact solution is known.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { validateConfig } from '../../src/core/config/validate';
import type { ConsistencyConfig, FlowConfig } from '../../src/core/config/types';
import { ctPoints, ctScalings, ctWeight, erfc, huberC, karrasSigmas, lognormalIntervalProbs, pseudoHuber, sampleInterval } from '../../src/trainer/consistency/math';
import { consistencyObjective } from '../../src/trainer/objectives/consistency';
import { flowObjective } from '../../src/trainer/objectives/flow';
import { drawFlowTimes, flowInterpolate, flowTarget } from '../../src/trainer/flow/path';
import { dopri5Solve, eulerSolve, type Velocity } from '../../src/trainer/flow/ode';
import { Rng } from '../../src/trainer/rng';

const close = (a: number, b: number, tol: number, msg?: string): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg ?? ''} ${a} vs ${b}`);

const CT: ConsistencyConfig = { sigmaMin: 0.002, sigmaMax: 80, rho: 7, sigmaData: 0.5, pMean: -1.1, pStd: 2, s0: 10, s1: 1280, hubercScale: 0.00054, timeScale: 250, sampleSigmas: [0.8] };

test('Karras sigmas: the closed form, sigma_min to sigma_max, increasing (scipy/numpy values for N = 11)', () => {
  const s = karrasSigmas(11, 0.002, 80, 7);
  // numpy: (smin^(1/rho) + i/(N-1) (smax^(1/rho) - smin^(1/rho)))^rho
  const ref = [0.002, 0.0167207532, 0.0850872027, 0.318283289, 0.965416926, 2.51521898, 5.83894763, 12.3815761, 24.4083418, 45.3137341, 80];
  ref.forEach((r, i) => close(s[i], r, 1e-8 * r + 1e-12, `i=${i}`));
  const s2 = karrasSigmas(1281, 0.002, 80, 7);
  for (let i = 1; i < s2.length; i++) assert.ok(s2[i] > s2[i - 1]);
  assert.equal(s2[0], 0.002);
  assert.equal(s2[1280], 80);
  assert.throws(() => karrasSigmas(1, 0.002, 80, 7), /n must be an integer >= 2/);
});

test('the CT discretisation doubles from s0 + 1 to s1 + 1 points in equal stages of K / (log2(s1/s0) + 1) steps', () => {
  // K = 1000, s0 = 10, s1 = 1280: 8 stages of K' = 125 steps.
  const n = (k: number): number => ctPoints(k, 1000, 10, 1280);
  assert.deepEqual([0, 124, 125, 249, 250, 500, 874, 875, 999].map(n), [11, 11, 21, 21, 41, 161, 641, 1281, 1281]);
  // iCT's K = 400000: K' = 50000.
  assert.equal(ctPoints(49_999, 400_000, 10, 1280), 11);
  assert.equal(ctPoints(50_000, 400_000, 10, 1280), 21);
  assert.equal(ctPoints(399_999, 400_000, 10, 1280), 1281);
  // A run shorter than its 8 stages doubles every step (K' = 1) instead of dividing by zero.
  assert.deepEqual([0, 3, 7].map((k) => ctPoints(k, 4, 10, 1280)), [11, 81, 1281]);
  assert.equal(ctPoints(0, 100, 10, 10), 11);
});

test('erfc matches scipy within 1.2e-7 relative', () => {
  const ref: [number, number][] = [
    [-2, 1.9953222650189528],
    [-0.5, 1.5204998778130465],
    [0, 1],
    [0.3, 0.6713732405408726],
    [1, 0.15729920705028516],
    [2.5, 0.00040695201744495886],
    [4, 1.541725790028002e-8],
  ];
  for (const [x, v] of ref) assert.ok(Math.abs(erfc(x) - v) <= 1.2e-7 * v, `erfc(${x}) = ${erfc(x)}, scipy ${v}`);
});

test('lognormal interval probabilities equal the normal CDF differences of ln sigma (scipy), and sampling follows them', () => {
  const p = lognormalIntervalProbs(karrasSigmas(11, 0.002, 80, 7), -1.1, 2);
  // scipy: p = diff(norm.cdf((ln sigma + 1.1) / 2)); p /= p.sum()
  const ref = [0.06263299, 0.18173698, 0.24550142, 0.21349445, 0.14244606, 0.08060462, 0.04107991, 0.01958009, 0.00894387, 0.00397961];
  ref.forEach((r, i) => assert.ok(Math.abs(p[i] - r) < 2e-7, `p[${i}] = ${p[i]} vs ${r}`));
  const rng = new Rng(5);
  const counts = new Array<number>(10).fill(0);
  const n = 200_000;
  for (let i = 0; i < n; i++) counts[sampleInterval(p, rng.uniform())] += 1;
  // Binomial standard error of each share is at most sqrt(0.25 / n) = 0.0011; allow 5 of them.
  counts.forEach((c, i) => assert.ok(Math.abs(c / n - ref[i]) < 0.0056, `share ${i}: ${c / n} vs ${ref[i]}`));
});

test('pseudo-Huber: sqrt(||d||^2 + c^2) - c, the L2 norm at c = 0, ||d||^2 / 2c for small d; c = 0.03 on CIFAR-10', () => {
  close(pseudoHuber([3, 0], [0, -4], 1), Math.sqrt(26) - 1, 1e-15);
  close(pseudoHuber([1, 2, 3], [1, 2, 3], 0.5), 0, 1e-15);
  close(pseudoHuber([1, 1], [4, 5], 0), 5, 1e-15);
  const d = 1e-4;
  close(pseudoHuber([d], [0], 1), (d * d) / 2, 1e-6);
  close(huberC(0.00054, 3 * 32 * 32), 0.03, 0.001);
  close(ctWeight(0.5, 0.75), 4, 1e-15);
});

test('CT scalings satisfy the boundary condition at sigma_min and the EDM closed forms', () => {
  const b = ctScalings(0.002, 0.002, 0.5);
  assert.equal(b.cSkip, 1);
  assert.equal(b.cOut, 0);
  const s = ctScalings(1.5, 0.002, 0.5);
  close(s.cSkip, 0.25 / ((1.5 - 0.002) ** 2 + 0.25), 1e-15);
  close(s.cOut, ((1.5 - 0.002) * 0.5) / Math.sqrt(0.25 + 2.25), 1e-15);
  close(s.cIn, 1 / Math.sqrt(2.5), 1e-15);
});

test('the CT loss is the lambda-weighted pseudo-Huber distance between f at sigma_{i+1} and a stop-gradient f at sigma_i', () => {
  // F(x, t) = w * x with a trainable scalar w: then f(x, s) = (cSkip + w cIn cOut) x, in closed form.
  const obj = consistencyObjective({ ...CT, hubercScale: 0.1 }, 100);
  const rng = new Rng(2);
  const levels = obj.drawLevels(3, rng, 0);
  levels.forEach((l) => assert.ok(Number.isInteger(l) && l >= 0 && l < 10));
  const x0 = Float32Array.from([0.3, -0.7, 1, 0.1, -0.2, 0.5]);
  const z = Float32Array.from([1.1, -0.4, 0.2, 0.9, -1.3, 0.6]);
  const wv = 0.8;
  const w = tf.variable(tf.scalar(wv));
  const net = (x: tf.Tensor, _t: Float32Array): tf.Tensor => tf.mul(x, w);
  const micro = obj.microLoss({ x0, noise: z, levels, shape: [3, 2], step: 0 }, net);
  const { value, grads } = tf.variableGrads(micro.loss, [w]);
  const loss = value.dataSync()[0];
  const grad = Object.values(grads)[0].dataSync()[0];
  micro.dispose();
  const sig = karrasSigmas(11, CT.sigmaMin, CT.sigmaMax, CT.rho);
  const c = 0.1 * Math.sqrt(2);
  const lossAt = (wStudent: number): number => {
    let sum = 0;
    for (let i = 0; i < 3; i++) {
      const lo = sig[levels[i]];
      const hi = sig[levels[i] + 1];
      const f = (s: number, ww: number, v: number): number => {
        const k = ctScalings(s, CT.sigmaMin, CT.sigmaData);
        return (k.cSkip + ww * k.cIn * k.cOut) * v;
      };
      const a = [0, 1].map((j) => f(hi, wStudent, x0[2 * i + j] + hi * z[2 * i + j]));
      const b = [0, 1].map((j) => f(lo, wv, x0[2 * i + j] + lo * z[2 * i + j]));
      sum += ctWeight(lo, hi) * pseudoHuber(a, b, c);
    }
    return sum / 3;
  };
  close(loss, lossAt(wv), 1e-4, 'loss');
  // The gradient flows through the student only: the derivative with the teacher held fixed.
  const h = 1e-4;
  close(grad, (lossAt(wv + h) - lossAt(wv - h)) / (2 * h), 2e-3, 'd loss / dw');
  w.dispose();
});

test('flow path: x_0 is the data, x_1 the noise, and the target is its time derivative eps - x0', () => {
  const x0 = Float32Array.from([1, -2, 0.5, 3]);
  const eps = Float32Array.from([0.2, 0.4, -1, 1]);
  assert.deepEqual(flowInterpolate(x0, eps, Float32Array.from([0, 1]), 2), Float32Array.from([1, -2, -1, 1]));
  const t = Float32Array.from([0.3, 0.3]);
  const h = Float32Array.from([0.3 + 1e-3, 0.3 + 1e-3]);
  const a = flowInterpolate(x0, eps, t, 2);
  const b = flowInterpolate(x0, eps, h, 2);
  const v = flowTarget(x0, eps);
  for (let j = 0; j < 4; j++) close((b[j] - a[j]) / 1e-3, v[j], 1e-3, `j=${j}`);
});

test('flow times: uniform has mean 1/2; logit-normal has median sigmoid(logitMean)', () => {
  const base: FlowConfig = { timeSampling: 'uniform', logitMean: 0, logitStd: 1, atol: 1e-4, rtol: 1e-4 };
  const u = drawFlowTimes(20_000, base, new Rng(1));
  const mean = u.reduce((p, q) => p + q, 0) / u.length;
  assert.ok(Math.abs(mean - 0.5) < 0.01, String(mean));
  const l = Array.from(drawFlowTimes(20_000, { ...base, timeSampling: 'logitNormal', logitMean: 1 }, new Rng(1))).sort((p, q) => p - q);
  close(l[10_000], 1 / (1 + Math.exp(-1)), 0.01, 'median');
  assert.equal(flowObjective(base).name, 'flow');
});

/**
 * The exact marginal velocity of the straight path for data N(m, s^2) per coordinate: x_t has
 * mean (1 - t) m and sd r(t) = sqrt((1 - t)^2 s^2 + t^2), and the flow maps x_1 to m + s x_1.
 */
function gaussianVelocity(m: number, s: number): Velocity {
  return async (t, y) => {
    const r = Math.sqrt((1 - t) ** 2 * s * s + t * t);
    const dr = (-(1 - t) * s * s + t) / r;
    return Array.from(y, (v) => -m + (dr * (v - (1 - t) * m)) / r);
  };
}

test('Euler and Dormand-Prince integrate a Gaussian flow from noise to its closed-form end point, with their NFE', async () => {
  const m = 1.5;
  const s = 0.3;
  const x1 = Float64Array.from([-2, -0.5, 0, 0.7, 2.2]);
  const exact = Array.from(x1, (v) => m + s * v);
  // The tolerances bound each step's estimated local error; the global error is allowed 100x.
  const d = await dopri5Solve(gaussianVelocity(m, s), x1, 1, 0, { atol: 1e-6, rtol: 1e-6 });
  d.y.forEach((v, i) => assert.ok(Math.abs(v - exact[i]) < 1e-4, `dopri5 1e-6: ${v} vs ${exact[i]}`));
  const tight = await dopri5Solve(gaussianVelocity(m, s), x1, 1, 0, { atol: 1e-9, rtol: 1e-9 });
  tight.y.forEach((v, i) => assert.ok(Math.abs(v - exact[i]) < 1e-7, `dopri5 1e-9: ${v} vs ${exact[i]}`));
  assert.equal(d.nfe, 1 + 6 * (d.steps + d.rejected), 'FSAL: 6 evaluations per attempted step plus the first');
  assert.ok(d.nfe < 200, `nfe ${d.nfe}`);
  const loose = await dopri5Solve(gaussianVelocity(m, s), x1, 1, 0, { atol: 1e-3, rtol: 1e-3 });
  assert.ok(loose.nfe < d.nfe, 'looser tolerances take fewer evaluations');
  const e100 = await eulerSolve(gaussianVelocity(m, s), x1, 1, 0, 100);
  const e10 = await eulerSolve(gaussianVelocity(m, s), x1, 1, 0, 10);
  assert.equal(e100.nfe, 100);
  const err = (r: Float64Array): number => Math.max(...Array.from(r, (v, i) => Math.abs(v - exact[i])));
  assert.ok(err(e100.y) < 0.02, `euler 100 error ${err(e100.y)}`);
  // First order: ten times the steps, about a tenth of the error.
  assert.ok(err(e10.y) / err(e100.y) > 5 && err(e10.y) / err(e100.y) < 20, `${err(e10.y)} / ${err(e100.y)}`);
  // A constant field is integrated exactly by both.
  const c = await eulerSolve(async (_t, y) => Array.from(y, () => 2), Float64Array.from([1]), 1, 0, 3);
  close(c.y[0], -1, 1e-12);
});

test('config: the objective picks its samplers, and sampleSigmas must decrease inside (sigmaMin, sigmaMax)', () => {
  const bad = validateConfig({ objective: 'flow' });
  assert.ok(!bad.ok);
  if (!bad.ok) assert.deepEqual(bad.issues, [{ path: 'sampling.sampler', expected: '"euler" or "dopri5" with objective "flow"', found: 'the string "ddim"' }]);
  assert.ok(validateConfig({ objective: 'flow', sampling: { sampler: 'dopri5' } }).ok);
  assert.ok(validateConfig({ objective: 'consistency', sampling: { sampler: 'multistep' }, consistency: { sampleSigmas: [5, 0.8] } }).ok);
  const order = validateConfig({ objective: 'consistency', sampling: { sampler: 'multistep' }, consistency: { sampleSigmas: [0.8, 5] } });
  assert.ok(!order.ok);
  if (!order.ok) assert.match(order.issues.map((i) => `${i.path}: ${i.expected}`).join('\n'), /consistency\.sampleSigmas\[1\]: a noise level below the previous one \(0\.8\)/);
  const ddpm = validateConfig({ sampling: { sampler: 'onestep' } });
  assert.ok(!ddpm.ok);
  if (!ddpm.ok) assert.equal(ddpm.issues[0].expected, '"ddim" or "ddpm" with objective "ddpm"');
});
