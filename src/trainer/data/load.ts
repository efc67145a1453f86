/** Turns the data section of a run config into an in-memory dataset. */

import { existsSync } from 'node:fs';
import type { DataConfig } from '../../core/config/types';
import { loadCifar10 } from './cifar';
import { loadIdx } from './idx';
import { loadImageFolder } from './imageFolder';
import { loadMnist } from './mnist';
import { toyDataset } from './toy2d';
import { resizeDataset } from './transform';
import { DataError, type Dataset, type PointDataset } from './types';

/** The path in `field` (named as in the config, e.g. data.path), checked to exist. */
function requirePath(value: string | undefined, field: string, source: string): string {
  if (value === undefined || value === '') {
    throw new DataError(field, `required for data.source "${source}", found none`);
  }
  if (!existsSync(value)) throw new DataError(value, `file not found (${field})`);
  return value;
}

function limitPoints(ds: PointDataset, n: number): PointDataset {
  if (n <= 0 || n >= ds.count) return ds;
  return { ...ds, count: n, points: ds.points.slice(0, n * ds.dim) };
}

/**
 * Loads `cfg`'s data, keeps the first `cfg.limit` examples (0 = all) and brings images to
 * cfg.imageSize. `seed` only matters for generated data (toy2d). Relative paths are taken from
 * the working directory; callers that know the config file's folder resolve them first.
 */
export function loadDataset(cfg: DataConfig, seed: number): Dataset {
  const limit = cfg.limit > 0 ? cfg.limit : 0;
  switch (cfg.source) {
    case 'mnist':
      return resizeDataset(loadMnist(cfg.split, limit), cfg.imageSize);
    case 'idx': {
      const images = requirePath(cfg.path, 'data.path', cfg.source);
      const labels = cfg.labels === undefined || cfg.labels === '' ? undefined : requirePath(cfg.labels, 'data.labels', cfg.source);
      return resizeDataset(loadIdx(images, labels, { limit }), cfg.imageSize);
    }
    case 'cifar10': {
      const path = requirePath(cfg.path, 'data.path', cfg.source);
      return resizeDataset(loadCifar10(path, { split: cfg.split, limit }), cfg.imageSize);
    }
    case 'folder': {
      const path = requirePath(cfg.path, 'data.path', cfg.source);
      // Cropped and resized per image while decoding, so the full-size images are never all held.
      return loadImageFolder(path, { imageSize: cfg.imageSize, limit });
    }
    case 'toy2d':
      return limitPoints(toyDataset(cfg.distribution, cfg.count, seed), limit);
    default: {
      const never: never = cfg.source;
      throw new DataError('data.source', `expected mnist, idx, cifar10, folder or toy2d, found ${String(never)}`);
    }
  }
}
