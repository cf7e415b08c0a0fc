// The context-aware Transformer scorer (core/transformer.h): the composition
// (one code path that drives cpu:: or cuda:: kernels through a table of
// function pointers, like cpu/mlp.cc) and the CPU ragged attention kernels.
#include "core/transformer.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "core/parallel.h"
#include "core/rng.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

namespace ordo {

// ---------------------------------------------------------------- CPU kernels
namespace cpu {
namespace {
void need(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw ArgumentError(std::string("cpu::") + fn + ": " + what);
}
void check_dims(const char* fn, const uint32_t* offsets, int64_t num_lists, int64_t num_docs, int64_t d_model,
                int64_t heads, int64_t max_len) {
  need(num_lists >= 0 && num_docs >= 0 && heads >= 1 && d_model >= heads && d_model % heads == 0 && max_len >= 1, fn,
       "bad dimensions (need heads >= 1 dividing d_model, max_len >= 1)");
  for (int64_t i = 0; i < num_lists; ++i)
    need(offsets[i] <= offsets[i + 1] && static_cast<int64_t>(offsets[i + 1]) <= num_docs &&
             static_cast<int64_t>(offsets[i + 1] - offsets[i]) <= max_len,
         fn, "offsets not ascending within [0, num_docs], or a list longer than max_len");
}
}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const uint32_t* offsets, int64_t num_lists,
                       int64_t num_docs, int64_t d_model, int64_t heads, int64_t max_len, float* p, float* o) {
  check_dims("attention_forward", offsets, num_lists, num_docs, d_model, heads, max_len);
  const int64_t D = d_model, dk = d_model / heads, N = num_docs, L = max_len;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  parallel_for(num_lists * heads, 1, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t list = t / heads, h = t % heads;
      const int64_t b = offsets[list], n = static_cast<int64_t>(offsets[list + 1]) - b;
      for (int64_t r = 0; r < n; ++r) {
        const float* qr = q + (b + r) * D + h * dk;
        float* pr = p + (h * N + b + r) * L;
        float mx = -INFINITY;
        for (int64_t c = 0; c < n; ++c) {
          const float* kc = k + (b + c) * D + h * dk;
          float s = 0.0f;
          for (int64_t d = 0; d < dk; ++d) s += qr[d] * kc[d];
          s *= scale;
          pr[c] = s;
          mx = std::max(mx, s);
        }
        float sum = 0.0f;
        for (int64_t c = 0; c < n; ++c) sum += (pr[c] = std::exp(pr[c] - mx));
        const float inv = 1.0f / sum;
        for (int64_t c = 0; c < n; ++c) pr[c] *= inv;
        float* orow = o + (b + r) * D + h * dk;
        for (int64_t d = 0; d < dk; ++d) {
          float acc = 0.0f;
          for (int64_t c = 0; c < n; ++c) acc += pr[c] * v[(b + c) * D + h * dk + d];
          orow[d] = acc;
        }
      }
    }
  });
}

