import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng';

/** Named weights of a model. Training passes its variables; sampling passes the EMA copies. */
export type Weights = Record<string, tf.Tensor>;

export type Init = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
}

/** Declares parameters while a model is built, in a fixed order so initialisation is reproducible. */
export class ParamRegistry {
  readonly specs: ParamSpec[] = [];
  private names = new Set<string>();

  add(name: string, shape: number[], init: Init): string {
    if (this.names.has(name)) throw new Error(`duplicate parameter ${name}`);
    this.names.add(name);
    this.specs.push({ name, shape, init });
    return name;
  }

  /** He-style normal init for a weight with `fanIn` inputs. */
  he(name: string, shape: number[], fanIn: number, gain = 1): string {
    return this.add(name, shape, { kind: 'normal', std: gain * Math.sqrt(2 / fanIn) });
  }

  count(): number {
    return this.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }
}

/** Initial values drawn from our own Rng so that every backend starts from the same weights. */
export function initialValues(specs: ParamSpec[], rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(size);
    if (s.init.kind === 'ones') v.fill(1);
    else if (s.init.kind === 'normal') {
      rng.fillNormal(v);
      for (let i = 0; i < size; i++) v[i] *= s.init.std;
    }
    out.set(s.name, v);
  }
  return out;
}

let variableSerial = 0;

/** Variables keyed by parameter name; engine names are made unique so several models can coexist. */
export function createVariables(specs: ParamSpec[], values: Map<string, Float32Array>, trainable = true): Map<string, tf.Variable> {
  const vars = new Map<string, tf.Variable>();
  const prefix = `m${variableSerial++}`;
  for (const s of specs) {
    const v = values.get(s.name);
    if (!v) throw new Error(`no value for parameter ${s.name}`);
    const init = tf.tensor(v, s.shape);
    vars.set(s.name, tf.variable(init, trainable, `${prefix}/${s.name}`));
    init.dispose();
  }
  return vars;
}

export function asWeights(vars: Map<string, tf.Tensor>): Weights {
  return Object.fromEntries(vars);
}
