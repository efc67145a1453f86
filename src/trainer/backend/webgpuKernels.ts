/**
 * The fused kernels on 'webgpu': the same kernel names and contracts as the native CPU kernels
 * (nativeKernels.ts), in WGSL (webgpuShaders.ts), so layers.ts, adam.ts and ema.ts take their fused
 * paths on the GPU too.
 * On a GPU a training step is bound by how many shaders it dispatches (each costs the CPU tens
 * to hundreds of microseconds in tfjs and Dawn), and by tfjs's filter gradient shader, which
 * gives each output element a serial loop over the whole batch:
 * - Adam: one dispatch per parameter instead of about 13, or per group of parameters where the
 *   device has the storage bindings (adamGroupSize), all in one kernel call; the EMA of the
 *   weights: one instead of 3, or none where it is updated in Adam's dispatch (the trainer's step);
 * - the gradients' sum of squares: one kernel call, a dispatch per group of gradients (as many as
 *   the device binds) instead of 2-3 per gradient, up to 64 workgroups each writing a partial sum;
 * - GroupNorm + SiLU: one dispatch forward (one workgroup per sample and group), two backward;
 * - conv + bias: tfjs's own fused conv, or (CONV_MM_FLAG) our tile implicit GEMM; the
 *   filter and bias gradients: a split-K GEMM over the batch with im2col addressing, and a
 *   reduction of its partial sums (two dispatches); the input gradient (stride 1): a forward conv
 *   by the flipped filter (tfjs's of a flipped copy, or ours reading it flipped in place), instead
 *   of tfjs's untiled shader;
 * - a sum over axes that are not the innermost (the gradient of every broadcast add: dense
 *   biases, the time embedding added to feature maps, upsampling): one dispatch instead of a
 *   transpose and a reduction, or two where few outputs each sum many elements.
 * IMMISCIBLE_WEBGPU_KERNELS=0 leaves tfjs's kernels alone.
 */
import * as tf from '@tensorflow/tfjs';
import { ADAM_EMA_UPDATE, ADAM_MULTI_UPDATE, ADAM_UPDATE, CONV2D_BACKPROP_FILTER_BIAS, CONV2D_BIAS, EMA_UPDATE, GROUP_NORM_SILU, GROUP_NORM_SILU_GRAD, SUM_SQUARES, type AdamAttrs, type GroupNormSiluAttrs } from './nativeKernels';
import { REPLAY_PARAMS, taggedWrite, type ReplayTag } from './webgpuCapture';
import { ADAM_EMA_INPLACE_WGSL, ADAM_INPLACE_WGSL, adamMultiWgsl, ADAM_WGSL, CONV_DW_REDUCE_WGSL, convDwInvocations, convDwWgsl, convMmTile, convMmWgsl, convMmWidth, EMA_INPLACE_WGSL, EMA_WGSL, FLIP_FILTER_WGSL, GN_BWD_REDUCE_WGSL, GN_BWD_WGSL, GN_FWD_WGSL, SUM_AXES_WGSL, PHILOX_NORMAL_WGSL, SUM_PARTS_WGSL, SUM_SQUARES_PARTS, sumSquaresWgsl, WG, type ConvDwTile } from './webgpuShaders';
import { alias, asBackend, checkBackendInternals, dispatch, exclusive, grid1d, output, pipeline, submitEpoch, uniformBuffer, uniforms, type GpuBuffer } from './webgpuRaw';
import { envSwitch } from '../envSwitch';
import { PHILOX_NORMAL, type PhiloxNormalAttrs } from '../noise/philoxTensor';

const BACKEND = 'webgpu';

/** Channels per group the fused GroupNorm shader handles (one workgroup lane per channel at least). */
export const MAX_GROUP_CHANNELS = WG;

function size(t: tf.TensorInfo): number {
  return tf.util.sizeFromShape(t.shape);
}

function shape4(t: tf.TensorInfo, what: string): [number, number, number, number] {
  if (t.shape.length !== 4) throw new Error(`webgpu kernel: ${what} must be 4-D (NHWC), got shape [${t.shape.join(', ')}]`);
  return t.shape as [number, number, number, number];
}

let adamHyper: { key: string; epoch: object; buffer: GpuBuffer } | null = null;

type Backend = ReturnType<typeof asBackend>;

/** The f32 fields of the Adam shaders' struct H: the hyperparameters, then the EMA's decay and 1 - decay if given. */
function adamHyperValues(h: AdamAttrs, decay?: number): number[] {
  return [h.lr, h.beta1, 1 - h.beta1, h.beta2, 1 - h.beta2, h.eps, h.bc1, h.bc2, ...(decay != null ? [decay, 1 - decay] : [])];
}

/** The value a step replay gives Adam's uniforms (webgpuReplay.ts): the step's attributes, and the EMA's decay where the step has it. */
export type AdamReplayParam = AdamAttrs & { emaDecay?: number };

function adamReplayTag(encode: (a: AdamReplayParam) => ArrayBuffer): ReplayTag {
  return { param: REPLAY_PARAMS.adam, encode: (v) => encode(v as AdamReplayParam) };
}

