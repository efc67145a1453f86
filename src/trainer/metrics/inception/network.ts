/**
 * pytorch-fid's FID Inception (torchvision's Inception3 with the FIDInceptionA/C/E_1/E_2 blocks
 * that reproduce the 2015-12-05 TensorFlow graph) up to pool3, in TF.js, NHWC.
 *
 * Every torch BasicConv2d is conv (no bias) -> BatchNorm(eps 0.001, running statistics) -> ReLU.
 * At load time BatchNorm is folded into the convolution: w' = w * g / sqrt(v + eps) per output
 * channel and b' = beta - m * g / sqrt(v + eps), computed in float64 and rounded once to float32.
 * One fused conv+bias+relu kernel per layer instead of four ops (conv, subtract, multiply, add)
 * saves time and memory traffic; the result differs from torch's unfused float32 arithmetic only
 * by float32 rounding (the test bounds the end-to-end difference by 1e-4 relative).
 * Weights are transposed from torch's OIHW to TF's HWIO.
 *
 * Torch pads symmetrically; every padded layer here has stride 1 and padding (k - 1) / 2, which is
 * TF's 'same', and every strided layer is unpadded ('valid'). The pool branches of the A, C and
 * E_1 blocks average with count_include_pad=False, which is TF's 'same' average pooling (it
 * divides by the number of real pixels); E_2 takes a 3x3 max instead.
 */
import * as tf from '@tensorflow/tfjs';
import { toFloat32, type TorchTensor } from './pth';

interface ConvSpec {
  /** Module path in the state dict, e.g. `Mixed_5b.branch1x1`. */
  readonly name: string;
  readonly cin: number;
  readonly cout: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: 1 | 2;
  readonly pad: 'same' | 'valid';
}

const BN_EPS = 0.001;

function conv(name: string, cin: number, cout: number, k: number | [number, number], opts: { stride?: 1 | 2; pad?: 'same' | 'valid' } = {}): ConvSpec {
  const [kh, kw] = typeof k === 'number' ? [k, k] : k;
  return { name, cin, cout, kh, kw, stride: opts.stride ?? 1, pad: opts.pad ?? (kh === 1 && kw === 1 ? 'valid' : 'same') };
}

/** Each block's layers, in the module order of the state dict. */
function blockA(p: string, cin: number, poolFeatures: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, cin, 64, 1),
    conv(`${p}.branch5x5_1`, cin, 48, 1),
    conv(`${p}.branch5x5_2`, 48, 64, 5),
    conv(`${p}.branch3x3dbl_1`, cin, 64, 1),
    conv(`${p}.branch3x3dbl_2`, 64, 96, 3),
    conv(`${p}.branch3x3dbl_3`, 96, 96, 3),
    conv(`${p}.branch_pool`, cin, poolFeatures, 1),
  ];
}

function blockB(p: string, cin: number): ConvSpec[] {
  return [
    conv(`${p}.branch3x3`, cin, 384, 3, { stride: 2, pad: 'valid' }),
    conv(`${p}.branch3x3dbl_1`, cin, 64, 1),
    conv(`${p}.branch3x3dbl_2`, 64, 96, 3),
    conv(`${p}.branch3x3dbl_3`, 96, 96, 3, { stride: 2, pad: 'valid' }),
  ];
}

function blockC(p: string, cin: number, c7: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, cin, 192, 1),
    conv(`${p}.branch7x7_1`, cin, c7, 1),
    conv(`${p}.branch7x7_2`, c7, c7, [1, 7]),
    conv(`${p}.branch7x7_3`, c7, 192, [7, 1]),
    conv(`${p}.branch7x7dbl_1`, cin, c7, 1),
    conv(`${p}.branch7x7dbl_2`, c7, c7, [7, 1]),
    conv(`${p}.branch7x7dbl_3`, c7, c7, [1, 7]),
    conv(`${p}.branch7x7dbl_4`, c7, c7, [7, 1]),
    conv(`${p}.branch7x7dbl_5`, c7, 192, [1, 7]),
    conv(`${p}.branch_pool`, cin, 192, 1),
  ];
}

function blockD(p: string, cin: number): ConvSpec[] {
  return [
    conv(`${p}.branch3x3_1`, cin, 192, 1),
    conv(`${p}.branch3x3_2`, 192, 320, 3, { stride: 2, pad: 'valid' }),
    conv(`${p}.branch7x7x3_1`, cin, 192, 1),
    conv(`${p}.branch7x7x3_2`, 192, 192, [1, 7]),
    conv(`${p}.branch7x7x3_3`, 192, 192, [7, 1]),
    conv(`${p}.branch7x7x3_4`, 192, 192, 3, { stride: 2, pad: 'valid' }),
  ];
}