void attention_backward(const float* q, const float* k, const float* v, const float* p, const float* d_o,
                        const uint32_t* offsets, int64_t num_lists, int64_t num_docs, int64_t d_model, int64_t heads,
                        int64_t max_len, float* ds, float* dq, float* dk_out, float* dv) {
  check_dims("attention_backward", offsets, num_lists, num_docs, d_model, heads, max_len);
  const int64_t D = d_model, dk = d_model / heads, N = num_docs, L = max_len;
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  parallel_for(num_lists * heads, 1, [&](int64_t t0, int64_t t1, int) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t list = t / heads, h = t % heads;
      const int64_t b = offsets[list], n = static_cast<int64_t>(offsets[list + 1]) - b;
      for (int64_t r = 0; r < n; ++r) {
        const float* pr = p + (h * N + b + r) * L;
        float* sr = ds + (h * N + b + r) * L;
        const float* gr = d_o + (b + r) * D + h * dk;
        float dot = 0.0f;
        for (int64_t c = 0; c < n; ++c) {
          const float* vc = v + (b + c) * D + h * dk;
          float s = 0.0f;
          for (int64_t d = 0; d < dk; ++d) s += gr[d] * vc[d];
          sr[c] = s;  // dP
          dot += s * pr[c];
        }
        for (int64_t c = 0; c < n; ++c) sr[c] = pr[c] * (sr[c] - dot);  // dS
        float* dqr = dq + (b + r) * D + h * dk;
        for (int64_t d = 0; d < dk; ++d) {
          float acc = 0.0f;
          for (int64_t c = 0; c < n; ++c) acc += sr[c] * k[(b + c) * D + h * dk + d];
          dqr[d] = acc * scale;
        }
      }
      for (int64_t c = 0; c < n; ++c) {
        float* dkc = dk_out + (b + c) * D + h * dk;
        float* dvc = dv + (b + c) * D + h * dk;
        for (int64_t d = 0; d < dk; ++d) dkc[d] = 0.0f, dvc[d] = 0.0f;
        for (int64_t r = 0; r < n; ++r) {
          const float s = ds[(h * N + b + r) * L + c] * scale, pv = p[(h * N + b + r) * L + c];
          const float* qr = q + (b + r) * D + h * dk;
          const float* gr = d_o + (b + r) * D + h * dk;
          for (int64_t d = 0; d < dk; ++d) dkc[d] += s * qr[d], dvc[d] += pv * gr[d];
        }
      }
    }
  });
}

void add(const float* a, const float* b, float* y, int64_t n) {
  need(n >= 0, "add", "negative length");
  parallel_for(n, 1 << 14, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) y[i] = a[i] + b[i];
  });
}
}  // namespace cpu

// ---------------------------------------------------------------- composition
namespace {

struct Ops {
  decltype(&cpu::sgemm) sgemm;
  decltype(&cpu::add_bias) add_bias;
  decltype(&cpu::bias_backward) bias_backward;
  decltype(&cpu::activation_forward) activation_forward;
  decltype(&cpu::activation_backward) activation_backward;
  decltype(&cpu::layernorm_forward) layernorm_forward;
  decltype(&cpu::layernorm_backward) layernorm_backward;
  decltype(&cpu::dropout_forward) dropout_forward;
  decltype(&cpu::dropout_backward) dropout_backward;
  decltype(&cpu::attention_forward) attention_forward;
  decltype(&cpu::attention_backward) attention_backward;
  decltype(&cpu::add) add;
};

const Ops& ops_for(Backend b) {
  static const Ops cpu_ops{cpu::sgemm,
                           cpu::add_bias,
                           cpu::bias_backward,
                           cpu::activation_forward,
                           cpu::activation_backward,
                           cpu::layernorm_forward,
                           cpu::layernorm_backward,
                           cpu::dropout_forward,
                           cpu::dropout_backward,
                           cpu::attention_forward,
                           cpu::attention_backward,
                           cpu::add};
  if (b == Backend::Cpu) return cpu_ops;
#ifdef ORDO_WITH_CUDA
  static const Ops cuda_ops{cuda::sgemm,
                            cuda::add_bias,
                            cuda::bias_backward,
                            cuda::activation_forward,
                            cuda::activation_backward,
                            cuda::layernorm_forward,
                            cuda::layernorm_backward,
                            cuda::dropout_forward,
                            cuda::dropout_backward,
                            cuda::attention_forward,
                            cuda::attention_backward,
                            cuda::add};
  return cuda_ops;
#else
  throw BackendError("transformer: this build has no CUDA backend");
#endif
}


void backend_zero(Backend b, void* p, size_t bytes) {
  if (bytes == 0) return;
  if (b == Backend::Cpu) {
    std::memset(p, 0, bytes);
    return;
  }
#ifdef ORDO_WITH_CUDA
  cuda::device_memset_zero(p, bytes);
#endif
}

std::string str(int64_t v) { return std::to_string(v); }

}  // namespace

