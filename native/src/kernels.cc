// Native CPU kernels for the trainer's hot paths, loaded by src/trainer/backend/native.ts and
// registered as kernels of the TF.js wasm backend. They read and write tensors in place in the
// wasm heap (Float32Array views passed from JS), so the rest of the step stays on wasm.
//
//   conv2d (with an optional bias), conv2dBackpropInput, conv2dBackpropFilter (with the bias
//     gradient when asked): oneDNN (Debian's libdnnl), NHWC tensors, HWIO filters, both cores
//     (OpenMP). Primitives are cached per shape.
//   splitLast, concatLast: split and concatenation along the last axis (channels), row copies.
//   adam: one parameter's Adam update in one pass.
//   groupNormSilu, groupNormSiluGrad: GroupNorm followed by SiLU in one pass each way, with
//     float64 statistics; the backward recomputes the normalised input from (mean, rstd).
//
// Every entry point is synchronous: the views stay valid because nothing can grow the wasm
// memory while native code runs.
#include <node_api.h>

#include <dnnl.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "lsa.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// ---- N-API helpers --------------------------------------------------------------------------

struct JsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

float* f32(napi_env env, napi_value v, size_t need, const char* what) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_float32_array) {
    throw JsError(std::string(what) + ": expected a Float32Array");
  }
  if (length < need) throw JsError(std::string(what) + ": expected " + std::to_string(need) + " floats, got " + std::to_string(length));
  return static_cast<float*>(data);
}

bool isNull(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_null || t == napi_undefined;
}

std::vector<int64_t> ints(napi_env env, napi_value v, size_t need, const char* what) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array || length != need) {
    throw JsError(std::string(what) + ": expected an Int32Array of " + std::to_string(need));
  }
  const int32_t* p = static_cast<const int32_t*>(data);
  return std::vector<int64_t>(p, p + need);
}

double num(napi_env env, napi_value v, const char* what) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) throw JsError(std::string(what) + ": expected a number");
  return d;
}

template <size_t N>
std::vector<napi_value> args(napi_env env, napi_callback_info info) {
  size_t argc = N;
  std::vector<napi_value> argv(N);
  napi_get_cb_info(env, info, &argc, argv.data(), nullptr, nullptr);
  if (argc < N) throw JsError("expected " + std::to_string(N) + " arguments, got " + std::to_string(argc));
  return argv;
}

template <typename F>
napi_value guarded(napi_env env, F&& f) {
  try {
    f();
  } catch (const dnnl::error& e) {
    napi_throw_error(env, nullptr, (std::string("oneDNN: ") + e.what()).c_str());
  } catch (const std::exception& e) {
    napi_throw_error(env, nullptr, e.what());
  }
  return nullptr;
}

// ---- convolution (oneDNN) ---------------------------------------------------------------------

// [b, h, w, ci, oh, ow, co, fh, fw, sh, sw, padTop, padLeft, padBottom, padRight, dh, dw]
struct ConvShape {
  int64_t b, h, w, ci, oh, ow, co, fh, fw, sh, sw, pt, pl, pb, pr, dh, dw;
  static ConvShape from(const std::vector<int64_t>& p) {
    ConvShape s{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15], p[16]};
    for (int64_t v : p) {
      if (v < 0) throw JsError("conv: negative size or padding in the shape parameters");
    }
    return s;
  }
  std::string key() const {
    std::string k;
    for (int64_t v : {b, h, w, ci, oh, ow, co, fh, fw, sh, sw, pt, pl, pb, pr, dh, dw}) k += std::to_string(v) + ",";
    return k;
  }
  size_t xSize() const { return size_t(b * h * w * ci); }
  size_t ySize() const { return size_t(b * oh * ow * co); }
  size_t wSize() const { return size_t(fh * fw * ci * co); }
  memory::desc src() const { return memory::desc({b, ci, h, w}, dt::f32, tag::nhwc); }
  memory::desc dst() const { return memory::desc({b, co, oh, ow}, dt::f32, tag::nhwc); }
  memory::desc weightsHwio() const { return memory::desc({co, ci, fh, fw}, dt::f32, tag::hwio); }
  memory::desc weightsAny() const { return memory::desc({co, ci, fh, fw}, dt::f32, tag::any); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }  // oneDNN counts dilation from 0
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