function blockE(p: string, cin: number): ConvSpec[] {
  return [
    conv(`${p}.branch1x1`, cin, 320, 1),
    conv(`${p}.branch3x3_1`, cin, 384, 1),
    conv(`${p}.branch3x3_2a`, 384, 384, [1, 3]),
    conv(`${p}.branch3x3_2b`, 384, 384, [3, 1]),
    conv(`${p}.branch3x3dbl_1`, cin, 448, 1),
    conv(`${p}.branch3x3dbl_2`, 448, 384, 3),
    conv(`${p}.branch3x3dbl_3a`, 384, 384, [1, 3]),
    conv(`${p}.branch3x3dbl_3b`, 384, 384, [3, 1]),
    conv(`${p}.branch_pool`, cin, 192, 1),
  ];
}

/** All 94 convolutions of the network up to pool3. */
export const INCEPTION_CONVS: readonly ConvSpec[] = [
  conv('Conv2d_1a_3x3', 3, 32, 3, { stride: 2, pad: 'valid' }),
  conv('Conv2d_2a_3x3', 32, 32, 3, { pad: 'valid' }),
  conv('Conv2d_2b_3x3', 32, 64, 3),
  conv('Conv2d_3b_1x1', 64, 80, 1),
  conv('Conv2d_4a_3x3', 80, 192, 3, { pad: 'valid' }),
  ...blockA('Mixed_5b', 192, 32),
  ...blockA('Mixed_5c', 256, 64),
  ...blockA('Mixed_5d', 288, 64),
  ...blockB('Mixed_6a', 288),
  ...blockC('Mixed_6b', 768, 128),
  ...blockC('Mixed_6c', 768, 160),
  ...blockC('Mixed_6d', 768, 160),
  ...blockC('Mixed_6e', 768, 192),
  ...blockD('Mixed_7a', 768),
  ...blockE('Mixed_7b', 1280),
  ...blockE('Mixed_7c', 2048),
];

export const INCEPTION_INPUT_SIZE = 299;
export const INCEPTION_POOL3_DIM = 2048;

interface FoldedConv {
  readonly spec: ConvSpec;
  readonly filter: tf.Tensor4D;
  readonly bias: tf.Tensor1D;
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/**
 * Checks that every tensor the network needs is present with its shape; one error lists all
 * problems (first 10), naming the keys. Other entries (fc.*, num_batches_tracked, AuxLogits.*)
 * are ignored.
 */
export function checkInceptionWeights(sd: ReadonlyMap<string, TorchTensor>, label: string): void {
  const problems: string[] = [];
  for (const s of INCEPTION_CONVS) {
    const want: [string, number[]][] = [
      [`${s.name}.conv.weight`, [s.cout, s.cin, s.kh, s.kw]],
      ...['weight', 'bias', 'running_mean', 'running_var'].map((k): [string, number[]] => [`${s.name}.bn.${k}`, [s.cout]]),
    ];
    for (const [key, shape] of want) {
      const t = sd.get(key);
      if (!t) problems.push(`missing ${key} (expected shape ${shapeText(shape)})`);
      else if (shapeText(t.shape) !== shapeText(shape)) problems.push(`${key} has shape ${shapeText(t.shape)}, expected ${shapeText(shape)}`);
      else if (t.dtype !== 'float32' && t.dtype !== 'float64') problems.push(`${key} has dtype ${t.dtype}, expected float32`);
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `${label}: not pytorch-fid's Inception weights (pt_inception-2015-12-05-*.pth): ${problems.length} problem${problems.length === 1 ? '' : 's'}: ${problems.slice(0, 10).join('; ')}${problems.length > 10 ? '; ...' : ''}`,
    );
  }
}

/** Folds one BasicConv2d's BatchNorm into its convolution and transposes OIHW -> HWIO. */
function fold(s: ConvSpec, sd: ReadonlyMap<string, TorchTensor>): FoldedConv {
  const get = (k: string): Float32Array => toFloat32(sd.get(`${s.name}.${k}`) as TorchTensor, `${s.name}.${k}`);
  const w = get('conv.weight');
  const gamma = get('bn.weight');
  const beta = get('bn.bias');
  const mean = get('bn.running_mean');
  const variance = get('bn.running_var');
  const { cin, cout, kh, kw } = s;
  const hwio = new Float32Array(w.length);
  const bias = new Float32Array(cout);
  for (let o = 0; o < cout; o++) {
    const scale = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
    bias[o] = beta[o] - mean[o] * scale;
    for (let i = 0; i < cin; i++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) hwio[((y * kw + x) * cin + i) * cout + o] = w[((o * cin + i) * kh + y) * kw + x] * scale;
      }
    }
  }
  return { spec: s, filter: tf.tensor4d(hwio, [kh, kw, cin, cout]), bias: tf.tensor1d(bias) };
}

export class InceptionPool3 {
  private readonly convs: Map<string, FoldedConv>;

