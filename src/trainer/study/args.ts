/**
 * `immiscible study` flags: parsed and checked before any run starts, each error naming the flag
 * and what was expected.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import type { RunConfig } from '../../core/config/types';
import { BASELINE_MODE, STUDY_MODES, type StudyMode } from '../../core/study/format';
import { loadConfigFile, requireNamedFiles } from '../configFile';
import { resubmitProblem, sbatchArgProblem } from '../../core/slurm/jobScript';

export const STUDY_USAGE =
  'immiscible study --config FILE [--modes none,linear,knn] [--seeds N] [--steps N] [--runs DIR] [--out DIR] [--name NAME] [--set key=value ...] [--thresholds a,b,...] [--metric NAME] [--slurm] [--sbatch=OPTION ...] [--resubmit N] [--node PATH]';

export class StudyUsageError extends Error {}

export interface StudyArgs {
  configFile: string;
  configSha256: string;
  /** The config as the first run will see it (mode and seed aside). */
  config: RunConfig;
  modes: StudyMode[];
  seeds: number[];
  steps: number;
  runsDir: string;
  outDir: string;
  name: string;
  set: string[];
  thresholds: number[] | null;
  metric: string;
  evaluationEvery: number;
  /** True when the config had evaluation off and the study chose `evaluationEvery`. */
  evaluationDefaulted: boolean;
  /** Every run a Slurm job, all queued at once (`--slurm`, or any `--sbatch`). */
  slurm: boolean;
  sbatchArgs: string[];
  /** `--resubmit N` for each run's job (`immiscible submit`): continued in a new job at its time limit, up to N times. */
  resubmits: number;
  /** `--node PATH` for each run's job: Node.js on the compute nodes. */
  node: string | null;
}

function int(flag: string, v: string | undefined, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim()) || Number(v) < min) throw new StudyUsageError(`--${flag}: expected an integer >= ${min}, found "${v}"`);
  return Number(v);
}

export function parseModes(v: string): StudyMode[] {
  const modes = v.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of modes)
    if (!(STUDY_MODES as readonly string[]).includes(m)) throw new StudyUsageError(`--modes: unknown mode "${m}"; expected a comma-separated list of ${STUDY_MODES.join(', ')}`);
  if (new Set(modes).size !== modes.length) throw new StudyUsageError(`--modes: "${v}" names a mode twice`);
  if (!modes.includes(BASELINE_MODE)) throw new StudyUsageError(`--modes: expected the baseline "${BASELINE_MODE}" in the list (every mode is compared with it), found "${v}"`);
  if (modes.length < 2) throw new StudyUsageError(`--modes: expected "${BASELINE_MODE}" and at least one other mode (linear, knn), found "${v}"`);
  return [BASELINE_MODE, ...modes.filter((m) => m !== BASELINE_MODE)] as StudyMode[];
}

function parseThresholds(v: string | undefined): number[] | null {
  if (v === undefined) return null;
  const ts = v.split(',').map((s) => s.trim()).filter(Boolean);
  const out = ts.map(Number);
  if (ts.length === 0 || out.some((x) => !Number.isFinite(x))) throw new StudyUsageError(`--thresholds: expected comma-separated numbers, found "${v}"`);
  return out;
}

function defaultMetric(config: RunConfig): string {
  return config.evaluation?.extractor === 'inception' ? 'fid' : `fd_${config.evaluation?.extractor ?? 'lenet'}`;
}

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
const slug = (s: string): string => s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'study';

export function parseStudyArgs(argv: string[], now = new Date()): StudyArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        modes: { type: 'string', default: 'none,linear' },
        seeds: { type: 'string', default: '3' },
        steps: { type: 'string' },
        runs: { type: 'string', default: 'runs' },
        out: { type: 'string' },
        name: { type: 'string' },
        set: { type: 'string', multiple: true, default: [] },
        thresholds: { type: 'string' },
        metric: { type: 'string' },
        slurm: { type: 'boolean', default: false },
        sbatch: { type: 'string', multiple: true, default: [] },
        resubmit: { type: 'string' },
        node: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new StudyUsageError((e as Error).message);
  }
  if (!values.config) throw new StudyUsageError('study needs --config FILE');
  const sbatchArgs = [...(values.sbatch ?? [])];
  for (const a of sbatchArgs) {
    const problem = sbatchArgProblem(a);
    if (problem) throw new StudyUsageError(`--sbatch: ${problem}`);
  }
  const resubmits = int('resubmit', values.resubmit, 0) ?? 0;
  if (values.node !== undefined && !(values.slurm === true || sbatchArgs.length > 0 || resubmits > 0)) throw new StudyUsageError('--node: only with --slurm (Node.js on the compute nodes)');
  const conflict = resubmitProblem(sbatchArgs, { left: resubmits });
  if (conflict) throw new StudyUsageError(conflict);
  const modes = parseModes(values.modes ?? '');
  const nSeeds = int('seeds', values.seeds, 1) as number;
  const stepsFlag = int('steps', values.steps, 1);
  const thresholds = parseThresholds(values.thresholds);
  const set = [...(values.set ?? [])];
  const withSteps = stepsFlag !== undefined ? [...set, `training.steps=${stepsFlag}`] : set;
  const config = loadConfigFile(values.config, withSteps);
  requireNamedFiles(config, values.config);
  for (const mode of modes) loadConfigFile(values.config, [...withSteps, `assignment.mode=${mode}`]);
  const steps = config.training.steps;
  const metric = values.metric ?? defaultMetric(config);
  const configured = config.evaluation?.every ?? 0;
  const needsEval = metric !== 'loss';
  if (needsEval && config.data.source === 'toy2d')
    throw new StudyUsageError(`--metric: ${metric} needs evaluation, which needs image data; ${values.config} trains on toy2d (use --metric loss)`);
  const evaluationDefaulted = needsEval && configured === 0;
  const evaluationEvery = evaluationDefaulted ? Math.max(1, Math.round(steps / 8)) : configured;
  const name = slug(values.name ?? (config.name || path.basename(values.config).replace(/(\.immiscible)?\.json$/, '')));
  const sha = createHash('sha256').update(fs.readFileSync(values.config)).digest('hex');
  return {
    configFile: values.config,
    configSha256: sha,
    config,
    modes,
    seeds: Array.from({ length: nSeeds }, (_, i) => config.seed + i),
    steps,
    runsDir: values.runs ?? 'runs',
    outDir: values.out ?? path.join('studies', `${stamp(now)}-${name}`),
    name,
    set,
    thresholds,
    metric,
    evaluationEvery,
    evaluationDefaulted,
    slurm: values.slurm === true || sbatchArgs.length > 0 || resubmits > 0,
    sbatchArgs,
    resubmits,
    node: values.node ?? null,
  };
}

/** The `--set` list of one run of the study: the user's, then the study's (which win). */
export function runOverrides(a: Pick<StudyArgs, 'set' | 'steps' | 'evaluationEvery' | 'evaluationDefaulted' | 'name'>, mode: StudyMode, seed: number): string[] {
  const own = [`training.steps=${a.steps}`, `seed=${seed}`, `assignment.mode=${mode}`, `group=${a.name}`];
  if (a.evaluationDefaulted) own.push(`evaluation.every=${a.evaluationEvery}`);
  return [...a.set, ...own];
}