struct Engine {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
};

Engine& engine() {
  static Engine e;
  return e;
}

// The primitives of one convolution shape: forward, both backward passes, and the reorders between
// our HWIO filters and whatever layout each primitive prefers.
struct ConvPlan {
  dnnl::convolution_forward::primitive_desc fwdPd;
  dnnl::convolution_forward fwd;
  std::unique_ptr<dnnl::convolution_backward_data::primitive_desc> bwdDataPd;
  dnnl::convolution_backward_data bwdData;
  std::unique_ptr<dnnl::convolution_backward_weights::primitive_desc> bwdWeightsPd;
  dnnl::convolution_backward_weights bwdWeights;
};

std::mutex plansMutex;
std::map<std::string, std::unique_ptr<ConvPlan>> plans;

dnnl::convolution_forward::desc forwardDesc(const ConvShape& s, bool bias) {
  const auto bmd = memory::desc({s.co}, dt::f32, tag::a);
  if (bias) {
    return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), bmd, s.dst(),
                                           s.strides(), s.dilates(), s.padL(), s.padR());
  }
  return dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), s.dst(),
                                         s.strides(), s.dilates(), s.padL(), s.padR());
}

ConvPlan& plan(const ConvShape& s, bool bias) {
  std::lock_guard<std::mutex> lock(plansMutex);
  const std::string key = s.key() + (bias ? "b" : "");
  auto it = plans.find(key);
  if (it != plans.end()) return *it->second;
  auto& e = engine();
  auto p = std::make_unique<ConvPlan>();
  p->fwdPd = dnnl::convolution_forward::primitive_desc(forwardDesc(s, bias), e.eng);
  p->fwd = dnnl::convolution_forward(p->fwdPd);
  return *plans.emplace(key, std::move(p)).first->second;
}

// Runs a reorder from `from` to `to` unless they are the same layout; returns the memory to use.
memory reorderIfNeeded(memory from, const memory::desc& want, bool run = true) {
  if (from.get_desc() == want) return from;
  auto& e = engine();
  memory to(want, e.eng);
  if (run) dnnl::reorder(from, to).execute(e.stream, from, to);
  return to;
}

void conv2d(napi_env env, napi_callback_info info) {
  auto a = args<5>(env, info);
  const ConvShape s = ConvShape::from(ints(env, a[4], 17, "conv2d shape"));
  float* x = f32(env, a[0], s.xSize(), "conv2d x");
  float* w = f32(env, a[1], s.wSize(), "conv2d filter");
  const bool hasBias = !isNull(env, a[2]);
  float* bias = hasBias ? f32(env, a[2], size_t(s.co), "conv2d bias") : nullptr;
  float* y = f32(env, a[3], s.ySize(), "conv2d y");
  auto& e = engine();
  ConvPlan& p = plan(s, hasBias);
  memory src(s.src(), e.eng, x), dst(s.dst(), e.eng, y), wHwio(s.weightsHwio(), e.eng, w);
  memory wei = reorderIfNeeded(wHwio, p.fwdPd.weights_desc());
  std::unordered_map<int, memory> m{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}};
  if (hasBias) m.emplace(DNNL_ARG_BIAS, memory(memory::desc({s.co}, dt::f32, tag::a), e.eng, bias));
  p.fwd.execute(e.stream, m);
  e.stream.wait();
}

void conv2dBackpropInput(napi_env env, napi_callback_info info) {
  auto a = args<4>(env, info);
  const ConvShape s = ConvShape::from(ints(env, a[3], 17, "conv2dBackpropInput shape"));
  float* dy = f32(env, a[0], s.ySize(), "conv2dBackpropInput dy");
  float* w = f32(env, a[1], s.wSize(), "conv2dBackpropInput filter");
  float* dx = f32(env, a[2], s.xSize(), "conv2dBackpropInput dx");
  auto& e = engine();
  ConvPlan& p = plan(s, false);
  {
    std::lock_guard<std::mutex> lock(plansMutex);
    if (!p.bwdDataPd) {
      dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), s.dst(), s.strides(), s.dilates(), s.padL(),
                                              s.padR());
      p.bwdDataPd = std::make_unique<dnnl::convolution_backward_data::primitive_desc>(d, e.eng, p.fwdPd);
      p.bwdData = dnnl::convolution_backward_data(*p.bwdDataPd);
    }
  }
  memory diffDst(s.dst(), e.eng, dy), diffSrc(s.src(), e.eng, dx), wHwio(s.weightsHwio(), e.eng, w);
  memory wei = reorderIfNeeded(wHwio, p.bwdDataPd->weights_desc());
  p.bwdData.execute(e.stream, {{DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DIFF_SRC, diffSrc}});
  e.stream.wait();
}