  /** `sd` must pass `checkInceptionWeights` (called here). */
  constructor(sd: ReadonlyMap<string, TorchTensor>, label: string) {
    checkInceptionWeights(sd, label);
    this.convs = new Map(INCEPTION_CONVS.map((s) => [s.name, fold(s, sd)]));
  }

  private c(name: string, x: tf.Tensor4D): tf.Tensor4D {
    const f = this.convs.get(name);
    if (!f) throw new Error(`internal: no layer ${name}`);
    return tf.fused.conv2d({ x, filter: f.filter, bias: f.bias, strides: f.spec.stride, pad: f.spec.pad, activation: 'relu' });
  }

  private chain(x: tf.Tensor4D, ...names: string[]): tf.Tensor4D {
    return names.reduce((h, n) => this.c(n, h), x);
  }

  private blockA(p: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat4d(
      [
        this.c(`${p}.branch1x1`, x),
        this.chain(x, `${p}.branch5x5_1`, `${p}.branch5x5_2`),
        this.chain(x, `${p}.branch3x3dbl_1`, `${p}.branch3x3dbl_2`, `${p}.branch3x3dbl_3`),
        this.c(`${p}.branch_pool`, tf.avgPool(x, 3, 1, 'same')),
      ],
      3,
    );
  }

  private blockB(p: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat4d([this.c(`${p}.branch3x3`, x), this.chain(x, `${p}.branch3x3dbl_1`, `${p}.branch3x3dbl_2`, `${p}.branch3x3dbl_3`), tf.maxPool(x, 3, 2, 'valid')], 3);
  }

  private blockC(p: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat4d(
      [
        this.c(`${p}.branch1x1`, x),
        this.chain(x, `${p}.branch7x7_1`, `${p}.branch7x7_2`, `${p}.branch7x7_3`),
        this.chain(x, ...[1, 2, 3, 4, 5].map((i) => `${p}.branch7x7dbl_${i}`)),
        this.c(`${p}.branch_pool`, tf.avgPool(x, 3, 1, 'same')),
      ],
      3,
    );
  }

  private blockD(p: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat4d(
      [
        this.chain(x, `${p}.branch3x3_1`, `${p}.branch3x3_2`),
        this.chain(x, `${p}.branch7x7x3_1`, `${p}.branch7x7x3_2`, `${p}.branch7x7x3_3`, `${p}.branch7x7x3_4`),
        tf.maxPool(x, 3, 2, 'valid'),
      ],
      3,
    );
  }

  /** `maxPool`: FIDInceptionE_2 (Mixed_7c) pools with a max, FIDInceptionE_1 with an average. */
  private blockE(p: string, x: tf.Tensor4D, maxPool: boolean): tf.Tensor4D {
    const b3 = this.c(`${p}.branch3x3_1`, x);
    const d3 = this.chain(x, `${p}.branch3x3dbl_1`, `${p}.branch3x3dbl_2`);
    const pool = maxPool ? tf.maxPool(x, 3, 1, 'same') : tf.avgPool(x, 3, 1, 'same');
    return tf.concat4d(
      [
        this.c(`${p}.branch1x1`, x),
        this.c(`${p}.branch3x3_2a`, b3),
        this.c(`${p}.branch3x3_2b`, b3),
        this.c(`${p}.branch3x3dbl_3a`, d3),
        this.c(`${p}.branch3x3dbl_3b`, d3),
        this.c(`${p}.branch_pool`, pool),
      ],
      3,
    );
  }

  /**
   * pool3 features of images already resized to 299x299 and scaled to [-1, 1] (NHWC, 3
   * channels): n x 2048. Intermediate tensors are freed as the pass goes.
   */
  pool3(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      // Each block in its own tidy so a batch holds one block's activations at a time.
      const step = (h: tf.Tensor4D, f: (t: tf.Tensor4D) => tf.Tensor4D): tf.Tensor4D => {
        const out = tf.tidy(() => f(h));
        if (h !== x) h.dispose();
        return out;
      };
      let h = step(x, (t) => tf.maxPool(this.chain(t, 'Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3'), 3, 2, 'valid'));
      h = step(h, (t) => tf.maxPool(this.chain(t, 'Conv2d_3b_1x1', 'Conv2d_4a_3x3'), 3, 2, 'valid'));
      for (const p of ['Mixed_5b', 'Mixed_5c', 'Mixed_5d']) h = step(h, (t) => this.blockA(p, t));
      h = step(h, (t) => this.blockB('Mixed_6a', t));
      for (const p of ['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e']) h = step(h, (t) => this.blockC(p, t));
      h = step(h, (t) => this.blockD('Mixed_7a', t));
      h = step(h, (t) => this.blockE('Mixed_7b', t, false));
      h = step(h, (t) => this.blockE('Mixed_7c', t, true));
      return tf.mean(h, [1, 2]) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const f of this.convs.values()) {
      f.filter.dispose();
      f.bias.dispose();
    }
    this.convs.clear();
  }
}
