/**
 * The training loop: one run directory, from a fresh start or its latest checkpoint, until its
 * step budget or a stop request. Everything random comes from saved Rng states, so a resumed
 * run reproduces the losses of an uninterrupted one on the same backend.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../../core/config/types';
import { RUN_FILES, sampleFileName, type EvalLine, type MetricsLine, type RunStatus } from '../../core/run/format';
import { parseJsonLines, writeFileAtomic } from '../../core/run/fsAtomic';
import { listCheckpoints } from '../../core/run/reader';
import { configHash, type RunWriter } from '../../core/run/writer';
import { makeEvent, type TrainerEvent } from '../../core/protocol/events';
import { selectBackend } from '../backend/select';
import { BatchSampler, gatherImages, gatherPoints, loadDataset, type Dataset } from '../data';
import type { BatchSamplerState } from '../data/batches';
import { LsaWorker } from '../assignment/lsaWorkerClient';
import { makeSchedule, type Schedule } from '../diffusion/schedule';
import type { Denoiser } from '../model/denoiser';
import { buildMlp } from '../model/mlp';
import { asWeights } from '../model/params';
import { buildUnet } from '../model/unet';
import { makeObjective, type Net } from '../objectives';
import { inMicroBatch } from '../backend/webgpuCapture';
import { explainGpuFailure, takeGpuError } from '../backend/webgpuErrors';
import { MIN_POOLED_PAIRS, NormalPool } from '../noise/normalPool';
import { cpuBudget, describeCpuBudget } from '../cpuLimit';
import { microSlice } from './microBatch';
import { Rng, type RngState } from '../rng';
import { Evaluator } from '../eval/evaluator';
import { renderSamples } from '../sample/render';
import { adamStep, learningRate } from './adam';
import { assignNoise, assignNoiseAsync, solveHere, type AssignedNoise, type AsyncSolve, type DrawAt } from './assignNoise';
import { readCheckpoint, writeCheckpoint } from './checkpoint';
import { emaDecay } from './ema';
import type { StepReplayer } from '../backend/webgpuReplay';
import { replayedStep, type StepInputs } from './replayStep';
import { disposeModelState, freshModelState, restoreModelState, snapshotArrays, type ModelState } from './modelState';

export interface TrainOptions {
  run: RunWriter;
  config: RunConfig;
  resume: boolean;
  emit: (e: TrainerEvent) => void;
  /** Aborted by SIGINT/SIGTERM: the loop checkpoints and marks the run stopped. */
  signal: AbortSignal;
  /** Stop after this step even if the budget is larger (tests of interruption). */
  stopAtStep?: number;
  /**
   * Asked once the loop stopped early and its checkpoint is written: queues whatever continues
   * the run elsewhere (the next Slurm job near a time limit) and returns its job id, having
   * recorded the run as `queued`; null to stop as usual. If it throws, the run stops with that
   * error named.
   */
  handOff?: () => Promise<string | null>;
  /**
   * The run's config.json as written, which checkpoint hashes cover: a run from before a config
   * key existed lacks it there, and `config` has its default filled in. `config` when absent.
   */
  writtenConfig?: unknown;
}

/** kNN's draws a step from which the trainer suggests drawing them on the GPU (about 10 ms of one thread's words). */
const KNN_ON_GPU_HINT_DRAWS = 2 ** 22;

/** Noise for the whole batch, assigned over it (`global`) or per micro-batch (`micro`). */
function assignBatch(x: Float32Array, b: number, d: number, config: RunConfig, rng: Rng, step: number): ReturnType<typeof assignNoise> {
  const k = config.training.accumulate;
  const at = (part: number): DrawAt => ({ seed: config.seed, step, part });
  if (k === 1 || config.assignment.scope === 'global') return assignNoise(x, b, d, config.assignment, rng, at(0));
  const mb = b / k;
  const noise = new Float32Array(b * d);
  const parts = Array.from({ length: k }, (_, m) => {
    const r = assignNoise(x.subarray(m * mb * d, (m + 1) * mb * d), mb, d, config.assignment, rng, at(m));
    noise.set(r.noise, m * mb * d);
    return r.stats;
  });
  const avg = (f: (p: (typeof parts)[number]) => number): number => parts.reduce((a, p) => a + f(p), 0) / k;
  return {
    noise,
    stats: { mode: config.assignment.mode, distBefore: avg((p) => p.distBefore), distAfter: avg((p) => p.distAfter), ms: parts.reduce((a, p) => a + p.ms, 0) },
  };
}