// dw, and db (the sum of dy over batch and positions) when a bias gradient view is given: oneDNN
// computes both in one pass.
void conv2dBackpropFilter(napi_env env, napi_callback_info info) {
  auto a = args<5>(env, info);
  const ConvShape s = ConvShape::from(ints(env, a[4], 17, "conv2dBackpropFilter shape"));
  float* x = f32(env, a[0], s.xSize(), "conv2dBackpropFilter x");
  float* dy = f32(env, a[1], s.ySize(), "conv2dBackpropFilter dy");
  float* dw = f32(env, a[2], s.wSize(), "conv2dBackpropFilter dw");
  const bool hasBias = !isNull(env, a[3]);
  float* db = hasBias ? f32(env, a[3], size_t(s.co), "conv2dBackpropFilter db") : nullptr;
  auto& e = engine();
  ConvPlan& p = plan(s, hasBias);
  {
    std::lock_guard<std::mutex> lock(plansMutex);
    if (!p.bwdWeightsPd) {
      const auto bmd = memory::desc({s.co}, dt::f32, tag::a);
      auto d = hasBias ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), bmd, s.dst(), s.strides(),
                                                                  s.dilates(), s.padL(), s.padR())
                       : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, s.src(), s.weightsAny(), s.dst(), s.strides(),
                                                                  s.dilates(), s.padL(), s.padR());
      p.bwdWeightsPd = std::make_unique<dnnl::convolution_backward_weights::primitive_desc>(d, e.eng, p.fwdPd);
      p.bwdWeights = dnnl::convolution_backward_weights(*p.bwdWeightsPd);
    }
  }
  memory src(s.src(), e.eng, x), diffDst(s.dst(), e.eng, dy), wHwio(s.weightsHwio(), e.eng, dw);
  const memory::desc want = p.bwdWeightsPd->diff_weights_desc();
  memory diffWei = want == wHwio.get_desc() ? wHwio : memory(want, e.eng);
  std::unordered_map<int, memory> m{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diffDst}, {DNNL_ARG_DIFF_WEIGHTS, diffWei}};
  if (hasBias) m.emplace(DNNL_ARG_DIFF_BIAS, memory(memory::desc({s.co}, dt::f32, tag::a), e.eng, db));
  p.bwdWeights.execute(e.stream, m);
  if (diffWei.get_desc() != wHwio.get_desc()) dnnl::reorder(diffWei, wHwio).execute(e.stream, diffWei, wHwio);
  e.stream.wait();
}

// ---- GroupNorm + SiLU -------------------------------------------------------------------------

// x: [b, hw, c] (NHWC flattened), groups of c/g consecutive channels. Statistics per (b, group).
struct GnShape {
  int64_t b, hw, c, g;
  int64_t cg() const { return c / g; }
  static GnShape from(const std::vector<int64_t>& p) {
    GnShape s{p[0], p[1], p[2], p[3]};
    if (s.b <= 0 || s.hw <= 0 || s.c <= 0 || s.g <= 0 || s.c % s.g != 0) throw JsError("groupNorm: channels must be a positive multiple of groups");
    return s;
  }
};

// Loops run along the channels (contiguous in NHWC) with per-channel constants, so that they
// vectorise (expf included: the file is built with -ffast-math for glibc's vector math).

