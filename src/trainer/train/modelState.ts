/** The trainable state of a run: parameters, their EMA, and Adam's moments, with (de)serialisation. */
import * as tf from '@tensorflow/tfjs';
import type { Denoiser } from '../model/denoiser';
import { createVariables, initialValues } from '../model/params';
import type { Rng } from '../rng';
import { newAdamState, type AdamState } from './adam';
import type { LoadedCheckpoint, NamedArray } from './checkpoint';
import { newEma } from './ema';

export interface ModelState {
  params: Map<string, tf.Variable>;
  ema: Map<string, tf.Variable>;
  adam: AdamState;
  emaUpdates: number;
}

export function freshModelState(model: Denoiser, rng: Rng): ModelState {
  const params = createVariables(model.params.specs, initialValues(model.params.specs, rng));
  return { params, ema: newEma(params), adam: newAdamState(params), emaUpdates: 0 };
}

function pick(ck: LoadedCheckpoint, prefix: string, model: Denoiser): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of model.params.specs) {
    const a = ck.arrays.get(`${prefix}/${s.name}`);
    const want = s.shape.reduce((x, y) => x * y, 1);
    if (!a || a.data.length !== want)
      throw new Error(`checkpoint step ${ck.state.step}: tensor ${prefix}/${s.name} is ${a ? `of ${a.data.length} values` : 'missing'}, expected ${want} (was the config changed?)`);
    out.set(s.name, a.data);
  }
  return out;
}

export function restoreModelState(model: Denoiser, ck: LoadedCheckpoint): ModelState {
  const params = createVariables(model.params.specs, pick(ck, 'params', model));
  const asVars = (prefix: string): Map<string, tf.Variable> =>
    createVariables(model.params.specs, pick(ck, prefix, model), false);
  const ema = asVars('ema');
  const adam: AdamState = { t: ck.state.adamT, m: asVars('adam.m'), v: asVars('adam.v') };
  return { params, ema, adam, emaUpdates: ck.state.emaUpdates };
}

export async function snapshotArrays(model: Denoiser, s: ModelState): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  const groups: [string, Map<string, tf.Variable>][] = [
    ['params', s.params],
    ['ema', s.ema],
    ['adam.m', s.adam.m],
    ['adam.v', s.adam.v],
  ];
  for (const [prefix, m] of groups)
    for (const spec of model.params.specs) {
      const t = m.get(spec.name) as tf.Variable;
      out.push({ name: `${prefix}/${spec.name}`, shape: spec.shape, data: (await t.data()) as Float32Array });
    }
  return out;
}

export function disposeModelState(s: ModelState): void {
  for (const m of [s.params, s.ema, s.adam.m, s.adam.v]) for (const v of m.values()) v.dispose();
}
