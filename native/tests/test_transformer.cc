// C++ tests of the context-aware Transformer scorer (core/transformer.h):
// forward against a scalar double-precision reference of the same model
// (dropout masks included), permutation equivariance within a list, no
// interaction between lists, gradients of every parameter and of x against
// central differences of the reference, determinism, errors, and CPU/CUDA
// parity when a usable GPU is present (SKIP otherwise).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/transformer.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif
#include "tests/check.h"

using namespace ordo;

namespace {

std::vector<float> randv(size_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = lo + (hi - lo) * rng_uniform(seed, i);
  return v;
}

TransformerConfig small_config(float dropout = 0.0f) {
  TransformerConfig c;
  c.in = 5, c.d_model = 8, c.heads = 2, c.layers = 2, c.d_ff = 16;
  c.input_act = Activation::Tanh;
  c.dropout = dropout;
  c.ln_eps = 1e-5f;
  return c;
}

const std::vector<uint32_t> kOffsets = {0, 1, 3, 8, 15};  // lists of 1, 2, 5, 7 docs

// Parameters moved away from the LayerNorm defaults so their gradients matter.
std::vector<float> test_params(const TransformerConfig& cfg, uint64_t seed = 3) {
  std::vector<float> p(static_cast<size_t>(transformer_param_count(cfg)));
  transformer_init_params(cfg, p.data(), seed);
  const TransformerLayout t = transformer_layout(cfg);
  auto jitter = [&](int64_t g, int64_t b) {
    for (int64_t i = 0; i < cfg.d_model; ++i)
      p[g + i] += 0.3f * (rng_uniform(seed + 9, g + i) - 0.5f), p[b + i] += 0.2f * (rng_uniform(seed + 10, b + i) - 0.5f);
  };
  for (const auto& L : t.layers) jitter(L.ln1_gamma, L.ln1_beta), jitter(L.ln2_gamma, L.ln2_beta);
  jitter(t.lnf_gamma, t.lnf_beta);
  return p;
}

// ---------------------------------------------------------------- scalar reference (double)
using Mat = std::vector<double>;  // row-major

double act_ref(Activation a, double z) {
  switch (a) {
    case Activation::Identity: return z;
    case Activation::ReLU: return z > 0 ? z : 0;
    case Activation::Tanh: return std::tanh(z);
    case Activation::SiLU: return z / (1 + std::exp(-z));
    case Activation::GELU: return 0.5 * z * (1 + std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
  }
  return z;
}

Mat linear_ref(const Mat& x, int64_t rows, int64_t in, const std::vector<double>& P, int64_t w, int64_t b, int64_t out) {
  Mat y(static_cast<size_t>(rows * out));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < out; ++j) {
      double s = P[b + j];
      for (int64_t i = 0; i < in; ++i) s += x[r * in + i] * P[w + i * out + j];
      y[r * out + j] = s;
    }
  return y;
}

Mat layernorm_ref(const Mat& x, int64_t rows, int64_t cols, const std::vector<double>& P, int64_t g, int64_t b,
                  double eps) {
  Mat y(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mu += x[r * cols + c];
    mu /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mu) * (x[r * cols + c] - mu);
    var /= cols;
    const double rs = 1.0 / std::sqrt(var + eps);
    for (int64_t c = 0; c < cols; ++c) y[r * cols + c] = (x[r * cols + c] - mu) * rs * P[g + c] + P[b + c];
  }
  return y;
}

struct RefDrop {
  bool on;
  double p;
  uint64_t seed, offset = 0;
  void apply(Mat& v) {
    if (on)
      for (size_t i = 0; i < v.size(); ++i) v[i] = dropout_keep(seed, offset + i, dropout_threshold(static_cast<float>(p))) ? v[i] / (1.0 - p) : 0.0;
    offset += v.size();
  }
};