// y = silu(gamma * (x - mean) * rstd + beta); mean and rstd are [b, g].
void groupNormSilu(napi_env env, napi_callback_info info) {
  auto a = args<9>(env, info);
  const GnShape s = GnShape::from(ints(env, a[8], 4, "groupNormSilu shape"));
  const size_t n = size_t(s.b * s.hw * s.c);
  const float* x = f32(env, a[0], n, "groupNormSilu x");
  const float* gamma = f32(env, a[1], size_t(s.c), "groupNormSilu gamma");
  const float* beta = f32(env, a[2], size_t(s.c), "groupNormSilu beta");
  float* y = f32(env, a[3], n, "groupNormSilu y");
  float* mean = f32(env, a[4], size_t(s.b * s.g), "groupNormSilu mean");
  float* rstd = f32(env, a[5], size_t(s.b * s.g), "groupNormSilu rstd");
  const double eps = num(env, a[6], "groupNormSilu eps");
  bool silu;
  napi_get_value_bool(env, a[7], &silu);
  const int64_t C = s.c, cg = s.cg();
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < s.b; bi++) {
    const float* xb = x + bi * s.hw * C;
    float* yb = y + bi * s.hw * C;
    // Per-channel sums in double, then per group: the statistics are not hurt by a large mean.
    std::vector<double> sum(static_cast<size_t>(C), 0.0), sq(static_cast<size_t>(C), 0.0);
    double* su = sum.data();
    double* sqp = sq.data();
    for (int64_t p = 0; p < s.hw; p++) {
      const float* row = xb + p * C;
#pragma omp simd
      for (int64_t ch = 0; ch < C; ch++) {
        const double v = row[ch];
        su[ch] += v;
        sqp[ch] += v * v;
      }
    }
    const double count = double(s.hw * cg);
    std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
    for (int64_t gi = 0; gi < s.g; gi++) {
      double gs = 0, gq = 0;
      for (int64_t k = 0; k < cg; k++) {
        gs += su[gi * cg + k];
        gq += sqp[gi * cg + k];
      }
      const double m = gs / count;
      const double var = std::max(0.0, gq / count - m * m);
      const double r = 1.0 / std::sqrt(var + eps);
      mean[bi * s.g + gi] = float(m);
      rstd[bi * s.g + gi] = float(r);
      for (int64_t k = 0; k < cg; k++) {
        const int64_t ch = gi * cg + k;
        scale[size_t(ch)] = float(gamma[ch] * r);
        shift[size_t(ch)] = float(beta[ch] - gamma[ch] * r * m);
      }
    }
    const float* sc = scale.data();
    const float* sh = shift.data();
    for (int64_t p = 0; p < s.hw; p++) {
      const float* row = xb + p * C;
      float* out = yb + p * C;
      if (silu) {
#pragma omp simd
        for (int64_t ch = 0; ch < C; ch++) {
          const float z = row[ch] * sc[ch] + sh[ch];
          out[ch] = z / (1.0f + std::exp(-z));
        }
      } else {
#pragma omp simd
        for (int64_t ch = 0; ch < C; ch++) out[ch] = row[ch] * sc[ch] + sh[ch];
      }
    }
  }
}

