/**
 * The study folder (docs/studies.md): study.json, the record of a paired study and its results.
 * Written by `immiscible study`; read by the extension and any other tool.
 */
import type { Goal } from '../compare/threshold';

export const STUDY_FORMAT = 'immiscible-study';
export const STUDY_FORMAT_VERSION = 1;
export const STUDY_FILES = { record: 'study.json', report: 'report.md', events: 'events.jsonl' } as const;

export const BASELINE_MODE = 'none';
export const STUDY_MODES = ['none', 'linear', 'knn'] as const;
export type StudyMode = (typeof STUDY_MODES)[number];

export type StudyStatus = 'running' | 'stopped' | 'failed' | 'completed';

export interface StudyRunEntry {
  /** 0-based position in the order the runs execute (seed by seed, the modes of a seed together). */
  index: number;
  mode: StudyMode;
  seed: number;
  name: string;
  runDir: string | null;
  runId: string | null;
  status: 'pending' | 'running' | 'stopped' | 'failed' | 'completed';
  /** Processes started for this run (1, or more after resumes). */
  attempts: number;
  /** Wall-clock seconds of its processes, summed over attempts. */
  seconds: number;
  startedAt: string | null;
  endedAt: string | null;
}

export interface Machine {
  hostname: string;
  os: string;
  cpuModel: string;
  cpuCount: number;
  node: string;
  /** 1, 5 and 15 minute load averages when the study started: other work skews the timings. */
  loadAverage: number[];
}

export interface IntervalJson {
  mean: number | null;
  /** Null with fewer than 2 seeds: no interval can be computed. */
  low: number | null;
  high: number | null;
  /** Seeds whose ratio is defined (both runs reached the threshold). */
  n: number;
}

export interface ModeComparison {
  mode: StudyMode;
  /** Per seed (in `seeds` order): steps to reach the threshold, interpolated; null = never. */
  steps: (number | null)[];
  baselineSteps: (number | null)[];
  /** Per seed: baseline steps / this mode's steps (> 1: this mode got there in fewer steps). */
  ratios: (number | null)[];
  /** Bootstrap 95% interval of the mean ratio over seeds. */
  ratio: IntervalJson;
  reached: number;
  baselineReached: number;
}

export interface ThresholdResult {
  threshold: number;
  modes: ModeComparison[];
}

export interface OverheadRow {
  mode: StudyMode;
  /** Mean over seeds of training seconds per step (evaluation time excluded). */
  secondsPerStep: number | null;
  /** secondsPerStep / the baseline's. */
  ratioToBaseline: number | null;
  /** Mean `assign.ms` over the logged steps of every seed. */
  assignMs: number | null;
}

export interface RunCurve {
  mode: StudyMode;
  seed: number;
  runDir: string;
  /** The metric by step: [step, value]. */
  metric: [number, number][];
  loss: [number, number][];
  secondsPerStep: number | null;
  assignMs: number | null;
  final: { step: number; value: number } | null;
}

export interface StudyResults {
  metric: string;
  goal: Goal;
  baseline: typeof BASELINE_MODE;
  modes: StudyMode[];
  seeds: number[];
  curves: RunCurve[];
  thresholds: number[];
  thresholdSource: 'given' | 'default';
  comparisons: ThresholdResult[];
  overhead: OverheadRow[];
  /** Plain-language sentences computed from the numbers. */
  conclusion: string[];
}

export interface StudyRecord {
  format: typeof STUDY_FORMAT;
  version: number;
  status: StudyStatus;
  name: string;
  /** The command as typed (shell-quoted), and its arguments. */
  command: string;
  argv: string[];
  cwd: string;
  config: { file: string; sha256: string };
  modes: StudyMode[];
  seeds: number[];
  steps: number;
  set: string[];
  metric: string;
  goal: Goal;
  evaluation: { every: number; defaulted: boolean };
  thresholds: number[] | null;
  runsDir: string;
  machine: Machine;
  startedAt: string;
  endedAt: string | null;
  /** Seconds the study's processes were running, summed over resumes. */
  durationSeconds: number;
  runs: StudyRunEntry[];
  error: string | null;
  results: StudyResults | null;
  /** The study process while it runs (null once it has ended; absent in records written before it was kept). */
  pid?: number | null;
  /** The host of that process (absent in records written before it was kept: this host is assumed). */
  host?: string | null;
}