function emaDecayOf(a: AdamReplayParam): number {
  if (a.emaDecay == null) throw new Error('webgpu step replay: the step updates the EMA in Adam\'s kernel, and its replay was given no emaDecay');
  return a.emaDecay;
}

/**
 * One parameter's Adam update, and with `ema` its EMA's update from the new weight: [p', m', v']
 * (and ema'), the inputs themselves where updated in place.
 */
function adamUpdate(b: Backend, { p, g, m, v }: Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo>, scale: tf.TensorInfo, h: AdamAttrs, ema?: { e: tf.TensorInfo; decay: number }): tf.TensorInfo[] {
  const n = size(p);
  for (const [what, t] of [['g', g], ['m', m], ['v', v], ['ema', ema?.e ?? p]] as const) {
    if (size(t) !== n) throw new Error(`webgpu adam: ${what} has ${size(t)} elements, the parameter ${n}`);
  }
  if (n === 0) return (ema ? [p, m, v, ema.e] : [p, m, v]).map(() => output(b, p.shape));
  // Every parameter of a step has the same hyperparameters: one uniform buffer for all of them.
  const hyper = adamHyperValues(h, ema?.decay);
  const key = hyper.join(',');
  if (adamHyper?.key !== key || adamHyper.epoch !== submitEpoch(b)) {
    const tag = adamReplayTag((a) => uniforms({ f32: adamHyperValues(a, ema ? emaDecayOf(a) : undefined) }));
    adamHyper = { key, epoch: submitEpoch(b), buffer: taggedWrite(tag, () => uniformBuffer(b, uniforms({ f32: hyper }))) };
  }
  const groups = grid1d(Math.ceil(n / WG));
  // In place where nothing else holds the data (the usual case): the weights and moments keep
  // their buffers from step to step, so the step's bindings repeat (webgpuBindGroups.ts).
  if (ema && exclusive(b, [p, m, v, ema.e])) {
    dispatch(b, 'ImmiscibleAdamEmaProgram', pipeline(b, 'adamEmaInPlace', () => ADAM_EMA_INPLACE_WGSL), [p, m, v, ema.e], [g, scale], adamHyper.buffer, groups);
    return [alias(b, p), alias(b, m), alias(b, v), alias(b, ema.e)];
  }
  let outs: tf.TensorInfo[];
  if (exclusive(b, [p, m, v])) {
    dispatch(b, 'ImmiscibleAdamProgram', pipeline(b, 'adamInPlace', () => ADAM_INPLACE_WGSL), [p, m, v], [g, scale], adamHyper.buffer, groups);
    outs = [alias(b, p), alias(b, m), alias(b, v)];
  } else {
    outs = [output(b, p.shape), output(b, p.shape), output(b, p.shape)];
    dispatch(b, 'ImmiscibleAdamProgram', pipeline(b, 'adam', () => ADAM_WGSL), outs, [p, g, m, v, scale], adamHyper.buffer, groups);
  }
  // Something else holds the average's data (its first update: it starts as the weights' clone).
  if (ema) outs.push(emaUpdate(b, ema.e, outs[0], ema.decay));
  return outs;
}

const adam: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { scale, ...t } = inputs as Record<'p' | 'g' | 'm' | 'v' | 'scale', tf.TensorInfo>;
  return adamUpdate(asBackend(backend), t, scale, attrs as unknown as AdamAttrs);
};

const adamEma: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { scale, ema: e, ...t } = inputs as Record<'p' | 'g' | 'm' | 'v' | 'scale' | 'ema', tf.TensorInfo>;
  const { emaDecay, ...h } = attrs as unknown as AdamAttrs & { emaDecay: number };
  return adamUpdate(asBackend(backend), t, scale, h, { e, decay: emaDecay });
};

/** At most this many tensors per multi-tensor Adam dispatch (the shader's branches). */
export const ADAM_MULTI_MAX = 8;

/** The storage buffers a shader may bind on this device (8 unless the device was asked for more). */
function storageBindings(b: Backend): number {
  return (b.device as unknown as { limits?: Record<string, number> }).limits?.maxStorageBuffersPerShaderStage ?? 8;
}

/** How many tensors one Adam dispatch updates on this device: 4 storage bindings each (5 with the EMA), and the scale. */
export function adamGroupSize(b: Backend, ema: boolean): number {
  return Math.max(1, Math.min(ADAM_MULTI_MAX, Math.floor((storageBindings(b) - 1) / (ema ? 5 : 4))));
}

type AdamTensors = Record<'p' | 'g' | 'm' | 'v', tf.TensorInfo> & { e?: tf.TensorInfo };

/**
 * `count` parameters' Adam updates (ADAM_MULTI_UPDATE): in place, several tensors per dispatch
 * (adamGroupSize); a tensor that cannot be updated in place (something else holds its data) or is
 * empty goes through adamUpdate alone. Outputs in the inputs' order.
 */
