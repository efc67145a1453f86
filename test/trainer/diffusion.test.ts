import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { cosineBetas, ddimTimesteps, linearBetas, makeSchedule } from '../../src/trainer/diffusion/schedule';
import { ddimSigma, ddimUpdate, ddpmUpdate, predictX0, qSample } from '../../src/trainer/diffusion/process';
import { Rng } from '../../src/trainer/rng';

const close = (a: number, b: number, tol: number, msg?: string): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${msg ?? ''} ${a} vs ${b}`);

test('linear betas run from betaStart to betaEnd in equal steps', () => {
  const b = linearBetas(1000, 1e-4, 0.02);
  assert.equal(b.length, 1000);
  close(b[0], 1e-4, 1e-15);
  close(b[999], 0.02, 1e-15);
  close(b[500] - b[499], (0.02 - 1e-4) / 999, 1e-12);
});

test('alphaBar is the product of (1 - beta), checked through sums of logs', () => {
  const s = makeSchedule('linear', 1000, 1e-4, 0.02);
  let logSum = 0;
  for (let t = 0; t < 1000; t++) {
    logSum += Math.log1p(-s.betas[t]);
    close(s.alphaBar[t], Math.exp(logSum), 1e-12, `t=${t}`);
  }
  // Known value of the DDPM schedule: alphaBar_T is about 4.0e-5.
  assert.ok(s.alphaBar[999] > 3e-5 && s.alphaBar[999] < 5e-5, String(s.alphaBar[999]));
});

test('cosine alphaBar follows cos^2 closed form wherever betas are not clipped', () => {
  const T = 1000;
  const sOff = 0.008;
  const f = (t: number): number => Math.cos(((t / T + sOff) / (1 + sOff)) * (Math.PI / 2)) ** 2;
  const sch = makeSchedule('cosine', T, 0, 0);
  const betas = cosineBetas(T);
  for (const t of [0, 10, 100, 500, 900]) {
    assert.ok(betas[t] < 0.999);
    close(sch.alphaBar[t], f(t + 1) / f(0), 1e-9, `t=${t}`);
  }
  assert.ok(Math.max(...betas) <= 0.999);
});

test('DDIM timesteps are distinct, descending and span T-1 to 0', () => {
  for (const [T, S] of [
    [1000, 50],
    [1000, 1000],
    [1000, 2000],
    [100, 7],
    [10, 1],
  ]) {
    const ts = ddimTimesteps(T, S);
    assert.equal(ts[0], T - 1);
    assert.equal(ts.length, Math.min(T, S));
    if (S > 1) assert.equal(ts[ts.length - 1], 0);
    for (let i = 1; i < ts.length; i++) assert.ok(ts[i] < ts[i - 1]);
  }
});

test('qSample is sqrt(abar) x0 + sqrt(1 - abar) eps per example', () => {
  const s = makeSchedule('linear', 100, 1e-4, 0.02);
  const x0 = Float32Array.from([1, -1, 0.5, 0.25]);
  const eps = Float32Array.from([0.1, 0.2, -0.3, 2]);
  const t = Int32Array.from([3, 90]);
  const xt = qSample(x0, eps, t, s, 2);
  for (let i = 0; i < 4; i++) {
    const ab = s.alphaBar[t[Math.floor(i / 2)]];
    close(xt[i], Math.sqrt(ab) * x0[i] + Math.sqrt(1 - ab) * eps[i], 1e-6);
    close(predictX0(xt[i], eps[i], ab), x0[i], 1e-5);
  }
});

test('deterministic DDIM with the true noise lands exactly on the forward marginal', () => {
  const s = makeSchedule('linear', 1000, 1e-4, 0.02);
  const rng = new Rng(3);
  const x0 = rng.fillNormal(new Float32Array(64)).map((v) => Math.tanh(v));
  const eps = rng.fillNormal(new Float32Array(64));
  const t = 700;
  const tPrev = 300;
  const x = qSample(x0, eps, new Int32Array([t]), s, 64);
  ddimUpdate(x, eps, null, { alphaBar: s.alphaBar[t], alphaBarPrev: s.alphaBar[tPrev], eta: 0, clip: false });
  const expected = qSample(x0, eps, new Int32Array([tPrev]), s, 64);
  for (let i = 0; i < 64; i++) close(x[i], expected[i], 1e-5);
  // The last step (alphaBarPrev = 1) returns the clean image.
  const y = qSample(x0, eps, new Int32Array([t]), s, 64);
  ddimUpdate(y, eps, null, { alphaBar: s.alphaBar[t], alphaBarPrev: 1, eta: 0, clip: false });
  for (let i = 0; i < 64; i++) close(y[i], x0[i], 1e-4);
});

test('DDIM with eta = 1 between consecutive steps has the DDPM posterior variance', () => {
  const s = makeSchedule('linear', 1000, 1e-4, 0.02);
  for (const t of [1, 10, 500, 999]) {
    const posterior = (s.betas[t] * (1 - s.alphaBar[t - 1])) / (1 - s.alphaBar[t]);
    close(ddimSigma(s.alphaBar[t], s.alphaBar[t - 1], 1) ** 2, posterior, 1e-9, `t=${t}`);
    assert.equal(ddimSigma(s.alphaBar[t], s.alphaBar[t - 1], 0), 0);
  }
});

test('the ancestral DDPM mean equals 1/sqrt(alpha) (x_t - beta / sqrt(1 - abar) eps) (Ho et al. eq. 11)', () => {
  const s = makeSchedule('cosine', 200, 0, 0);
  const rng = new Rng(5);
  for (const t of [1, 50, 150, 199]) {
    const x = rng.fillNormal(new Float32Array(16));
    const eps = rng.fillNormal(new Float32Array(16));
    const expected = x.map((xi, i) => (xi - (s.betas[t] / Math.sqrt(1 - s.alphaBar[t])) * eps[i]) / Math.sqrt(s.alphas[t]));
    const y = x.slice();
    ddpmUpdate(y, eps, null, t, s, false);
    for (let i = 0; i < 16; i++) close(y[i], expected[i], 1e-4, `t=${t}`);
  }
});

test('clipping keeps the predicted clean image in [-1, 1]', () => {
  const s = makeSchedule('linear', 1000, 1e-4, 0.02);
  const x = Float32Array.from([50, -50]);
  const eps = Float32Array.from([0, 0]);
  ddimUpdate(x, eps, null, { alphaBar: s.alphaBar[10], alphaBarPrev: 1, eta: 0, clip: true });
  assert.deepEqual(Array.from(x), [1, -1]);
});