std::vector<double> ref_forward(const TransformerConfig& cfg, const std::vector<double>& P, const Mat& x,
                                const std::vector<uint32_t>& off, bool training, uint64_t seed) {
  const TransformerLayout t = transformer_layout(cfg);
  const int64_t N = off.back(), D = cfg.d_model, F = cfg.d_ff, H = cfg.heads, dk = D / H;
  RefDrop drop{training && cfg.dropout > 0, cfg.dropout, seed};
  Mat h = linear_ref(x, N, cfg.in, P, t.w_in, t.b_in, D);
  for (double& v : h) v = act_ref(cfg.input_act, v);
  drop.apply(h);
  for (const auto& L : t.layers) {
    Mat n1 = layernorm_ref(h, N, D, P, L.ln1_gamma, L.ln1_beta, cfg.ln_eps);
    Mat q = linear_ref(n1, N, D, P, L.wq, L.bq, D), k = linear_ref(n1, N, D, P, L.wk, L.bk, D),
        v = linear_ref(n1, N, D, P, L.wv, L.bv, D);
    Mat o(static_cast<size_t>(N * D), 0.0);
    for (size_t li = 0; li + 1 < off.size(); ++li) {
      const int64_t b = off[li], n = off[li + 1] - off[li];
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t r = 0; r < n; ++r) {
          std::vector<double> s(static_cast<size_t>(n));
          double mx = -1e300, sum = 0;
          for (int64_t c = 0; c < n; ++c) {
            double d = 0;
            for (int64_t e = 0; e < dk; ++e) d += q[(b + r) * D + hh * dk + e] * k[(b + c) * D + hh * dk + e];
            s[c] = d / std::sqrt(static_cast<double>(dk));
            mx = std::max(mx, s[c]);
          }
          for (double& z : s) sum += (z = std::exp(z - mx));
          for (int64_t e = 0; e < dk; ++e) {
            double acc = 0;
            for (int64_t c = 0; c < n; ++c) acc += s[c] / sum * v[(b + c) * D + hh * dk + e];
            o[(b + r) * D + hh * dk + e] = acc;
          }
        }
    }
    Mat a = linear_ref(o, N, D, P, L.wo, L.bo, D);
    drop.apply(a);
    for (size_t i = 0; i < h.size(); ++i) h[i] += a[i];
    Mat n2 = layernorm_ref(h, N, D, P, L.ln2_gamma, L.ln2_beta, cfg.ln_eps);
    Mat f = linear_ref(n2, N, D, P, L.w1, L.b1, F);
    for (double& z : f) z = z > 0 ? z : 0;
    drop.apply(f);
    Mat f2 = linear_ref(f, N, F, P, L.w2, L.b2, D);
    drop.apply(f2);
    for (size_t i = 0; i < h.size(); ++i) h[i] += f2[i];
  }
  Mat nf = layernorm_ref(h, N, D, P, t.lnf_gamma, t.lnf_beta, cfg.ln_eps);
  return linear_ref(nf, N, D, P, t.w_out, t.b_out, 1);
}

std::vector<double> to_d(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

int64_t max_len_of(const std::vector<uint32_t>& off) {
  int64_t m = 1;
  for (size_t i = 0; i + 1 < off.size(); ++i) m = std::max<int64_t>(m, off[i + 1] - off[i]);
  return m;
}

std::vector<float> cpu_forward(const TransformerConfig& cfg, const std::vector<float>& params,
                               const std::vector<float>& x, const std::vector<uint32_t>& off, bool training,
                               uint64_t seed, TransformerCache* keep = nullptr) {
  const int64_t N = off.back();
  std::unique_ptr<TransformerCache> own;
  if (!keep) own = std::make_unique<TransformerCache>(Backend::Cpu, cfg, std::max<int64_t>(1, N), max_len_of(off));
  TransformerCache& cache = keep ? *keep : *own;
  std::vector<float> s(static_cast<size_t>(N));
  transformer_forward(Backend::Cpu, cfg, params.data(), x.data(), off.data(), static_cast<int64_t>(off.size()) - 1, N,
                      training, seed, cache, s.data());
  return s;
}

void check_forward_vs_ref(const TransformerConfig& cfg, bool training) {
  const auto params = test_params(cfg);
  const int64_t N = kOffsets.back();
  const auto x = randv(N * cfg.in, 4);
  const auto s = cpu_forward(cfg, params, x, kOffsets, training, 99);
  const auto r = ref_forward(cfg, to_d(params), to_d(x), kOffsets, training, 99);
  for (int64_t i = 0; i < N; ++i) CHECK_NEAR(s[i], r[i], 2e-5 + 2e-5 * std::fabs(r[i]));
}

void gradcheck(const TransformerConfig& cfg, bool training) {
  const auto params = test_params(cfg);
  const int64_t N = kOffsets.back();
  const auto x = randv(N * cfg.in, 4), w = randv(N, 5);
  const uint64_t seed = 77;
  TransformerCache cache(Backend::Cpu, cfg, N, 7);
  std::vector<float> grads(params.size(), -1.0f), dx(x.size(), -1.0f);
  cpu_forward(cfg, params, x, kOffsets, training, seed, &cache);
  transformer_backward(Backend::Cpu, cfg, params.data(), cache, w.data(), grads.data(), dx.data());
  // Loss = sum_i w_i s_i, differentiated numerically on the double reference (h = 1e-5: no ReLU kink is crossed).
  auto loss = [&](const std::vector<double>& P, const Mat& xx) {
    const auto s = ref_forward(cfg, P, xx, kOffsets, training, seed);
    double L = 0;
    for (int64_t i = 0; i < N; ++i) L += w[i] * s[i];
    return L;
  };
  const double h = 1e-5;
  const auto Pd = to_d(params);
  const auto xd = to_d(x);
  for (size_t i = 0; i < params.size(); ++i) {
    auto pp = Pd, pm = Pd;
    pp[i] += h, pm[i] -= h;
    const double fd = (loss(pp, xd) - loss(pm, xd)) / (2 * h);
    if (!(std::fabs(grads[i] - fd) <= 2e-4 + 2e-3 * std::fabs(fd))) {
      std::ostringstream os;
      os << "transformer grad param " << i << ": " << grads[i] << " vs fd " << fd;
      throw ordo_test::Failure{os.str()};
    }
  }
  for (size_t i = 0; i < x.size(); ++i) {
    auto xp = xd, xm = xd;
    xp[i] += h, xm[i] -= h;
    const double fd = (loss(Pd, xp) - loss(Pd, xm)) / (2 * h);
    CHECK_NEAR(dx[i], fd, 2e-4 + 2e-3 * std::fabs(fd));
  }
}

}  // namespace