const adamMulti: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = asBackend(backend);
  const ins = inputs as Record<string, tf.TensorInfo>;
  const { count, emaDecay, ...h } = attrs as unknown as AdamAttrs & { count: number; emaDecay?: number };
  const withEma = emaDecay != null;
  const group = adamGroupSize(b, withEma);
  const outs: tf.TensorInfo[][] = [];
  let pending: { i: number; t: AdamTensors }[] = [];
  const held = (t: AdamTensors): tf.TensorInfo[] => [t.p, t.m, t.v, ...(t.e ? [t.e] : [])];
  const alone = (i: number, t: AdamTensors): void => {
    outs[i] = adamUpdate(b, t, ins.scale, h, t.e ? { e: t.e, decay: emaDecay as number } : undefined);
  };
  const flush = (): void => {
    if (pending.length === 1) {
      alone(pending[0].i, pending[0].t);
    } else if (pending.length > 1) {
      const ends: number[] = [];
      pending.forEach(({ t }, k) => ends.push((k ? ends[k - 1] : 0) + size(t.p)));
      // The shader's struct always has the EMA's fields (zero without it).
      const hyper = adamHyperValues(h, emaDecay ?? 0);
      const name = `adamMulti${pending.length}:${withEma}`;
      const tag = adamReplayTag((a) => uniforms({ f32: adamHyperValues(a, withEma ? emaDecayOf(a) : 0), u32: ends }));
      taggedWrite(tag, () => dispatch(b, 'ImmiscibleAdamMultiProgram', pipeline(b, name, () => adamMultiWgsl(pending.length, withEma)), pending.flatMap(({ t }) => held(t)), [...pending.map(({ t }) => t.g), ins.scale], uniforms({ f32: hyper, u32: ends }), grid1d(Math.ceil(ends[ends.length - 1] / WG))));
      for (const { i, t } of pending) outs[i] = held(t).map((x) => alias(b, x));
    }
    pending = [];
  };
  for (let i = 0; i < count; i++) {
    const t: AdamTensors = { p: ins[`p${i}`], g: ins[`g${i}`], m: ins[`m${i}`], v: ins[`v${i}`], ...(withEma ? { e: ins[`e${i}`] } : {}) };
    for (const [what, x] of Object.entries(t)) {
      if (x == null) throw new Error(`webgpu adam: input ${what}${i} missing`);
      if (size(x) !== size(t.p)) throw new Error(`webgpu adam: ${what}${i} has ${size(x)} elements, the parameter ${size(t.p)}`);
    }
    // Distinct data, held by nothing else, across the whole group: else alone (and maybe out of place).
    if (group > 1 && size(t.p) > 0 && exclusive(b, [...pending.flatMap((q) => held(q.t)), ...held(t)])) {
      pending.push({ i, t });
      if (pending.length === group) flush();
      continue;
    }
    flush();
    alone(i, t);
  }
  flush();
  return outs.flat();
};

/** decay * e + (1 - decay) * param: in place unless the average still shares the weights' data (it starts as their clone). */
function emaUpdate(b: Backend, e: tf.TensorInfo, param: tf.TensorInfo, decay: number): tf.TensorInfo {
  const n = size(e);
  if (size(param) !== n) throw new Error(`webgpu ema: the average has ${n} elements, the parameter ${size(param)}`);
  const block = uniforms({ f32: [decay, 1 - decay], u32: [n] });
  if (n > 0 && exclusive(b, [e]) && e.dataId !== param.dataId) {
    dispatch(b, 'ImmiscibleEmaProgram', pipeline(b, 'emaInPlace', () => EMA_INPLACE_WGSL), [e], [param], block, grid1d(Math.ceil(n / WG)));
    return alias(b, e);
  }
  const out = output(b, e.shape);
  if (n > 0) dispatch(b, 'ImmiscibleEmaProgram', pipeline(b, 'ema', () => EMA_WGSL), [out], [e, param], block, grid1d(Math.ceil(n / WG)));
  return out;
}

const ema: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { ema: e, param } = inputs as Record<'ema' | 'param', tf.TensorInfo>;
  return emaUpdate(asBackend(backend), e, param, (attrs as unknown as { decay: number }).decay);
};

export { SUM_SQUARES_PARTS };

/** Philox normal vectors made on the GPU (philoxTensor.ts): one invocation per block of four. */
const philoxNormal: tf.KernelFunc = ({ backend, attrs }) => {
  const a = attrs as unknown as PhiloxNormalAttrs;
  const b = asBackend(backend);
  const out = output(b, [a.count, a.d]);
  const bpv = Math.ceil(a.d / 4);
  const n = a.count * bpv;
  if (n > 0) {
    const block = uniforms({ u32: [a.key0, a.key1, a.c1, a.c2, a.first, a.count, a.d, bpv] });
    dispatch(b, 'ImmisciblePhiloxNormalProgram', pipeline(b, 'philoxNormal', () => PHILOX_NORMAL_WGSL), [out], [], block, grid1d(Math.ceil(n / WG)));
  }
  return out;
};

/** At most this many inputs per sum-of-squares dispatch (the shader's loops). */
export const SUM_SQUARES_SHADER_MAX = 15;

