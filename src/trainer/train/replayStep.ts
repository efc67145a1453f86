/**
 * The trainer's step replayed from its captured commands on webgpu (webgpuReplay.ts): exact, and
 * about ten times cheaper to record (docs/benchmarks.md), which matters where the GPU waits for
 * the CPU that records its work. What the step's JavaScript computes on the CPU and uploads (the
 * objective's inputs, the time embedding, the labels, the dropout masks, Adam's learning rate and
 * bias corrections, the EMA's decay) is tagged where it is made, and made anew here from the
 * step's inputs.
 */
import type * as tf from '@tensorflow/tfjs';
import type { RunConfig } from '../../core/config/types';
import { type AdamReplayParam } from '../backend/webgpuKernels';
import { microParam, REPLAY_PARAMS, timeParam } from '../backend/webgpuCapture';
import { stepReplayer, type StepReplayer } from '../backend/webgpuReplay';
import type { Objective } from '../objectives/types';
import { microSlice, type StepBatch } from './microBatch';
import { adamAttrsAt } from './adam';
import { emaDecay } from './ema';
import type { ModelState } from './modelState';
import { envSwitch } from '../envSwitch';

/** What one step trains on. */
export interface StepInputs {
  cur: StepBatch;
  /** The batch's assigned noise. */
  noise: Float32Array;
  lr: number;
}

/** Why the step of this run cannot be replayed, or null. */
export function replayBlocker(config: RunConfig, objective: Objective): string | null {
  if (!envSwitch('IMMISCIBLE_WEBGPU_REPLAY', true)) return `IMMISCIBLE_WEBGPU_REPLAY=${process.env.IMMISCIBLE_WEBGPU_REPLAY}`;
  if (!objective.replayTimes) return `the ${objective.name} objective does not tag its uploads`;
  return null;
}

/**
 * A replayer of `run` (the step run normally: its loss and gradient norm) for this run, or null
 * where it cannot be replayed (logged once, with why). It logs when replaying starts and if it
 * gives up.
 */
export function replayedStep(o: {
  config: RunConfig;
  objective: Objective;
  state: ModelState;
  exampleShape: number[];
  inputs: () => StepInputs;
  run: (i: StepInputs) => tf.Tensor[];
  log: (level: 'info' | 'warn', message: string) => void;
}): StepReplayer | null {
  const { config, objective, state: s } = o;
  const why = replayBlocker(config, objective);
  const replayTimes = objective.replayTimes?.bind(objective);
  if (why || !replayTimes) {
    o.log('info', `webgpu: the training step is recorded anew at each step (${why})`);
    return null;
  }
  const inner = stepReplayer({
    run: () => o.run(o.inputs()),
    persistent: () => [...s.params.values(), ...s.adam.m.values(), ...s.adam.v.values(), ...s.ema.values()],
    params: () => {
      const { cur, noise, lr } = o.inputs();
      const adam: AdamReplayParam = { ...adamAttrsAt(s.adam.t + 1, lr), emaDecay: emaDecay(s.emaUpdates + 1, config.training.emaDecay) };
      const params: Record<string, unknown> = { [REPLAY_PARAMS.adam]: adam };
      // Each micro-batch's uploads from its own part of the batch (trainer.ts's loop).
      const k = config.training.accumulate;
      for (let m = 0; m < k; m++) {
        const { batch, labels, seed } = microSlice(cur, noise, o.exampleShape, k, m);
        params[microParam(REPLAY_PARAMS.batch, m)] = batch;
        params[microParam(REPLAY_PARAMS.labels, m)] = labels;
        params[microParam(REPLAY_PARAMS.seed, m)] = seed;
        replayTimes(batch).forEach((t, slot) => (params[microParam(timeParam(slot), m)] = t));
      }
      return params;
    },
    replayed: () => {
      s.adam.t += 1;
    },
  });
  let started = false;
  let stopped = false;
  return {
    step(): tf.Tensor[] {
      const outs = inner.step();
      const st = inner.status();
      if (!started && st.replayed > 0) {
        started = true;
        o.log('info', `webgpu: the training step is replayed from its captured commands (${st.dispatches} dispatches, ${st.writes} buffer writes and ${st.submits} submits a step)`);
      }
      if (!stopped && st.reason) {
        stopped = true;
        o.log('info', `webgpu: the training step is recorded anew at each step (${st.reason})`);
      }
      return outs;
    },
    status: () => inner.status(),
    dispose: () => inner.dispose(),
  };
}
