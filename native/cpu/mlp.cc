// The MLP scorer (core/mlp.h): the same code drives cpu:: or cuda:: kernels
// through a table of function pointers with identical signatures.
//
// Passes over the [batch x width] activations are fused (core/dense.h):
//   forward, per hidden layer: one GEMM whose write-back adds the bias and
//     applies the activation (z is kept only when the backward needs it: not
//     for ReLU, whose slope is read off a = relu(z), nor for the identity),
//     then LayerNorm + dropout in one pass (or dropout alone);
//   backward: the input-gradient GEMM of layer l+1 applies layer l's dropout
//     and activation backward in its write-back (LayerNorm's backward and the
//     activation's are one pass instead), and each weight-gradient GEMM sums
//     the bias gradient while it packs dz. N = 1 output layers run as GEMVs.
#include "core/mlp.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>

#include "core/error.h"
#include "core/rng.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

namespace ordo {
namespace {

struct DenseOps {
  decltype(&cpu::sgemm) sgemm;
  decltype(&cpu::sgemm_fused) sgemm_fused;
  decltype(&cpu::layernorm_dropout_forward) layernorm_dropout_forward;
  decltype(&cpu::layernorm_act_backward) layernorm_act_backward;
  decltype(&cpu::add_bias) add_bias;
  decltype(&cpu::bias_backward) bias_backward;
  decltype(&cpu::activation_forward) activation_forward;
  decltype(&cpu::activation_backward) activation_backward;
  decltype(&cpu::layernorm_forward) layernorm_forward;
  decltype(&cpu::layernorm_backward) layernorm_backward;
  decltype(&cpu::dropout_forward) dropout_forward;
  decltype(&cpu::dropout_backward) dropout_backward;
};

const DenseOps& ops_for(Backend b) {
  static const DenseOps cpu_ops{cpu::sgemm, cpu::sgemm_fused, cpu::layernorm_dropout_forward,
                                cpu::layernorm_act_backward, cpu::add_bias,          cpu::bias_backward,
                                cpu::activation_forward, cpu::activation_backward, cpu::layernorm_forward,
                                cpu::layernorm_backward, cpu::dropout_forward,   cpu::dropout_backward};
  if (b == Backend::Cpu) return cpu_ops;
#ifdef ORDO_WITH_CUDA
  static const DenseOps cuda_ops{cuda::sgemm, cuda::sgemm_fused, cuda::layernorm_dropout_forward,
                                 cuda::layernorm_act_backward, cuda::add_bias,          cuda::bias_backward,
                                 cuda::activation_forward, cuda::activation_backward, cuda::layernorm_forward,
                                 cuda::layernorm_backward, cuda::dropout_forward,   cuda::dropout_backward};
  return cuda_ops;
#else
  throw BackendError("mlp: this build has no CUDA backend");
#endif
}

// Whether the backward needs the pre-activation z (ReLU's slope comes from a = relu(z)).
bool keeps_z(Activation act) { return act != Activation::ReLU && act != Activation::Identity; }

}  // namespace

void mlp_validate(const MlpConfig& cfg) {
  if (cfg.in < 1) throw ArgumentError("mlp: in must be >= 1, got " + std::to_string(cfg.in));
  if (cfg.out < 1) throw ArgumentError("mlp: out must be >= 1, got " + std::to_string(cfg.out));
  for (size_t i = 0; i < cfg.hidden.size(); ++i)
    if (cfg.hidden[i] < 1)
      throw ArgumentError("mlp: hidden[" + std::to_string(i) + "] must be >= 1, got " + std::to_string(cfg.hidden[i]));
  if (!(cfg.dropout >= 0.0f && cfg.dropout < 1.0f))
    throw ArgumentError("mlp: dropout must be in [0, 1), got " + std::to_string(cfg.dropout));
  if (!(cfg.layernorm_eps > 0.0f)) throw ArgumentError("mlp: layernorm_eps must be > 0");
}

std::vector<MlpLayerLayout> mlp_layout(const MlpConfig& cfg) {
  mlp_validate(cfg);
  std::vector<MlpLayerLayout> out;
  int64_t off = 0, in = cfg.in;
  for (int64_t h : cfg.hidden) {
    MlpLayerLayout l;
    l.in = in, l.out = h, l.w = off;
    off += in * h;
    l.b = off;
    off += h;
    if (cfg.layernorm) {
      l.gamma = off, off += h;
      l.beta = off, off += h;
    }
    out.push_back(l);
    in = h;
  }
  MlpLayerLayout last;
  last.in = in, last.out = cfg.out, last.w = off;
  off += in * cfg.out;
  last.b = off;
  out.push_back(last);
  return out;
}

int64_t mlp_param_count(const MlpConfig& cfg) {
  const MlpLayerLayout last = mlp_layout(cfg).back();
  return last.b + last.out;
}

void mlp_init_params(const MlpConfig& cfg, float* p, uint64_t seed) {
  uint64_t idx = 0;
  for (const MlpLayerLayout& l : mlp_layout(cfg)) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(l.in));
    for (int64_t i = 0; i < l.in * l.out; ++i) p[l.w + i] = (2.0f * rng_uniform(seed, idx++) - 1.0f) * bound;
    for (int64_t i = 0; i < l.out; ++i) p[l.b + i] = (2.0f * rng_uniform(seed, idx++) - 1.0f) * bound;
    if (l.gamma >= 0)
      for (int64_t i = 0; i < l.out; ++i) p[l.gamma + i] = 1.0f, p[l.beta + i] = 0.0f;
  }
}

