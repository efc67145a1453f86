/**
 * The WGSL of the fused kernels on 'webgpu' (webgpuKernels.ts records them). Bindings, in order:
 * outputs (read_write), inputs (read), then the uniform block, whose struct lists its f32 fields
 * before its u32 fields (webgpuRaw.ts `uniforms`).
 */
import { PHILOX } from '../noise/philox';

/** Invocations per workgroup in every shader here. */
export const WG = 256;

/** Shared by the shaders below: the index of this invocation in a 1-D dispatch (see grid1d). */
const INDEX = `fn index1d(wg: vec3<u32>, nwg: vec3<u32>, li: u32) -> u32 { return (wg.y * nwg.x + wg.x) * ${WG}u + li; }`;

/** Storage bindings in order (read_write first, then read), then the uniform block `h` of struct H. */
function bindings(readWrite: string[], read: string[]): string {
  const names = [...readWrite.map((n) => `read_write> ${n}`), ...read.map((n) => `read> ${n}`)];
  return [...names.map((n, i) => `@group(0) @binding(${i}) var<storage, ${n}: array<f32>;`), `@group(0) @binding(${names.length}) var<uniform> h: H;`].join('\n');
}

/**
 * One element's update at index `at`: reads p<k>, g<k>, m<k>, v<k> (and scale, h), writes p, m
 * and v with the suffix `out` (and, with `ema`, e<k> from the new weight).
 */
function adamElement(at: string, k: string, out: string, ema: boolean): string {
  const e = ema ? `\n  e${k}[${at}] = h.decay * e${k}[${at}] + h.rest * pi;` : '';
  return `
  let gi = g${k}[${at}] * scale[0];
  let mi = h.b1 * m${k}[${at}] + h.omb1 * gi;
  let vi = h.b2 * v${k}[${at}] + h.omb2 * gi * gi;
  let pi = p${k}[${at}] - h.lr * ((mi / h.bc1) / (sqrt(vi / h.bc2) + h.eps));
  m${k}${out}[${at}] = mi;
  v${k}${out}[${at}] = vi;
  p${k}${out}[${at}] = pi;${e}`;
}

/**
 * Adam's clipped update of one element: out of place ('copy': into p2, m2, v2), in place, or in
 * place followed by the EMA of the new weight (the trainer's two updates in one dispatch).
 */
function adamWgsl(mode: 'copy' | 'inPlace' | 'inPlaceEma'): string {
  const ema = mode === 'inPlaceEma';
  const decls = mode === 'copy' ? bindings(['p2', 'm2', 'v2'], ['p', 'g', 'm', 'v', 'scale']) : bindings(['p', 'm', 'v', ...(ema ? ['e'] : [])], ['g', 'scale']);
  return `
struct H { lr: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, eps: f32, bc1: f32, bc2: f32${ema ? ', decay: f32, rest: f32' : ''} }
${decls}
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
  if (i >= arrayLength(&p)) { return; }${adamElement('i', '', mode === 'copy' ? '2' : '', ema)}
}`;
}

/**
 * Adam in place (and with `ema` the EMA of the new weight) for `n` tensors in one dispatch: the
 * invocations run over the tensors one after another, h.end<k> the end of tensor k's range. The
 * same arithmetic per element as adamWgsl (adamElement).
 */
export function adamMultiWgsl(n: number, ema: boolean): string {
  const k = Array.from({ length: n }, (_, i) => i);
  const rw = k.flatMap((i) => [`p${i}`, `m${i}`, `v${i}`, ...(ema ? [`e${i}`] : [])]);
  const ro = [...k.map((i) => `g${i}`), 'scale'];
  const branches = k
    .map((i) => `${i ? ' else ' : '  '}if (i < h.end${i}) {\n  let j = i${i ? ` - h.end${i - 1}` : ''};${adamElement('j', String(i), '', ema)}\n  }`)
    .join('');
  return `
struct H { lr: f32, b1: f32, omb1: f32, b2: f32, omb2: f32, eps: f32, bc1: f32, bc2: f32, decay: f32, rest: f32, ${k.map((i) => `end${i}: u32`).join(', ')} }
${bindings(rw, ro)}
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
${branches}
}`;
}

export const ADAM_WGSL = adamWgsl('copy');
/** Adam in place: the parameter and both moments are read and written in their own buffers. */
export const ADAM_INPLACE_WGSL = adamWgsl('inPlace');
/** Adam in place, then the EMA of the new weight in place. */
export const ADAM_EMA_INPLACE_WGSL = adamWgsl('inPlaceEma');