/**
 * As assignBatch, with `linear` solves handed to `solve`: every rng draw (and cost matrix) is made
 * before this returns, in assignBatch's order, so the result is the same.
 */
function assignBatchAsync(x: Float32Array, b: number, d: number, config: RunConfig, rng: Rng, step: number, solve: AsyncSolve): Promise<AssignedNoise> {
  const k = config.training.accumulate;
  const at = (part: number): DrawAt => ({ seed: config.seed, step, part });
  if (k === 1 || config.assignment.scope === 'global') return assignNoiseAsync(x, b, d, config.assignment, rng, at(0), solve);
  const mb = b / k;
  const parts = Array.from({ length: k }, (_, m) => assignNoiseAsync(x.subarray(m * mb * d, (m + 1) * mb * d), mb, d, config.assignment, rng, at(m), solve));
  return Promise.all(parts).then((done) => {
    const noise = new Float32Array(b * d);
    done.forEach((r, m) => noise.set(r.noise, m * mb * d));
    const avg = (f: (p: AssignedNoise['stats']) => number): number => done.reduce((a, p) => a + f(p.stats), 0) / k;
    return {
      noise,
      stats: { mode: config.assignment.mode, distBefore: avg((p) => p.distBefore), distAfter: avg((p) => p.distAfter), ms: done.reduce((a, p) => a + p.stats.ms, 0) },
    };
  });
}

/** One step's inputs, drawn ahead; only the assignment's solve may still be running. */
interface PreparedBatch {
  x: Float32Array;
  labels: Int32Array | null;
  /** Per-example noise levels (the objective's: DDPM timesteps, flow times, CT intervals). */
  levels: Float32Array;
  /** The 0-based step this batch trains. */
  step: number;
  dropoutSeed: number;
  assigned: Promise<AssignedNoise>;
  /** The random state before this batch was drawn: a checkpoint taken while it waits stores
   * these, so a resumed run draws the same batch again. */
  rngBefore: RngState;
  samplerBefore: BatchSamplerState;
}

/** A step recorded, its loss and gradient norm being read back. */
interface InFlight {
  lossT: tf.Tensor;
  normT: tf.Tensor;
  read: Promise<[tf.TypedArray, tf.TypedArray]>;
  lr: number;
  stats: AssignedNoise['stats'];
}

/**
 * The hash a checkpoint is checked against: the config without training.prefetch, which changes
 * the speed but not the result, so a run may resume with it toggled, and checkpoints written
 * before the field existed still match. For the same reason a DDPM run's hash leaves out the
 * objective sections added with flow matching and consistency training.
 */
function checkpointHash(written: unknown): string {
  // config.json as written: any section may be missing from a hand-made one (no crash, no match).
  const config = written as Partial<RunConfig>;
  const { prefetch: _ignored, ...training } = config.training ?? ({} as Partial<RunConfig['training']>);
  // Evaluation does not change training either (and configs before it existed lack the field).
  const { evaluation: _evaluation, ...withoutEval } = config;
  // assignment.knnOn at its default, "cpu", is left out: checkpoints from before it still match.
  const { knnOn, ...assignmentBefore } = config.assignment ?? ({} as Partial<RunConfig['assignment']>);
  const assignment = (knnOn === 'cpu' ? assignmentBefore : config.assignment) as RunConfig['assignment'];
  if (config.objective !== 'ddpm') return configHash({ ...withoutEval, assignment, training: training as RunConfig['training'] } as RunConfig);
  const { objective: _o, flow: _f, consistency: _c, ...rest } = withoutEval;
  return configHash({ ...rest, assignment, training: training as RunConfig['training'] } as RunConfig);
}

export function buildModel(config: RunConfig, ds: Dataset): Denoiser {
  if (ds.kind === 'points') return buildMlp(config.model, ds.dim);
  if (ds.height !== ds.width) throw new Error(`${ds.description}: expected square images, found ${ds.height}x${ds.width}`);
  return buildUnet(config.model, ds.height, ds.channels, ds.numClasses);
}

/** Removes lines after the checkpoint we resume from, so the log has each step once. */
function truncateLines<T extends { step: number }>(run: RunWriter, name: string, step: number): void {
  const file = run.path(name);
  if (!fs.existsSync(file)) return;
  const { records } = parseJsonLines<T>(fs.readFileSync(file, 'utf8'));
  const kept = records.filter((m) => m.step <= step);
  writeFileAtomic(file, kept.map((m) => JSON.stringify(m) + '\n').join(''));
}