void transformer_validate(const TransformerConfig& cfg) {
  if (cfg.in < 1) throw ArgumentError("transformer: in must be >= 1, got " + str(cfg.in));
  if (cfg.d_model < 1) throw ArgumentError("transformer: d_model must be >= 1, got " + str(cfg.d_model));
  if (cfg.heads < 1) throw ArgumentError("transformer: heads must be >= 1, got " + str(cfg.heads));
  if (cfg.d_model % cfg.heads != 0)
    throw ArgumentError("transformer: d_model (" + str(cfg.d_model) + ") must be a multiple of heads (" +
                        str(cfg.heads) + ")");
  if (cfg.layers < 0) throw ArgumentError("transformer: layers must be >= 0, got " + str(cfg.layers));
  if (cfg.d_ff < 1) throw ArgumentError("transformer: d_ff must be >= 1, got " + str(cfg.d_ff));
  const int64_t lim = int64_t(1) << 24;
  if (cfg.in > lim || cfg.d_model > lim || cfg.d_ff > lim || cfg.layers > 4096)
    throw ArgumentError("transformer: dimensions too large");
  if (!(cfg.dropout >= 0.0f && cfg.dropout < 1.0f))
    throw ArgumentError("transformer: dropout must be in [0, 1), got " + std::to_string(cfg.dropout));
  if (!(cfg.ln_eps > 0.0f && std::isfinite(cfg.ln_eps))) throw ArgumentError("transformer: ln_eps must be > 0");
}

TransformerLayout transformer_layout(const TransformerConfig& cfg) {
  transformer_validate(cfg);
  const int64_t D = cfg.d_model, F = cfg.d_ff;
  TransformerLayout t;
  int64_t off = 0;
  auto take = [&](int64_t n) {
    const int64_t at = off;
    off += n;
    return at;
  };
  t.w_in = take(cfg.in * D), t.b_in = take(D);
  for (int64_t l = 0; l < cfg.layers; ++l) {
    TransformerLayerLayout L;
    L.ln1_gamma = take(D), L.ln1_beta = take(D);
    L.wq = take(D * D), L.bq = take(D), L.wk = take(D * D), L.bk = take(D);
    L.wv = take(D * D), L.bv = take(D), L.wo = take(D * D), L.bo = take(D);
    L.ln2_gamma = take(D), L.ln2_beta = take(D);
    L.w1 = take(D * F), L.b1 = take(F), L.w2 = take(F * D), L.b2 = take(D);
    t.layers.push_back(L);
  }
  t.lnf_gamma = take(D), t.lnf_beta = take(D), t.w_out = take(D), t.b_out = take(1);
  t.count = off;
  return t;
}

int64_t transformer_param_count(const TransformerConfig& cfg) { return transformer_layout(cfg).count; }

void transformer_init_params(const TransformerConfig& cfg, float* p, uint64_t seed) {
  const TransformerLayout t = transformer_layout(cfg);
  const int64_t D = cfg.d_model, F = cfg.d_ff;
  uint64_t idx = 0;
  auto linear = [&](int64_t w, int64_t b, int64_t fan_in, int64_t fan_out) {
    const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
    for (int64_t i = 0; i < fan_in * fan_out; ++i) p[w + i] = (2.0f * rng_uniform(seed, idx++) - 1.0f) * bound;
    for (int64_t i = 0; i < fan_out; ++i) p[b + i] = (2.0f * rng_uniform(seed, idx++) - 1.0f) * bound;
  };
  auto norm = [&](int64_t g, int64_t b) {
    for (int64_t i = 0; i < D; ++i) p[g + i] = 1.0f, p[b + i] = 0.0f;
  };
  linear(t.w_in, t.b_in, cfg.in, D);
  for (const TransformerLayerLayout& L : t.layers) {
    norm(L.ln1_gamma, L.ln1_beta);
    linear(L.wq, L.bq, D, D);
    linear(L.wk, L.bk, D, D);
    linear(L.wv, L.bv, D, D);
    linear(L.wo, L.bo, D, D);
    norm(L.ln2_gamma, L.ln2_beta);
    linear(L.w1, L.b1, D, F);
    linear(L.w2, L.b2, F, D);
  }
  norm(t.lnf_gamma, t.lnf_beta);
  linear(t.w_out, t.b_out, D, 1);
}

