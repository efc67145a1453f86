/**
 * A compact DDPM UNet: residual blocks with GroupNorm, SiLU and the time embedding added,
 * optional self-attention at chosen resolutions, optional class embedding (with a "no label"
 * class for classifier-free guidance). Down-sampling by strided conv, up-sampling nearest + conv.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../../core/config/types';
import { REPLAY_PARAMS, tagUpload } from '../backend/webgpuCapture';
import { conv, declareConv, declareDense, declareGroupNorm, dense, dropout as dropoutLayer, groupNorm, groupNormSilu, silu, timestepEmbedding, upsample2x, w } from './layers';
import { ParamRegistry, type Weights } from './params';
import type { Denoiser, DenoiserInput } from './denoiser';

interface Plan {
  cfg: ModelConfig;
  size: number;
  channels: number;
  numClasses: number;
  tdim: number;
}

function declareResBlock(reg: ParamRegistry, name: string, cin: number, cout: number, tdim: number): void {
  declareGroupNorm(reg, `${name}.norm1`, cin);
  declareConv(reg, `${name}.conv1`, 3, cin, cout);
  declareDense(reg, `${name}.temb`, tdim, cout);
  declareGroupNorm(reg, `${name}.norm2`, cout);
  // Zero-init of the last conv makes each block start as the identity (stable early training).
  declareConv(reg, `${name}.conv2`, 3, cout, cout, true);
  if (cin !== cout) declareConv(reg, `${name}.skip`, 1, cin, cout);
}

/** A residual block's dropout seed, and how it follows from the forward pass's seed. */
interface BlockSeed {
  value: number;
  of: (passSeed: number) => number;
}

/** The seed of the k-th residual block (k from 0) of a forward pass with seed `seed`: a linear congruential sequence. */
function blockSeed(seed: number, k: number): number {
  let s = seed;
  for (let i = 0; i <= k; i++) s = (s * 1664525 + 1013904223) >>> 0;
  return s;
}

function resBlock(
  W: Weights,
  name: string,
  x: tf.Tensor4D,
  /** silu(time embedding), computed once per forward pass for all blocks. */
  tembAct: tf.Tensor2D,
  groups: number,
  dropout: number,
  training: boolean,
  seed: BlockSeed,
): tf.Tensor4D {
  const cout = w(W, `${name}.conv1.b`).shape[0];
  let h = conv(W, `${name}.conv1`, groupNormSilu(W, `${name}.norm1`, x, groups));
  const t = tf.reshape(dense(W, `${name}.temb`, tembAct), [-1, 1, 1, cout]);
  h = tf.add(h, t);
  let h2 = groupNormSilu(W, `${name}.norm2`, h, groups);
  if (training && dropout > 0) h2 = dropoutLayer(h2, dropout, seed.value, seed.of) as tf.Tensor4D;
  h = conv(W, `${name}.conv2`, h2);
  const skip = W[`${name}.skip.w`] ? conv(W, `${name}.skip`, x) : x;
  return tf.add(skip, h);
}

function declareAttention(reg: ParamRegistry, name: string, ch: number): void {
  declareGroupNorm(reg, `${name}.norm`, ch);
  declareDense(reg, `${name}.qkv`, ch, 3 * ch);
  declareDense(reg, `${name}.out`, ch, ch, true);
}

/** Single-head self-attention over the h*w positions. */
function attention(W: Weights, name: string, x: tf.Tensor4D, groups: number): tf.Tensor4D {
  const [b, h, wd, c] = x.shape;
  const n = groupNorm(W, `${name}.norm`, x, groups);
  const qkv = dense(W, `${name}.qkv`, tf.reshape(n, [b * h * wd, c]) as tf.Tensor2D);
  const [q, k, v] = tf.split(tf.reshape(qkv, [b, h * wd, 3 * c]), 3, 2) as tf.Tensor3D[];
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(c));
  const attn = tf.softmax(scores);
  const o = tf.reshape(tf.matMul(attn, v), [b * h * wd, c]) as tf.Tensor2D;
  return tf.add(x, tf.reshape(dense(W, `${name}.out`, o), [b, h, wd, c]));
}