/** The EMA of the weights: into e2, or in place. */
function emaWgsl(inPlace: boolean): string {
  return `
struct H { decay: f32, rest: f32, n: u32 }
${inPlace ? bindings(['e'], ['p']) : bindings(['e2'], ['e', 'p'])}
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
  if (i < h.n) { e${inPlace ? '' : '2'}[i] = h.decay * e[i] + h.rest * p[i]; }
}`;
}

export const EMA_WGSL = emaWgsl(false);
export const EMA_INPLACE_WGSL = emaWgsl(true);

/** A workgroup-wide sum of `v` (all invocations get it). */
const REDUCE = `
var<workgroup> red: array<f32, ${WG}>;
fn wgSum(li: u32, v: f32) -> f32 {
  workgroupBarrier();
  red[li] = v;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w = w / 2u) {
    if (li < w) { red[li] += red[li + w]; }
    workgroupBarrier();
  }
  return red[0];
}`;

/**
 * The partial sums each sum-of-squares dispatch writes (their total is its share of the sum): up
 * to this many workgroups, one per 8 elements per invocation, so that one dispatch fills a large GPU.
 */
export const SUM_SQUARES_PARTS = 64;

/** The sum of squares of `k` tensors as SUM_SQUARES_PARTS partial sums, written from out[base]. */
export function sumSquaresWgsl(k: number): string {
  const decls = Array.from({ length: k }, (_, i) => `@group(0) @binding(${i + 1}) var<storage, read> x${i}: array<f32>;`).join('\n');
  const loops = Array.from({ length: k }, (_, i) => `  for (var j = first; j < arrayLength(&x${i}); j += stride) { let a = x${i}[j]; s += a * a; }`).join('\n');
  return `
struct P { base: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
${decls}
@group(0) @binding(${k + 1}) var<uniform> p: P;
${REDUCE}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  // Workgroup w sums elements w * ${WG} + li, then every (workgroups x ${WG})-th: a partial sum
  // each, at out[base + w].
  let first = wg.x * ${WG}u + li;
  let stride = nwg.x * ${WG}u;
  var s = 0.0;
${loops}
  let total = wgSum(li, s);
  if (li == 0u) { out[p.base + wg.x] = total; }
  // Fewer workgroups than partial sums (small inputs): the first zeroes the rest.
  if (wg.x == 0u) { for (var k = nwg.x + li; k < ${SUM_SQUARES_PARTS}u; k += ${WG}u) { out[p.base + k] = 0.0; } }
}`;
}

/**
 * GroupNorm (+ SiLU) shape block. One workgroup per (sample, group); invocation t < lanes walks
 * the group's elements t, t + lanes, ... (element i = hw * cg + c), so it always sees the same
 * channel c = t % cg (lanes is a multiple of cg).
 */
const GN_STRUCT = `struct S { eps: f32, hw: u32, c: u32, groups: u32, cg: u32, lanes: u32, silu: u32, n: u32 }`;
const GN_ADDR = `
fn addr(s: S, ng: u32, i: u32) -> u32 {
  let n = ng / s.groups;
  let g = ng % s.groups;
  return (n * s.hw + i / s.cg) * s.c + g * s.cg + i % s.cg;
}`;

export const GN_FWD_WGSL = `
${GN_STRUCT}
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(2) var<storage, read_write> rstdOut: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<uniform> s: S;
${REDUCE}
${GN_ADDR}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let ng = wg.x;
  let cnt = s.hw * s.cg;
  var acc = 0.0;
  if (li < s.lanes) { for (var i = li; i < cnt; i += s.lanes) { acc += x[addr(s, ng, i)]; } }
  let mean = wgSum(li, acc) / f32(cnt);
  // Two passes (mean, then squared deviations): as exact as the CPU's in float32.
  acc = 0.0;
  if (li < s.lanes) { for (var i = li; i < cnt; i += s.lanes) { let d = x[addr(s, ng, i)] - mean; acc += d * d; } }
  let rstd = inverseSqrt(wgSum(li, acc) / f32(cnt) + s.eps);
  if (li == 0u) { meanOut[ng] = mean; rstdOut[ng] = rstd; }
  if (li < s.lanes) {
    let ch = (ng % s.groups) * s.cg + li % s.cg;
    let ga = gamma[ch];
    let be = beta[ch];
    for (var i = li; i < cnt; i += s.lanes) {
      let a = addr(s, ng, i);
      let u = (x[a] - mean) * rstd * ga + be;
      y[a] = select(u, u / (1.0 + exp(-u)), s.silu != 0u);
    }
  }
}`;

