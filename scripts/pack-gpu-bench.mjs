// `npm run pack:gpu-bench`: a folder that runs bench:gpu and the trainer on a GPU server that has
// Node 20 but no npm access and no checkout (build/gpu-bench/; copy it over, then
// `node bench-gpu.js --batch 64` or `node trainer.js train --config ...`). The benchmark is
// bundled whole here (the checkout's bench:gpu keeps its packages in node_modules); the trainer
// bundle, Dawn's addon, the wasm binaries, the native kernels, the extractors, MNIST and the
// PyTorch side of the benchmark are copied from dist/ and bench/ beside it.
import * as esbuild from 'esbuild';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const out = 'build/gpu-bench';
if (!existsSync('dist/trainer.js')) throw new Error('dist/trainer.js is missing: run `npm run build` first');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await esbuild.build({
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
  entryPoints: { 'bench-gpu': 'scripts/bench-gpu.ts' },
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  outdir: out,
});
for (const f of ['trainer.js', 'lsa-worker.js', 'normal-worker.js', 'webgpu', 'wasm', 'native', 'extractors', 'mnist']) {
  if (existsSync(join('dist', f))) cpSync(join('dist', f), join(out, f), { recursive: true });
}
cpSync('bench/torch_unet.py', join(out, 'torch_unet.py'));
console.log(`packed ${out}`);