// With xh = (x - mean) * rstd, z = gamma * xh + beta, y = silu(z):
//   dz = dy * sig(z) * (1 + z * (1 - sig(z)))   (dy itself without the SiLU)
//   dbeta = sum dz, dgamma = sum dz * xh        (over batch and positions)
//   dx = rstd * (gamma dz - mean_g(gamma dz) - xh * mean_g(gamma dz * xh))   (per batch and group)
// The group means come from the per-channel sums: sum over a group of gamma * (sum dz) etc.
void groupNormSiluGrad(napi_env env, napi_callback_info info) {
  auto a = args<11>(env, info);
  const GnShape s = GnShape::from(ints(env, a[10], 4, "groupNormSiluGrad shape"));
  const size_t n = size_t(s.b * s.hw * s.c);
  const float* dy = f32(env, a[0], n, "groupNormSiluGrad dy");
  const float* x = f32(env, a[1], n, "groupNormSiluGrad x");
  const float* gamma = f32(env, a[2], size_t(s.c), "groupNormSiluGrad gamma");
  const float* beta = f32(env, a[3], size_t(s.c), "groupNormSiluGrad beta");
  const float* mean = f32(env, a[4], size_t(s.b * s.g), "groupNormSiluGrad mean");
  const float* rstd = f32(env, a[5], size_t(s.b * s.g), "groupNormSiluGrad rstd");
  float* dx = f32(env, a[6], n, "groupNormSiluGrad dx");
  float* dgamma = f32(env, a[7], size_t(s.c), "groupNormSiluGrad dgamma");
  float* dbeta = f32(env, a[8], size_t(s.c), "groupNormSiluGrad dbeta");
  bool silu;
  napi_get_value_bool(env, a[9], &silu);
  const int64_t C = s.c, cg = s.cg();
  // Per-batch partial sums of dgamma/dbeta, added in order afterwards (deterministic).
  std::vector<double> pg(size_t(s.b * C), 0.0), pb(size_t(s.b * C), 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < s.b; bi++) {
    const float* xb = x + bi * s.hw * C;
    const float* dyb = dy + bi * s.hw * C;
    float* dxb = dx + bi * s.hw * C;
    std::vector<float> mc(static_cast<size_t>(C)), rc(static_cast<size_t>(C));
    for (int64_t ch = 0; ch < C; ch++) {
      mc[size_t(ch)] = mean[bi * s.g + ch / cg];
      rc[size_t(ch)] = rstd[bi * s.g + ch / cg];
    }
    const float* m = mc.data();
    const float* r = rc.data();
    std::vector<double> accGv(static_cast<size_t>(C), 0.0), accBv(static_cast<size_t>(C), 0.0);
    double* accG = accGv.data();
    double* accB = accBv.data();
    // Pass 1: dz into dx, and its per-channel sums.
    for (int64_t p = 0; p < s.hw; p++) {
      const float* xr = xb + p * C;
      const float* dyr = dyb + p * C;
      float* dzr = dxb + p * C;
      if (silu) {
#pragma omp simd
        for (int64_t ch = 0; ch < C; ch++) {
          const float xh = (xr[ch] - m[ch]) * r[ch];
          const float z = gamma[ch] * xh + beta[ch];
          const float sz = 1.0f / (1.0f + std::exp(-z));
          const float dz = dyr[ch] * sz * (1.f + z * (1.f - sz));
          dzr[ch] = dz;
          accB[ch] += dz;
          accG[ch] += double(dz * xh);
        }
      } else {
#pragma omp simd
        for (int64_t ch = 0; ch < C; ch++) {
          const float xh = (xr[ch] - m[ch]) * r[ch];
          const float dz = dyr[ch];
          dzr[ch] = dz;
          accB[ch] += dz;
          accG[ch] += double(dz * xh);
        }
      }
    }
    const double count = double(s.hw * cg);
    std::vector<float> a1v(static_cast<size_t>(C)), a2v(static_cast<size_t>(C));
    for (int64_t gi = 0; gi < s.g; gi++) {
      double sg = 0, sgx = 0;
      for (int64_t k = 0; k < cg; k++) {
        const int64_t ch = gi * cg + k;
        sg += gamma[ch] * accB[ch];
        sgx += gamma[ch] * accG[ch];
      }
      for (int64_t k = 0; k < cg; k++) {
        a1v[size_t(gi * cg + k)] = float(sg / count);
        a2v[size_t(gi * cg + k)] = float(sgx / count);
      }
    }
    for (int64_t ch = 0; ch < C; ch++) {
      pg[size_t(bi * C + ch)] = accG[ch];
      pb[size_t(bi * C + ch)] = accB[ch];
    }
    const float* a1 = a1v.data();
    const float* a2 = a2v.data();
    // Pass 2: dz -> dx.
    for (int64_t p = 0; p < s.hw; p++) {
      const float* xr = xb + p * C;
      float* dr = dxb + p * C;
#pragma omp simd
      for (int64_t ch = 0; ch < C; ch++) {
        const float xh = (xr[ch] - m[ch]) * r[ch];
        dr[ch] = r[ch] * (gamma[ch] * dr[ch] - a1[ch] - xh * a2[ch]);
      }
    }
  }
  for (int64_t ch = 0; ch < C; ch++) {
    double g = 0, bsum = 0;
    for (int64_t bi = 0; bi < s.b; bi++) {
      g += pg[size_t(bi * C + ch)];
      bsum += pb[size_t(bi * C + ch)];
    }
    dgamma[ch] = float(g);
    dbeta[ch] = float(bsum);
  }
}

// ---- split and concat along the last axis -----------------------------------------------------

