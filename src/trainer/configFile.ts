/** Reads, overrides and validates a config file; every problem names the file and the field. */
import * as fs from 'node:fs';
import { applyOverrides, ConfigError, readsDataPath, validateConfig, type ConfigIssue } from '../core/config/validate';
import type { RunConfig } from '../core/config/types';

export function loadConfigFile(file: string, overrides: string[]): RunConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(file, [{ path: '', expected: 'a readable config file', found: 'no such file' }]);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, [{ path: '', expected: 'valid JSON', found: (e as Error).message }]);
  }
  const r = validateConfig(applyOverrides(parsed, overrides));
  if (!r.ok) throw new ConfigError(file, r.issues);
  return r.config;
}

/** Before training on `c` (from `file`): the user's files it names must be there (`validate` checks only the text). */
export function requireNamedFiles(c: RunConfig, file: string): void {
  const missing = missingFiles(c);
  if (missing.length) throw new ConfigError(file, missing);
}

/**
 * The user's files the config names (data set, labels, weights) that are not there, relative to
 * the working directory as the trainer reads them: caught before a run is created for them. Whether
 * a file that is there holds what it should is only known when it is read.
 */
export function missingFiles(c: RunConfig): ConfigIssue[] {
  const named: [string, string | undefined][] = [];
  if (readsDataPath(c.data.source)) named.push(['data.path', c.data.path]);
  if (c.data.source === 'idx') named.push(['data.labels', c.data.labels]);
  if (c.evaluation.every > 0 && c.evaluation.extractor === 'inception') named.push(['evaluation.inceptionWeights', c.evaluation.inceptionWeights]);
  return named
    .filter(([, p]) => p !== undefined && p !== '' && !fs.existsSync(p))
    .map(([path, p]) => ({ path, expected: 'an existing file or folder (relative paths are taken from the working directory)', found: `${JSON.stringify(p)}, which is not there` }));
}