/** Inputs per sum-of-squares dispatch on this device: its storage bindings less the output's. */
export function sumSquaresGroupSize(b: Backend): number {
  return Math.max(1, Math.min(SUM_SQUARES_SHADER_MAX, storageBindings(b) - 1));
}

/**
 * The sum of squares of all its inputs (the gradients' global norm), as a vector of partial sums:
 * SUM_SQUARES_PARTS per dispatch, each dispatch summing as many inputs as the device can bind
 * (sumSquaresGroupSize: 15 on lavapipe, 7 with WebGPU's default 8 bindings).
 */
const sumSquares: tf.KernelFunc = ({ inputs, backend }) => {
  const b = asBackend(backend);
  const xs = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as tf.TensorInfo[];
  if (xs.length < 1) throw new Error('webgpu sumSquares: no inputs');
  // A zero-length binding is invalid: empty tensors add nothing.
  const live = xs.filter((t) => size(t) > 0);
  const k = sumSquaresGroupSize(b);
  const count = Math.max(1, Math.ceil(live.length / k));
  const out = output(b, [count * SUM_SQUARES_PARTS]);
  for (let d = 0; d < count; d++) {
    const part = live.slice(d * k, (d + 1) * k);
    const groups = Math.min(SUM_SQUARES_PARTS, Math.max(1, Math.ceil(part.reduce((n, t) => n + size(t), 0) / (8 * WG))));
    dispatch(b, 'ImmiscibleSumSquaresProgram', pipeline(b, `sumsq${part.length}`, () => sumSquaresWgsl(part.length)), [out], part, uniforms({ u32: [d * SUM_SQUARES_PARTS] }), [groups, 1, 1]);
  }
  return out;
};

function gnBlock(x: tf.TensorInfo, a: GroupNormSiluAttrs): { block: ArrayBuffer; n: number; c: number; groups: number } {
  const [n, h, w, c] = shape4(x, 'x');
  const groups = a.groups;
  if (c % groups !== 0) throw new Error(`webgpu groupNorm: ${c} channels do not split into ${groups} groups`);
  const cg = c / groups;
  if (cg > MAX_GROUP_CHANNELS) throw new Error(`webgpu groupNorm: ${cg} channels per group, at most ${MAX_GROUP_CHANNELS}`);
  if (n * groups > 65535) throw new Error(`webgpu groupNorm: batch x groups = ${n * groups} exceeds 65535 workgroups`);
  const lanes = Math.floor(WG / cg) * cg;
  return { block: uniforms({ f32: [a.eps], u32: [h * w, c, groups, cg, lanes, a.silu ? 1 : 0, n] }), n, c, groups };
}

const groupNormSilu: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = asBackend(backend);
  const { x, gamma, beta } = inputs as Record<'x' | 'gamma' | 'beta', tf.TensorInfo>;
  const a = attrs as unknown as GroupNormSiluAttrs;
  const { block, n, groups } = gnBlock(x, a);
  const outs = [output(b, x.shape), output(b, [n, groups]), output(b, [n, groups])];
  dispatch(b, 'ImmiscibleGroupNormSiluProgram', pipeline(b, 'gnfwd', () => GN_FWD_WGSL), outs, [x, gamma, beta], block, [n * groups, 1, 1]);
  return outs;
};

const groupNormSiluGrad: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const b = asBackend(backend);
  const { dy, x, gamma, beta, mean, rstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'beta' | 'mean' | 'rstd', tf.TensorInfo>;
  const a = attrs as unknown as GroupNormSiluAttrs;
  const { block, n, c, groups } = gnBlock(x, a);
  const dx = output(b, x.shape);
  const part = output(b, [2, n, c]);
  dispatch(b, 'ImmiscibleGroupNormSiluGradProgram', pipeline(b, 'gnbwd', () => GN_BWD_WGSL), [dx, part], [dy, x, gamma, beta, mean, rstd], block, [n * groups, 1, 1]);
  const dgamma = output(b, [c]);
  const dbeta = output(b, [c]);
  dispatch(b, 'ImmiscibleGroupNormSiluGradReduceProgram', pipeline(b, 'gnbwdr', () => GN_BWD_REDUCE_WGSL), [dgamma, dbeta], [part], uniforms({ u32: [n, c] }), [c, 1, 1]);
  b.disposeData(part.dataId);
  return [dx, dgamma, dbeta];
};

type Block = [size: number, stride: number];

/**
 * A sum over `axes` of a row-major `shape` as kept and reduced blocks of adjacent axes (size-1
 * axes dropped), each a size and an input stride; null past 4 blocks of either kind.
 */
function sumBlocks(shape: number[], axes: number[]): { kept: Block[]; reduced: Block[] } | null {
  const strides = tf.util.computeStrides(shape);
  const kept: Block[] = [];
  const reduced: Block[] = [];
  let last: 'kept' | 'reduced' | null = null;
  shape.forEach((n, d) => {
    if (n === 1) return;
    const kind = axes.includes(d) ? 'reduced' : 'kept';
    const list = kind === 'kept' ? kept : reduced;
    const stride = d === shape.length - 1 ? 1 : strides[d];
    if (kind === last) {
      const b = list[list.length - 1];
      list[list.length - 1] = [b[0] * n, stride];
    } else {
      list.push([n, stride]);
    }
    last = kind;
  });
  return kept.length > 4 || reduced.length > 4 ? null : { kept, reduced };
}