/**
 * Backward, pass 1 (a workgroup per sample and group): dx, and each channel's partial sums of
 * du * z (dgamma) and du (dbeta) over this sample, into part[0..n*c) and part[n*c..2*n*c).
 */
export const GN_BWD_WGSL = `
${GN_STRUCT}
@group(0) @binding(0) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read_write> part: array<f32>;
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read> meanIn: array<f32>;
@group(0) @binding(7) var<storage, read> rstdIn: array<f32>;
@group(0) @binding(8) var<uniform> s: S;
${REDUCE}
${GN_ADDR}
/* dL/du for u = gamma z + beta, through SiLU when it is applied. */
fn du(s: S, dyv: f32, u: f32) -> f32 {
  if (s.silu == 0u) { return dyv; }
  let sg = 1.0 / (1.0 + exp(-u));
  return dyv * sg * (1.0 + u * (1.0 - sg));
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let ng = wg.x;
  let cnt = s.hw * s.cg;
  let mean = meanIn[ng];
  let rstd = rstdIn[ng];
  let lane = li < s.lanes;
  let c = li % s.cg;
  let ch = (ng % s.groups) * s.cg + c;
  var ga = 0.0;
  var be = 0.0;
  if (lane) { ga = gamma[ch]; be = beta[ch]; }
  var sdz = 0.0;
  var sdzz = 0.0;
  var sg = 0.0;
  var sb = 0.0;
  if (lane) {
    for (var i = li; i < cnt; i += s.lanes) {
      let a = addr(s, ng, i);
      let z = (x[a] - mean) * rstd;
      let d = du(s, dy[a], ga * z + be);
      sg += d * z;
      sb += d;
      sdz += d * ga;
      sdzz += d * ga * z;
    }
  }
  let mdz = wgSum(li, sdz) / f32(cnt);
  let mdzz = wgSum(li, sdzz) / f32(cnt);
  // Per-channel partials: the invocations of one channel are c, c + cg, ... below lanes.
  workgroupBarrier();
  red[li] = select(0.0, sg, lane);
  workgroupBarrier();
  var tg = 0.0;
  if (li < s.cg) { for (var j = li; j < s.lanes; j += s.cg) { tg += red[j]; } }
  workgroupBarrier();
  red[li] = select(0.0, sb, lane);
  workgroupBarrier();
  if (li < s.cg) {
    var tb = 0.0;
    for (var j = li; j < s.lanes; j += s.cg) { tb += red[j]; }
    let n = ng / s.groups;
    part[n * s.c + ch] = tg;
    part[s.n * s.c + n * s.c + ch] = tb;
  }
  if (lane) {
    for (var i = li; i < cnt; i += s.lanes) {
      let a = addr(s, ng, i);
      let z = (x[a] - mean) * rstd;
      let dz = du(s, dy[a], ga * z + be) * ga;
      dx[a] = rstd * (dz - mdz - z * mdzz);
    }
  }
}`;

/**
 * Backward, pass 2: dgamma and dbeta as sums of the per-sample partials. One workgroup per
 * channel (channels are few: 32 to 256, each over the batch), its 64 invocations striding over
 * the samples, then a tree in workgroup memory.
 */
export const GN_BWD_REDUCE_WG = 64;
export const GN_BWD_REDUCE_WGSL = `
struct R { n: u32, c: u32 }
@group(0) @binding(0) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(1) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<uniform> r: R;
var<workgroup> sg: array<f32, ${GN_BWD_REDUCE_WG}>;
var<workgroup> sb: array<f32, ${GN_BWD_REDUCE_WG}>;
@compute @workgroup_size(${GN_BWD_REDUCE_WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let ch = wg.y * nwg.x + wg.x;
  var g = 0.0;
  var b = 0.0;
  if (ch < r.c) {
    for (var n = li; n < r.n; n += ${GN_BWD_REDUCE_WG}u) { g += part[n * r.c + ch]; b += part[(r.n + n) * r.c + ch]; }
  }
  sg[li] = g;
  sb[li] = b;
  workgroupBarrier();
  for (var s = ${GN_BWD_REDUCE_WG / 2}u; s > 0u; s = s >> 1u) {
    if (li < s) { sg[li] += sg[li + s]; sb[li] += sb[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u && ch < r.c) { dgamma[ch] = sg[0]; dbeta[ch] = sb[0]; }
}`;