// The UNet's skip connections concatenate channels (NHWC's last axis); the gradient splits them.
// wasm does both as strided copies one element at a time; these copy whole channel runs.
std::vector<float*> f32List(napi_env env, napi_value list, const std::vector<int64_t>& sizes, int64_t outer, const char* what) {
  uint32_t n = 0;
  if (napi_get_array_length(env, list, &n) != napi_ok || n != sizes.size()) throw JsError(std::string(what) + ": expected an array of " + std::to_string(sizes.size()) + " Float32Arrays");
  std::vector<float*> out(n);
  for (uint32_t k = 0; k < n; k++) {
    napi_value v;
    napi_get_element(env, list, k, &v);
    out[k] = f32(env, v, size_t(outer * sizes[k]), what);
  }
  return out;
}

std::vector<int64_t> sizesOf(napi_env env, napi_value v, const char* what) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array || length == 0) {
    throw JsError(std::string(what) + ": expected a non-empty Int32Array of sizes");
  }
  const int32_t* p = static_cast<const int32_t*>(data);
  std::vector<int64_t> sizes(p, p + length);
  for (int64_t v2 : sizes) {
    if (v2 < 0) throw JsError(std::string(what) + ": negative size");
  }
  return sizes;
}

// splitLast(x, [out...], sizes, outer): x is [outer, sum(sizes)].
void splitLast(napi_env env, napi_callback_info info) {
  auto a = args<4>(env, info);
  const std::vector<int64_t> sizes = sizesOf(env, a[2], "splitLast sizes");
  const int64_t outer = int64_t(num(env, a[3], "splitLast outer"));
  int64_t total = 0;
  for (int64_t v : sizes) total += v;
  const float* x = f32(env, a[0], size_t(outer * total), "splitLast x");
  std::vector<float*> outs = f32List(env, a[1], sizes, outer, "splitLast outputs");
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < outer; r++) {
    const float* row = x + r * total;
    int64_t off = 0;
    for (size_t k = 0; k < sizes.size(); k++) {
      std::memcpy(outs[k] + r * sizes[k], row + off, size_t(sizes[k]) * sizeof(float));
      off += sizes[k];
    }
  }
}

// concatLast([in...], y, sizes, outer): y is [outer, sum(sizes)].
void concatLast(napi_env env, napi_callback_info info) {
  auto a = args<4>(env, info);
  const std::vector<int64_t> sizes = sizesOf(env, a[2], "concatLast sizes");
  const int64_t outer = int64_t(num(env, a[3], "concatLast outer"));
  int64_t total = 0;
  for (int64_t v : sizes) total += v;
  std::vector<float*> ins = f32List(env, a[0], sizes, outer, "concatLast inputs");
  float* y = f32(env, a[1], size_t(outer * total), "concatLast y");
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < outer; r++) {
    float* row = y + r * total;
    int64_t off = 0;
    for (size_t k = 0; k < sizes.size(); k++) {
      std::memcpy(row + off, ins[k] + r * sizes[k], size_t(sizes[k]) * sizeof(float));
      off += sizes[k];
    }
  }
}

// ---- Adam -------------------------------------------------------------------------------------

// One parameter's Adam update as one kernel (instead of about 14 wasm kernels), into new buffers:
// tensors are immutable and may share buffers, so nothing is updated in place.
//   g' = g * scale; m' = b1 m + (1 - b1) g'; v' = b2 v + (1 - b2) g'^2;
//   p' = p - lr * (m' / bc1) / (sqrt(v' / bc2) + eps)
// hyper: [lr, beta1, 1 - beta1, beta2, 1 - beta2, eps, bc1, bc2], the differences computed in
// double by the caller (1 - 0.999f in float is 1.3e-5 off 0.001).
void adam(napi_env env, napi_callback_info info) {
  auto a = args<10>(env, info);
  const int64_t n = int64_t(num(env, a[9], "adam size"));
  const float* p = f32(env, a[0], size_t(n), "adam param");
  const float* g = f32(env, a[1], size_t(n), "adam grad");
  const float* m = f32(env, a[2], size_t(n), "adam m");
  const float* v = f32(env, a[3], size_t(n), "adam v");
  const float scale = f32(env, a[4], 1, "adam scale")[0];
  float* p2 = f32(env, a[5], size_t(n), "adam param out");
  float* m2 = f32(env, a[6], size_t(n), "adam m out");
  float* v2 = f32(env, a[7], size_t(n), "adam v out");
  const float* h = f32(env, a[8], 8, "adam hyper");
  const float lr = h[0], b1 = h[1], c1 = h[2], b2 = h[3], c2 = h[4], eps = h[5], bc1 = h[6], bc2 = h[7];
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t k = 0; k < n; k++) {
    const float gk = g[k] * scale;
    const float mk = b1 * m[k] + c1 * gk;
    const float vk = b2 * v[k] + c2 * (gk * gk);
    m2[k] = mk;
    v2[k] = vk;
    p2[k] = p[k] - lr * ((mk / bc1) / (std::sqrt(vk / bc2) + eps));
  }
}

