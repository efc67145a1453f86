// Bundles the trainer CLI, the extension and the webview with esbuild.
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', target: 'node20' };

const builds = [
  // Trainer: node_modules stay external (TensorFlow.js loads its .wasm files from its package).
  { ...common, entryPoints: { trainer: 'src/trainer/main.ts', 'bench-train': 'scripts/bench-train.ts' }, outdir: 'dist', platform: 'node', format: 'cjs', packages: 'external' },
  { ...common, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist', platform: 'node', format: 'cjs', external: ['vscode'] },
];

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