export function buildUnet(cfg: ModelConfig, size: number, channels: number, numClasses: number): Denoiser {
  const reg = new ParamRegistry();
  const base = cfg.baseChannels;
  const tdim = base * 4;
  const plan: Plan = { cfg, size, channels, numClasses, tdim };
  const levels = cfg.channelMults.length;
  const chs = cfg.channelMults.map((m) => base * m);
  const attnAt = (res: number): boolean => cfg.attentionResolutions.includes(res);

  declareDense(reg, 'temb.fc1', base, tdim);
  declareDense(reg, 'temb.fc2', tdim, tdim);
  if (cfg.classConditional) reg.add('label.emb', [numClasses + 1, tdim], { kind: 'normal', std: 1 });
  declareConv(reg, 'in', 3, channels, base);

  const skipChs: number[] = [base];
  let ch = base;
  for (let l = 0; l < levels; l++) {
    const res = size >> l;
    for (let r = 0; r < cfg.resBlocks; r++) {
      declareResBlock(reg, `down${l}.res${r}`, ch, chs[l], tdim);
      ch = chs[l];
      if (attnAt(res)) declareAttention(reg, `down${l}.attn${r}`, ch);
      skipChs.push(ch);
    }
    if (l < levels - 1) {
      declareConv(reg, `down${l}.down`, 3, ch, ch);
      skipChs.push(ch);
    }
  }
  declareResBlock(reg, 'mid.res0', ch, ch, tdim);
  const lowest = size >> (levels - 1);
  if (attnAt(lowest)) declareAttention(reg, 'mid.attn', ch);
  declareResBlock(reg, 'mid.res1', ch, ch, tdim);
  for (let l = levels - 1; l >= 0; l--) {
    const res = size >> l;
    for (let r = 0; r <= cfg.resBlocks; r++) {
      const skip = skipChs.pop() as number;
      declareResBlock(reg, `up${l}.res${r}`, ch + skip, chs[l], tdim);
      ch = chs[l];
      if (attnAt(res)) declareAttention(reg, `up${l}.attn${r}`, ch);
    }
    if (l > 0) declareConv(reg, `up${l}.up`, 3, ch, ch);
  }
  declareGroupNorm(reg, 'out.norm', ch);
  declareConv(reg, 'out', 3, ch, channels, true);

  const apply = (W: Weights, input: DenoiserInput): tf.Tensor => {
    const { x, t, labels, training, seed } = input;
    const g = cfg.groups;
    const drop = cfg.dropout;
    let blocks = 0;
    const nextSeed = (): BlockSeed => {
      const k = blocks++;
      return { value: blockSeed(seed, k), of: (s) => blockSeed(s, k) };
    };
    let temb = dense(W, 'temb.fc2', silu(dense(W, 'temb.fc1', timestepEmbedding(t, base, input.timeSlot))) as tf.Tensor2D);
    if (plan.cfg.classConditional) {
      if (!labels) throw new Error('class-conditional model needs labels');
      // oneHot + matMul instead of gather: gather's gradient is missing on the wasm backend.
      const labelsT = tagUpload(tf.tensor1d(labels, 'int32'), { param: REPLAY_PARAMS.labels, encode: (v) => Int32Array.from(v as Int32Array) });
      const onehot = tf.oneHot(labelsT, numClasses + 1).toFloat() as tf.Tensor2D;
      temb = tf.add(temb, tf.matMul(onehot, w(W, 'label.emb') as tf.Tensor2D));
    }
    // DDPM applies the nonlinearity in every block; once here is the same value, with one
    // backward pass through it instead of one per block (fewer kernels: the GPU step is bound
    // by how many it records).
    const tembAct = silu(temb) as tf.Tensor2D;
    let h = conv(W, 'in', x as tf.Tensor4D);
    const skips: tf.Tensor4D[] = [h];
    for (let l = 0; l < levels; l++) {
      const res = size >> l;
      for (let r = 0; r < cfg.resBlocks; r++) {
        h = resBlock(W, `down${l}.res${r}`, h, tembAct, g, drop, training, nextSeed());
        if (attnAt(res)) h = attention(W, `down${l}.attn${r}`, h, g);
        skips.push(h);
      }
      if (l < levels - 1) {
        h = conv(W, `down${l}.down`, h, 2);
        skips.push(h);
      }
    }
    h = resBlock(W, 'mid.res0', h, tembAct, g, drop, training, nextSeed());
    if (attnAt(lowest)) h = attention(W, 'mid.attn', h, g);
    h = resBlock(W, 'mid.res1', h, tembAct, g, drop, training, nextSeed());
    for (let l = levels - 1; l >= 0; l--) {
      const res = size >> l;
      for (let r = 0; r <= cfg.resBlocks; r++) {
        h = tf.concat([h, skips.pop() as tf.Tensor4D], 3);
        h = resBlock(W, `up${l}.res${r}`, h, tembAct, g, drop, training, nextSeed());
        if (attnAt(res)) h = attention(W, `up${l}.attn${r}`, h, g);
      }
      if (l > 0) h = conv(W, `up${l}.up`, upsample2x(h));
    }
    return conv(W, 'out', groupNormSilu(W, 'out.norm', h, g));
  };

  return { params: reg, exampleShape: [size, size, channels], apply };
}