TransformerCache::TransformerCache(Backend backend, const TransformerConfig& cfg, int64_t max_docs,
                                   int64_t max_list_length)
    : backend_(backend), cfg_(cfg), max_docs_(max_docs), max_len_(max_list_length) {
  transformer_validate(cfg);
  if (max_docs < 1) throw ArgumentError("transformer: max_docs must be >= 1");
  if (max_list_length < 1) throw ArgumentError("transformer: max_list_length must be >= 1");
  if (max_list_length > max_docs) max_len_ = max_list_length = max_docs;
  if (backend == Backend::Cuda) (void)ops_for(backend);  // throws when CUDA is not compiled in
  const size_t N = static_cast<size_t>(max_docs), D = static_cast<size_t>(cfg.d_model),
               F = static_cast<size_t>(cfg.d_ff), H = static_cast<size_t>(cfg.heads),
               L = static_cast<size_t>(max_list_length), layers_n = static_cast<size_t>(cfg.layers);
  const bool dp = cfg.dropout > 0.0f;
  const size_t per_layer = N * D * 8 + 4 * N + 2 * N * F + H * N * L + (dp ? N * F : 0);
  floats_ = 2 * N * D + (dp ? N * D : 0) + layers_n * per_layer + 2 * N * D + 2 * N + 7 * N * D + N * F + H * N * L;
  mask_bytes_ = dp ? N * D + layers_n * (2 * N * D + N * F) : 0;
  arena_ = static_cast<float*>(backend_alloc(backend, floats_ * sizeof(float), "transformer"));
  try {
    mask_arena_ = static_cast<uint8_t*>(backend_alloc(backend, mask_bytes_, "transformer"));
  } catch (...) {
    backend_free(backend, arena_);
    throw;
  }
  float* f = arena_;
  uint8_t* mb = mask_arena_;
  auto fl = [&](size_t n) {
    float* at = f;
    f += n;
    return at;
  };
  auto by = [&](size_t n) {
    uint8_t* at = mb;
    mb += n;
    return at;
  };
  z_in = fl(N * D), h_in = fl(N * D);
  if (dp) h_in_drop = fl(N * D), mask_in = by(N * D);
  for (size_t l = 0; l < layers_n; ++l) {
    Layer C;
    C.n1 = fl(N * D), C.mean1 = fl(N), C.rstd1 = fl(N);
    C.q = fl(N * D), C.k = fl(N * D), C.v = fl(N * D), C.o = fl(N * D), C.p = fl(H * N * L);
    C.xmid = fl(N * D), C.n2 = fl(N * D), C.mean2 = fl(N), C.rstd2 = fl(N);
    C.f1 = fl(N * F), C.r = fl(N * F);
    C.x = fl(N * D);  // the output of layer l - 1 (for l = 0 unused: the forward points it at h)
    if (dp) C.rd = fl(N * F), C.mask_attn = by(N * D), C.mask_r = by(N * F), C.mask_ff = by(N * D);
    layers.push_back(C);
  }
  x_last = fl(N * D);
  nf = fl(N * D), meanf = fl(N), rstdf = fl(N);
  g = fl(N * D), t1 = fl(N * D), t2 = fl(N * D), t3 = fl(N * D), dq = fl(N * D), dk = fl(N * D), dv = fl(N * D);
  tf = fl(N * F), ds = fl(H * N * L);
  if (f != arena_ + floats_ || mb != mask_arena_ + mask_bytes_) {  // the sizes above and the carving must agree
    backend_free(backend, arena_);
    backend_free(backend, mask_arena_);
    throw std::logic_error("transformer: cache layout mismatch");
  }
}

TransformerCache::~TransformerCache() {
  backend_free(backend_, arena_);
  backend_free(backend_, mask_arena_);
}