/** The filter gradient's tile (k x co, 32 or 64): (tile / 4)^2 invocations, each a 4 k x 4 co block. */
export type ConvDwTile = 32 | 64;

export function convDwInvocations(tile: ConvDwTile): number {
  return (tile / 4) ** 2;
}

/**
 * The filter gradient as a GEMM over m = (batch, out row, out col): dW'[k, co] = sum_m
 * im2col(x)[m, k] dy[m, co], with k = (kh, kw, ci) addressed in x (im2col without the copy) and one
 * extra row k = K of ones, whose result is the bias gradient. Workgroups tile `tile` k x `tile` co
 * (32 or 64) and split m into chunks (split-K: z), writing partial sums part[z, k, co].
 * - Each invocation sums a 4 k x 4 co block from two vec4 reads of workgroup memory per step of m
 *   (a 2 x 2 block read one float of workgroup memory per multiply-add).
 * - The integer divisions of the im2col addressing are done once per invocation for its columns k,
 *   and once per step for each of its rows m (a table in workgroup memory), not per element.
 * - With `vecX` (the input's channels a multiple of 4) the four k of an invocation's column are
 *   four channels of one pixel, read as one vec4; with `vecDy` (the output's channels a multiple
 *   of 4) dy's four columns are read as one vec4. Otherwise four floats each.
 * On lavapipe this does 2.3x less work than the 2 x 2 version (docs/benchmarks.md).
 */
export function convDwWgsl(vecX: boolean, vecDy: boolean, tile: ConvDwTile = 32): string {
  // Vec4 columns per tile row; rows of m per step (16 with the 64 tile: its two tiles then take
  // 8 KiB of workgroup memory, within WebGPU's default 16 KiB); rows each invocation loads per step.
  const cols = tile / 4;
  const step = tile === 64 ? 16 : 32;
  const passes = step / (convDwInvocations(tile) / cols);
  // The column's k: in vec4 mode their (kh, kw) are shared; else one set per lane.
  const hoistX = vecX
    ? `let k = k0 + 4u * colv;
  let kh = i32((k / kwci) * c.dh);
  let kw = i32(((k % kwci) / c.ci) * c.dw);
  let kOff = (kh * w + kw) * i32(c.ci) + i32(k % c.ci);`
    : `var kh: array<i32, 4>;
  var kw: array<i32, 4>;
  var kOff: array<i32, 4>;
  for (var q = 0u; q < 4u; q++) {
    let kq = k0 + 4u * colv + q;
    kh[q] = i32((kq / kwci) * c.dh);
    kw[q] = i32(((kq % kwci) / c.ci) * c.dw);
    kOff[q] = (kh[q] * w + kw[q]) * i32(c.ci) + i32(kq % c.ci);
  }`;
  const loadX = vecX
    ? `if (k < c.kk) {
        let ih = rowH[mm] + kh;
        let iw = rowW[mm] + kw;
        if (ih >= 0 && iw >= 0 && ih < h && iw < w) { a = x[(rowX[mm] + kOff) / 4]; }
      } else if (k == c.kk && live) {
        a.x = 1.0;
      }`
    : `for (var q = 0u; q < 4u; q++) {
        let kq = k0 + 4u * colv + q;
        let ih = rowH[mm] + kh[q];
        let iw = rowW[mm] + kw[q];
        if (kq < c.kk) {
          if (ih >= 0 && iw >= 0 && ih < h && iw < w) { a[q] = x[rowX[mm] + kOff[q]]; }
        } else if (kq == c.kk && live) {
          a[q] = 1.0;
        }
      }`;
  const loadDy = vecDy
    ? `if (live && o < c.co) { d = dy[(m * c.co + o) / 4u]; }`
    : `for (var q = 0u; q < 4u; q++) {
        if (live && o + q < c.co) { d[q] = dy[m * c.co + o + q]; }
      }`;
  return `
struct C {
  h: u32, w: u32, ci: u32, ho: u32, wo: u32, co: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, dh: u32, dw: u32, pt: u32, pl: u32, kk: u32, m: u32, chunk: u32 }
@group(0) @binding(0) var<storage, read_write> part: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<${vecX ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> dy: array<${vecDy ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<uniform> c: C;
var<workgroup> As: array<array<vec4<f32>, ${cols}>, ${step}>;
var<workgroup> Bs: array<array<vec4<f32>, ${cols}>, ${step}>;
// Per row m of the tile: the input row and column of the filter tap (0, 0), and the offset of
// that pixel's channel 0 in x (all may lie in the padding, so signed).
var<workgroup> rowH: array<i32, ${step}>;
var<workgroup> rowW: array<i32, ${step}>;
var<workgroup> rowX: array<i32, ${step}>;
@compute @workgroup_size(${convDwInvocations(tile)})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = i32(c.h);
  let w = i32(c.w);
  let k0 = wg.x * ${tile}u;
  let c0 = wg.y * ${tile}u;
  let mStart = wg.z * c.chunk;
  let mEnd = min(mStart + c.chunk, c.m);
  // What this invocation loads: vec4 column colv (k or co 4 colv .. 4 colv + 3) of rows
  // row0, row0 + step / passes, ... of both tiles.
  let colv = li % ${cols}u;
  let row0 = li / ${cols}u;
  let kwci = c.kw * c.ci;
  ${hoistX}
  let o = c0 + 4u * colv;
  // What it sums: k rows 4 tk .. 4 tk + 3, co columns 4 tc .. 4 tc + 3 of the tile.
  let tk = li / ${cols}u;
  let tc = li % ${cols}u;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var m0 = mStart; m0 < mEnd; m0 += ${step}u) {
    if (li < ${step}u) {
      let m = m0 + li;
      let hwo = c.ho * c.wo;
      let b = m / hwo;
      let r = m % hwo;
      let ih = i32((r / c.wo) * c.sh) - i32(c.pt);
      let iw = i32((r % c.wo) * c.sw) - i32(c.pl);
      // Past the chunk: a row no tap reaches.
      rowH[li] = select(-1048576, ih, m < mEnd);
      rowW[li] = iw;
      rowX[li] = ((i32(b) * h + ih) * w + iw) * i32(c.ci);
    }
    workgroupBarrier();
    for (var j = 0u; j < ${passes}u; j++) {
      let mm = row0 + ${step / passes}u * j;
      let m = m0 + mm;
      let live = m < mEnd;
      var a = vec4<f32>(0.0);
      ${loadX}
      var d = vec4<f32>(0.0);
      ${loadDy}
      As[mm][colv] = a;
      Bs[mm][colv] = d;
    }
    workgroupBarrier();
    for (var mm = 0u; mm < ${step}u; mm++) {
      let p = As[mm][tk];
      let q = Bs[mm][tc];
      acc0 += p.x * q; acc1 += p.y * q; acc2 += p.z * q; acc3 += p.w * q;
    }
    workgroupBarrier();
  }
  let rows = c.kk + 1u;
  let base = wg.z * rows * c.co;
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let kr = k0 + tk * 4u + i;
    if (kr >= rows) { break; }
    for (var q = 0u; q < 4u; q++) {
      let oc = c0 + tc * 4u + q;
      if (oc < c.co) { part[base + kr * c.co + oc] = accs[i][q]; }
    }
  }
}`;
}

