/** Finds configs (workspace files and built-in presets) and asks the user for one. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ConfigError, formatIssue, parseConfig } from '../../core/config/validate';
import type { RunConfig } from '../../core/config/types';
import { askOne } from './prompts';

export interface PickedConfig {
  file: string;
  config: RunConfig;
}

export async function findConfigs(extensionPath: string): Promise<{ label: string; description: string; file: string }[]> {
  const found = await vscode.workspace.findFiles('{**/*.immiscible.json,configs/*.json}', '**/node_modules/**', 500);
  const items = found
    .map((u) => u.fsPath)
    .sort()
    .map((file) => ({ label: path.basename(file), description: vscode.workspace.asRelativePath(file), file }));
  const presetDir = path.join(extensionPath, 'configs');
  const presets = fs.existsSync(presetDir) ? fs.readdirSync(presetDir).filter((f) => f.endsWith('.json')).sort() : [];
  for (const f of presets) items.push({ label: f, description: 'built-in preset', file: path.join(presetDir, f) });
  return items;
}

/** Reads and validates; shows the file, each field and what was expected on failure. */
export function loadConfigOrExplain(file: string): RunConfig | null {
  const rel = vscode.workspace.asRelativePath(file);
  try {
    return parseConfig(fs.readFileSync(file, 'utf8'), rel);
  } catch (e) {
    // The fields first: a notification shows one line until expanded.
    const msg = e instanceof ConfigError ? `${e.issues.map(formatIssue).join(' · ')} (${rel})` : `${rel}: ${(e as Error).message}`;
    void vscode.window.showErrorMessage(`Invalid config: ${msg}`);
    return null;
  }
}

export async function pickConfig(extensionPath: string, defaultConfig: string, title: string): Promise<PickedConfig | null> {
  const items = await findConfigs(extensionPath);
  const active = vscode.window.activeTextEditor?.document.uri.fsPath;
  const preferred = [active, defaultConfig].filter((x): x is string => Boolean(x));
  items.sort((a, b) => Number(preferred.some((p) => b.file.endsWith(p))) - Number(preferred.some((p) => a.file.endsWith(p))));
  const pick = await askOne(items, { title, placeHolder: 'Config to train with', matchOnDescription: true });
  if (!pick) return null;
  const config = loadConfigOrExplain(pick.file);
  return config ? { file: pick.file, config } : null;
}
