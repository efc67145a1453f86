import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  RUN_FILES,
  RUN_STATUSES,
  stepFromName,
  type CheckpointInfo,
  type EvalLine,
  type MetricsLine,
  type RunRecord,
  type SampleInfo,
} from './format';
import { readJsonLines } from './fsAtomic';
import type { RunConfig } from '../config/types';
import { ConfigError, validateConfig } from '../config/validate';

export interface RunSummary {
  dir: string;
  id: string;
  record: RunRecord | null;
  /** Why run.json could not be read; the run is shown as broken, never dropped. */
  recordError: string | null;
}

/** Reads run.json; a missing or broken file is reported, not thrown. */
export function readRunRecord(dir: string): RunSummary {
  const id = path.basename(dir);
  const file = path.join(dir, RUN_FILES.record);
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    const problem = recordProblem(parsed);
    if (problem) return { dir, id, record: null, recordError: `${file}: ${problem}` };
    return { dir, id, record: parsed as RunRecord, recordError: null };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'missing' : err instanceof SyntaxError ? `not valid JSON (${err.message})` : err.message;
    return { dir, id, record: null, recordError: `${file}: ${why}` };
  }
}

function recordProblem(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return 'expected an object';
  const r = v as Record<string, unknown>;
  if (typeof r.formatVersion !== 'number') return 'expected a numeric "formatVersion"';
  if (typeof r.id !== 'string') return 'expected a string "id"';
  // A status this reader does not know (hand-edited, or from a newer format) would break every
  // view that maps statuses to icons and filters: the run is shown broken, naming the field.
  if (typeof r.status !== 'string' || !(RUN_STATUSES as readonly string[]).includes(r.status))
    return `expected "status" to be one of ${RUN_STATUSES.join(', ')}, found ${JSON.stringify(r.status)}`;
  if (typeof r.step !== 'number') return 'expected a numeric "step"';
  return null;
}

/**
 * A run's config.json exactly as written. A run made before a config key existed lacks it; its
 * checkpoints' config hashes were taken over this form. Throws naming the file.
 */
export function readRunConfigAsWritten(dir: string): unknown {
  const file = path.join(dir, RUN_FILES.config);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`${file}: ${err.code === 'ENOENT' ? 'missing' : err.message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ConfigError(file, [{ path: '', expected: 'valid JSON', found: (e as Error).message }]);
  }
}

/**
 * A run's config, validated, with the defaults of keys added since it was written filled in (each
 * key's default is the behaviour from before it existed). Throws naming the file and the field.
 */
export function readRunConfig(dir: string): RunConfig {
  return resolveRunConfig(dir, readRunConfigAsWritten(dir));
}

/** readRunConfig's resolution of a config already read with readRunConfigAsWritten. */
export function resolveRunConfig(dir: string, written: unknown): RunConfig {
  const r = validateConfig(written);
  if (!r.ok) throw new ConfigError(path.join(dir, RUN_FILES.config), r.issues);
  return r.config;
}

export interface MetricsRead {
  metrics: MetricsLine[];
  tornTail: boolean;
  badLines: number[];
}

export function readMetrics(dir: string): MetricsRead {
  const r = readJsonLines<MetricsLine>(path.join(dir, RUN_FILES.metrics));
  return { metrics: r.records, tornTail: r.tornTail, badLines: r.badLines };
}

export interface EvalRead {
  evals: EvalLine[];
  tornTail: boolean;
  badLines: number[];
}

/** eval.jsonl: a torn last line is ignored, other unparsable lines are reported. */
export function readEvals(dir: string): EvalRead {
  const r = readJsonLines<EvalLine>(path.join(dir, RUN_FILES.eval));
  return { evals: r.records, tornTail: r.tornTail, badLines: r.badLines };
}

function listSteps(dir: string, isDir: boolean): { step: number; name: string }[] {
  let names: fs.Dirent[];
  try {
    names = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return names
    .filter((d) => d.isDirectory() === isDir)
    .map((d) => ({ step: stepFromName(d.name), name: d.name }))
    .filter((x): x is { step: number; name: string } => x.step !== null)
    .sort((a, b) => a.step - b.step);
}

export function listSamples(dir: string): SampleInfo[] {
  const sdir = path.join(dir, RUN_FILES.samples);
  return listSteps(sdir, false).map((s) => ({ step: s.step, file: path.join(sdir, s.name) }));
}

/** Complete checkpoints only: a checkpoint directory appears by rename once fully written. */
export function listCheckpoints(dir: string): CheckpointInfo[] {
  const cdir = path.join(dir, RUN_FILES.checkpoints);
  return listSteps(cdir, true)
    .map((s) => ({ step: s.step, dir: path.join(cdir, s.name) }))
    .filter((c) => fs.existsSync(path.join(c.dir, 'state.json')));
}

/** Every run directory under a runs folder (a folder holding run.json, or none but looking like a run). */
export function listRunDirs(runsDir: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(runsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => path.join(runsDir, e.name))
    .sort();
}