/** The output channels of a forward convolution's GEMM tile: 4,096 outputs a tile in all. */
export type ConvMmWidth = 16 | 32 | 64;

/**
 * A tile's rows (output pixels) and k step for a width: 64 x 64, 128 x 32 or 256 x 16, k steps of
 * 16, or 8 for the 256-row tile (16 would take 17 KiB of workgroup memory, over WebGPU's 16).
 */
export function convMmTile(tn: ConvMmWidth): { tm: number; ks: number } {
  return { tm: 4096 / tn, ks: tn === 16 ? 8 : 16 };
}

/** The narrowest tile width that covers `co` channels (a wider one computes padding). */
export function convMmWidth(co: number): ConvMmWidth {
  return co <= 16 ? 16 : co <= 32 ? 32 : 64;
}

export interface ConvMmOptions {
  vecX: boolean;
  vecW: boolean;
  flipped: boolean;
  bias: boolean;
  tn: ConvMmWidth;
}

/**
 * A 2-D convolution (NHWC) as an implicit GEMM: y[m, n] = sum_k x'[m, k] w'[k, n] (+ bias[n]),
 * m = (batch, out row, out col), k = (tap row, tap col, in channel), in tiles of 4,096 outputs
 * (tm x tn: 64 x 64, or 128 x 32 and 256 x 16 for convolutions with few output channels, which a
 * 64-wide tile would mostly compute as padding). Each of the 256 invocations sums 4 rows x 4
 * channels; x and w are read as vec4 where their channels come in fours. `flipped`: w is the
 * filter [kh, kw, n, c] of the convolution whose input gradient this is, read rotated 180 degrees
 * with its channels swapped, so that no flipped copy has to be written first.
 */