TEST_CASE("transformer: layout, parameter count, init, config errors") {
  TransformerConfig cfg = small_config();
  const TransformerLayout t = transformer_layout(cfg);
  const int64_t D = 8, F = 16;
  const int64_t per_layer = 2 * D + 4 * (D * D + D) + 2 * D + D * F + F + F * D + D;
  CHECK(t.count == 5 * D + D + 2 * per_layer + 2 * D + D + 1);
  CHECK(transformer_param_count(cfg) == t.count);
  CHECK(t.layers.size() == 2);
  CHECK(t.w_in == 0 && t.b_in == 40 && t.layers[0].ln1_gamma == 48 && t.layers[0].wq == 64);
  CHECK(t.layers[1].ln1_gamma == 48 + per_layer && t.b_out == t.count - 1);
  std::vector<float> p(t.count);
  transformer_init_params(cfg, p.data(), 1);
  CHECK(p[t.layers[1].ln2_gamma] == 1.0f && p[t.layers[1].ln2_beta] == 0.0f && p[t.lnf_gamma + 7] == 1.0f);
  const float bound_in = 1.0f / std::sqrt(5.0f), bound_ff = 1.0f / std::sqrt(16.0f);
  for (int64_t i = 0; i < 5 * D; ++i) CHECK(std::fabs(p[i]) <= bound_in);
  for (int64_t i = 0; i < F * D; ++i) CHECK(std::fabs(p[t.layers[0].w2 + i]) <= bound_ff);
  std::vector<float> p2(t.count);
  transformer_init_params(cfg, p2.data(), 1);
  CHECK(p == p2);
  cfg.heads = 3;
  CHECK_THROWS(ArgumentError, transformer_validate(cfg), "multiple of heads");
  cfg = small_config(1.0f);
  CHECK_THROWS(ArgumentError, transformer_validate(cfg), "dropout");
  cfg = small_config();
  cfg.d_ff = 0;
  CHECK_THROWS(ArgumentError, transformer_validate(cfg), "d_ff");
}

TEST_CASE("transformer: forward matches the double reference (lists of 1, 2, 5, 7 docs)") {
  check_forward_vs_ref(small_config(), false);
  TransformerConfig relu = small_config();
  relu.input_act = Activation::ReLU;
  relu.heads = 4;
  check_forward_vs_ref(relu, false);
  TransformerConfig zero = small_config();
  zero.layers = 0;
  check_forward_vs_ref(zero, false);
}

TEST_CASE("transformer: forward with dropout matches the reference masks; eval mode ignores dropout") {
  const TransformerConfig cfg = small_config(0.2f);
  check_forward_vs_ref(cfg, true);
  check_forward_vs_ref(cfg, false);
  const auto params = test_params(cfg);
  const auto x = randv(15 * 5, 4);
  const auto a = cpu_forward(cfg, params, x, kOffsets, true, 1), b = cpu_forward(cfg, params, x, kOffsets, true, 2);
  CHECK(a != b);
}