/**
 * How a sum of `total` elements into each of `n` outputs is split. Few outputs over many elements
 * each (a bias gradient: 64 channels over batch x 32 x 32) leave a large GPU idle at one
 * invocation per output: the elements go in parts of at least 128, up to 262,144 invocations.
 */
export function sumSplit(n: number, total: number): { chunk: number; parts: number } {
  const wanted = Math.max(1, Math.min(Math.ceil(262144 / n), Math.ceil(total / 128)));
  const chunk = Math.ceil(total / wanted);
  return { chunk, parts: Math.ceil(total / chunk) };
}

function sumAxes(stock: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape);
    // Where the reduced axes are already innermost tfjs needs no transpose: its own kernel.
    const blocks = x.dtype === 'float32' && size(x) > 0 && tf.backend_util.getAxesPermutation(axes, x.shape.length) != null ? sumBlocks(x.shape, axes) : null;
    if (!blocks) return stock(args);
    const b = asBackend(backend);
    const out = output(b, keepDims ? x.shape.map((n, d) => (axes.includes(d) ? 1 : n)) : x.shape.filter((_, d) => !axes.includes(d)));
    const n = size(out);
    const unused: Block = [1, 0];
    const kept = [...Array<Block>(4 - blocks.kept.length).fill(unused), ...blocks.kept];
    const reduced = [...blocks.reduced, ...Array<Block>(4 - blocks.reduced.length).fill(unused)];
    const total = reduced.reduce((t, r) => t * r[0], 1);
    const { chunk, parts } = sumSplit(n, total);
    const sums = parts === 1 ? out : output(b, [parts, n]);
    const block = uniforms({ u32: [...kept.map((k) => k[0]), ...kept.map((k) => k[1]), ...reduced.map((r) => r[0]), ...reduced.map((r) => r[1]), n, chunk, total] });
    dispatch(b, 'ImmiscibleSumProgram', pipeline(b, 'sumaxes', () => SUM_AXES_WGSL), [sums], [x], block, grid1d(Math.ceil((n * parts) / WG)));
    if (parts > 1) {
      dispatch(b, 'ImmiscibleSumPartsProgram', pipeline(b, 'sumparts', () => SUM_PARTS_WGSL), [out], [sums], uniforms({ u32: [n, parts] }), grid1d(Math.ceil(n / WG)));
      b.disposeData(sums.dataId);
    }
    return out;
  };
}

