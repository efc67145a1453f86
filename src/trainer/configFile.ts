/** Reads, overrides and validates a config file; every problem names the file and the field. */
import * as fs from 'node:fs';
import { applyOverrides, ConfigError, validateConfig } from '../core/config/validate';
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
