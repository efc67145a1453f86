import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendName } from '../core/config/types';

export interface Settings {
  runsFolder: string;
  defaultConfig: string;
  backend: BackendName;
  nodeExecutable: string;
  gitTracking: 'commit' | 'off';
  concurrentRuns: number;
  /** sbatch options for runs launched on Slurm (`--partition=gpu`, `--gres=gpu:1`, `--time=120`). */
  slurmSbatchArgs: string[];
  /** Times a Slurm run's trainer may queue its own next job near the time limit (`submit --resubmit`). */
  slurmResubmits: number;
  /** Node.js on the compute nodes, when not where this machine's is ('' : the one that submits). */
  slurmNode: string;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration('immiscible');
  return {
    runsFolder: c.get<string>('runsFolder', 'runs'),
    defaultConfig: c.get<string>('defaultConfig', ''),
    backend: c.get<BackendName>('backend', 'auto'),
    nodeExecutable: c.get<string>('nodeExecutable', ''),
    gitTracking: c.get<'commit' | 'off'>('gitTracking', 'commit'),
    concurrentRuns: c.get<number>('concurrentRuns', 1),
    slurmSbatchArgs: c.get<string[]>('slurm.sbatchArgs', []),
    slurmResubmits: c.get<number>('slurm.resubmits', 0),
    slurmNode: c.get<string>('slurm.node', ''),
  };
}

/** The first workspace folder, where runs and configs live. */
export function workspaceRoot(): string | null {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? null;
}

export function runsDir(s: Settings, root: string): string {
  return path.isAbsolute(s.runsFolder) ? s.runsFolder : path.join(root, s.runsFolder);
}