TEST_CASE("transformer: permuting the docs of a list permutes their scores") {
  const TransformerConfig cfg = small_config();
  const auto params = test_params(cfg);
  const int64_t N = 15, in = cfg.in;
  const auto x = randv(N * in, 4);
  const auto s = cpu_forward(cfg, params, x, kOffsets, false, 0);
  // within each list: a rotation by one plus a swap of the first two
  std::vector<int64_t> perm(N);
  for (size_t l = 0; l + 1 < kOffsets.size(); ++l) {
    const int64_t b = kOffsets[l], n = kOffsets[l + 1] - b;
    for (int64_t i = 0; i < n; ++i) perm[b + i] = b + (i + 1) % n;
    if (n > 2) std::swap(perm[b], perm[b + 1]);
  }
  std::vector<float> xp(x.size());
  for (int64_t i = 0; i < N; ++i) std::memcpy(&xp[i * in], &x[perm[i] * in], in * sizeof(float));
  const auto sp = cpu_forward(cfg, params, xp, kOffsets, false, 0);
  for (int64_t i = 0; i < N; ++i) CHECK_NEAR(sp[i], s[perm[i]], 1e-5 + 1e-5 * std::fabs(s[perm[i]]));
}

TEST_CASE("transformer: lists do not interact") {
  const TransformerConfig cfg = small_config();
  const auto params = test_params(cfg);
  const auto x = randv(15 * 5, 4);
  auto x2 = x;
  for (int64_t i = kOffsets[2] * 5; i < kOffsets[3] * 5; ++i) x2[i] = 3.0f * x2[i] + 0.5f;  // change list 2 (5 docs)
  const auto a = cpu_forward(cfg, params, x, kOffsets, false, 0), b = cpu_forward(cfg, params, x2, kOffsets, false, 0);
  for (int64_t i = 0; i < 15; ++i) {
    if (i >= kOffsets[2] && i < kOffsets[3]) continue;
    CHECK_NEAR(a[i], b[i], 1e-6 * (1 + std::fabs(a[i])));
  }
  bool changed = false;
  for (int64_t i = kOffsets[2]; i < kOffsets[3]; ++i) changed = changed || a[i] != b[i];
  CHECK(changed);
  // a list scored alone gives the same scores as inside the batch
  const std::vector<uint32_t> one = {0, 7};
  std::vector<float> x7(x.begin() + 8 * 5, x.end());
  const auto c = cpu_forward(cfg, params, x7, one, false, 0);
  for (int64_t i = 0; i < 7; ++i) CHECK_NEAR(c[i], a[8 + i], 1e-6 * (1 + std::fabs(a[8 + i])));
}

TEST_CASE("transformer: gradients of every parameter and of x vs central differences") {
  gradcheck(small_config(), false);
}

TEST_CASE("transformer: gradients with dropout (training) vs central differences") {
  TransformerConfig cfg = small_config(0.15f);
  cfg.input_act = Activation::GELU;
  gradcheck(cfg, true);
}

TEST_CASE("transformer: deterministic, cache reuse, empty batch, errors") {
  const TransformerConfig cfg = small_config(0.1f);
  const auto params = test_params(cfg);
  const auto x = randv(15 * 5, 4), w = randv(15, 5);
  TransformerCache cache(Backend::Cpu, cfg, 20, 10);
  std::vector<float> g1(params.size()), g2(params.size()), d1(x.size()), d2(x.size());
  const auto s1 = cpu_forward(cfg, params, x, kOffsets, true, 5, &cache);
  transformer_backward(Backend::Cpu, cfg, params.data(), cache, w.data(), g1.data(), d1.data());
  // a different forward in between, then the same again
  const std::vector<uint32_t> other = {0, 3, 4};
  cpu_forward(cfg, params, randv(4 * 5, 8), other, true, 6, &cache);
  const auto s2 = cpu_forward(cfg, params, x, kOffsets, true, 5, &cache);
  transformer_backward(Backend::Cpu, cfg, params.data(), cache, w.data(), g2.data(), d2.data());
  CHECK(s1 == s2 && g1 == g2 && d1 == d2);
  // empty batch: zero gradients
  const std::vector<uint32_t> none = {0};
  cpu_forward(cfg, params, x, none, true, 5, &cache);
  std::vector<float> g0(params.size(), 7.0f);
  transformer_backward(Backend::Cpu, cfg, params.data(), cache, nullptr, g0.data(), nullptr);
  for (float v : g0) CHECK(v == 0.0f);
  // errors
  std::vector<float> s(15);
  TransformerCache small(Backend::Cpu, cfg, 15, 5);
  CHECK_THROWS(ArgumentError,
               transformer_forward(Backend::Cpu, cfg, params.data(), x.data(), kOffsets.data(), 4, 15, false, 0, small,
                                   s.data()),
               "max_list_length");
  const std::vector<uint32_t> bad = {0, 5, 3, 15};
  CHECK_THROWS(ArgumentError,
               transformer_forward(Backend::Cpu, cfg, params.data(), x.data(), bad.data(), 3, 15, false, 0, cache,
                                   s.data()),
               "offsets");
  TransformerConfig other_cfg = cfg;
  other_cfg.d_ff = 8;
  CHECK_THROWS(ArgumentError,
               transformer_forward(Backend::Cpu, other_cfg, params.data(), x.data(), kOffsets.data(), 4, 15, false, 0,
                                   cache, s.data()),
               "configuration");
  TransformerCache fresh(Backend::Cpu, cfg, 15, 7);
  CHECK_THROWS(ArgumentError, transformer_backward(Backend::Cpu, cfg, params.data(), fresh, w.data(), g0.data(), nullptr),
               "no transformer_forward");
}