export function convMmWgsl(o: ConvMmOptions): string {
  const { tm, ks } = convMmTile(o.tn);
  const kq = ks / 4; // vec4 loads along k per tile row
  const aLoads = (tm * kq) / 256; // tile rows each invocation loads
  const bLoads = o.tn * kq; // vec4 loads of a B tile (a row of k, or a channel in flipped mode)
  // A: load e = li + 256 j takes tile row e / kq and k 4 (e % kq) .. + 3 of the step.
  const loadA = (j: number): string => {
    const at = (k: string): string => `{
        let tap = ${k} / c.ci;
        let ih = aH[${j}] + i32((tap / c.kw) * c.dh);
        let iw = aW[${j}] + i32((tap % c.kw) * c.dw);
        if (ih >= 0 && iw >= 0 && ih < h && iw < w) { ${o.vecX ? 'a' : 'a[q]'} = x[${o.vecX ? '(' : ''}aBase[${j}] + (ih * w + iw) * i32(c.ci) + i32(${k} % c.ci)${o.vecX ? ') / 4' : ''}]; }
      }`;
    const body = o.vecX
      ? `let k = k0 + 4u * ((${j * 256}u + li) % ${kq}u);
      if (k < c.kk && aLive[${j}]) ${at('k')}`
      : `for (var q = 0u; q < 4u; q++) {
        let k = k0 + 4u * ((${j * 256}u + li) % ${kq}u) + q;
        if (k < c.kk && aLive[${j}]) ${at('k')}
      }`;
    return `{
      let row = (${j * 256}u + li) / ${kq}u;
      var a = vec4<f32>(0.0);
      ${body}
      let k4 = 4u * ((${j * 256}u + li) % ${kq}u);
      for (var q = 0u; q < 4u; q++) { As[k4 + q][row / 4u][row % 4u] = a[q]; }
    }`;
  };
  // B, plain: load li takes k row li / (tn / 4) of the step, channels 4 (li % (tn / 4)) .. + 3
  // (contiguous in w). Flipped: channel li / kq, k 4 (li % kq) .. + 3 (contiguous: w's last axis is c).
  const flippedAt = (k: string): string => `(((c.kh - 1u - (${k} / c.ci) / c.kw) * c.kw + (c.kw - 1u - (${k} / c.ci) % c.kw)) * c.co + bn) * c.ci + ${k} % c.ci`;
  const loadB = o.flipped
    ? `let bn = n0 + li / ${kq}u;
      let k4 = 4u * (li % ${kq}u);
      var bv = vec4<f32>(0.0);
      ${
        o.vecW
          ? `if (k0 + k4 < c.kk && bn < c.co) { bv = wt[(${flippedAt('(k0 + k4)')}) / 4u]; }`
          : `for (var q = 0u; q < 4u; q++) {
        let k = k0 + k4 + q;
        if (k < c.kk && bn < c.co) { bv[q] = wt[${flippedAt('k')}]; }
      }`
      }
      for (var q = 0u; q < 4u; q++) { Bs[k4 + q][(li / ${kq}u) / 4u][(li / ${kq}u) % 4u] = bv[q]; }`
    : `let kb = li / ${o.tn / 4}u;
      let bn = n0 + 4u * (li % ${o.tn / 4}u);
      let k = k0 + kb;
      var bv = vec4<f32>(0.0);
      ${
        o.vecW
          ? `if (k < c.kk && bn < c.co) { bv = wt[(k * c.co + bn) / 4u]; }`
          : `for (var q = 0u; q < 4u; q++) {
        if (k < c.kk && bn + q < c.co) { bv[q] = wt[k * c.co + bn + q]; }
      }`
      }
      Bs[kb][li % ${o.tn / 4}u] = bv;`;
  const rows = Array.from({ length: aLoads }, (_, j) => j);
  return `
struct C {
  h: u32, w: u32, ci: u32, ho: u32, wo: u32, co: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, dh: u32, dw: u32, pt: u32, pl: u32, kk: u32, m: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<${o.vecX ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> wt: array<${o.vecW ? 'vec4<f32>' : 'f32'}>;
${o.bias ? '@group(0) @binding(3) var<storage, read> bias: array<f32>;\n' : ''}@group(0) @binding(${o.bias ? 4 : 3}) var<uniform> c: C;
var<workgroup> As: array<array<vec4<f32>, ${tm / 4}>, ${ks}>;
var<workgroup> Bs: array<array<vec4<f32>, ${o.tn / 4}>, ${ks}>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  // Tiles of m along x and z (beyond 65,535 of them), of n along y.
  let m0 = (wg.z * nwg.x + wg.x) * ${tm}u;
  if (m0 >= c.m) { return; }
  let n0 = wg.y * ${o.tn}u;
  let h = i32(c.h);
  let w = i32(c.w);
  let hwo = c.ho * c.wo;
  // The tile rows this invocation loads: each one's input row and column of tap (0, 0), and the
  // offset of its image in x (the tap may lie in the padding, so signed).
  var aH: array<i32, ${aLoads}>;
  var aW: array<i32, ${aLoads}>;
  var aBase: array<i32, ${aLoads}>;
  var aLive: array<bool, ${aLoads}>;
  for (var j = 0u; j < ${aLoads}u; j++) {
    let m = m0 + (j * 256u + li) / ${kq}u;
    aLive[j] = m < c.m;
    aH[j] = i32(((m % hwo) / c.wo) * c.sh) - i32(c.pt);
    aW[j] = i32((m % hwo % c.wo) * c.sw) - i32(c.pl);
    aBase[j] = i32(m / hwo) * h * w * i32(c.ci);
  }
  // What it sums: rows 4 tm .. 4 tm + 3, channels 4 tn .. 4 tn + 3 of the tile.
  let tm = li / ${o.tn / 4}u;
  let tn = li % ${o.tn / 4}u;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0); var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < c.kk; k0 += ${ks}u) {
    ${rows.map(loadA).join('\n    ')}
    if (li < ${bLoads}u) {
      ${loadB}
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${ks}u; kk++) {
      let p = As[kk][tm];
      let q = Bs[kk][tn];
      acc0 += p.x * q; acc1 += p.y * q; acc2 += p.z * q; acc3 += p.w * q;
    }
    workgroupBarrier();
  }
  let accs = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * tm + i;
    if (m >= c.m) { break; }
    for (var q = 0u; q < 4u; q++) {
      let n = n0 + 4u * tn + q;
      if (n < c.co) { y[m * c.co + n] = accs[i][q]${o.bias ? ' + bias[n]' : ''}; }
    }
  }
}`;
}

