import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { meanAtEachX, parameterKeys, parameterPlot, summarize, type ParamRun } from '../../src/core/compare/paramPlot';

const run = (id: string, mode: string, config: ParamRun['config'], value: number | null): ParamRun => ({ id, name: `n-${id}`, mode, config: { 'assignment.mode': mode, ...config }, value });

test('summarize: the lowest finite value, or the last finite one', () => {
  assert.equal(summarize([3, NaN, 1, 2], 'best'), 1);
  assert.equal(summarize([3, 1, 2, NaN], 'final'), 2);
  assert.equal(summarize([NaN, Infinity], 'best'), null);
  assert.equal(summarize([], 'final'), null);
});

test('a numeric sweep: one series per mode, points ascending, runs without a value left out', () => {
  const runs = [
    run('a', 'none', { 'training.lr': 0.003 }, 0.30),
    run('b', 'linear', { 'training.lr': 0.001 }, 0.21),
    run('c', 'none', { 'training.lr': 0.001 }, 0.35),
    run('d', 'linear', { 'training.lr': 0.003 }, 0.25),
    run('e', 'linear', { 'training.lr': 0.01 }, null),
  ];
  const p = parameterPlot(runs, 'training.lr');
  assert.equal(p.axis, 'linear');
  assert.deepEqual(p.categories, []);
  assert.deepEqual(
    p.series.map((s) => [s.mode, s.points.map((q) => [q.x, q.y, q.runId])]),
    [
      ['none', [[0.001, 0.35, 'c'], [0.003, 0.30, 'a']]],
      ['linear', [[0.001, 0.21, 'b'], [0.003, 0.25, 'd']]],
    ],
  );
  assert.deepEqual(p.missing, ['e']);
});

test('a categorical parameter: sorted categories (numbers in text by value), x is the index', () => {
  const runs = [run('a', 'none', { 'data.source': 'mnist' }, 1), run('b', 'knn', { 'data.source': 'cifar10' }, 2), run('c', 'none', { 'data.source': 'cifar10' }, 3), run('d', 'knn', {}, 4)];
  const p = parameterPlot(runs, 'data.source');
  assert.equal(p.axis, 'category');
  assert.deepEqual(p.categories, ['cifar10', 'mnist']);
  assert.deepEqual(p.series.find((s) => s.mode === 'none')?.points.map((q) => [q.x, q.runId]), [[0, 'c'], [1, 'a']]);
  assert.deepEqual(p.missing, ['d'], 'a run without the key');
  assert.deepEqual(parameterPlot([run('x', 'none', { k: 'v10' }, 1), run('y', 'none', { k: 'v9' }, 1)], 'k').categories, ['v9', 'v10']);
  assert.equal(parameterPlot([run('x', 'none', { k: 1 }, 1), run('y', 'none', { k: 'auto' }, 1)], 'k').axis, 'category', 'mixed numbers and text');
});

test('parameterKeys: differing keys without the name, numeric first', () => {
  const configs = [
    { name: 'a', seed: 0, 'assignment.mode': 'none', 'training.lr': 0.001, backend: 'wasm' },
    { name: 'b', seed: 1, 'assignment.mode': 'linear', 'training.lr': 0.001, backend: 'wasm' },
  ];
  assert.deepEqual(parameterKeys(configs), ['seed', 'assignment.mode']);
  assert.deepEqual(parameterKeys([configs[0]]), [], 'one run: nothing differs');
});

test('meanAtEachX: the seeds at one x become their mean, min and max, ascending in x', () => {
  assert.deepEqual(meanAtEachX([{ x: 0.003, y: 30 }, { x: 0.001, y: 40 }, { x: 0.003, y: 36 }, { x: 0.001, y: 44 }, { x: 0.003, y: 33 }]), [
    { x: 0.001, y: 42, lo: 40, hi: 44, n: 2 },
    { x: 0.003, y: 33, lo: 30, hi: 36, n: 3 },
  ]);
  assert.deepEqual(meanAtEachX([]), []);
});
