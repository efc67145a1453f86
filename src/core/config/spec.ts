/**
 * One declarative description of the config, from which both the validator and the JSON Schema
 * (schemas/immiscible-config.schema.json, used by the editor) are derived, so they cannot drift.
 */

export type FieldSpec =
  | { type: 'integer'; default?: number; min?: number; max?: number; description: string }
  | { type: 'number'; default?: number; min?: number; max?: number; exclusiveMin?: number; description: string }
  | { type: 'boolean'; default: boolean; description: string }
  | { type: 'string'; default?: string; enum?: readonly string[]; minLength?: number; description: string }
  | { type: 'integerArray'; default: number[]; min?: number; minItems?: number; description: string }
  | { type: 'numberArray'; default: number[]; exclusiveMin?: number; minItems?: number; description: string }
  | { type: 'object'; fields: Record<string, FieldSpec>; description: string };

const int = (d: number, min: number, description: string, max?: number): FieldSpec => ({
  type: 'integer',
  default: d,
  min,
  max,
  description,
});

export const CONFIG_SPEC: FieldSpec = {
  type: 'object',
  description: 'Immiscible Lab run configuration (version 1).',
  fields: {
    $schema: { type: 'string', description: 'Path or URL of this JSON Schema (ignored by the trainer).' },
    version: { type: 'integer', default: 1, min: 1, max: 1, description: 'Config format version.' },
    name: { type: 'string', default: '', description: 'Run name shown in the sidebar (defaults to the config file name).' },
    group: { type: 'string', default: '', description: 'Experiment group the run belongs to.' },
    seed: int(0, 0, 'Seed of weights, data order, noise and assignment.', 4294967295),
    backend: {
      type: 'string',
      default: 'auto',
      enum: ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'],
      description: 'Compute backend; auto picks the fastest available and records why others were not used.',
    },
    objective: {
      type: 'string',
      default: 'ddpm',
      enum: ['ddpm', 'consistency', 'flow'],
      description:
        'Model family: ddpm (noise prediction, section diffusion), consistency (improved consistency training, section consistency) or flow (flow matching with straight paths, section flow). Data, assignment, metrics and the run directory are the same for all.',
    },
    data: {
      type: 'object',
      description: 'Training data. Nothing is downloaded: the embedded MNIST or a file of yours.',
      fields: {
        source: {
          type: 'string',
          default: 'mnist',
          enum: ['mnist', 'idx', 'cifar10', 'folder', 'toy2d'],
          description: 'mnist: embedded copy; idx: IDX files (e.g. Fashion-MNIST); cifar10: binary batches; folder: PNG/JPEG images; toy2d: 2-D points.',
        },
        split: { type: 'string', default: 'train', enum: ['train', 'test'], description: 'mnist: which split.' },
        path: { type: 'string', minLength: 1, description: 'idx: images file; cifar10: folder or .bin file; folder: image folder.' },
        labels: { type: 'string', minLength: 1, description: 'idx: optional labels file.' },
        imageSize: int(28, 4, 'Side of the square images the model sees.', 512),
        flip: { type: 'boolean', default: false, description: 'Random horizontal flip.' },
        limit: int(0, 0, 'Use only the first N examples (0 = all).'),
        distribution: {
          type: 'string',
          default: 'moons',
          enum: ['moons', 'gaussians8', 'checkerboard', 'swissroll', 'rings'],
          description: 'toy2d: the distribution.',
        },
        count: int(8192, 16, 'toy2d: number of points.'),
      },
    },
    model: {
      type: 'object',
      description: 'Denoiser network.',
      fields: {
        type: { type: 'string', default: 'unet', enum: ['unet', 'mlp'], description: 'unet for images, mlp for 2-D points.' },
        baseChannels: int(16, 4, 'unet: channels of the first level.', 1024),
        channelMults: { type: 'integerArray', default: [1, 2, 2], min: 1, minItems: 1, description: 'unet: channel multiplier per level; each level after the first halves the resolution.' },
        resBlocks: int(1, 1, 'unet: residual blocks per level.', 8),
        attentionResolutions: { type: 'integerArray', default: [], min: 1, minItems: 0, description: 'unet: resolutions (sides) at which self-attention is applied.' },
        dropout: { type: 'number', default: 0, min: 0, max: 0.9, description: 'unet: dropout in residual blocks.' },
        groups: int(8, 1, 'unet: GroupNorm groups (must divide every channel count).'),
        classConditional: { type: 'boolean', default: false, description: 'Condition on labels (needs a labelled data set).' },
        labelDropout: { type: 'number', default: 0.1, min: 0, max: 1, description: 'Probability of dropping the label in training, for classifier-free guidance.' },
        hidden: int(128, 8, 'mlp: hidden width.', 4096),
        layers: int(3, 1, 'mlp: hidden layers.', 16),
      },
    },
    diffusion: {
      type: 'object',
      description: 'DDPM forward process; the model predicts the noise (epsilon).',
      fields: {
        timesteps: int(1000, 2, 'Number of diffusion steps T.', 100000),
        schedule: { type: 'string', default: 'linear', enum: ['linear', 'cosine'], description: 'Beta schedule.' },
        betaStart: { type: 'number', default: 0.0001, exclusiveMin: 0, max: 0.999, description: 'linear: first beta.' },
        betaEnd: { type: 'number', default: 0.02, exclusiveMin: 0, max: 0.999, description: 'linear: last beta.' },
      },
    },
    consistency: {
      type: 'object',
      description: 'objective "consistency": improved consistency training (Song & Dhariwal 2023) in the EDM parameterisation; no EMA teacher.',
      fields: {
        sigmaMin: { type: 'number', default: 0.002, exclusiveMin: 0, description: 'Smallest noise level (the boundary condition f(x, sigmaMin) = x).' },
        sigmaMax: { type: 'number', default: 80, exclusiveMin: 0, description: 'Largest noise level; one-step samples start from sigmaMax * z.' },
        rho: { type: 'number', default: 7, exclusiveMin: 0, description: 'Karras discretisation exponent.' },
        sigmaData: { type: 'number', default: 0.5, exclusiveMin: 0, description: 'Data standard deviation assumed by the skip/out scalings (0.5 for images in [-1, 1]).' },
        pMean: { type: 'number', default: -1.1, description: 'Lognormal noise-level distribution: mean of ln(sigma).' },
        pStd: { type: 'number', default: 2, exclusiveMin: 0, description: 'Lognormal noise-level distribution: standard deviation of ln(sigma).' },
        s0: int(10, 1, 'Discretisation curriculum: intervals at the start.', 100000),
        s1: int(1280, 1, 'Discretisation curriculum: intervals at the end (doubling from s0 in equal stages).', 100000),
        hubercScale: {
          type: 'number',
          default: 0.00054,
          min: 0,
          description: 'Pseudo-Huber loss constant c = hubercScale * sqrt(dimensions) (0.00054 gives 0.03 on CIFAR-10; 0 is the plain L2 distance).',
        },
        timeScale: {
          type: 'number',
          default: 250,
          exclusiveMin: 0,
          description:
            'The network sees timeScale * ln(sigma) as its time: 250 is the reference implementation (1000 * 0.25 ln sigma) for the UNet; a small MLP learns much faster with 1.',
        },
        sampleSigmas: {
          type: 'numberArray',
          default: [0.8],
          exclusiveMin: 0,
          minItems: 0,
          description: 'sampler "multistep": the decreasing noise levels re-noised to after the first step from sigmaMax.',
        },
      },
    },
    flow: {
      type: 'object',
      description: 'objective "flow": x_t = (1 - t) x0 + t eps (t = 1 is noise), the model predicts the velocity eps - x0.',
      fields: {
        timeSampling: {
          type: 'string',
          default: 'uniform',
          enum: ['uniform', 'logitNormal'],
          description: 'Training time distribution: uniform on (0, 1) or logit-normal (sigmoid of a normal).',
        },
        logitMean: { type: 'number', default: 0, description: 'logitNormal: mean of the normal.' },
        logitStd: { type: 'number', default: 1, exclusiveMin: 0, description: 'logitNormal: standard deviation of the normal.' },
        atol: { type: 'number', default: 0.0001, exclusiveMin: 0, description: 'sampler "dopri5": absolute error tolerance per step.' },
        rtol: { type: 'number', default: 0.0001, exclusiveMin: 0, description: 'sampler "dopri5": relative error tolerance per step.' },
      },
    },
    assignment: {
      type: 'object',
      description: 'Immiscible noise assignment (arXiv 2406.12303, kNN variant arXiv 2505.18521).',
      fields: {
        mode: {
          type: 'string',
          default: 'none',
          enum: ['none', 'linear', 'knn'],
          description:
            'none: random pairing; linear: exact linear sum assignment over the batch (with cost sqeuclidean this is minibatch optimal transport, as OT-CFM); knn: nearest of k fresh noise draws per image. Noise is assigned before it is scaled by any noise level.',
        },
        cost: { type: 'string', default: 'l2', enum: ['l2', 'sqeuclidean'], description: 'Distance: l2 (unsquared, as the authors) or sqeuclidean.' },
        k: int(4, 1, 'knn: noise candidates per image.', 1024),
        knnOn: {
          type: 'string',
          default: 'cpu',
          enum: ['cpu', 'backend'],
          description:
            'knn: where the k candidates are drawn and compared. cpu: from the run\'s random stream, in the trainer\'s threads. backend: Philox4x32-10 draws (a counter-based stream from the seed, the step and the micro-batch) made and compared on the compute backend, so that on a GPU only the chosen noise comes back; for large k on a GPU (k = 64 is 25 million draws a CIFAR batch of 128). Another stream than cpu\'s, so runs differ in their noise.',
        },
        scope: {
          type: 'string',
          default: 'global',
          enum: ['global', 'micro'],
          description: 'With training.accumulate > 1: assign over the whole batch (global, as the authors across GPUs) or per micro-batch.',
        },
      },
    },
    training: {
      type: 'object',
      description: 'Optimisation and what is written during training.',
      fields: {
        steps: int(1000, 1, 'Training steps.'),
        batchSize: int(64, 1, 'Images per step (the global batch).', 65536),
        accumulate: int(1, 1, 'Micro-batches per step (gradient accumulation, to fit memory); batchSize must be a multiple.', 1024),
        lr: { type: 'number', default: 0.001, exclusiveMin: 0, max: 1, description: 'Adam learning rate after warm-up.' },
        warmupSteps: int(100, 0, 'Linear learning-rate warm-up steps.'),
        gradClip: { type: 'number', default: 1, min: 0, description: 'Clip the global gradient norm to this (0 = off).' },
        emaDecay: { type: 'number', default: 0.999, min: 0, max: 1, description: 'Maximum EMA decay; the effective decay is min(this, (1+n)/(10+n)).' },
        logEvery: int(1, 1, 'Steps between metrics lines.'),
        sampleEvery: int(100, 0, 'Steps between sample grids (0 = only at the end).'),
        checkpointEvery: int(200, 0, 'Steps between checkpoints (0 = only at the end and on stop).'),
        keepCheckpoints: int(3, 1, 'Checkpoints kept on disk (the newest).'),
        prefetch: {
          type: 'boolean',
          default: true,
          description: 'Prepare the next batch while this step trains, its linear assignment solved in a worker thread (same losses as off).',
        },
      },
    },
    sampling: {
      type: 'object',
      description: 'How sample grids are drawn (with EMA weights).',
      fields: {
        sampler: {
          type: 'string',
          default: 'ddim',
          enum: ['ddim', 'ddpm', 'euler', 'dopri5', 'onestep', 'multistep'],
          description: 'objective ddpm: ddim or ancestral ddpm; flow: euler (fixed steps) or dopri5 (adaptive Dormand-Prince); consistency: onestep or multistep.',
        },
        steps: int(50, 1, 'ddim and euler: sampling steps (ddpm uses every timestep).'),
        eta: { type: 'number', default: 0, min: 0, max: 1, description: 'ddim: 0 is deterministic, 1 is DDPM-like.' },
        count: int(64, 1, 'Images per grid.', 1024),
        guidanceScale: { type: 'number', default: 1, min: 0, description: 'Classifier-free guidance scale (1 = conditional only, no guidance).' },
        seed: int(1234, 0, 'Seed of the fixed grid noise.', 4294967295),
        clipDenoised: { type: 'boolean', default: true, description: 'Clip the predicted clean image to [-1, 1] (images only; 2-D points are never clipped).' },
      },
    },
    evaluation: {
      type: 'object',
      description: 'Frechet distance (and KID) of samples against the data set, during training and by `immiscible eval`; appended to eval.jsonl.',
      fields: {
        every: int(0, 0, 'Steps between evaluations, which also run at step 0 and at the last step (0 = off). Each samples `samples` images with the sampling settings: see docs/benchmarks.md for the cost.'),
        samples: int(500, 2, 'Images sampled per evaluation (EMA weights, sampling.sampler/steps/eta, fixed noise from evaluation.seed). With fewer than the feature dimension (84 for lenet) the covariance is rank-deficient.', 100000),
        referenceSamples: int(10000, 2, 'Data-set images for the reference statistics (the first N; all if fewer), computed once and cached per data set, extractor and N.'),
        extractor: {
          type: 'string',
          default: 'lenet',
          enum: ['lenet', 'inception'],
          description: 'Feature network: lenet (shipped, trained on MNIST; metrics fd_lenet, kid_lenet) or inception (pytorch-fid weights of yours; metrics fid, kid).',
        },
        inceptionWeights: { type: 'string', minLength: 1, description: 'inception: path of the pytorch-fid weights file (pt_inception-2015-12-05-6726825d.pth).' },
        kid: { type: 'boolean', default: false, description: 'Also compute KID (100 subsets of min(1000, samples) images).' },
        seed: int(4321, 0, 'Seed of the evaluation noise: the same at every evaluation, so values compare across steps.', 4294967295),
      },
    },
  },
};