export const CONV_DW_REDUCE_WGSL = `
struct R { kk: u32, co: u32, splits: u32 }
@group(0) @binding(0) var<storage, read_write> dw: array<f32>;
@group(0) @binding(1) var<storage, read_write> db: array<f32>;
@group(0) @binding(2) var<storage, read> part: array<f32>;
@group(0) @binding(3) var<uniform> r: R;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
  let size = (r.kk + 1u) * r.co;
  if (i >= size) { return; }
  // Four independent sums, so that four loads are in flight at a time: the loop is bound by the
  // latency of its loads, one split after another.
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  var z = 0u;
  for (; z + 4u <= r.splits; z += 4u) {
    s0 += part[z * size + i];
    s1 += part[(z + 1u) * size + i];
    s2 += part[(z + 2u) * size + i];
    s3 += part[(z + 3u) * size + i];
  }
  for (; z < r.splits; z++) { s0 += part[z * size + i]; }
  let s = (s0 + s1) + (s2 + s3);
  if (i < r.kk * r.co) { dw[i] = s; } else { db[i - r.kk * r.co] = s; }
}`;

/**
 * A filter [kh, kw, ci, co] rotated 180 degrees with its channels swapped, [kh, kw, co, ci]: the
 * filter whose forward convolution of dy is the input gradient (stride 1). One invocation per
 * output element.
 */
export const FLIP_FILTER_WGSL = `
struct F { kh: u32, kw: u32, ci: u32, co: u32, n: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<uniform> f: F;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
  if (i >= f.n) { return; }
  let ci = i % f.ci;
  var r = i / f.ci;
  let co = r % f.co;
  r = r / f.co;
  let j = r % f.kw;
  let h = r / f.kw;
  y[i] = w[(((f.kh - 1u - h) * f.kw + (f.kw - 1u - j)) * f.ci + ci) * f.co + co];
}`;

/**
 * A sum over any axes without transposing first: the axes come collapsed into at most 4 kept
 * blocks (the output's, outermost first) and 4 reduced blocks, each a size and an input stride
 * (unused blocks: size 1, stride 0). Invocation (part p, output i) sums the p-th chunk of i's
 * reduced elements, in order, into y[p * n + i]: with one part that is the sum; with more (few
 * outputs, each over many elements: the bias gradients) SUM_PARTS_WGSL adds the parts. Neighbouring
 * invocations read neighbouring floats where the innermost axis is kept.
 */
