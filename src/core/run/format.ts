/**
 * The run directory: the contract between trainer, extension and other tools.
 * Documented in docs/run-format.md; bump RUN_FORMAT_VERSION on any incompatible change.
 */

export const RUN_FORMAT_VERSION = 1;

export const RUN_FILES = {
  record: 'run.json',
  config: 'config.json',
  metrics: 'metrics.jsonl',
  eval: 'eval.jsonl',
  events: 'events.jsonl',
  log: 'train.log',
  samples: 'samples',
  checkpoints: 'checkpoints',
  slurmScript: 'slurm-job.sh',
} as const;

export const slurmOutputName = (jobId: string): string => `slurm-${jobId}.out`;

/** `queued`: submitted to a batch scheduler (RunRecord.scheduler), whose job has not started the trainer yet. */
export const RUN_STATUSES = ['created', 'queued', 'running', 'stopped', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** The Slurm job that trains (or trained) the run, written by `immiscible submit`. */
export interface SlurmJob {
  kind: 'slurm';
  jobId: string;
  submittedAt: string;
  /** The job script in the run directory (RUN_FILES.slurmScript); the job's output is `slurm-<jobId>.out` beside it. */
  script: string;
  /** What was passed to sbatch besides the job name and output file (and resubmit's --signal). */
  sbatchArgs: string[];
  /**
   * Automatic resubmission (`submit --resubmit N`): the job gets SIGUSR1 `warnSeconds` before its
   * time limit (sbatch --signal=B:USR1@warnSeconds), and its trainer checkpoints and queues the
   * run's next job itself while `left` > 0. Absent or null: none.
   */
  resubmit?: AutoResubmit | null;
  /** The run's earlier jobs, oldest first; each one's output `slurm-<id>.out` stays beside the run. */
  previousJobs?: string[];
}

export interface AutoResubmit {
  left: number;
  warnSeconds: number;
}

export interface RunRecord {
  formatVersion: number;
  id: string;
  name: string;
  group: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  /** Heartbeat: refreshed while the trainer runs, so a dead process can be told from a live one. */
  updatedAt: string;
  pid: number | null;
  host: string;
  backend: string | null;
  device: string | null;
  /** Why each other backend was not used. */
  backendReasons: Record<string, string>;
  configHash: string;
  step: number;
  totalSteps: number;
  error: { message: string; stack?: string } | null;
  /** Absent or null for a run trained by a process started directly (terminal, extension, study). */
  scheduler?: SlurmJob | null;
}

export interface AssignmentStats {
  mode: string;
  /** Mean distance between each image and its noise before and after assignment. */
  distBefore: number;
  distAfter: number;
  ms: number;
}

export interface MetricsLine {
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  assign: AssignmentStats | null;
  imagesPerSec: number;
  /** Seconds of training, summed over resumes. */
  wallTime: number;
  time: string;
}

/** A metrics.jsonl line as far as readers of its newest line need it (step and loss). */
export const isMetricsLine = (v: unknown): v is MetricsLine =>
  typeof v === 'object' && v !== null && typeof (v as MetricsLine).step === 'number' && typeof (v as MetricsLine).loss === 'number';

/** One metric value of one evaluation (eval.jsonl). */
export interface EvalLine {
  step: number;
  /** fd_<extractor>, kid_<extractor>, or fid / kid for the standard Inception. */
  metric: string;
  value: number;
  /** kid: the population std over subsets. */
  std?: number;
  extractor: string;
  weightsSha256: string;
  /** Images sampled. */
  samples: number;
  /** Data-set images behind the reference statistics. */
  referenceSamples: number;
  sampler: string;
  samplerSteps: number;
  /** Seconds the whole evaluation took (sampling, features, metrics). */
  seconds: number;
  time: string;
  /** Written by `immiscible eval` rather than during training. */
  onDemand?: boolean;
}

export interface CheckpointInfo {
  step: number;
  dir: string;
}

export interface SampleInfo {
  step: number;
  file: string;
}

export const sampleFileName = (step: number): string => `step-${String(step).padStart(7, '0')}.png`;
export const checkpointDirName = (step: number): string => `step-${String(step).padStart(7, '0')}`;
export const stepFromName = (name: string): number | null => {
  const m = /^step-(\d+)(\.png)?$/.exec(name);
  return m ? Number(m[1]) : null;
};
