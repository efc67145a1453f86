/**
 * Generates realistic run directories for the runs-tree benchmark and tests: run.json and
 * config.json as the trainer writes them, a metrics.jsonl of N lines, a few sample grids and a
 * checkpoint. Written directly (not through RunWriter) so 1,000 runs take seconds, not minutes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { validateConfig } from '../src/core/config/validate';
import type { RunConfig } from '../src/core/config/types';
import { RUN_FILES, RUN_FORMAT_VERSION, checkpointDirName, sampleFileName, type MetricsLine, type RunRecord, type RunStatus } from '../src/core/run/format';
import { configHash } from '../src/core/run/writer';

export interface FixtureOptions {
  runs: number;
  metricsLines: number;
  samples?: number;
  groups?: string[];
}

export function metricsLine(step: number): MetricsLine {
  return {
    step,
    loss: 0.04 + 1 / (step + 1),
    lr: 0.001,
    gradNorm: 0.8 + (step % 7) / 10,
    assign: { mode: 'linear', distBefore: 40.1234, distAfter: 38.9876, ms: 1.234 },
    imagesPerSec: 312.5,
    wallTime: step * 0.6,
    time: new Date(Date.UTC(2026, 0, 1) + step * 600).toISOString(),
  };
}

function baseConfig(i: number, group: string): RunConfig {
  const modes = ['none', 'linear', 'knn'] as const;
  const r = validateConfig({
    name: `run-${i}`,
    group,
    seed: i % 5,
    assignment: { mode: modes[i % 3], cost: 'l2', k: 4 },
    training: { steps: 1000, batchSize: 32 },
  });
  if (!r.ok) throw new Error(`fixture config invalid: ${JSON.stringify(r.issues)}`);
  return r.config;
}

export function fixtureRecord(id: string, config: RunConfig, status: RunStatus, step: number, pid: number | null): RunRecord {
  const t = new Date(Date.UTC(2026, 0, 1)).toISOString();
  return {
    formatVersion: RUN_FORMAT_VERSION,
    id,
    name: config.name,
    group: config.group,
    status,
    createdAt: t,
    startedAt: t,
    endedAt: status === 'running' ? null : t,
    updatedAt: status === 'running' ? new Date().toISOString() : t,
    pid,
    host: os.hostname(),
    backend: 'wasm',
    device: 'CPU (WebAssembly SIMD, XNNPACK, 1 thread)',
    backendReasons: { tensorflow: 'not installed' },
    configHash: configHash(config),
    step,
    totalSteps: config.training.steps,
    error: status === 'failed' ? { message: 'loss became NaN at step 17' } : null,
  };
}

/** Creates `runs` run directories under `root`; returns their paths in creation order. */
export function generateRuns(root: string, o: FixtureOptions): string[] {
  fs.mkdirSync(root, { recursive: true });
  const groups = o.groups ?? ['mnist-sweep', 'toy', ''];
  const statuses: RunStatus[] = ['completed', 'completed', 'completed', 'stopped', 'failed'];
  // The metrics text is the same for every run: build it once.
  const metrics = Array.from({ length: o.metricsLines }, (_, k) => JSON.stringify(metricsLine(k + 1)) + '\n').join('');
  const png = Buffer.alloc(2048, 7);
  const dirs: string[] = [];
  for (let i = 0; i < o.runs; i++) {
    const id = `20260101-${String(i).padStart(6, '0')}-run-${i}-${(i % 65536).toString(16).padStart(4, '0')}`;
    const dir = path.join(root, id);
    const config = baseConfig(i, groups[i % groups.length]);
    const status = statuses[i % statuses.length];
    fs.mkdirSync(path.join(dir, RUN_FILES.samples), { recursive: true });
    fs.mkdirSync(path.join(dir, RUN_FILES.checkpoints), { recursive: true });
    fs.writeFileSync(path.join(dir, RUN_FILES.config), JSON.stringify(config, null, 2) + '\n');
    fs.writeFileSync(path.join(dir, RUN_FILES.record), JSON.stringify(fixtureRecord(id, config, status, o.metricsLines, null), null, 2) + '\n');
    fs.writeFileSync(path.join(dir, RUN_FILES.metrics), metrics);
    fs.writeFileSync(path.join(dir, RUN_FILES.log), `2026-01-01T00:00:00.000Z [info] backend wasm\n`);
    for (let s = 0; s < (o.samples ?? 3); s++) fs.writeFileSync(path.join(dir, RUN_FILES.samples, sampleFileName(s * 200)), png);
    const ck = path.join(dir, RUN_FILES.checkpoints, checkpointDirName(o.metricsLines));
    fs.mkdirSync(ck);
    fs.writeFileSync(path.join(ck, 'state.json'), '{"version":1}\n');
    dirs.push(dir);
  }
  return dirs;
}