namespace {

void check_cache(const TransformerCache& c, Backend backend, const TransformerConfig& cfg) {
  if (c.backend() != backend) throw ArgumentError("transformer: cache was made for another backend");
  const TransformerConfig& a = c.cfg_;
  if (a.in != cfg.in || a.d_model != cfg.d_model || a.heads != cfg.heads || a.layers != cfg.layers ||
      a.d_ff != cfg.d_ff || (a.dropout > 0.0f) != (cfg.dropout > 0.0f))
    throw ArgumentError("transformer: cache was made for another configuration");
}

// Layer l's input: the (dropped-out) input projection for l = 0, else layer l-1's output.
const float* input_of(const TransformerCache& c, size_t l) {
  if (l == 0) return c.training_ ? c.h_in_drop : c.h_in;
  return c.layers[l].x;
}
float* output_of(const TransformerCache& c, size_t l) {
  return l + 1 < c.layers.size() ? c.layers[l + 1].x : c.x_last;
}
const float* last_of(const TransformerCache& c) {
  return c.layers.empty() ? input_of(c, 0) : c.x_last;
}

}  // namespace

void transformer_forward(Backend backend, const TransformerConfig& cfg, const float* params, const float* x,
                         const uint32_t* offsets, int64_t num_lists, int64_t num_docs, bool training, uint64_t seed,
                         TransformerCache& cache, float* scores) {
  transformer_validate(cfg);
  check_cache(cache, backend, cfg);
  const Ops& op = ops_for(backend);
  if (num_lists < 0) throw ArgumentError("transformer: num_lists must be >= 0");
  if (num_docs < 0 || num_docs > cache.max_docs())
    throw ArgumentError("transformer: num_docs " + str(num_docs) + " outside [0, " + str(cache.max_docs()) + "]");
  // Check the offsets (host copy for CUDA) and the longest list.
  {
    std::vector<uint32_t> host(static_cast<size_t>(num_lists + 1));
    if (backend == Backend::Cpu) {
      std::memcpy(host.data(), offsets, host.size() * sizeof(uint32_t));
    } else {
#ifdef ORDO_WITH_CUDA
      cuda::copy_to_host(host.data(), offsets, host.size() * sizeof(uint32_t));
#endif
    }
    check_query_offsets(host.data(), host.size(), static_cast<uint64_t>(num_docs), "transformer offsets");
    for (int64_t i = 0; i < num_lists; ++i)
      if (static_cast<int64_t>(host[i + 1] - host[i]) > cache.max_list_length())
        throw ArgumentError("transformer: list " + str(i) + " has " + str(host[i + 1] - host[i]) +
                            " docs, more than the cache's max_list_length " + str(cache.max_list_length()));
  }
  const TransformerLayout T = transformer_layout(cfg);
  const int64_t N = num_docs, D = cfg.d_model, F = cfg.d_ff, H = cfg.heads, Lm = cache.max_list_length();
  const float pdrop = cfg.dropout;
  cache.x_ = x;
  cache.offsets_ = offsets;
  cache.num_lists_ = num_lists;
  cache.num_docs_ = num_docs;
  cache.training_ = training && pdrop > 0.0f;
  if (N == 0) return;
  const bool tr = cache.training_;
  uint64_t drop_off = 0;
  const float* P = params;
  // input projection
  op.sgemm(false, false, N, D, cfg.in, 1.0f, x, cfg.in, P + T.w_in, D, 0.0f, cache.z_in, D);
  op.add_bias(cache.z_in, P + T.b_in, N, D);
  op.activation_forward(cfg.input_act, cache.z_in, cache.h_in, N * D);
  if (tr) op.dropout_forward(cache.h_in, cache.h_in_drop, cache.mask_in, N * D, pdrop, seed, drop_off);
  drop_off += static_cast<uint64_t>(N * D);
  for (size_t l = 0; l < cache.layers.size(); ++l) {
    const TransformerLayerLayout& W = T.layers[l];
    TransformerCache::Layer& C = cache.layers[l];
    const float* X = input_of(cache, l);
    float* Y = output_of(cache, l);
    op.layernorm_forward(X, P + W.ln1_gamma, P + W.ln1_beta, C.n1, C.mean1, C.rstd1, N, D, cfg.ln_eps);
    op.sgemm(false, false, N, D, D, 1.0f, C.n1, D, P + W.wq, D, 0.0f, C.q, D);
    op.add_bias(C.q, P + W.bq, N, D);
    op.sgemm(false, false, N, D, D, 1.0f, C.n1, D, P + W.wk, D, 0.0f, C.k, D);
    op.add_bias(C.k, P + W.bk, N, D);
    op.sgemm(false, false, N, D, D, 1.0f, C.n1, D, P + W.wv, D, 0.0f, C.v, D);
    op.add_bias(C.v, P + W.bv, N, D);
    op.attention_forward(C.q, C.k, C.v, offsets, num_lists, N, D, H, Lm, C.p, C.o);
    op.sgemm(false, false, N, D, D, 1.0f, C.o, D, P + W.wo, D, 0.0f, cache.t1, D);
    op.add_bias(cache.t1, P + W.bo, N, D);
    if (tr) op.dropout_forward(cache.t1, cache.t1, C.mask_attn, N * D, pdrop, seed, drop_off);
    drop_off += static_cast<uint64_t>(N * D);
    op.add(X, cache.t1, C.xmid, N * D);
    op.layernorm_forward(C.xmid, P + W.ln2_gamma, P + W.ln2_beta, C.n2, C.mean2, C.rstd2, N, D, cfg.ln_eps);
    op.sgemm(false, false, N, F, D, 1.0f, C.n2, D, P + W.w1, F, 0.0f, C.f1, F);
    op.add_bias(C.f1, P + W.b1, N, F);
    op.activation_forward(Activation::ReLU, C.f1, C.r, N * F);
    if (tr) op.dropout_forward(C.r, C.rd, C.mask_r, N * F, pdrop, seed, drop_off);
    drop_off += static_cast<uint64_t>(N * F);
    op.sgemm(false, false, N, D, F, 1.0f, tr ? C.rd : C.r, F, P + W.w2, D, 0.0f, cache.t1, D);
    op.add_bias(cache.t1, P + W.b2, N, D);
    if (tr) op.dropout_forward(cache.t1, cache.t1, C.mask_ff, N * D, pdrop, seed, drop_off);
    drop_off += static_cast<uint64_t>(N * D);
    op.add(C.xmid, cache.t1, Y, N * D);
  }
  op.layernorm_forward(last_of(cache), P + T.lnf_gamma, P + T.lnf_beta, cache.nf, cache.meanf, cache.rstdf, N, D,
                       cfg.ln_eps);
  op.sgemm(false, false, N, 1, D, 1.0f, cache.nf, D, P + T.w_out, 1, 0.0f, scores, 1);
  op.add_bias(scores, P + T.b_out, N, 1);
}