// ---- linear sum assignment: augmenting row reduction (lsa.cc) -----------------------------------

template <typename T>
T* typed(napi_env env, napi_value v, napi_typedarray_type want, const char* typeName, size_t need, const char* what) {
  napi_typedarray_type type;
  size_t length;
  void* data;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != want) {
    throw JsError(std::string(what) + ": expected a " + typeName);
  }
  if (length < need) throw JsError(std::string(what) + ": expected " + std::to_string(need) + " entries, got " + std::to_string(length));
  return static_cast<T*>(data);
}

// (c, v, x, y, built, candCol, candC, theta, seeded, selVal, selCol, free, dims [n, k, nFree,
// lastBuilt], budget, eps, out [newFree, bids, rebuilt, lastBuilt]): the solver's arrays in place.
void lsaRowReduction(napi_env env, napi_callback_info info) {
  auto a = args<16>(env, info);
  const std::vector<int64_t> dims = ints(env, a[12], 4, "lsaRowReduction dims");
  const int64_t n = dims[0], k = dims[1], nFree = dims[2], lastBuilt = dims[3];
  if (n < 2 || k < 2 || k > n || nFree < 0 || nFree > n || lastBuilt < -1 || lastBuilt >= n) {
    throw JsError("lsaRowReduction: need 2 <= k <= n, 0 <= nFree <= n and -1 <= lastBuilt < n");
  }
  const size_t un = size_t(n), uk = size_t(k);
  lsa::Arrays s{
      typed<const double>(env, a[0], napi_float64_array, "Float64Array", un * un, "lsaRowReduction c"),
      typed<double>(env, a[1], napi_float64_array, "Float64Array", un, "lsaRowReduction v"),
      typed<int32_t>(env, a[2], napi_int32_array, "Int32Array", un, "lsaRowReduction x"),
      typed<int32_t>(env, a[3], napi_int32_array, "Int32Array", un, "lsaRowReduction y"),
      typed<uint8_t>(env, a[4], napi_uint8_array, "Uint8Array", un, "lsaRowReduction built"),
      typed<int32_t>(env, a[5], napi_int32_array, "Int32Array", un * uk, "lsaRowReduction candCol"),
      typed<double>(env, a[6], napi_float64_array, "Float64Array", un * uk, "lsaRowReduction candC"),
      typed<double>(env, a[7], napi_float64_array, "Float64Array", un, "lsaRowReduction theta"),
      typed<uint8_t>(env, a[8], napi_uint8_array, "Uint8Array", un, "lsaRowReduction seeded"),
      typed<double>(env, a[9], napi_float64_array, "Float64Array", uk, "lsaRowReduction selVal"),
      typed<int32_t>(env, a[10], napi_int32_array, "Int32Array", uk, "lsaRowReduction selCol"),
      typed<int32_t>(env, a[11], napi_int32_array, "Int32Array", un, "lsaRowReduction free"),
      int32_t(n),
      int32_t(k),
      int32_t(lastBuilt),
  };
  const double budget = num(env, a[13], "lsaRowReduction budget");
  const double eps = num(env, a[14], "lsaRowReduction eps");
  double* out = typed<double>(env, a[15], napi_float64_array, "Float64Array", 4, "lsaRowReduction out");
  const lsa::Result r = lsa::rowReduction(s, int32_t(nFree), budget, eps);
  out[0] = r.newFree;
  out[1] = r.bids;
  out[2] = r.rebuilt;
  out[3] = s.lastBuilt;
}

