import { CONFIG_SPEC, type FieldSpec } from './spec';
import type { RunConfig } from './types';

export interface ConfigIssue {
  /** Dotted path of the field, e.g. `training.batchSize`. */
  path: string;
  expected: string;
  found: string;
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    super(`${source}: invalid config\n` + issues.map((i) => `  ${formatIssue(i)}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.path || '(root)'}: expected ${i.expected}, found ${i.found}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array [${v.map((x) => JSON.stringify(x)).join(', ').slice(0, 60)}]`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 60 ? v.slice(0, 57) + '...' : v)}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return `${typeof v} ${String(v)}`;
}

function closest(name: string, options: string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0][j] = j;
    for (let i = 1; i <= a.length; i++)
      for (let j = 1; j <= b.length; j++)
        d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length][b.length];
  };
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const dd = dist(name.toLowerCase(), o.toLowerCase());
    if (dd < bestD) {
      bestD = dd;
      best = o;
    }
  }
  return best;
}

function rangeText(min?: number, max?: number, exclusiveMin?: number): string {
  const parts: string[] = [];
  if (exclusiveMin !== undefined) parts.push(`> ${exclusiveMin}`);
  if (min !== undefined) parts.push(`>= ${min}`);
  if (max !== undefined) parts.push(`<= ${max}`);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

function bad(issues: ConfigIssue[], path: string, value: unknown, expected: string): undefined {
  issues.push({ path, expected, found: describe(value) });
  return undefined;
}

/** Checks one value against its spec, filling defaults; returns the resolved value. */
function check(spec: FieldSpec, value: unknown, path: string, issues: ConfigIssue[]): unknown {
  switch (spec.type) {
    case 'object': {
      if (value === undefined) value = {};
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(issues, path, value, 'an object');
      const obj = value as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      const known = Object.keys(spec.fields);
      for (const key of Object.keys(obj)) {
        if (!(key in spec.fields)) {
          const guess = closest(key, known);
          issues.push({
            path: path ? `${path}.${key}` : key,
            expected: guess ? `a known field (did you mean "${guess}"?)` : `one of the fields ${known.filter((k) => k !== '$schema').join(', ')}`,
            found: 'an unknown field',
          });
        }
      }
      for (const key of known) {
        if (key === '$schema') continue;
        const r = check(spec.fields[key], obj[key], path ? `${path}.${key}` : key, issues);
        if (r !== undefined) out[key] = r;
      }
      return out;
    }
    case 'integer':
    case 'number': {
      if (value === undefined) return spec.default;
      const exMin = spec.type === 'number' ? spec.exclusiveMin : undefined;
      const ok =
        typeof value === 'number' &&
        Number.isFinite(value) &&
        (spec.type !== 'integer' || Number.isInteger(value)) &&
        (spec.min === undefined || value >= spec.min) &&
        (spec.max === undefined || value <= spec.max) &&
        (exMin === undefined || value > exMin);
      // The expectation's text only for a bad value: every run's config is validated when listed.
      return ok ? value : bad(issues, path, value, `${spec.type === 'integer' ? 'an integer' : 'a number'}${rangeText(spec.min, spec.max, exMin)}`);
    }
    case 'boolean':
      if (value === undefined) return spec.default;
      if (typeof value !== 'boolean') return bad(issues, path, value, 'true or false');
      return value;
    case 'string': {
      if (value === undefined) return spec.default;
      if (spec.enum) {
        if (typeof value !== 'string' || !spec.enum.includes(value)) return bad(issues, path, value, `one of ${spec.enum.map((e) => `"${e}"`).join(', ')}`);
        return value;
      }
      if (typeof value !== 'string') return bad(issues, path, value, 'a string');
      if (spec.minLength && value.length < spec.minLength) return bad(issues, path, value, 'a non-empty string');
      return value;
    }
    case 'integerArray': {
      if (value === undefined) return [...spec.default];
      if (!Array.isArray(value) || (spec.minItems !== undefined && value.length < spec.minItems))
        return bad(issues, path, value, `an array of integers${rangeText(spec.min)}${spec.minItems ? ` with at least ${spec.minItems} item(s)` : ''}`);
      value.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || (spec.min !== undefined && v < spec.min))
          issues.push({ path: `${path}[${i}]`, expected: `an integer${rangeText(spec.min)}`, found: describe(v) });
      });
      return [...(value as number[])];
    }
    case 'numberArray': {
      if (value === undefined) return [...spec.default];
      if (!Array.isArray(value) || (spec.minItems !== undefined && value.length < spec.minItems))
        return bad(issues, path, value, `an array of numbers${rangeText(undefined, undefined, spec.exclusiveMin)}${spec.minItems ? ` with at least ${spec.minItems} item(s)` : ''}`);
      value.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isFinite(v) || (spec.exclusiveMin !== undefined && v <= spec.exclusiveMin))
          issues.push({ path: `${path}[${i}]`, expected: `a number${rangeText(undefined, undefined, spec.exclusiveMin)}`, found: describe(v) });
      });
      return [...(value as number[])];
    }
  }
}