void transformer_backward(Backend backend, const TransformerConfig& cfg, const float* params, TransformerCache& cache,
                          const float* dscores, float* grads, float* dx) {
  transformer_validate(cfg);
  check_cache(cache, backend, cfg);
  if (cache.num_docs_ < 0) throw ArgumentError("transformer_backward: no transformer_forward with this cache");
  const Ops& op = ops_for(backend);
  const TransformerLayout T = transformer_layout(cfg);
  const int64_t N = cache.num_docs_, D = cfg.d_model, F = cfg.d_ff, H = cfg.heads, Lm = cache.max_list_length(),
                in = cfg.in;
  if (N == 0) {
    backend_zero(backend, grads, static_cast<size_t>(T.count) * sizeof(float));
    return;
  }
  const bool tr = cache.training_;
  const float pdrop = cfg.dropout;
  const float* P = params;
  float* G = grads;
  float* g = cache.g;
  // output layer and final LayerNorm
  op.sgemm(true, false, D, 1, N, 1.0f, cache.nf, D, dscores, 1, 0.0f, G + T.w_out, 1);
  op.bias_backward(dscores, N, 1, G + T.b_out);
  op.sgemm(false, true, N, D, 1, 1.0f, dscores, 1, P + T.w_out, 1, 0.0f, cache.t2, D);
  op.layernorm_backward(cache.t2, last_of(cache), P + T.lnf_gamma, cache.meanf, cache.rstdf, g, G + T.lnf_gamma,
                        G + T.lnf_beta, N, D);
  for (size_t l = cache.layers.size(); l-- > 0;) {
    const TransformerLayerLayout& W = T.layers[l];
    TransformerCache::Layer& C = cache.layers[l];
    const float* X = input_of(cache, l);
    // feed-forward branch: g = dLoss/d(layer output)
    const float* gf = g;
    if (tr) op.dropout_backward(g, C.mask_ff, cache.t1, N * D, pdrop), gf = cache.t1;
    op.sgemm(true, false, F, D, N, 1.0f, tr ? C.rd : C.r, F, gf, D, 0.0f, G + W.w2, D);
    op.bias_backward(gf, N, D, G + W.b2);
    op.sgemm(false, true, N, F, D, 1.0f, gf, D, P + W.w2, D, 0.0f, cache.tf, F);
    if (tr) op.dropout_backward(cache.tf, C.mask_r, cache.tf, N * F, pdrop);
    op.activation_backward(Activation::ReLU, C.f1, cache.tf, cache.tf, N * F);
    op.sgemm(true, false, D, F, N, 1.0f, C.n2, D, cache.tf, F, 0.0f, G + W.w1, F);
    op.bias_backward(cache.tf, N, F, G + W.b1);
    op.sgemm(false, true, N, D, F, 1.0f, cache.tf, F, P + W.w1, F, 0.0f, cache.t2, D);
    op.layernorm_backward(cache.t2, C.xmid, P + W.ln2_gamma, C.mean2, C.rstd2, cache.t3, G + W.ln2_gamma,
                          G + W.ln2_beta, N, D);
    op.add(g, cache.t3, g, N * D);  // g = dLoss/d xmid
    // attention branch
    const float* ga = g;
    if (tr) op.dropout_backward(g, C.mask_attn, cache.t1, N * D, pdrop), ga = cache.t1;
    op.sgemm(true, false, D, D, N, 1.0f, C.o, D, ga, D, 0.0f, G + W.wo, D);
    op.bias_backward(ga, N, D, G + W.bo);
    op.sgemm(false, true, N, D, D, 1.0f, ga, D, P + W.wo, D, 0.0f, cache.t2, D);
    op.attention_backward(C.q, C.k, C.v, C.p, cache.t2, cache.offsets_, cache.num_lists_, N, D, H, Lm, cache.ds,
                          cache.dq, cache.dk, cache.dv);
    op.sgemm(true, false, D, D, N, 1.0f, C.n1, D, cache.dq, D, 0.0f, G + W.wq, D);
    op.bias_backward(cache.dq, N, D, G + W.bq);
    op.sgemm(true, false, D, D, N, 1.0f, C.n1, D, cache.dk, D, 0.0f, G + W.wk, D);
    op.bias_backward(cache.dk, N, D, G + W.bk);
    op.sgemm(true, false, D, D, N, 1.0f, C.n1, D, cache.dv, D, 0.0f, G + W.wv, D);
    op.bias_backward(cache.dv, N, D, G + W.bv);
    op.sgemm(false, true, N, D, D, 1.0f, cache.dq, D, P + W.wq, D, 0.0f, cache.t3, D);
    op.sgemm(false, true, N, D, D, 1.0f, cache.dk, D, P + W.wk, D, 1.0f, cache.t3, D);
    op.sgemm(false, true, N, D, D, 1.0f, cache.dv, D, P + W.wv, D, 1.0f, cache.t3, D);
    op.layernorm_backward(cache.t3, X, P + W.ln1_gamma, C.mean1, C.rstd1, cache.t2, G + W.ln1_gamma, G + W.ln1_beta,
                          N, D);
    op.add(g, cache.t2, g, N * D);  // g = dLoss/d(layer input)
  }
  // input projection
  if (tr) op.dropout_backward(g, cache.mask_in, g, N * D, pdrop);
  op.activation_backward(cfg.input_act, cache.z_in, g, g, N * D);
  op.sgemm(true, false, in, D, N, 1.0f, cache.x_, in, g, D, 0.0f, G + T.w_in, D);
  op.bias_backward(g, N, D, G + T.b_in);
  if (dx) op.sgemm(false, true, N, in, D, 1.0f, g, D, P + T.w_in, D, 0.0f, dx, in);
}

}  // namespace ordo