MlpCache::MlpCache(Backend backend, const MlpConfig& cfg, int64_t max_batch)
    : backend_(backend), cfg_(cfg), max_batch_(max_batch) {
  mlp_validate(cfg);
  if (max_batch < 1) throw ArgumentError("mlp: max_batch must be >= 1");
  if (backend == Backend::Cuda) (void)ops_for(backend);  // throws when CUDA is not compiled in
  const int64_t B = max_batch;
  int64_t maxw = cfg.out;
  for (int64_t h : cfg.hidden) {
    maxw = std::max(maxw, h);
    floats_ += static_cast<size_t>(2 * B * h);
    if (cfg.layernorm) floats_ += static_cast<size_t>(B * h + 2 * B);
    if (cfg.dropout > 0.0f) floats_ += static_cast<size_t>(B * h), mask_bytes_ += static_cast<size_t>(B * h);
  }
  floats_ += static_cast<size_t>(2 * B * maxw);
  arena_ = static_cast<float*>(backend_alloc(backend, floats_ * sizeof(float), "mlp"));
  try {
    mask_arena_ = static_cast<uint8_t*>(backend_alloc(backend, mask_bytes_, "mlp"));
  } catch (...) {
    backend_free(backend, arena_);
    throw;
  }
  float* f = arena_;
  uint8_t* mb = mask_arena_;
  for (int64_t h : cfg.hidden) {
    Layer L;
    L.z = f, f += B * h;
    L.a = f, f += B * h;
    if (cfg.layernorm) {
      L.ln = f, f += B * h;
      L.mean = f, f += B;
      L.rstd = f, f += B;
    }
    if (cfg.dropout > 0.0f) {
      L.drop = f, f += B * h;
      L.mask = mb, mb += B * h;
    }
    layers_.push_back(L);
  }
  grad0_ = f, f += B * maxw;
  grad1_ = f;
}

MlpCache::~MlpCache() {
  backend_free(backend_, arena_);
  backend_free(backend_, mask_arena_);
}

float* MlpCache::output(size_t l) const {
  const Layer& L = layers_[l];
  if (training_ && L.drop) return L.drop;
  return L.ln ? L.ln : L.a;
}

namespace {
void check_cache(const MlpCache& cache, Backend backend, const MlpConfig& cfg, int64_t batch, int64_t max_batch,
                 const MlpConfig& ccfg) {
  if (cache.backend() != backend) throw ArgumentError("mlp: cache was made for another backend");
  if (batch < 0 || batch > max_batch)
    throw ArgumentError("mlp: batch " + std::to_string(batch) + " outside [0, " + std::to_string(max_batch) + "]");
  if (ccfg.in != cfg.in || ccfg.out != cfg.out || ccfg.hidden != cfg.hidden || ccfg.layernorm != cfg.layernorm ||
      (ccfg.dropout > 0.0f) != (cfg.dropout > 0.0f))
    throw ArgumentError("mlp: cache was made for another configuration");
}
}  // namespace

void mlp_forward(Backend backend, const MlpConfig& cfg, const float* params, const float* x, int64_t batch,
                 bool training, uint64_t seed, MlpCache& cache, float* y) {
  check_cache(cache, backend, cfg, batch, cache.max_batch_, cache.cfg_);
  const DenseOps& op = ops_for(backend);
  const std::vector<MlpLayerLayout> layout = mlp_layout(cfg);
  cache.x_ = x;
  cache.batch_ = batch;
  cache.training_ = training && cfg.dropout > 0.0f;
  if (batch == 0) return;
  const float* in = x;
  uint64_t drop_offset = 0;
  for (size_t l = 0; l < cfg.hidden.size(); ++l) {
    const MlpLayerLayout& L = layout[l];
    MlpCache::Layer& C = cache.layers_[l];
    const int64_t n = batch * L.out;
    GemmEpilogue e;  // a = act(x W + b), z kept when the backward needs it
    e.bias = params + L.b;
    e.act = cfg.act;
    e.pre = keeps_z(cfg.act) ? C.z : nullptr;
    op.sgemm_fused(false, false, batch, L.out, L.in, in, L.in, params + L.w, L.out, C.a, L.out, e);
    if (cfg.layernorm)
      op.layernorm_dropout_forward(C.a, params + L.gamma, params + L.beta, cache.training_ ? C.drop : C.ln, C.mean,
                                   C.rstd, cache.training_ ? C.mask : nullptr, batch, L.out, cfg.layernorm_eps,
                                   cache.training_ ? cfg.dropout : 0.0f, seed, drop_offset);
    else if (cache.training_)
      op.dropout_forward(C.a, C.drop, C.mask, n, cfg.dropout, seed, drop_offset);
    drop_offset += static_cast<uint64_t>(n);
    in = cache.output(l);
  }
  const MlpLayerLayout& L = layout.back();
  GemmEpilogue e;
  e.bias = params + L.b;
  op.sgemm_fused(false, false, batch, L.out, L.in, in, L.in, params + L.w, L.out, y, L.out, e);
}