/** Which samplers draw from which objective. */
const SAMPLERS: Readonly<Record<RunConfig['objective'], readonly string[]>> = {
  ddpm: ['ddim', 'ddpm'],
  flow: ['euler', 'dopri5'],
  consistency: ['onestep', 'multistep'],
};

/** Rules of the objective sections. */
function crossCheckObjective(c: RunConfig, issues: ConfigIssue[]): void {
  const allowed = SAMPLERS[c.objective];
  if (!allowed.includes(c.sampling.sampler))
    issues.push({ path: 'sampling.sampler', expected: `${allowed.map((a) => `"${a}"`).join(' or ')} with objective "${c.objective}"`, found: describe(c.sampling.sampler) });
  const k = c.consistency;
  if (k.sigmaMax <= k.sigmaMin) issues.push({ path: 'consistency.sigmaMax', expected: `a value > consistency.sigmaMin (${k.sigmaMin})`, found: describe(k.sigmaMax) });
  if (k.s1 < k.s0) issues.push({ path: 'consistency.s1', expected: `a value >= consistency.s0 (${k.s0})`, found: describe(k.s1) });
  k.sampleSigmas.forEach((v, i) => {
    const upper = i === 0 ? k.sigmaMax : k.sampleSigmas[i - 1];
    if (v >= upper || v <= k.sigmaMin)
      issues.push({
        path: `consistency.sampleSigmas[${i}]`,
        expected: `a noise level below ${i === 0 ? `consistency.sigmaMax (${k.sigmaMax})` : `the previous one (${upper})`} and above consistency.sigmaMin (${k.sigmaMin})`,
        found: describe(v),
      });
  });
}

/** Whether data.source reads the user's files from data.path. */
export function readsDataPath(source: RunConfig['data']['source']): boolean {
  return source === 'idx' || source === 'cifar10' || source === 'folder';
}

