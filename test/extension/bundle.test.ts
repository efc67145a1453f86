/**
 * The packaged extension ships without node_modules: its bundles may require only Node's own
 * modules, `vscode` (given by the host) and the optional native TensorFlow (found at run time).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';

const dist = path.resolve(__dirname, '../../dist');
const builtin = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

export function requiresOf(text: string): string[] {
  // esbuild writes require(...), __require(...), and require2(...) where a UMD wrapper shadowed it.
  return [...new Set([...text.matchAll(/require\d*\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]))].sort();
}

function requires(file: string): string[] {
  return requiresOf(fs.readFileSync(path.join(dist, file), 'utf8'));
}

test('the require scan sees every form esbuild writes', () => {
  assert.deepEqual(requiresOf('a=require("x");b=__require("y");c=require2("./impl/format");d=notrequire'), ['./impl/format', 'x', 'y']);
});

test('dist/extension.js requires only Node built-ins and vscode', () => {
  const bad = requires('extension.js').filter((m) => !builtin.has(m) && m !== 'vscode');
  assert.deepEqual(bad, [], 'these would be missing from the .vsix');
});

test('dist/trainer.js requires only Node built-ins and the optional native TensorFlow', () => {
  // `encoding`: node-fetch (inside tfjs) tries it in a try/catch and works without it.
  const optional = new Set(['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'encoding']);
  const bad = requires('trainer.js').filter((m) => !builtin.has(m) && !optional.has(m));
  assert.deepEqual(bad, [], 'these would be missing from the .vsix');
});

test('dist/lsa-worker.js and dist/normal-worker.js (the assignment and noise threads) require only Node built-ins', () => {
  for (const f of ['lsa-worker.js', 'normal-worker.js']) assert.deepEqual(requires(f).filter((m) => !builtin.has(m)), [], f);
});

test('the wasm binaries, the gzipped MNIST and the LeNet weights lie beside the trainer bundle', () => {
  const files = ['lsa-worker.js', 'normal-worker.js', 'wasm/tfjs-backend-wasm.wasm', 'wasm/tfjs-backend-wasm-simd.wasm', 'mnist/train-images-idx3-ubyte.gz', 'mnist/train-labels-idx1-ubyte.gz'];
  for (const f of [...files, 'extractors/lenet-mnist.json', 'extractors/lenet-mnist.bin'])
    assert.ok(fs.existsSync(path.join(dist, f)), `dist/${f} missing: run npm run build`);
  for (const f of ['lenet-mnist.json', 'lenet-mnist.bin'])
    assert.ok(fs.readFileSync(path.join(dist, 'extractors', f)).equals(fs.readFileSync(path.resolve(__dirname, '../../media/extractors', f))), `dist/extractors/${f} differs from media/extractors: run npm run build`);
});

test("Dawn's WebGPU addon for this platform lies beside the trainer bundle", () => {
  const plat = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  assert.ok(fs.existsSync(path.join(dist, 'webgpu', plat, 'dawn.node')), `dist/webgpu/${plat}/dawn.node missing: run npm run build`);
});

test('dist/webview.js runs under a CSP without unsafe-eval: no eval, no Function constructor', () => {
  const text = fs.readFileSync(path.join(dist, 'webview.js'), 'utf8');
  assert.doesNotMatch(text, /\beval\s*\(/);
  assert.doesNotMatch(text, /new\s+Function\s*\(/);
  assert.doesNotMatch(text, /require\s*\(/, 'browser bundle must be self-contained');
});