// The n of an n x n cost matrix, checked.
size_t matrixSize(napi_env env, napi_value v, const char* fn) {
  const double n = num(env, v, fn);
  if (!(n >= 1 && n <= 1e6) || n != double(int64_t(n))) throw JsError(std::string(fn) + ": n must be an integer in [1, 1e6]");
  return size_t(n);
}

// (c, n, v, argMin) -> max |c|, or NaN when an entry is not finite.
napi_value lsaReduceJs(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guarded(env, [&] {
    auto a = args<4>(env, info);
    const size_t n = matrixSize(env, a[1], "lsaReduce");
    const double* c = typed<const double>(env, a[0], napi_float64_array, "Float64Array", n * n, "lsaReduce c");
    double* v = typed<double>(env, a[2], napi_float64_array, "Float64Array", n, "lsaReduce v");
    int32_t* argMin = typed<int32_t>(env, a[3], napi_int32_array, "Int32Array", n, "lsaReduce argMin");
    napi_create_double(env, lsa::reduce(c, int32_t(n), v, argMin), &result);
  });
  return result;
}

// (c, n, v, argMin, matches, x, y, free) -> the number of free rows.
napi_value lsaColumnReductionJs(napi_env env, napi_callback_info info) {
  napi_value result = nullptr;
  guarded(env, [&] {
    auto a = args<8>(env, info);
    const size_t n = matrixSize(env, a[1], "lsaColumnReduction");
    const double* c = typed<const double>(env, a[0], napi_float64_array, "Float64Array", n * n, "lsaColumnReduction c");
    double* v = typed<double>(env, a[2], napi_float64_array, "Float64Array", n, "lsaColumnReduction v");
    const int32_t* argMin = typed<int32_t>(env, a[3], napi_int32_array, "Int32Array", n, "lsaColumnReduction argMin");
    int32_t* matches = typed<int32_t>(env, a[4], napi_int32_array, "Int32Array", n, "lsaColumnReduction matches");
    int32_t* x = typed<int32_t>(env, a[5], napi_int32_array, "Int32Array", n, "lsaColumnReduction x");
    int32_t* y = typed<int32_t>(env, a[6], napi_int32_array, "Int32Array", n, "lsaColumnReduction y");
    int32_t* fr = typed<int32_t>(env, a[7], napi_int32_array, "Int32Array", n, "lsaColumnReduction free");
    for (size_t j = 0; j < n; j++) {
      if (argMin[j] < 0 || size_t(argMin[j]) >= n) throw JsError("lsaColumnReduction: argMin out of range");
    }
    napi_create_int32(env, lsa::columnReductionTransfer(c, int32_t(n), v, argMin, matches, x, y, fr), &result);
  });
  return result;
}

// ---- module -------------------------------------------------------------------------------------

napi_value info(napi_env env, napi_callback_info) {
  const dnnl_version_t* v = dnnl_version();
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  std::string s = "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + ", " +
                  std::to_string(threads) + " thread" + (threads == 1 ? "" : "s");
  napi_value out;
  napi_create_string_utf8(env, s.c_str(), s.size(), &out);
  return out;
}

#define ENTRY(name) \
  napi_value name##Js(napi_env env, napi_callback_info info) { return guarded(env, [&] { name(env, info); }); }
ENTRY(conv2d)
ENTRY(conv2dBackpropInput)
ENTRY(conv2dBackpropFilter)
ENTRY(groupNormSilu)
ENTRY(groupNormSiluGrad)
ENTRY(splitLast)
ENTRY(concatLast)
ENTRY(adam)
ENTRY(lsaRowReduction)

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
      {"conv2d", nullptr, conv2dJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropInput", nullptr, conv2dBackpropInputJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"conv2dBackpropFilter", nullptr, conv2dBackpropFilterJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormSilu", nullptr, groupNormSiluJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"groupNormSiluGrad", nullptr, groupNormSiluGradJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"splitLast", nullptr, splitLastJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"concatLast", nullptr, concatLastJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"adam", nullptr, adamJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lsaColumnReduction", nullptr, lsaColumnReductionJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lsaReduce", nullptr, lsaReduceJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"lsaRowReduction", nullptr, lsaRowReductionJs, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"info", nullptr, info, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