/** Rules that involve more than one field. */
function crossCheck(c: RunConfig, issues: ConfigIssue[]): void {
  if (readsDataPath(c.data.source) && !c.data.path)
    issues.push({ path: 'data.path', expected: `a file or folder path (required when data.source is "${c.data.source}")`, found: 'nothing' });
  if (c.data.source === 'toy2d' && c.model.type !== 'mlp')
    issues.push({ path: 'model.type', expected: '"mlp" (data.source "toy2d" is 2-D points)', found: describe(c.model.type) });
  if (c.data.source !== 'toy2d' && c.model.type === 'mlp')
    issues.push({ path: 'model.type', expected: `"unet" (data.source "${c.data.source}" is images)`, found: describe(c.model.type) });
  if (c.model.type === 'unet') {
    const levels = c.model.channelMults.length;
    const factor = 2 ** (levels - 1);
    if (c.data.imageSize % factor !== 0)
      issues.push({
        path: 'data.imageSize',
        expected: `a multiple of ${factor} (the UNet has ${levels} levels, each after the first halving the resolution)`,
        found: describe(c.data.imageSize),
      });
    const sides = c.model.channelMults.map((_, i) => c.data.imageSize / 2 ** i);
    c.model.attentionResolutions.forEach((r, i) => {
      if (!sides.includes(r))
        issues.push({ path: `model.attentionResolutions[${i}]`, expected: `one of the UNet's resolutions ${sides.filter(Number.isInteger).join(', ')}`, found: describe(r) });
    });
    c.model.channelMults.forEach((m, i) => {
      const ch = c.model.baseChannels * m;
      if (ch % c.model.groups !== 0)
        issues.push({ path: `model.channelMults[${i}]`, expected: `channels (baseChannels x mult = ${ch}) divisible by model.groups = ${c.model.groups}`, found: describe(m) });
    });
    if (c.model.baseChannels % c.model.groups !== 0)
      issues.push({ path: 'model.baseChannels', expected: `a multiple of model.groups = ${c.model.groups}`, found: describe(c.model.baseChannels) });
  }
  if (c.model.classConditional && c.data.source === 'toy2d')
    issues.push({ path: 'model.classConditional', expected: 'false (toy2d data has no labels)', found: 'true' });
  if (c.diffusion.schedule === 'linear' && c.diffusion.betaEnd < c.diffusion.betaStart)
    issues.push({ path: 'diffusion.betaEnd', expected: `a value >= diffusion.betaStart (${c.diffusion.betaStart})`, found: describe(c.diffusion.betaEnd) });
  if (c.sampling.sampler === 'ddim' && c.sampling.steps > c.diffusion.timesteps)
    issues.push({ path: 'sampling.steps', expected: `at most diffusion.timesteps (${c.diffusion.timesteps})`, found: describe(c.sampling.steps) });
  if (c.training.batchSize % c.training.accumulate !== 0)
    issues.push({ path: 'training.accumulate', expected: `a divisor of training.batchSize (${c.training.batchSize})`, found: describe(c.training.accumulate) });
  if (c.assignment.mode === 'knn' && c.assignment.k < 2)
    issues.push({ path: 'assignment.k', expected: 'an integer >= 2 when assignment.mode is "knn" (k = 1 is plain noise)', found: describe(c.assignment.k) });
  if (c.evaluation.every > 0 && c.data.source === 'toy2d')
    issues.push({ path: 'evaluation.every', expected: '0 (toy2d data is 2-D points; feature extractors need images)', found: describe(c.evaluation.every) });
  if (c.evaluation.extractor === 'inception' && !c.evaluation.inceptionWeights)
    issues.push({ path: 'evaluation.inceptionWeights', expected: 'the path of the pytorch-fid weights file (required when evaluation.extractor is "inception")', found: 'nothing' });
  if (c.sampling.guidanceScale !== 1 && !c.model.classConditional)
    issues.push({ path: 'sampling.guidanceScale', expected: '1 unless model.classConditional is true', found: describe(c.sampling.guidanceScale) });
  crossCheckObjective(c, issues);
}

export type ValidationResult = { ok: true; config: RunConfig } | { ok: false; issues: ConfigIssue[] };

/** Validates a parsed config, filling defaults. Never throws. */
export function validateConfig(input: unknown): ValidationResult {
  const issues: ConfigIssue[] = [];
  const resolved = check(CONFIG_SPEC, input, '', issues) as RunConfig | undefined;
  if (issues.length || !resolved) return { ok: false, issues };
  crossCheck(resolved, issues);
  return issues.length ? { ok: false, issues } : { ok: true, config: resolved };
}

/** Parses and validates config text; throws ConfigError naming `source`. */
export function parseConfig(text: string, source: string): RunConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(source, [{ path: '', expected: 'valid JSON', found: (e as Error).message }]);
  }
  const r = validateConfig(parsed);
  if (!r.ok) throw new ConfigError(source, r.issues);
  return r.config;
}

/** Applies `a.b.c=value` overrides (value parsed as JSON when it parses, else a string). */
export function applyOverrides(input: unknown, overrides: string[]): unknown {
  const root: Record<string, unknown> = typeof input === 'object' && input !== null ? structuredClone(input as Record<string, unknown>) : {};
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new ConfigError('--set', [{ path: o, expected: 'key=value, e.g. training.steps=500', found: JSON.stringify(o) }]);
    const keys = o.slice(0, eq).split('.');
    const raw = o.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = root;
    for (const k of keys.slice(0, -1)) {
      const next = node[k];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys[keys.length - 1]] = value;
  }
  return root;
}
