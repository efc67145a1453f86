/** An MLP denoiser for 2-D points: [x, time embedding] -> hidden SiLU layers -> epsilon. */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../core/config/types';
import { declareDense, dense, silu, timestepEmbedding } from './layers';
import { ParamRegistry, type Weights } from './params';
import type { Denoiser, DenoiserInput } from './denoiser';

const TIME_DIM = 32;

export function buildMlp(cfg: ModelConfig, dim: number): Denoiser {
  const reg = new ParamRegistry();
  let cin = dim + TIME_DIM;
  for (let i = 0; i < cfg.layers; i++) {
    declareDense(reg, `fc${i}`, cin, cfg.hidden);
    cin = cfg.hidden;
  }
  declareDense(reg, 'out', cin, dim, true);
  const apply = (W: Weights, input: DenoiserInput): tf.Tensor => {
    let h = tf.concat([input.x as tf.Tensor2D, timestepEmbedding(input.t, TIME_DIM, input.timeSlot)], 1) as tf.Tensor2D;
    for (let i = 0; i < cfg.layers; i++) h = silu(dense(W, `fc${i}`, h)) as tf.Tensor2D;
    return dense(W, 'out', h);
  };
  return { params: reg, exampleShape: [dim], apply };
}
