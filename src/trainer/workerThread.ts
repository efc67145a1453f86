/**
 * Starting the trainer's worker threads from source (tsx) and from the bundle alike: a Worker
 * needs a file, which is `<name>.ts` beside its client module in the checkout and
 * `<bundle name>.js` beside dist/trainer.js (each worker is its own esbuild entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The worker's file, or null when it is not there (a bundle built without its entry). */
export function workerFile(sourceName: string, bundleName: string): string | null {
  const f = __filename.endsWith('.ts') ? path.join(__dirname, sourceName) : path.join(__dirname, bundleName);
  return fs.existsSync(f) ? f : null;
}

/**
 * From source (tests under `node --import tsx`): Node 20 does not apply the `--import` hooks a
 * Worker inherits to its .ts entry ("Unknown file extension"), so a two-line bootstrap registers
 * tsx's require hook in the worker and then loads the entry module itself.
 */
export function startWorker(file: string, options: Pick<WorkerOptions, 'workerData' | 'transferList'> = {}): Worker {
  if (!file.endsWith('.ts')) return new Worker(file, options);
  // Not a literal: the bundler need not (and cannot) resolve this dev-only package.
  const api = ['tsx', 'cjs', 'api'].join('/');
  const tsx = require.resolve(api);
  return new Worker(`require(${JSON.stringify(tsx)}).register();\nrequire(${JSON.stringify(file)});`, { ...options, eval: true });
}