void mlp_backward(Backend backend, const MlpConfig& cfg, const float* params, MlpCache& cache, const float* dy,
                  int64_t batch, float* grads, float* dx) {
  check_cache(cache, backend, cfg, batch, cache.max_batch_, cache.cfg_);
  if (cache.batch_ != batch) throw ArgumentError("mlp_backward: batch differs from the last mlp_forward");
  const DenseOps& op = ops_for(backend);
  const std::vector<MlpLayerLayout> layout = mlp_layout(cfg);
  const size_t nh = cfg.hidden.size();
  auto input_of = [&](size_t l) -> const float* { return l == 0 ? cache.x_ : cache.output(l - 1); };
  if (batch == 0) {
    // Empty batch: zero gradients (sgemm with k = 0 and beta = 0 writes zeros; it reads neither A nor B).
    for (const MlpLayerLayout& L : layout) {
      op.sgemm(true, false, L.in, L.out, 0, 1.0f, nullptr, L.in, nullptr, L.out, 0.0f, grads + L.w, L.out);
      op.sgemm(true, false, 1, L.out, 0, 1.0f, nullptr, 1, nullptr, L.out, 0.0f, grads + L.b, L.out);
      if (L.gamma >= 0) {
        op.sgemm(true, false, 1, L.out, 0, 1.0f, nullptr, 1, nullptr, L.out, 0.0f, grads + L.gamma, L.out);
        op.sgemm(true, false, 1, L.out, 0, 1.0f, nullptr, 1, nullptr, L.out, 0.0f, grads + L.beta, L.out);
      }
    }
    return;
  }
  // Write-back for the GEMM that produces dLoss/d(output of hidden layer l):
  // dropout backward, then (without LayerNorm) the activation backward, so it yields dz.
  auto into_layer = [&](size_t l) {
    const MlpCache::Layer& C = cache.layers_[l];
    GemmEpilogue e;
    if (cache.training_) e.keep = C.mask, e.dropout_p = cfg.dropout;
    if (!cfg.layernorm && cfg.act != Activation::Identity)
      e.grad_x = keeps_z(cfg.act) ? C.z : C.a, e.grad_act = cfg.act;
    return e;
  };
  float* cur = cache.grad0_;
  float* other = cache.grad1_;
  // Output layer: dW = h^T dy with db = colsum(dy), dh = dy W^T.
  {
    const MlpLayerLayout& L = layout.back();
    const float* h = input_of(nh);
    GemmEpilogue ew;
    ew.b_col_sums = grads + L.b;
    op.sgemm_fused(true, false, L.in, L.out, batch, h, L.in, dy, L.out, grads + L.w, L.out, ew);
    float* target = nh > 0 ? cur : dx;
    if (target)
      op.sgemm_fused(false, true, batch, L.in, L.out, dy, L.out, params + L.w, L.out, target, L.in,
                     nh > 0 ? into_layer(nh - 1) : GemmEpilogue{});
  }
  for (size_t l = nh; l-- > 0;) {
    const MlpLayerLayout& L = layout[l];
    MlpCache::Layer& C = cache.layers_[l];
    // cur = dLoss/dz, or dLoss/d(LayerNorm output) with LayerNorm
    if (cfg.layernorm) {
      op.layernorm_act_backward(cfg.act, cur, C.a, keeps_z(cfg.act) ? C.z : nullptr, params + L.gamma, C.mean, C.rstd,
                                other, grads + L.gamma, grads + L.beta, batch, L.out);
      std::swap(cur, other);
    }
    const float* in = input_of(l);
    GemmEpilogue ew;
    ew.b_col_sums = grads + L.b;
    op.sgemm_fused(true, false, L.in, L.out, batch, in, L.in, cur, L.out, grads + L.w, L.out, ew);
    float* target = l > 0 ? other : dx;
    if (target)
      op.sgemm_fused(false, true, batch, L.in, L.out, cur, L.out, params + L.w, L.out, target, L.in,
                     l > 0 ? into_layer(l - 1) : GemmEpilogue{});
    std::swap(cur, other);
  }
}

}  // namespace ordo
