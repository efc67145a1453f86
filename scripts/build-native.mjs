// `npm install` / `npm ci` hook: builds the optional native kernels addon (native/) with node-gyp
// against Node's own headers and Debian's oneDNN (libdnnl-dev). Never fails the install: where a
// piece is missing it says which and the trainer keeps its portable wasm kernels.
// IMMISCIBLE_NATIVE=0 skips it.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => console.log(`native kernels: ${msg}`);

function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')];
  return candidates.find((p) => p && existsSync(p));
}

/** The prefix whose include/node/ has node_api.h: node-gyp would otherwise download headers. */
function nodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
  return candidates.find((d) => d && existsSync(join(d, 'include/node/node_api.h')));
}

function main() {
  if (process.env.IMMISCIBLE_NATIVE === '0') return say('skipped (IMMISCIBLE_NATIVE=0)');
  if (process.platform !== 'linux') return say(`skipped: the build is set up for Linux (this is ${process.platform}); the wasm kernels are used`);
  const gyp = nodeGyp();
  const dir = nodeDir();
  const missing = [];
  if (!gyp) missing.push('node-gyp (comes with npm)');
  if (!dir) missing.push("Node's headers (include/node/node_api.h)");
  if (spawnSync('g++', ['--version']).status !== 0) missing.push('g++');
  if (!existsSync('/usr/include/dnnl.hpp')) missing.push('oneDNN headers (apt-get install libdnnl-dev)');
  if (missing.length) return say(`not built, missing ${missing.join(', ')}; the trainer uses its portable wasm kernels`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${dir}`, '--directory', join(root, 'native')], { encoding: 'utf8' });
  if (r.status !== 0) {
    const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-12).join('\n');
    return say(`build failed; the trainer uses its portable wasm kernels.\n${tail}`);
  }
  say(`built native/build/Release/immiscible_kernels.node in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

main();
