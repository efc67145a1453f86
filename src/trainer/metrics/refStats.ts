/**
 * Reference statistics of a data set's features, computed once per (data set, extractor and its
 * weights, N) and cached as JSON under the user's cache folder:
 * $IMMISCIBLE_CACHE_DIR, else $XDG_CACHE_HOME/immiscible-lab, else ~/.cache/immiscible-lab,
 * in ref-stats/. A cache file that does not parse or does not match its key is recomputed.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DataConfig } from '../../core/config/types';
import { writeFileAtomic } from '../../core/run/fsAtomic';
import type { ImageDataset } from '../data/types';
import type { FeatureExtractor } from './extractor';
import { imageFeatures } from './features';
import { FeatureStats, type FeatureStatsJson } from './stats';

export function cacheRoot(): string {
  if (process.env.IMMISCIBLE_CACHE_DIR) return process.env.IMMISCIBLE_CACHE_DIR;
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'immiscible-lab');
  return path.join(os.homedir(), '.cache', 'immiscible-lab');
}

/** What identifies the reference images: the data section's fields that choose them. */
export function dataIdentity(cfg: DataConfig): Record<string, string | number> {
  const id: Record<string, string | number> = { source: cfg.source, imageSize: cfg.imageSize, limit: cfg.limit };
  if (cfg.source === 'mnist' || cfg.source === 'cifar10') id.split = cfg.split;
  if (cfg.path) id.path = path.resolve(cfg.path);
  return id;
}

export interface RefStatsKey {
  data: Record<string, string | number>;
  extractor: string;
  weightsSha256: string;
  n: number;
}

interface RefStatsFile {
  format: 'immiscible-ref-stats';
  version: 1;
  key: RefStatsKey;
  stats: FeatureStatsJson;
  seconds: number;
  time: string;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function refStatsFile(key: RefStatsKey): string {
  const h = createHash('sha256').update(canonical(key)).digest('hex').slice(0, 20);
  return path.join(cacheRoot(), 'ref-stats', `${key.extractor}-n${key.n}-${h}.json`);
}

/** The cached statistics, or null (with the reason) when absent, unreadable or for another key. */
export function readCachedRefStats(file: string, key: RefStatsKey): { stats: FeatureStats | null; problem: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { stats: null, problem: null };
  }
  try {
    const o = JSON.parse(text) as RefStatsFile;
    if (o.format !== 'immiscible-ref-stats' || o.version !== 1) return { stats: null, problem: `${file}: not a version 1 reference statistics file` };
    if (canonical(o.key) !== canonical(key)) return { stats: null, problem: `${file}: its "key" does not match` };
    return { stats: FeatureStats.fromJSON(o.stats), problem: null };
  } catch (e) {
    return { stats: null, problem: `${file}: ${(e as Error).message}` };
  }
}

export interface RefStatsResult {
  stats: FeatureStats;
  file: string;
  cached: boolean;
  /** Why an existing cache file was not used (recomputed), or why the cache could not be written. */
  problem: string | null;
}

/** The features' statistics of the first min(n, count) images of `ds`, cached. */
export async function referenceStats(ds: ImageDataset, cfg: DataConfig, extractor: FeatureExtractor, n: number): Promise<RefStatsResult> {
  const count = Math.min(n, ds.count);
  const key: RefStatsKey = { data: dataIdentity(cfg), extractor: extractor.name, weightsSha256: extractor.weightsSha256, n: count };
  const file = refStatsFile(key);
  const hit = readCachedRefStats(file, key);
  if (hit.stats) return { stats: hit.stats, file, cached: true, problem: null };
  const t0 = performance.now();
  const per = ds.height * ds.width * ds.channels;
  const stats = new FeatureStats(extractor.dim);
  await imageFeatures(extractor, ds.pixels.subarray(0, count * per), count, [ds.height, ds.width, ds.channels], (f) => stats.add(f));
  const record: RefStatsFile = { format: 'immiscible-ref-stats', version: 1, key, stats: stats.toJSON(), seconds: (performance.now() - t0) / 1000, time: new Date().toISOString() };
  // The cache only saves time: a folder that cannot be written is reported, not fatal.
  let problem = hit.problem;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, JSON.stringify(record) + '\n');
  } catch (e) {
    problem = `${problem ? problem + '; ' : ''}cannot write the cache file ${file} (${(e as Error).message}); set IMMISCIBLE_CACHE_DIR to a writable folder`;
  }
  return { stats, file, cached: false, problem };
}
