/** Launch Run and Launch Paired Comparison: pick a config, ask for overrides, start trainers. */
import * as vscode from 'vscode';
import type { AssignmentMode } from '../../core/config/types';
import { resubmitProblem, sbatchArgProblem } from '../../core/slurm/jobScript';
import type { ExtensionState } from '../state';
import { pickConfig } from './configPicker';
import { askInteger, askOne, askText } from './prompts';

async function askMode(current: AssignmentMode, includeNone: boolean): Promise<AssignmentMode | undefined> {
  const modes: { label: AssignmentMode; description: string }[] = [
    { label: 'linear', description: 'exact linear sum assignment over the batch' },
    { label: 'knn', description: 'nearest of k fresh noise draws per image' },
  ];
  if (includeNone) modes.unshift({ label: 'none', description: 'plain diffusion (no assignment)' });
  const items = modes.map((m) => ({ ...m, picked: m.label === current, detail: m.label === current ? 'as in the config' : undefined }));
  items.sort((a, b) => Number(b.picked) - Number(a.picked));
  return (await askOne(items, { title: 'Assignment mode' }))?.label;
}

function backendOverride(state: ExtensionState): string[] {
  const b = state.settings().backend;
  return b === 'auto' ? [] : [`backend=${b}`];
}

interface RunChoice {
  file: string;
  name: string;
  set: string[];
}

async function askRun(state: ExtensionState, title: string): Promise<RunChoice | undefined> {
  const s = state.settings();
  const picked = await pickConfig(state.extensionPath, s.defaultConfig, title);
  if (!picked) return undefined;
  const { config, file } = picked;
  const name = await askText('Run name', config.name || file.replace(/^.*[\\/]/, '').replace(/(\.immiscible)?\.json$/, ''));
  if (name === undefined) return undefined;
  const seed = await askInteger('Seed', config.seed, 0);
  if (seed === undefined) return undefined;
  const steps = await askInteger('Training steps', config.training.steps, 1);
  if (steps === undefined) return undefined;
  const mode = await askMode(config.assignment.mode, true);
  if (!mode) return undefined;
  return { file, name, set: [`seed=${seed}`, `training.steps=${steps}`, `assignment.mode=${mode}`, ...backendOverride(state)] };
}

export async function launchRun(state: ExtensionState): Promise<void> {
  const r = await askRun(state, 'Launch Run');
  if (r) state.launch({ config: r.file, name: r.name, set: r.set });
}

/** Options are words separated by spaces, each one sbatch option (`--time=120`, not `--time 120`). */
export function parseSbatchArgs(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/**
 * Asks for the sbatch options of a run or study on Slurm (immiscible.slurm.sbatchArgs by default)
 * and checks them against ours and the resubmission setting; undefined when cancelled or refused.
 */
export async function askSbatchArgs(state: ExtensionState): Promise<string[] | undefined> {
  const text = await askText('sbatch options (immiscible.slurm.sbatchArgs by default)', state.settings().slurmSbatchArgs.join(' '));
  if (text === undefined) return undefined;
  const sbatchArgs = parseSbatchArgs(text);
  const resubmits = state.settings().slurmResubmits;
  const bad = sbatchArgs.map(sbatchArgProblem).find((p) => p !== null) ?? resubmitProblem(sbatchArgs, { left: resubmits });
  if (bad) {
    void vscode.window.showErrorMessage(`sbatch options: ${bad}${bad.includes('--resubmit') ? ` (immiscible.slurm.resubmits is ${resubmits})` : ''}`);
    return undefined;
  }
  return sbatchArgs;
}

export async function launchRunOnSlurm(state: ExtensionState): Promise<void> {
  const r = await askRun(state, 'Launch Run on Slurm');
  if (!r) return;
  const sbatchArgs = await askSbatchArgs(state);
  if (!sbatchArgs) return;
  state.submit({ config: r.file, name: r.name, set: r.set, sbatchArgs });
}

export async function launchPaired(state: ExtensionState): Promise<void> {
  const s = state.settings();
  const picked = await pickConfig(state.extensionPath, s.defaultConfig, 'Launch Paired Comparison');
  if (!picked) return;
  const { config, file } = picked;
  const mode = await askMode(config.assignment.mode === 'none' ? 'linear' : config.assignment.mode, false);
  if (!mode) return;
  const seed = await askInteger('Seed (shared by both runs)', config.seed, 0);
  if (seed === undefined) return;
  const base = config.name || file.replace(/^.*[\\/]/, '').replace(/(\.immiscible)?\.json$/, '');
  const group = `${base}-paired-seed${seed}`;
  const common = [`seed=${seed}`, `group=${group}`, ...backendOverride(state)];
  state.launch({ config: file, name: `${base}-baseline`, set: [...common, 'assignment.mode=none'] });
  state.launch({ config: file, name: `${base}-${mode}`, set: [...common, `assignment.mode=${mode}`] });
}