/** A conv's attributes as tfjs passes them to its gradient kernels (each adds the shape it lacks). */
interface ConvGeometry {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface ConvAttrs extends ConvGeometry {
  filterShape: [number, number, number, number];
}

/**
 * tfjs flag: how many invocations the filter gradient's split-K GEMM aims at (the environment
 * variable of the same name sets its default), so that `bench:gpu --variants` can tune it on a GPU.
 */
export const CONV_DW_INVOCATIONS_FLAG = 'IMMISCIBLE_WEBGPU_CONV_DW_INVOCATIONS';
tf.env().registerFlag(CONV_DW_INVOCATIONS_FLAG, () => positiveIntegerEnv(CONV_DW_INVOCATIONS_FLAG, 262144));

/**
 * tfjs flag: the filter gradient's tile (k x co), 32 or 64, or 0 for the adapter's: 64 on a GPU
 * (its GEMM 1.3-1.5x faster on the H200, docs/benchmarks.md), 32 on a software adapter, where the
 * larger tile is 1.25x slower. Its environment variable sets the default.
 */
export const CONV_DW_TILE_FLAG = 'IMMISCIBLE_WEBGPU_CONV_DW_TILE';
tf.env().registerFlag(CONV_DW_TILE_FLAG, () => convDwTileFlag(Number(process.env[CONV_DW_TILE_FLAG] ?? 0)), (v) => convDwTileFlag(v));

function convDwTileFlag(v: unknown): ConvDwTile | 0 {
  if (v !== 0 && v !== 32 && v !== 64) throw new Error(`${CONV_DW_TILE_FLAG}: expected 32, 64 or 0 (the adapter's), got ${String(v)}`);
  return v;
}

/** The tile for the flag's 0, set by registerWebgpuKernels from the adapter. */
let adapterTile: ConvDwTile = 32;

/** The filter gradient's tile in effect: the flag's, or for 0 the adapter's. */
export function convDwTileNow(): ConvDwTile {
  const flagged = convDwTileFlag(tf.env().getNumber(CONV_DW_TILE_FLAG));
  return flagged === 0 ? adapterTile : flagged;
}

function positiveIntegerEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a positive integer, got '${raw}'`);
  return n;
}

/** The filter gradient and the bias gradient of a 2-D convolution (NHWC). */
function filterAndBiasGrad(backend: unknown, x: tf.TensorInfo, dy: tf.TensorInfo, a: ConvAttrs): [tf.TensorInfo, tf.TensorInfo] {
  const b = asBackend(backend);
  if (a.dataFormat === 'NCHW') throw new Error('webgpu conv2d filter gradient: NHWC only');
  const info = tf.backend_util.computeConv2DInfo(shape4(x, 'x') as [number, number, number, number], a.filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  const kk = info.filterHeight * info.filterWidth * info.inChannels;
  const co = info.outChannels;
  const m = info.batchSize * info.outHeight * info.outWidth;
  const tile = convDwTileNow();
  const tiles = Math.ceil((kk + 1) / tile) * Math.ceil(co / tile);
  // Enough invocations to fill a large GPU (a few workgroups per multiprocessor: 262,144
  // invocations by default), in chunks of at least 256 rows.
  const invocations = tf.env().getNumber(CONV_DW_INVOCATIONS_FLAG);
  const splits = Math.max(1, Math.min(Math.ceil(invocations / convDwInvocations(tile) / tiles), Math.ceil(m / 256), 65535));
  const chunk = Math.ceil(m / splits / 32) * 32;
  const realSplits = Math.ceil(m / chunk);
  const dw = output(b, a.filterShape);
  const db = output(b, [co]);
  const part = output(b, [realSplits, kk + 1, co]);
  const block = uniforms({
    u32: [
      info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, co, info.filterHeight, info.filterWidth,
      info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left, kk, m, chunk,
    ],
  });
  // Channels in fours: x and dy read as vec4 (their bound sizes then are multiples of 16 bytes).
  const vecX = info.inChannels % 4 === 0;
  const vecDy = co % 4 === 0;
  dispatch(b, 'ImmiscibleConv2DFilterGradProgram', pipeline(b, `convdw:${vecX}:${vecDy}:${tile}`, () => convDwWgsl(vecX, vecDy, tile)), [part], [x, dy], block, [Math.ceil((kk + 1) / tile), Math.ceil(co / tile), realSplits]);
  dispatch(b, 'ImmiscibleConv2DFilterGradReduceProgram', pipeline(b, 'convdwr', () => CONV_DW_REDUCE_WGSL), [dw, db], [part], uniforms({ u32: [kk, co, realSplits] }), grid1d(Math.ceil(((kk + 1) * co) / WG)));
  b.disposeData(part.dataId);
  return [dw, db];
}

const backpropFilterBias: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  return filterAndBiasGrad(backend, x, dy, attrs as unknown as ConvAttrs);
};

const backpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<'x' | 'dy', tf.TensorInfo>;
  const [dw, db] = filterAndBiasGrad(backend, x, dy, attrs as unknown as ConvAttrs);
  asBackend(backend).disposeData(db.dataId);
  return dw;
};

type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

interface ConvInputAttrs extends ConvGeometry {
  inputShape: [number, number, number, number];
}

/**
 * The padding with which a forward convolution of dy by the flipped filter gives the input
 * gradient of a stride-1, undilated NHWC convolution: padding p before becomes k - 1 - p. Null
 * where that does not hold (strided, dilated, NCHW, or padded beyond the filter).
 */
export function flippedConvPadding(inputShape: [number, number, number, number], filterShape: [number, number, number, number], a: ConvGeometry): 'same' | ExplicitPad | null {
  if ((a.dataFormat ?? 'NHWC') !== 'NHWC') return null;
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return null;
  const { top, bottom, left, right, type } = info.padInfo;
  const pads = [info.filterHeight - 1 - top, info.filterHeight - 1 - bottom, info.filterWidth - 1 - left, info.filterWidth - 1 - right];
  if (Math.min(...pads) < 0) return null;
  // 'same' again where the flip keeps the padding (odd filters): tfjs runs a 1x1 'same' conv as a matmul.
  if (type === 'SAME' && pads[0] === top && pads[1] === bottom && pads[2] === left && pads[3] === right) return 'same';
  return [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
}

/** tfjs flag (default on; IMMISCIBLE_WEBGPU_FLIPPED_CONV_DX=0 or false in the environment turns it off). */
export const FLIPPED_CONV_DX_FLAG = 'IMMISCIBLE_WEBGPU_FLIPPED_CONV_DX';
tf.env().registerFlag(FLIPPED_CONV_DX_FLAG, () => envSwitch(FLIPPED_CONV_DX_FLAG, true));

/**
 * tfjs flag: forward convolutions (conv + bias, and the stride-1 input gradient) by our implicit
 * GEMM in tiles of 4,096 outputs (convMmWgsl: 64 x 64, or narrower for few output channels)
 * instead of tfjs's 32 x 32 tiles; the input gradient then reads the filter flipped in place (no
 * flip dispatch). registerWebgpuKernels sets it from the adapter: on for a GPU (the step 1.2x
 * faster at batches 128 and 256 on the H200, docs/benchmarks.md), off for a software adapter
 * (at par with tfjs's shader on lavapipe). Its environment variable, where set, wins.
 */
export const CONV_MM_FLAG = 'IMMISCIBLE_WEBGPU_CONV_MM';
tf.env().registerFlag(CONV_MM_FLAG, () => envSwitch(CONV_MM_FLAG, false));

/** How many conv input gradients and forward convs each path has computed in this process (for tests). */
export const convInputGradCalls = { flipped: 0, stock: 0 };
export const convForwardCalls = { mm: 0, stock: 0 };

/**
 * y = conv(x, w) (+ bias) by convMmWgsl, NHWC; `flipped`: w is the filter [kh, kw, n, c] of the
 * conv whose input gradient this is (stride 1), read rotated with its channels swapped.
 */
function convMm(b: Backend, x: tf.TensorInfo, w: tf.TensorInfo, bias: tf.TensorInfo | null, info: tf.backend_util.Conv2DInfo, flipped: boolean): tf.TensorInfo {
  const y = output(b, [info.batchSize, info.outHeight, info.outWidth, info.outChannels]);
  const m = info.batchSize * info.outHeight * info.outWidth;
  const co = info.outChannels;
  const kk = info.filterHeight * info.filterWidth * info.inChannels;
  if (m === 0 || co === 0) return y;
  const block = uniforms({
    u32: [
      info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth, co, info.filterHeight, info.filterWidth,
      info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth, info.padInfo.top, info.padInfo.left, kk, m,
    ],
  });
  // Channels in fours: read as vec4 (the flipped filter is contiguous in the input's channels).
  const vecX = info.inChannels % 4 === 0;
  const vecW = flipped ? vecX : co % 4 === 0;
  const o = { vecX, vecW, flipped, bias: bias != null, tn: convMmWidth(co) };
  const tiles = Math.ceil(m / convMmTile(o.tn).tm);
  const gx = Math.min(tiles, 65535);
  dispatch(b, 'ImmiscibleConv2DMMProgram', pipeline(b, `convmm:${vecX}:${vecW}:${flipped}:${o.bias}:${o.tn}`, () => convMmWgsl(o)), [y], bias ? [x, w, bias] : [x, w], block, [gx, Math.ceil(co / o.tn), Math.ceil(tiles / gx)]);
  return y;
}

/**
 * The input gradient of a stride-1 convolution as a forward convolution of dy by the filter
 * rotated 180 degrees with its channels swapped: by convMm reading the filter so (CONV_MM_FLAG),
 * or by tfjs's forward conv (its tiled matmul shader) of a flipped copy (one small dispatch).
 * tfjs 4.22's own input gradient shader is a loop per output element with no tiling (8.1 of 30.6
 * ms of GPU time per step on an H200 at batch 64, against 3.3 ms for all forward convolutions).
 * Strided and dilated convolutions keep tfjs's kernel.
 */
function backpropInput(stock: tf.KernelFunc, conv2d: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs as Record<'dy' | 'filter', tf.TensorInfo>;
    const a = attrs as unknown as ConvInputAttrs;
    const pad = dy.dtype === 'float32' && size(filter) > 0 && size(dy) > 0 && tf.env().getBool(FLIPPED_CONV_DX_FLAG) ? flippedConvPadding(a.inputShape, shape4(filter, 'filter'), a) : null;
    if (pad == null) {
      convInputGradCalls.stock++;
      return stock(args);
    }
    convInputGradCalls.flipped++;
    const b = asBackend(backend);
    const [kh, kw, ci, co] = filter.shape;
    let dx: tf.TensorInfo;
    if (tf.env().getBool(CONV_MM_FLAG)) {
      convForwardCalls.mm++;
      const info = tf.backend_util.computeConv2DInfo(shape4(dy, 'dy'), [kh, kw, co, ci], 1, 1, pad, undefined, false, 'channelsLast');
      dx = convMm(b, dy, filter, null, info, true);
    } else {
      const n = size(filter);
      const flipped = output(b, [kh, kw, co, ci]);
      dispatch(b, 'ImmiscibleFlipFilterProgram', pipeline(b, 'flipfilter', () => FLIP_FILTER_WGSL), [flipped], [filter], uniforms({ u32: [kh, kw, ci, co, n] }), grid1d(Math.ceil(n / WG)));
      dx = conv2d({ inputs: { x: dy, filter: flipped }, backend, attrs: { strides: [1, 1], pad, dataFormat: 'NHWC', dilations: [1, 1] } }) as tf.TensorInfo;
      b.disposeData(flipped.dataId);
    }
    if (!tf.util.arraysEqual(dx.shape, a.inputShape)) throw new Error(`webgpu conv input gradient: got shape [${dx.shape.join(', ')}], the input is [${a.inputShape.join(', ')}]`);
    return dx;
  };
}

/** conv + bias: convMm (CONV_MM_FLAG), or tfjs's own fused convolution shader. */
function conv2dBias(fused: tf.KernelFunc): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { x, filter, bias } = inputs as Record<'x' | 'filter' | 'bias', tf.TensorInfo>;
    const a = attrs as unknown as ConvGeometry;
    // Not for empty tensors: a zero-length binding is invalid.
    if (tf.env().getBool(CONV_MM_FLAG) && (a.dataFormat ?? 'NHWC') === 'NHWC' && x.dtype === 'float32' && size(x) > 0 && size(filter) > 0) {
      convForwardCalls.mm++;
      const info = tf.backend_util.computeConv2DInfo(shape4(x, 'x'), shape4(filter, 'filter'), a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
      return convMm(asBackend(backend), x, filter, bias, info, false);
    }
    convForwardCalls.stock++;
    return fused({ inputs: { x, filter, bias }, backend, attrs: { ...attrs, activation: 'linear' } });
  };
}

export type WebgpuKernelLoad = { ok: true } | { ok: false; reason: string };

let configs: tf.KernelConfig[] | null = null;
/** tfjs's own kernels that ours replace under the same name, put back by unregisterWebgpuKernels. */
let stock: tf.KernelConfig[] = [];

/**
 * Registers the fused kernels on 'webgpu' (call after the backend is registered). Idempotent;
 * restores them if something re-registered the stock ones. `adapter.software` picks the kernels'
 * tiles and the forward convolutions' shader where they depend on it (kept from the last call
 * when not given).
 */
export function registerWebgpuKernels(adapter?: { software: boolean }): WebgpuKernelLoad {
  if (!envSwitch('IMMISCIBLE_WEBGPU_KERNELS', true)) return { ok: false, reason: `IMMISCIBLE_WEBGPU_KERNELS=${process.env.IMMISCIBLE_WEBGPU_KERNELS}` };
  if (adapter) {
    adapterTile = adapter.software ? 32 : 64;
    if ((process.env[CONV_MM_FLAG] ?? '') === '') tf.env().set(CONV_MM_FLAG, !adapter.software);
  }
  const fusedConv = tf.getKernel(tf.FusedConv2D, BACKEND)?.kernelFunc;
  if (!fusedConv) return { ok: false, reason: "tfjs-backend-webgpu has no FusedConv2D kernel" };
  if (tf.getBackend() === BACKEND) {
    const lacking = checkBackendInternals(tf.backend());
    if (lacking) return { ok: false, reason: lacking };
  }
  if (!configs) stock = [tf.Conv2DBackpropFilter, tf.Sum, tf.Conv2DBackpropInput].map((k) => tf.getKernel(k, BACKEND)).filter((k): k is tf.KernelConfig => k != null);
  const stockKernel = (name: string): tf.KernelFunc | undefined => stock.find((k) => k.kernelName === name)?.kernelFunc;
  const stockSum = stockKernel(tf.Sum);
  const stockInputGrad = stockKernel(tf.Conv2DBackpropInput);
  const conv2d = tf.getKernel(tf.Conv2D, BACKEND)?.kernelFunc;
  const lacking = [[tf.Sum, stockSum], [tf.Conv2DBackpropInput, stockInputGrad], [tf.Conv2D, conv2d]].filter(([, k]) => !k).map(([name]) => name);
  if (!stockSum || !stockInputGrad || !conv2d) return { ok: false, reason: `tfjs-backend-webgpu has no ${lacking.join(', ')} kernel` };
  configs ??= [
    { kernelName: ADAM_UPDATE, backendName: BACKEND, kernelFunc: adam },
    { kernelName: ADAM_EMA_UPDATE, backendName: BACKEND, kernelFunc: adamEma },
    { kernelName: ADAM_MULTI_UPDATE, backendName: BACKEND, kernelFunc: adamMulti },
    { kernelName: SUM_SQUARES, backendName: BACKEND, kernelFunc: sumSquares },
    { kernelName: EMA_UPDATE, backendName: BACKEND, kernelFunc: ema },
    { kernelName: PHILOX_NORMAL, backendName: BACKEND, kernelFunc: philoxNormal },
    { kernelName: GROUP_NORM_SILU, backendName: BACKEND, kernelFunc: groupNormSilu },
    { kernelName: GROUP_NORM_SILU_GRAD, backendName: BACKEND, kernelFunc: groupNormSiluGrad },
    { kernelName: CONV2D_BIAS, backendName: BACKEND, kernelFunc: conv2dBias(fusedConv) },
    { kernelName: CONV2D_BACKPROP_FILTER_BIAS, backendName: BACKEND, kernelFunc: backpropFilterBias },
    { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: backpropFilter },
    { kernelName: tf.Sum, backendName: BACKEND, kernelFunc: sumAxes(stockSum) },
    { kernelName: tf.Conv2DBackpropInput, backendName: BACKEND, kernelFunc: backpropInput(stockInputGrad, conv2d) },
  ];
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, BACKEND);
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current != null) tf.unregisterKernel(config.kernelName, BACKEND);
    tf.registerKernel(config);
  }
  return { ok: true };
}

/** Puts tfjs's own kernels back on 'webgpu' (for comparisons). */
export function unregisterWebgpuKernels(): void {
  for (const config of configs ?? []) {
    if (tf.getKernel(config.kernelName, BACKEND)?.kernelFunc === config.kernelFunc) tf.unregisterKernel(config.kernelName, BACKEND);
  }
  for (const k of stock) if (!tf.getKernel(k.kernelName, BACKEND)) tf.registerKernel(k);
}