export async function train(o: TrainOptions): Promise<RunStatus> {
  const { run, config } = o;
  const runId = run.current.id;
  const emit = (e: TrainerEvent): void => {
    run.appendEvent(e);
    o.emit(e);
  };
  const log = (level: 'info' | 'warn' | 'error', message: string): void => {
    run.log(`[${level}] ${message}`);
    emit(makeEvent('log', runId, { level, message }));
  };

  let state: ModelState | null = null;
  // Until a checkpoint is restored, a resume that fails leaves the run at the step it had.
  let step = o.resume ? run.current.step : 0;
  let solver: LsaWorker | null = null;
  let evaluator: Evaluator | null = null;
  let replayer: StepReplayer | null = null;
  let noise: NormalPool | null = null;
  // Errors a GPU reported before this run are not its failure's cause.
  takeGpuError();
  try {
    const backend = await selectBackend(config.backend);
    const ds = loadDataset(config.data, config.seed);
    if (config.model.classConditional && !ds.labels)
      throw new Error(`model.classConditional is true but ${ds.description} has no labels`);
    const model = buildModel(config, ds);
    const schedule = makeSchedule(config.diffusion.schedule, config.diffusion.timesteps, config.diffusion.betaStart, config.diffusion.betaEnd);
    const perExample = model.exampleShape.reduce((a, b) => a * b, 1);
    const objective = makeObjective(config, schedule);

    const hash = checkpointHash(o.writtenConfig ?? config);
    let rng: Rng;
    let sampler: BatchSampler;
    let wallBase = 0;
    const checkpoints = o.resume ? listCheckpoints(run.dir) : [];
    if (o.resume && checkpoints.length) {
      const latest = checkpoints[checkpoints.length - 1];
      const ck = readCheckpoint(latest.dir);
      if (ck.state.configHash !== hash) throw new Error(`${latest.dir}: checkpoint was written with another config (config.json changed since it was written: put it back to resume, or start a new run)`);
      state = restoreModelState(model, ck);
      rng = Rng.fromState(ck.state.rng);
      sampler = BatchSampler.fromState(ds.count, ck.state.sampler);
      step = ck.state.step;
      wallBase = ck.state.wallTime;
      truncateLines<MetricsLine>(run, RUN_FILES.metrics, step);
      truncateLines<EvalLine>(run, RUN_FILES.eval, step);
      log('info', `resumed from checkpoint at step ${step}`);
    } else {
      // A run queued by `submit` has never started: step 0 is expected there, not a lost checkpoint.
      if (o.resume) log(run.current.startedAt === null ? 'info' : 'warn', run.current.startedAt === null ? 'starting from step 0' : 'no checkpoint found: starting from step 0');
      step = 0;
      const initRng = new Rng(config.seed);
      state = freshModelState(model, initRng);
      rng = new Rng((config.seed + 0x9e3779b9) >>> 0);
      sampler = new BatchSampler(ds.count, (config.seed + 1) >>> 0);
      fs.rmSync(run.path(RUN_FILES.metrics), { force: true });
      fs.rmSync(run.path(RUN_FILES.eval), { force: true });
    }

    // The noise's Box-Muller transform shared with other threads: the same draws, a kNN batch of
    // CIFAR images draws 1.6 million a step.
    noise = new NormalPool();
    rng.transformWith(noise);

    const total = config.training.steps;
    run.update({
      status: 'running',
      pid: process.pid,
      // A run made on one machine (a login node) is trained on another (a compute node): the pid is this host's.
      host: os.hostname(),
      startedAt: run.current.startedAt ?? new Date().toISOString(),
      endedAt: null,
      error: null,
      backend: backend.name,
      device: backend.device,
      backendReasons: backend.reasons,
      step,
    });
    emit(makeEvent('started', runId, { runDir: run.dir, step, totalSteps: total, backend: backend.name, device: backend.device, resumed: o.resume }));
    log('info', `backend ${backend.name} (${backend.device}); ${model.params.count()} parameters; data ${ds.description} (${ds.count} examples)`);
    const quota = describeCpuBudget(cpuBudget());
    if (quota) log('info', `${quota} (${noise.threads} noise threads${process.env.OMP_NUM_THREADS ? `, OMP_NUM_THREADS=${process.env.OMP_NUM_THREADS}` : ''})`);
    const knnDrawnOnBackend = config.assignment.mode === 'knn' && config.assignment.knnOn === 'backend';
    const draws = config.training.batchSize * perExample * (config.assignment.mode === 'knn' ? config.assignment.k : 1);
    if (knnDrawnOnBackend) log('info', `noise: kNN's ${draws} candidate draws a step are made and compared on ${backend.name} (Philox; assignment.knnOn = backend)`);
    else if (noise.threads > 0 && draws >= 2 * MIN_POOLED_PAIRS)
      log('info', `noise: the Box-Muller transform of a step's ${draws} draws is shared with ${noise.threads} thread${noise.threads === 1 ? '' : 's'}`);
    // Every word is drawn in one thread: from about 4 million draws a step that bounds a GPU's step.
    if (!knnDrawnOnBackend && config.assignment.mode === 'knn' && backend.name === 'webgpu' && draws >= KNN_ON_GPU_HINT_DRAWS)
      log('info', `noise: kNN draws ${draws} candidates a step on the CPU; assignment.knnOn = "backend" would draw and compare them on the GPU (another random stream)`);

    const s = state;
    const varList = [...s.params.values()];
    const nameOf = new Map(varList.map((v, i) => [v.name, [...s.params.keys()][i]]));
    const started = performance.now();
    let lastBeat = 0;
    let lastProgress = 0;
    let recent = { images: 0, ms: 0 };

    // With prefetch, the next batch is drawn (and its linear assignment solved in a worker thread)
    // while this step trains. The draws keep their order, so the losses are those without it.
    const prefetch = config.training.prefetch;
    if (prefetch && config.assignment.mode === 'linear') {
      solver = new LsaWorker();
      if (!solver.threaded) log('warn', 'assignment worker not found (lsa-worker.js): solving on the main thread');
    }
    // A GPU backend reads its results back asynchronously only: the linear assignment's cost
    // matrix takes the async path there even without a worker.
    const solve: AsyncSolve | null = solver ? (cost, n) => (solver as LsaWorker).solve(cost, n) : backend.name === 'webgpu' ? solveHere : null;
    const b = config.training.batchSize;
    const prepare = (batchStep: number): PreparedBatch => {
      const rngBefore = rng.state();
      const samplerBefore = sampler.state();
      const { indices } = sampler.next(b);
      const batch = ds.kind === 'points' ? gatherPoints(ds, indices) : gatherImages(ds, indices, config.data.flip, rng);
      const labels = batch.labels && config.model.classConditional ? batch.labels.slice() : null;
      if (labels) for (let i = 0; i < b; i++) if (rng.uniform() < config.model.labelDropout) labels[i] = ds.numClasses;
      const levels = objective.drawLevels(b, rng, batchStep);
      const assigned = solve ? assignBatchAsync(batch.x, b, perExample, config, rng, batchStep, solve) : Promise.resolve(assignBatch(batch.x, b, perExample, config, rng, batchStep));
      // A prefetched batch is dropped unawaited when the run stops; its failure is not unhandled.
      assigned.catch(() => undefined);
      const dropoutSeed = rng.nextUint32();
      return { x: batch.x, labels, levels, step: batchStep, dropoutSeed, assigned, rngBefore, samplerBefore };
    };
    let next: PreparedBatch | null = null;
    // Where a batch's draws cost the CPU next to nothing: the GPU makes kNN's candidates.
    const prepareFirst = knnDrawnOnBackend && backend.name === 'webgpu';
    const randomState = (): { rng: RngState; sampler: BatchSamplerState } =>
      next ? { rng: next.rngBefore, sampler: next.samplerBefore } : { rng: rng.state(), sampler: sampler.state() };

    const saveCheckpoint = async (): Promise<void> => {
      const arrays = await snapshotArrays(model, s);
      const dir = writeCheckpoint(
        run.path(RUN_FILES.checkpoints),
        {
          step,
          wallTime: wallBase + (performance.now() - started) / 1000,
          configHash: hash,
          adamT: s.adam.t,
          emaUpdates: s.emaUpdates,
          ...randomState(),
        },
        arrays,
        config.training.keepCheckpoints,
      );
      emit(makeEvent('checkpoint', runId, { step, dir }));
    };
    const saveSamples = async (): Promise<void> => {
      const { png, nfe, detail } = await renderSamples(model, asWeights(s.ema), schedule, config, ds);
      if (config.objective !== 'ddpm') log('info', `samples at step ${step}: ${nfe} evaluations per sample (${detail})`);
      const file = run.path(RUN_FILES.samples, sampleFileName(step));
      // A run copied without its empty folders (git keeps none) has no samples/ yet.
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, png);
      emit(makeEvent('sample', runId, { step, file }));
    };

    const evalEvery = config.evaluation.every;
    if (evalEvery > 0 && ds.kind === 'image') evaluator = await Evaluator.create({ config, ds, log: (m) => log('info', m) });
    let lastEval = -1;
    const evaluate = async (): Promise<void> => {
      if (!evaluator || lastEval === step) return;
      lastEval = step;
      const lines = await evaluator.evaluate(model, asWeights(s.ema), schedule, step);
      for (const line of lines) {
        run.appendEval(line);
        emit(makeEvent('eval', runId, { step, metric: line.metric, value: line.value }));
      }
      log('info', `eval step ${step}: ${lines.map((l) => `${l.metric} ${l.value.toPrecision(5)}`).join(', ')} (${lines[0].samples} samples, ${lines[0].seconds.toFixed(1)} s)`);
    };

    /** One training step run normally: its loss and gradient norm (the caller reads and disposes them). */
    const trainStep = ({ cur, noise, lr }: StepInputs): tf.Tensor[] =>
      tf.tidy(() => {
        // Gradient accumulation: the mean over `accumulate` equal micro-batches is the gradient of
        // the whole batch, while only one micro-batch's activations are alive at a time.
        const k = config.training.accumulate;
        let lossSum: tf.Scalar = tf.scalar(0);
        const sums = new Map<string, tf.Tensor>();
        for (let m = 0; m < k; m++) {
          const slice = microSlice(cur, noise, model.exampleShape, k, m);
          const net: Net = (x, t, timeSlot) => model.apply(asWeights(s.params), { x, t, labels: slice.labels, training: true, seed: slice.seed, timeSlot });
          // Its uploads are tagged as micro-batch m's, for a replayed step.
          const { micro, value, grads } = inMicroBatch(m, () => {
            const ml = objective.microLoss(slice.batch, net);
            return { micro: ml, ...tf.variableGrads(ml.loss, varList) };
          });
          for (const [key, g] of Object.entries(grads)) {
            const name = nameOf.get(key) as string;
            const prev = sums.get(name);
            sums.set(name, prev ? tf.add(prev, g) : g);
            if (prev) tf.dispose([prev, g]);
          }
          const prevLoss = lossSum;
          lossSum = tf.add(prevLoss, value);
          tf.dispose([prevLoss, value]);
          micro.dispose();
        }
        const mean = new Map([...sums].map(([key, g]) => [key, k > 1 ? tf.div(g, k) : g]));
        // The EMA of the weights is updated with them (one kernel per tensor on webgpu).
        const norm = adamStep(s.params, mean, s.adam, lr, config.training.gradClip, { weights: s.ema, decay: emaDecay(s.emaUpdates + 1, config.training.emaDecay) });
        return [tf.div(lossSum, k) as tf.Scalar, norm];
      });
    let stepNow: StepInputs | null = null;
    replayer = backend.name === 'webgpu' ? replayedStep({ config, objective, state: s, exampleShape: model.exampleShape, inputs: () => stepNow as StepInputs, run: trainStep, log }) : null;

    if (step === 0 && config.training.sampleEvery > 0) await saveSamples();
    // Step 0 is the untrained model, as for the sample grids (its samples are noise; see docs/benchmarks.md).
    if (step === 0) await evaluate();
    const stopAt = Math.min(total, o.stopAtStep ?? total);
    const at = (every: number, n: number): boolean => every > 0 && n % every === 0 && n < total;
    /** Whether the run samples, evaluates, checkpoints or ends once `n` steps are done. */
    const boundary = (n: number): boolean =>
      n >= stopAt || at(config.training.sampleEvery, n) || at(evalEvery, n) || at(config.training.checkpointEvery, n);
    let lastDone = performance.now();
    /** Books a recorded step once its loss is read back: metrics, progress, and at its step the samples, evaluation and checkpoint. */
    const finish = async (f: InFlight): Promise<void> => {
      const [lossArr, normArr] = await f.read;
      f.lossT.dispose();
      f.normT.dispose();
      const loss = lossArr[0];
      if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at step ${step + 1} (try a lower training.lr)`);
      step += 1;
      const ms = performance.now() - lastDone;
      recent = { images: recent.images * 0.9 + b, ms: recent.ms * 0.9 + ms };
      const imagesPerSec = (recent.images / recent.ms) * 1000;
      const wallTime = wallBase + (performance.now() - started) / 1000;
      if (step % config.training.logEvery === 0 || step === total)
        run.appendMetrics({ step, loss, lr: f.lr, gradNorm: normArr[0], assign: f.stats, imagesPerSec, wallTime, time: new Date().toISOString() });
      const now = performance.now();
      if (now - lastProgress > 250 || step === stopAt) {
        lastProgress = now;
        const eta = ((total - step) * b) / imagesPerSec;
        emit(makeEvent('progress', runId, { step, totalSteps: total, loss, imagesPerSec, etaSeconds: Number.isFinite(eta) ? eta : null }));
      }
      if (now - lastBeat > 5000) {
        lastBeat = now;
        run.update({ step });
      }
      if (at(config.training.sampleEvery, step)) await saveSamples();
      // Before the checkpoint: a checkpoint at a step implies its evaluation was written.
      if (at(evalEvery, step)) await evaluate();
      if (at(config.training.checkpointEvery, step)) await saveCheckpoint();
      lastDone = performance.now();
    };
    // Steps recorded: one more than `step` while a step is in flight.
    let recorded = step;
    let inFlight: InFlight | null = null;
    while (recorded < stopAt && !o.signal.aborted) {
      // Let signal handlers and I/O run: the backend's promises resolve as microtasks only.
      await new Promise((r) => setImmediate(r));
      const cur = next ?? prepare(recorded);
      next = null;
      const { noise, stats } = await cur.assigned;
      const lr = learningRate(recorded + 1, config.training.lr, config.training.warmupSteps);

      // kNN on a GPU: the next batch's candidates are queued ahead of this step, so that they are
      // read back while it runs and the GPU does not wait for them between steps.
      if (prefetch && prepareFirst && recorded + 1 < stopAt) next = prepare(recorded + 1);
      stepNow = { cur, noise, lr };
      const [lossT, normT] = replayer ? replayer.step() : trainStep(stepNow);
      s.emaUpdates += 1;
      recorded += 1;
      const read = Promise.all([lossT.data(), normT.data()]);
      // Awaited below, or by the next step: a failure is not unhandled meanwhile.
      read.catch(() => undefined);
      // Otherwise the next batch is drawn while a GPU runs this step (its noise is most of the
      // CPU's work once the step is replayed). The step draws nothing from rng, so either way the
      // draws keep their order.
      if (prefetch && !prepareFirst && recorded < stopAt) next = prepare(recorded);
      // The step before is read back while this one runs: a GPU does not wait between steps for
      // the read-back. A step that samples, evaluates, checkpoints or ends the run is read back
      // before another is recorded, so those see its weights.
      if (inFlight) await finish(inFlight);
      inFlight = { lossT, normT, read, lr, stats };
      if (boundary(recorded) || o.signal.aborted) {
        await finish(inFlight);
        inFlight = null;
      }
    }
    if (inFlight) await finish(inFlight);

    const done = step >= total;
    if (done) await saveSamples();
    if (done) await evaluate();
    await saveCheckpoint();
    let handOffError: string | null = null;
    if (!done && o.handOff) {
      // The next job resumes from this step's checkpoint.
      run.update({ step });
      try {
        const jobId = await o.handOff();
        if (jobId !== null) {
          emit(makeEvent('submitted', runId, { runDir: run.dir, scheduler: 'slurm', jobId }));
          return 'queued';
        }
      } catch (e) {
        handOffError = `the run could not be handed on to a new job (${(e as Error).message}); continue it with: immiscible submit --resume ${run.dir}`;
        log('warn', handOffError);
      }
    }
    const status: RunStatus = done ? 'completed' : 'stopped';
    run.update({ status, step, endedAt: new Date().toISOString(), pid: null, ...(handOffError ? { error: { message: handOffError } } : {}) });
    emit(makeEvent('finished', runId, { status, step, error: handOffError }));
    return status;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    // A GPU error surfaces later, often as an empty message; name it and what to change.
    const gpu = takeGpuError();
    const message = gpu ? explainGpuFailure(gpu, err.message) : err.message || `${err.name} without a message`;
    run.update({ status: 'failed', step, endedAt: new Date().toISOString(), pid: null, error: { message, stack: err.stack } });
    log('error', message);
    emit(makeEvent('finished', runId, { status: 'failed', step, error: message }));
    return 'failed';
  } finally {
    replayer?.dispose();
    if (solver) await solver.close();
    if (noise?.failed) log('warn', `noise: ${noise.failed}; the draws were transformed in the trainer's thread from then on`);
    await noise?.close();
    evaluator?.dispose();
    if (state) disposeModelState(state);
  }
}

export type { Schedule };