export const SUM_AXES_WGSL = `
struct U { k0: u32, k1: u32, k2: u32, k3: u32, ks0: u32, ks1: u32, ks2: u32, ks3: u32,
           r0: u32, r1: u32, r2: u32, r3: u32, rs0: u32, rs1: u32, rs2: u32, rs3: u32, n: u32, chunk: u32, total: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let id = index1d(wg, nwg, li);
  let i = id % u.n;
  let start = (id / u.n) * u.chunk;
  if (start >= u.total) { return; }
  var rest = i;
  let c3 = rest % u.k3; rest = rest / u.k3;
  let c2 = rest % u.k2; rest = rest / u.k2;
  let c1 = rest % u.k1; rest = rest / u.k1;
  let base = rest * u.ks0 + c1 * u.ks1 + c2 * u.ks2 + c3 * u.ks3;
  // The chunk's first reduced element as coordinates, then an odometer over them.
  var r = start;
  var d = r % u.r3; r = r / u.r3;
  var c = r % u.r2; r = r / u.r2;
  var b = r % u.r1;
  var a = r / u.r1;
  var acc = 0.0;
  let count = min(u.chunk, u.total - start);
  for (var k = 0u; k < count; k++) {
    acc += x[base + a * u.rs0 + b * u.rs1 + c * u.rs2 + d * u.rs3];
    d++;
    if (d == u.r3) { d = 0u; c++; if (c == u.r2) { c = 0u; b++; if (b == u.r1) { b = 0u; a++; } } }
  }
  y[id] = acc;
}`;

/** y[i] = the sum over p of part[p * n + i]: the second pass of a split SUM_AXES_WGSL. */
export const SUM_PARTS_WGSL = `
struct U { n: u32, parts: u32 }
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
${INDEX}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = index1d(wg, nwg, li);
  if (i >= u.n) { return; }
  var acc = 0.0;
  for (var p = 0u; p < u.parts; p++) { acc += part[p * u.n + i]; }
  y[i] = acc;
}`;

/**
 * Philox4x32-10 normal vectors (src/trainer/noise/philox.ts, philoxVectors, is the reference and
 * says the layout): invocation g makes block g % bpv of vector first + g / bpv, four draws, into
 * out[(g / bpv) * d + 4 * (g % bpv) ..].
 */
export const PHILOX_NORMAL_WGSL = `
struct H { key0: u32, key1: u32, c1: u32, c2: u32, first: u32, count: u32, d: u32, bpv: u32 }
${bindings(['out'], [])}
${INDEX}
fn mulhi(a: u32, b: u32) -> u32 {
  let al = a & 0xffffu;
  let ah = a >> 16u;
  let bl = b & 0xffffu;
  let bh = b >> 16u;
  let u = ah * bl + ((al * bl) >> 16u);
  let w = (u & 0xffffu) + al * bh;
  return ah * bh + (u >> 16u) + (w >> 16u);
}
fn unif(w: u32) -> f32 { return (f32(w >> 9u) + 0.5) * (1.0 / 8388608.0); }
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = index1d(wg, nwg, li);
  let q = g / h.bpv;
  if (q >= h.count) { return; }
  let blk = g % h.bpv;
  var c = vec4<u32>(blk, h.c1, h.c2, h.first + q);
  var k0 = h.key0;
  var k1 = h.key1;
  for (var r = 0u; r < ${PHILOX.ROUNDS}u; r++) {
    if (r > 0u) {
      k0 = k0 + ${PHILOX.W0}u;
      k1 = k1 + ${PHILOX.W1}u;
    }
    let hi0 = mulhi(${PHILOX.M0}u, c.x);
    let lo0 = ${PHILOX.M0}u * c.x;
    let hi1 = mulhi(${PHILOX.M1}u, c.z);
    let lo1 = ${PHILOX.M1}u * c.z;
    c = vec4<u32>(hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0);
  }
  let r0 = sqrt(-2.0 * log(unif(c.x)));
  let a0 = 6.2831853071795865 * unif(c.y) - 3.1415926535897932;
  let r1 = sqrt(-2.0 * log(unif(c.z)));
  let a1 = 6.2831853071795865 * unif(c.w) - 3.1415926535897932;
  var v = array<f32, 4>(r0 * cos(a0), r0 * sin(a0), r1 * cos(a1), r1 * sin(a1));
  let t = 4u * blk;
  let base = q * h.d + t;
  for (var lane = 0u; lane < 4u && t + lane < h.d; lane++) { out[base + lane] = v[lane]; }
}`;
