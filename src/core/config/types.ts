/** The run configuration: one JSON file per run. Version 1. */

export const CONFIG_VERSION = 1;

export type BackendName = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type DataSource = 'mnist' | 'idx' | 'cifar10' | 'folder' | 'toy2d';
export type ToyDistribution = 'moons' | 'gaussians8' | 'checkerboard' | 'swissroll' | 'rings';
export type AssignmentMode = 'none' | 'linear' | 'knn';
export type AssignmentCost = 'l2' | 'sqeuclidean';
export type KnnOn = 'cpu' | 'backend';
export type ScheduleName = 'linear' | 'cosine';
export type SamplerName = 'ddim' | 'ddpm' | 'euler' | 'dopri5' | 'onestep' | 'multistep';
export type ObjectiveName = 'ddpm' | 'consistency' | 'flow';
export type ModelType = 'unet' | 'mlp';

export interface DataConfig {
  source: DataSource;
  /** mnist: which split of the embedded copy. */
  split: 'train' | 'test';
  /** idx: images file; cifar10: folder of data_batch_*.bin or one .bin file; folder: image folder. */
  path?: string;
  /** idx: optional labels file. */
  labels?: string;
  /** Side of the square images given to the model (resized; folder images are center-cropped). */
  imageSize: number;
  /** Random horizontal flip during training. */
  flip: boolean;
  /** Use only the first N examples (0 = all). */
  limit: number;
  /** toy2d: which distribution and how many points. */
  distribution: ToyDistribution;
  count: number;
}

export interface ModelConfig {
  type: ModelType;
  /** unet */
  baseChannels: number;
  channelMults: number[];
  resBlocks: number;
  attentionResolutions: number[];
  dropout: number;
  groups: number;
  classConditional: boolean;
  /** Probability of dropping the label during training (classifier-free guidance). */
  labelDropout: number;
  /** mlp */
  hidden: number;
  layers: number;
}

export interface DiffusionConfig {
  timesteps: number;
  schedule: ScheduleName;
  betaStart: number;
  betaEnd: number;
}

/** objective "consistency": improved consistency training (Song & Dhariwal 2023). */
export interface ConsistencyConfig {
  sigmaMin: number;
  sigmaMax: number;
  rho: number;
  sigmaData: number;
  /** Lognormal distribution of ln(sigma) that weights the discretisation's intervals. */
  pMean: number;
  pStd: number;
  /** Discretisation curriculum: s0 intervals at the start, doubling up to s1. */
  s0: number;
  s1: number;
  /** Pseudo-Huber c = hubercScale * sqrt(dimensions). */
  hubercScale: number;
  /** The network's time input is timeScale * ln(sigma). */
  timeScale: number;
  /** multistep sampler: noise levels after the first step. */
  sampleSigmas: number[];
}

/** objective "flow": straight paths x_t = (1 - t) x0 + t eps, velocity eps - x0. */
export interface FlowConfig {
  timeSampling: 'uniform' | 'logitNormal';
  logitMean: number;
  logitStd: number;
  /** dopri5 sampler tolerances. */
  atol: number;
  rtol: number;
}

export interface AssignmentConfig {
  mode: AssignmentMode;
  cost: AssignmentCost;
  /** knn: noise candidates per image. */
  k: number;
  /**
   * knn: where the candidates are drawn and compared: `cpu` (the run's random stream, in the
   * trainer's threads) or `backend` (Philox draws made and compared on the compute backend; on a
   * GPU only the chosen noise comes back).
   */
  knnOn: KnnOn;
  /** With gradient accumulation: assign over the whole batch (as the authors do across GPUs) or per micro-batch. */
  scope: 'global' | 'micro';
}

export interface TrainingConfig {
  steps: number;
  batchSize: number;
  /** Micro-batches per step (gradient accumulation); batchSize must be a multiple. */
  accumulate: number;
  lr: number;
  warmupSteps: number;
  gradClip: number;
  emaDecay: number;
  logEvery: number;
  sampleEvery: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  /** Prepare the next batch and solve its assignment in a worker thread while this step trains. */
  prefetch: boolean;
}

export interface SamplingConfig {
  sampler: SamplerName;
  steps: number;
  eta: number;
  /** Images in the grid (a square number is laid out square). */
  count: number;
  guidanceScale: number;
  /** Seed of the fixed noise the grids start from, so grids compare across steps and runs. */
  seed: number;
  clipDenoised: boolean;
}

export type ExtractorChoice = 'lenet' | 'inception';

export interface EvaluationConfig {
  /** Steps between evaluations, plus the last step (0 = off). */
  every: number;
  /** Images sampled per evaluation. */
  samples: number;
  /** Data-set images for the cached reference statistics. */
  referenceSamples: number;
  extractor: ExtractorChoice;
  /** inception: the user's pytorch-fid weights file. */
  inceptionWeights?: string;
  kid: boolean;
  /** Seed of the evaluation noise. */
  seed: number;
}

export interface RunConfig {
  version: 1;
  name: string;
  group: string;
  seed: number;
  backend: BackendName;
  objective: ObjectiveName;
  data: DataConfig;
  model: ModelConfig;
  diffusion: DiffusionConfig;
  consistency: ConsistencyConfig;
  flow: FlowConfig;
  assignment: AssignmentConfig;
  training: TrainingConfig;
  sampling: SamplingConfig;
  /** Absent in configs written before evaluation existed (treated as off). */
  evaluation: EvaluationConfig;
}

/** What a user may write: every field optional except where validation says otherwise. */
export type DeepPartial<T> = T extends (infer U)[]
  ? U[]
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T;
export type RunConfigInput = DeepPartial<RunConfig>;