// ---------------------------------------------------------------- CUDA parity
#ifdef ORDO_WITH_CUDA
namespace {
struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) : p(cuda::device_alloc(std::max<size_t>(bytes, 4))) {}
  ~Dev() { cuda::device_free(p); }
  float* f() const { return static_cast<float*>(p); }
  uint32_t* u() const { return static_cast<uint32_t*>(p); }
};
template <typename T>
std::unique_ptr<Dev> up(const std::vector<T>& h) {
  auto d = std::make_unique<Dev>(h.size() * sizeof(T));
  if (!h.empty()) cuda::copy_to_device(d->p, h.data(), h.size() * sizeof(T));
  return d;
}
std::vector<float> down(const Dev& d, size_t n) {
  std::vector<float> h(n);
  if (n) cuda::copy_to_host(h.data(), d.p, n * sizeof(float));
  return h;
}
void check_close(const std::vector<float>& g, const std::vector<float>& c, double atol, double rtol, const char* what) {
  CHECK(g.size() == c.size());
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::fabs(g[i] - c[i]) <= atol + rtol * std::fabs(c[i]))) {
      std::ostringstream os;
      os << what << " [" << i << "]: cuda " << g[i] << " vs cpu " << c[i];
      throw ordo_test::Failure{os.str()};
    }
}
void parity(const TransformerConfig& cfg, const std::vector<uint32_t>& off, bool training) {
  const int64_t N = off.back(), L = max_len_of(off), lists = static_cast<int64_t>(off.size()) - 1;
  const auto params = test_params(cfg, 11);
  const auto x = randv(N * cfg.in, 12), w = randv(N, 13);
  TransformerCache cc(Backend::Cpu, cfg, std::max<int64_t>(N, 1), L);
  std::vector<float> s(N), g(params.size()), dx(x.size());
  transformer_forward(Backend::Cpu, cfg, params.data(), x.data(), off.data(), lists, N, training, 21, cc, s.data());
  transformer_backward(Backend::Cpu, cfg, params.data(), cc, w.data(), g.data(), dx.data());
  auto dp = up(params), dxin = up(x), doff = up(off), dw = up(w);
  Dev ds(N * 4), dg(params.size() * 4), ddx(x.size() * 4);
  TransformerCache gc(Backend::Cuda, cfg, std::max<int64_t>(N, 1), L);
  transformer_forward(Backend::Cuda, cfg, dp->f(), dxin->f(), doff->u(), lists, N, training, 21, gc, ds.f());
  transformer_backward(Backend::Cuda, cfg, dp->f(), gc, dw->f(), dg.f(), ddx.f());
  cuda::synchronize();
  check_close(down(ds, N), s, 1e-4, 1e-3, "scores");
  double gmax = 0;
  for (float v : g) gmax = std::max(gmax, (double)std::fabs(v));
  check_close(down(dg, g.size()), g, 1e-4 * (1 + gmax), 2e-3, "grads");
  check_close(down(ddx, dx.size()), dx, 1e-4, 2e-3, "dx");
}
}  // namespace
#endif

TEST_CASE("cuda parity: transformer forward/backward (small ragged, long lists, dk > 32, dropout)") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  const CudaStatus& st = cuda_status();
  if (!st.usable)
    SKIP("no usable CUDA device: " +
         (st.error_name.empty() ? std::string("none found") : st.error_name + " (" + st.error_string + ")"));
  parity(small_config(), kOffsets, false);
  parity(small_config(0.2f), kOffsets, true);
  TransformerConfig big;
  big.in = 46, big.d_model = 128, big.heads = 2, big.layers = 2, big.d_ff = 256, big.dropout = 0.1f;
  std::vector<uint32_t> off = {0, 1, 301, 338, 338, 378};  // includes a 300-doc list and an empty list
  parity(big, off, true);
  parity(big, off, false);
#endif
}

TEST_MAIN("native transformer")
