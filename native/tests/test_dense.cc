// C++ tests of the dense-layer kernels (core/dense.h) and the MLP (core/mlp.h):
// SGEMM against the triple-loop reference on both CPU code paths, every
// primitive against a scalar (double) formula and central finite differences,
// the optimisers against PyTorch's update rules, an MLP gradient check, the
// fused paths (sgemm_fused epilogues, LayerNorm + dropout, LayerNorm +
// activation backward, the fused MLP) against the unfused composition, and
// CPU/CUDA parity when a usable GPU is present (SKIP otherwise).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "core/dense.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/mlp.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/sgemm_avx2.h"  // cpu::sgemm_scalar: test hook for the portable path
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

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                        float, float*, int64_t);

// Runs fn and the reference on the same inputs (with padded leading dimensions
// when pad > 0) and checks every element against a float32 error bound:
// |err| <= 2 k eps (|alpha| sum_p |a_ip b_pj|) + 2 eps |beta c| + tiny.
void check_gemm(GemmFn fn, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, float beta, int64_t pad,
                uint64_t seed) {
  const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const int64_t arows = ta ? k : m, brows = tb ? n : k;
  auto a = randv(std::max<int64_t>(1, arows * lda), seed);
  auto b = randv(std::max<int64_t>(1, brows * ldb), seed + 1);
  auto c0 = randv(std::max<int64_t>(1, m * ldc), seed + 2);
  auto c = c0, r = c0;
  fn(ta, tb, m, n, k, alpha, a.data(), std::max<int64_t>(1, lda), b.data(), std::max<int64_t>(1, ldb), beta, c.data(),
     std::max<int64_t>(1, ldc));
  cpu::sgemm_reference(ta, tb, m, n, k, alpha, a.data(), std::max<int64_t>(1, lda), b.data(),
                       std::max<int64_t>(1, ldb), beta, r.data(), std::max<int64_t>(1, ldc));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < ldc; ++j) {
      const size_t at = static_cast<size_t>(i * ldc + j);
      if (j >= n) {  // padding columns must be untouched
        if (c[at] != c0[at]) {
          CHECK(c[at] == c0[at]);
        }
        continue;
      }
      double mag = 0;
      for (int64_t p = 0; p < k; ++p)
        mag += std::fabs((ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]));
      const double tol = 2.0 * (k + 2) * FLT_EPSILON * (std::fabs(alpha) * mag + std::fabs(beta * c0[at])) + 1e-30;
      if (!(std::fabs(c[at] - r[at]) <= tol)) {
        std::ostringstream os;
        os << "sgemm ta=" << ta << " tb=" << tb << " m=" << m << " n=" << n << " k=" << k << " alpha=" << alpha
           << " beta=" << beta << " pad=" << pad << " at (" << i << "," << j << "): " << c[at] << " vs " << r[at];
        throw ordo_test::Failure{os.str()};
      }
    }
}

struct GemmShape {
  int64_t m, n, k;
};
const std::vector<GemmShape> kShapes = {{1, 1, 1},   {7, 13, 5},   {6, 16, 8},    {12, 32, 300}, {65, 129, 31},
                                        {5, 3, 520}, {130, 47, 257}, {1, 200, 17}, {200, 1, 33}};

void gemm_suite(GemmFn fn) {
  uint64_t seed = 100;
  for (const GemmShape& s : kShapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      check_gemm(fn, ta, tb, s.m, s.n, s.k, 1.0f, 0.0f, 0, seed++);
      check_gemm(fn, ta, tb, s.m, s.n, s.k, 0.5f, -1.5f, 3, seed++);
      check_gemm(fn, ta, tb, s.m, s.n, s.k, -2.0f, 1.0f, 17, seed++);
    }
}

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::fabs(b)); }

}  // namespace

// ---------------------------------------------------------------- SGEMM
TEST_CASE("sgemm (dispatching path) matches the reference: all transposes, alpha/beta, odd shapes, padded ld") {
  gemm_suite(cpu::sgemm);
}

TEST_CASE("sgemm AVX2 path is used where the CPU has AVX2+FMA") {
  if (!cpu::sgemm_uses_avx2()) SKIP("AVX2 path not in use (CPU without AVX2/FMA, or ORDO_NO_AVX2 set)");
  gemm_suite(cpu::sgemm);  // explicit: the dispatching path above is the AVX2 kernel here
}

TEST_CASE("sgemm scalar path (forced) matches the reference") { gemm_suite(cpu::sgemm_scalar); }

TEST_CASE("sgemm with threads: larger shapes, 1 and 2 threads") {
  const int saved = num_threads();
  for (int th : {1, 2}) {
    set_num_threads(th);
    check_gemm(cpu::sgemm, false, false, 300, 170, 600, 1.0f, 0.0f, 0, 7);
    check_gemm(cpu::sgemm, true, true, 97, 400, 300, 1.0f, 0.25f, 5, 8);
    check_gemm(cpu::sgemm, true, false, 40, 520, 700, 1.0f, 0.0f, 0, 9);  // wide: split over N
    check_gemm(cpu::sgemm_scalar, false, true, 300, 170, 200, 1.0f, 0.0f, 2, 10);
  }
  set_num_threads(saved);
}

TEST_CASE("sgemm edge cases: k = 0, alpha = 0, empty m/n, beta = 0 ignores NaN in C") {
  for (GemmFn fn : {static_cast<GemmFn>(cpu::sgemm), static_cast<GemmFn>(cpu::sgemm_scalar)}) {
    std::vector<float> c = {1, 2, 3, 4, 5, 6};
    fn(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 2.0f, c.data(), 3);
    CHECK(c[0] == 2 && c[5] == 12);
    fn(false, false, 2, 3, 0, 1.0f, nullptr, 1, nullptr, 3, 0.0f, c.data(), 3);
    CHECK(c[0] == 0 && c[5] == 0);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> a = {1, 2}, b = {3, 4, 5, 6, 7, 8};
    std::vector<float> d(6, nan);
    fn(false, false, 2, 3, 1, 1.0f, a.data(), 1, b.data(), 3, 0.0f, d.data(), 3);
    CHECK(d[0] == 3 && d[5] == 10);
    std::vector<float> e(6, nan);
    fn(false, false, 2, 3, 1, 0.0f, a.data(), 1, b.data(), 3, 0.0f, e.data(), 3);
    CHECK(e[0] == 0 && e[5] == 0);
    fn(false, false, 0, 3, 4, 1.0f, nullptr, 4, nullptr, 3, 0.0f, nullptr, 3);  // nothing to do
    CHECK_THROWS(ArgumentError, fn(false, false, 2, 3, 4, 1.0f, a.data(), 3, b.data(), 3, 0.0f, d.data(), 3), "lda");
    CHECK_THROWS(ArgumentError, fn(false, true, 2, 3, 4, 1.0f, a.data(), 4, b.data(), 3, 0.0f, d.data(), 3), "ldb");
    CHECK_THROWS(ArgumentError, fn(false, false, -1, 3, 4, 1.0f, a.data(), 4, b.data(), 3, 0.0f, d.data(), 3),
                 "negative");
  }
}

TEST_CASE("sgemm is deterministic: bitwise run to run, and 1 vs 2 threads") {
  const int64_t m = 333, n = 211, k = 777;
  auto a = randv(m * k, 1), b = randv(k * n, 2);
  const int saved = num_threads();
  for (GemmFn fn : {static_cast<GemmFn>(cpu::sgemm), static_cast<GemmFn>(cpu::sgemm_scalar)}) {
    std::vector<float> c1(m * n), c2(m * n), c3(m * n);
    set_num_threads(2);
    fn(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c1.data(), n);
    fn(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c2.data(), n);
    CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
    set_num_threads(1);
    fn(false, true, m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f, c3.data(), n);
    // Each C element is one thread's fixed-order sum: identical for any thread count.
    for (size_t i = 0; i < c1.size(); ++i) CHECK_NEAR(c1[i], c3[i], 1e-4);
    CHECK(std::memcmp(c1.data(), c3.data(), c1.size() * sizeof(float)) == 0);
  }
  set_num_threads(saved);
}

// ---------------------------------------------------------------- bias
TEST_CASE("add_bias and bias_backward") {
  const int64_t rows = 37, cols = 19;
  auto y = randv(rows * cols, 3), bias = randv(cols, 4);
  auto y0 = y;
  cpu::add_bias(y.data(), bias.data(), rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) CHECK(y[r * cols + c] == y0[r * cols + c] + bias[c]);
  std::vector<float> db(cols, 99.0f);
  cpu::bias_backward(y0.data(), rows, cols, db.data());
  for (int64_t c = 0; c < cols; ++c) {
    double s = 0;
    for (int64_t r = 0; r < rows; ++r) s += y0[r * cols + c];
    CHECK_NEAR(db[c], s, 1e-5);
  }
}

// ---------------------------------------------------------------- activations
namespace {
double act_ref(Activation a, double x) {
  switch (a) {
    case Activation::Identity: return x;
    case Activation::ReLU: return x > 0 ? x : 0;
    case Activation::SiLU: return x / (1 + std::exp(-x));
    case Activation::GELU: return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
    case Activation::Tanh: return std::tanh(x);
  }
  return 0;
}
const Activation kActs[] = {Activation::Identity, Activation::ReLU, Activation::SiLU, Activation::GELU,
                            Activation::Tanh};
}  // namespace

TEST_CASE("activations: forward vs formula, backward vs central differences, in-place") {
  const int64_t n = 1001;
  auto x = randv(n, 5, -4.0f, 4.0f);
  for (auto& v : x)
    if (std::fabs(v) < 1e-3f) v = 0.5f;  // keep away from ReLU's kink
  auto dy = randv(n, 6);
  for (Activation a : kActs) {
    std::vector<float> y(n), dx(n);
    cpu::activation_forward(a, x.data(), y.data(), n);
    cpu::activation_backward(a, x.data(), dy.data(), dx.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      CHECK_NEAR(y[i], act_ref(a, x[i]), 2e-6 * std::max(1.0, std::fabs(act_ref(a, x[i]))));
      const double h = 1e-5;
      const double fd = (act_ref(a, x[i] + h) - act_ref(a, x[i] - h)) / (2 * h);
      CHECK_NEAR(dx[i], dy[i] * fd, 1e-5);
    }
    // aliasing: y may alias x, dx may alias dy
    auto xa = x;
    cpu::activation_forward(a, xa.data(), xa.data(), n);
    CHECK(std::memcmp(xa.data(), y.data(), n * sizeof(float)) == 0);
    auto da = dy;
    cpu::activation_backward(a, x.data(), da.data(), da.data(), n);
    CHECK(std::memcmp(da.data(), dx.data(), n * sizeof(float)) == 0);
  }
}

// ---------------------------------------------------------------- layernorm
namespace {
// double LayerNorm of one row set: y, and the loss sum(w .* y)
double ln_loss(const std::vector<double>& x, const std::vector<double>& g, const std::vector<double>& b,
               const std::vector<float>& w, int64_t rows, int64_t cols, double eps, std::vector<double>* y = nullptr) {
  double L = 0;
  if (y) y->assign(rows * cols, 0);
  for (int64_t r = 0; r < rows; ++r) {
    double mu = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mu += x[r * cols + c];
    mu /= cols;
    for (int64_t c = 0; c < cols; ++c) var += (x[r * cols + c] - mu) * (x[r * cols + c] - mu);
    var /= cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double v = (x[r * cols + c] - mu) / std::sqrt(var + eps) * g[c] + b[c];
      if (y) (*y)[r * cols + c] = v;
      L += w[r * cols + c] * v;
    }
  }
  return L;
}
}  // namespace

TEST_CASE("layernorm: forward vs formula (biased variance), backward vs central differences") {
  const int64_t rows = 9, cols = 23;
  const float eps = 1e-5f;
  auto x = randv(rows * cols, 7, -2.0f, 3.0f), gamma = randv(cols, 8, 0.5f, 1.5f), beta = randv(cols, 9);
  auto w = randv(rows * cols, 10);
  std::vector<float> y(rows * cols), mean(rows), rstd(rows);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, cols, eps);
  std::vector<double> xd(x.begin(), x.end()), gd(gamma.begin(), gamma.end()), bd(beta.begin(), beta.end()), yref;
  ln_loss(xd, gd, bd, w, rows, cols, eps, &yref);
  for (size_t i = 0; i < y.size(); ++i) CHECK_NEAR(y[i], yref[i], 1e-5);
  std::vector<float> dx(rows * cols), dg(cols), db(cols);
  cpu::layernorm_backward(w.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(), dg.data(), db.data(),
                          rows, cols);
  const double h = 1e-5;
  for (size_t i = 0; i < xd.size(); ++i) {
    auto xp = xd, xm = xd;
    xp[i] += h, xm[i] -= h;
    const double fd = (ln_loss(xp, gd, bd, w, rows, cols, eps) - ln_loss(xm, gd, bd, w, rows, cols, eps)) / (2 * h);
    CHECK_NEAR(dx[i], fd, 3e-5 * std::max(1.0, std::fabs(fd)));
  }
  for (int64_t c = 0; c < cols; ++c) {
    auto gp = gd, gm = gd, bp = bd, bm = bd;
    gp[c] += h, gm[c] -= h, bp[c] += h, bm[c] -= h;
    const double fdg = (ln_loss(xd, gp, bd, w, rows, cols, eps) - ln_loss(xd, gm, bd, w, rows, cols, eps)) / (2 * h);
    const double fdb = (ln_loss(xd, gd, bp, w, rows, cols, eps) - ln_loss(xd, gd, bm, w, rows, cols, eps)) / (2 * h);
    CHECK_NEAR(dg[c], fdg, 3e-5 * std::max(1.0, std::fabs(fdg)));
    CHECK_NEAR(db[c], fdb, 3e-5 * std::max(1.0, std::fabs(fdb)));
  }
}

// ---------------------------------------------------------------- dropout
// The documented dropout draw (core/rng.h), written from its definition: bits
// 16·(i mod 4) .. +15 of rng_bits(seed, i / 4), u = (bits + 0.5) / 65536, keep when u >= p.
bool ref_keep(uint64_t seed, uint64_t i, double p) {
  const uint64_t bits = (rng_bits(seed, i / 4) >> (16 * (i % 4))) & 0xFFFFu;
  return (static_cast<double>(bits) + 0.5) / 65536.0 >= p;
}

TEST_CASE("dropout_threshold / dropout_keep: the documented 16-bit draw, edge p") {
  CHECK(dropout_threshold(0.0f) == 0u);
  CHECK(dropout_threshold(1.0f) == 65536u);
  for (int k = 0; k <= 1000; ++k) {
    const float p = static_cast<float>(k) / 1000.0f;
    const uint32_t t = dropout_threshold(p);
    // t is the smallest 16-bit value whose u = (t + 0.5) / 65536 is >= p
    if (t < 65536u) CHECK((t + 0.5) / 65536.0 >= static_cast<double>(p));
    if (t > 0u) CHECK((t - 1 + 0.5) / 65536.0 < static_cast<double>(p));
  }
  for (uint64_t i = 0; i < 4096; ++i)
    for (float p : {0.05f, 0.1f, 0.5f, 0.93f}) CHECK(dropout_keep(7, i, dropout_threshold(p)) == ref_keep(7, i, p));
}

TEST_CASE("dropout: mask from the documented draw, scaling, backward, p = 0 and p = 1") {
  const int64_t n = 20000;
  const float p = 0.3f;
  auto x = randv(n, 11);
  std::vector<float> y(n), dx(n);
  std::vector<uint8_t> mask(n);
  cpu::dropout_forward(x.data(), y.data(), mask.data(), n, p, 42, 1000);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = ref_keep(42, 1000 + i, p);
    CHECK(mask[i] == (keep ? 1 : 0));
    CHECK_NEAR(y[i], keep ? x[i] / (1.0f - p) : 0.0f, 1e-6);
    kept += keep;
  }
  CHECK_NEAR(static_cast<double>(kept) / n, 0.7, 0.02);
  cpu::dropout_backward(x.data(), mask.data(), dx.data(), n, p);
  for (int64_t i = 0; i < n; ++i) CHECK_NEAR(dx[i], mask[i] ? x[i] / (1.0f - p) : 0.0f, 1e-6);
  // backward is the derivative: d(sum w.*y)/dx_i = w_i * mask_i / (1-p) (a linear map, FD exact up to rounding)
  cpu::dropout_forward(x.data(), y.data(), mask.data(), n, 0.0f, 42, 0);
  for (int64_t i = 0; i < n; ++i) CHECK(mask[i] == 1 && y[i] == x[i]);
  cpu::dropout_forward(x.data(), y.data(), mask.data(), n, 1.0f, 42, 0);
  for (int64_t i = 0; i < n; ++i) CHECK(mask[i] == 0 && y[i] == 0.0f);
  CHECK_THROWS(ArgumentError, cpu::dropout_forward(x.data(), y.data(), mask.data(), n, 1.5f, 42, 0), "p must be");
}

// ---------------------------------------------------------------- optimisers
namespace {
// torch.optim.Adam / AdamW, one step, in double
void adam_ref(std::vector<double>& w, const std::vector<double>& g0, std::vector<double>& m, std::vector<double>& v,
              const AdamParams& p) {
  for (size_t i = 0; i < w.size(); ++i) {
    double g = g0[i];
    if (p.decoupled)
      w[i] *= 1 - (double)p.lr * p.weight_decay;
    else
      g += (double)p.weight_decay * w[i];
    m[i] = p.beta1 * m[i] + (1 - (double)p.beta1) * g;
    v[i] = p.beta2 * v[i] + (1 - (double)p.beta2) * g * g;
    const double bc1 = 1 - std::pow((double)p.beta1, (double)p.step), bc2 = 1 - std::pow((double)p.beta2, (double)p.step);
    w[i] -= (p.lr / bc1) * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + p.eps);
  }
}
// torch.optim.SGD, dampening 0; buf starts as d on the first step (== zero buffer here)
void sgd_ref(std::vector<double>& w, const std::vector<double>& g0, std::vector<double>& buf, const SgdParams& p) {
  for (size_t i = 0; i < w.size(); ++i) {
    double d = g0[i] + (double)p.weight_decay * w[i];
    if (p.momentum != 0) {
      buf[i] = p.momentum * buf[i] + d;
      d = p.nesterov ? d + p.momentum * buf[i] : buf[i];
    }
    w[i] -= p.lr * d;
  }
}
}  // namespace

TEST_CASE("adam_update: Adam (L2) and AdamW (decoupled) vs PyTorch's rule over 5 steps") {
  for (bool decoupled : {true, false}) {
    const int64_t n = 777;
    auto w = randv(n, 12), m = std::vector<float>(n, 0.0f), v = std::vector<float>(n, 0.0f);
    std::vector<double> wd(w.begin(), w.end()), md(n, 0), vd(n, 0);
    AdamParams p;
    p.lr = 1e-2f, p.weight_decay = 0.1f, p.decoupled = decoupled;
    for (int step = 1; step <= 5; ++step) {
      p.step = step;
      auto g = randv(n, 100 + step);
      cpu::adam_update(w.data(), g.data(), m.data(), v.data(), n, p);
      adam_ref(wd, std::vector<double>(g.begin(), g.end()), md, vd, p);
    }
    for (int64_t i = 0; i < n; ++i) {
      CHECK_NEAR(w[i], wd[i], 2e-5);
      CHECK_NEAR(m[i], md[i], 1e-6);
      CHECK_NEAR(v[i], vd[i], 1e-6);
    }
  }
}

TEST_CASE("sgd_update: plain, momentum, nesterov, weight decay vs PyTorch's rule") {
  for (int variant = 0; variant < 4; ++variant) {
    const int64_t n = 333;
    SgdParams p;
    p.lr = 0.05f;
    p.momentum = variant == 0 ? 0.0f : 0.9f;
    p.nesterov = variant == 2;
    p.weight_decay = variant == 3 ? 0.01f : 0.0f;
    auto w = randv(n, 13);
    std::vector<float> buf(n, 0.0f);
    std::vector<double> wd(w.begin(), w.end()), bd(n, 0);
    for (int step = 1; step <= 4; ++step) {
      auto g = randv(n, 200 + step);
      cpu::sgd_update(w.data(), g.data(), p.momentum != 0 ? buf.data() : nullptr, n, p);
      sgd_ref(wd, std::vector<double>(g.begin(), g.end()), bd, p);
    }
    for (int64_t i = 0; i < n; ++i) CHECK_NEAR(w[i], wd[i], 1e-5);
  }
}

// ---------------------------------------------------------------- MLP
namespace {
double mlp_loss(const MlpConfig& cfg, const std::vector<float>& params, const std::vector<float>& x, int64_t batch,
                const std::vector<float>& w, uint64_t seed) {
  MlpCache cache(Backend::Cpu, cfg, batch);
  std::vector<float> y(batch * cfg.out);
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), batch, true, seed, cache, y.data());
  double L = 0;
  for (size_t i = 0; i < y.size(); ++i) L += static_cast<double>(w[i]) * y[i];
  return L;
}

void mlp_gradcheck(const MlpConfig& cfg) {
  const int64_t batch = 5;
  std::vector<float> params(mlp_param_count(cfg));
  mlp_init_params(cfg, params.data(), 3);
  // perturb LayerNorm's gamma/beta away from 1/0 so their gradients matter
  for (const auto& l : mlp_layout(cfg))
    if (l.gamma >= 0)
      for (int64_t i = 0; i < l.out; ++i) params[l.gamma + i] += 0.3f * (rng_uniform(9, i) - 0.5f), params[l.beta + i] += 0.2f * (rng_uniform(10, i) - 0.5f);
  auto x = randv(batch * cfg.in, 4), w = randv(batch * cfg.out, 5);
  const uint64_t seed = 77;
  MlpCache cache(Backend::Cpu, cfg, batch);
  std::vector<float> y(batch * cfg.out), grads(params.size(), -1.0f), dx(x.size());
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), batch, true, seed, cache, y.data());
  mlp_backward(Backend::Cpu, cfg, params.data(), cache, w.data(), batch, grads.data(), dx.data());
  // float32 forward: central differences with h = 1e-2 (truncation ~h^2, rounding ~eps/h)
  const float h = 1e-2f;
  for (size_t i = 0; i < params.size(); ++i) {
    auto pp = params, pm = params;
    pp[i] += h, pm[i] -= h;
    const double fd = (mlp_loss(cfg, pp, x, batch, w, seed) - mlp_loss(cfg, pm, x, batch, w, seed)) / (2.0 * h);
    if (!(std::fabs(grads[i] - fd) <= 3e-3 + 3e-3 * std::fabs(fd))) {
      std::ostringstream os;
      os << "mlp grad param " << i << ": " << grads[i] << " vs fd " << fd;
      throw ordo_test::Failure{os.str()};
    }
  }
  for (size_t i = 0; i < x.size(); ++i) {
    auto xp = x, xm = x;
    xp[i] += h, xm[i] -= h;
    const double fd = (mlp_loss(cfg, params, xp, batch, w, seed) - mlp_loss(cfg, params, xm, batch, w, seed)) / (2.0 * h);
    CHECK_NEAR(dx[i], fd, 3e-3 + 3e-3 * std::fabs(fd));
  }
}
}  // namespace

TEST_CASE("mlp: layout, parameter count, config errors") {
  MlpConfig cfg;
  cfg.in = 4, cfg.hidden = {3, 2}, cfg.out = 1, cfg.layernorm = true;
  const auto l = mlp_layout(cfg);
  CHECK(l.size() == 3);
  CHECK(l[0].w == 0 && l[0].b == 12 && l[0].gamma == 15 && l[0].beta == 18);
  CHECK(l[1].w == 21 && l[1].b == 27 && l[1].gamma == 29 && l[1].beta == 31);
  CHECK(l[2].w == 33 && l[2].b == 35 && l[2].gamma == -1);
  CHECK(mlp_param_count(cfg) == 36);
  cfg.dropout = 1.0f;
  CHECK_THROWS(ArgumentError, mlp_validate(cfg), "dropout");
  cfg.dropout = 0.0f, cfg.hidden = {0};
  CHECK_THROWS(ArgumentError, mlp_validate(cfg), "hidden[0]");
#ifndef ORDO_WITH_CUDA
  cfg.hidden = {3};
  CHECK_THROWS(BackendError, MlpCache(Backend::Cuda, cfg, 4), "CUDA");
#endif
}

TEST_CASE("mlp: gradients vs central differences (tanh, no layernorm; linear model)") {
  MlpConfig cfg;
  cfg.in = 6, cfg.hidden = {7, 5}, cfg.out = 2, cfg.act = Activation::Tanh;
  mlp_gradcheck(cfg);
  MlpConfig lin;
  lin.in = 3, lin.out = 2;
  mlp_gradcheck(lin);
}

TEST_CASE("mlp: gradients vs central differences (GELU + layernorm; SiLU + layernorm + dropout)") {
  MlpConfig cfg;
  cfg.in = 6, cfg.hidden = {8, 5}, cfg.out = 1, cfg.act = Activation::GELU, cfg.layernorm = true;
  mlp_gradcheck(cfg);
  cfg.act = Activation::SiLU, cfg.dropout = 0.25f;
  mlp_gradcheck(cfg);
}

TEST_CASE("mlp: eval mode turns dropout off; training with a seed is reproducible") {
  MlpConfig cfg;
  cfg.in = 5, cfg.hidden = {16}, cfg.out = 1, cfg.dropout = 0.5f;
  MlpConfig nodrop = cfg;
  nodrop.dropout = 0.0f;
  std::vector<float> params(mlp_param_count(cfg));
  mlp_init_params(cfg, params.data(), 1);
  auto x = randv(8 * 5, 2);
  std::vector<float> y1(8), y2(8), y3(8), y4(8);
  MlpCache c1(Backend::Cpu, cfg, 8), c2(Backend::Cpu, nodrop, 8);
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), 8, false, 5, c1, y1.data());
  mlp_forward(Backend::Cpu, nodrop, params.data(), x.data(), 8, true, 5, c2, y2.data());
  CHECK(std::memcmp(y1.data(), y2.data(), 8 * sizeof(float)) == 0);
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), 8, true, 5, c1, y3.data());
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), 8, true, 5, c1, y4.data());
  CHECK(std::memcmp(y3.data(), y4.data(), 8 * sizeof(float)) == 0);
  CHECK(std::memcmp(y3.data(), y1.data(), 8 * sizeof(float)) != 0);
  // empty batch: nothing computed, gradients zeroed
  std::vector<float> grads(params.size(), 5.0f);
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), 0, true, 5, c1, y1.data());
  mlp_backward(Backend::Cpu, cfg, params.data(), c1, y1.data(), 0, grads.data(), nullptr);
  for (float g : grads) CHECK(g == 0.0f);
  CHECK_THROWS(ArgumentError, mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), 9, true, 5, c1, y1.data()),
               "batch");
}

// ---- fused paths (sgemm_fused, layernorm_dropout_forward, layernorm_act_backward, the fused MLP) ----------------
namespace {

// The unfused composition that sgemm_fused's epilogue stands for (core/dense.h), on the reference GEMM.
void fused_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                     int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  cpu::sgemm_reference(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      float& v = c[i * ldc + j];
      if (e.bias) v += e.bias[j];
      if (e.pre) e.pre[i * ldc + j] = v;
      cpu::activation_forward(e.act, &v, &v, 1);
      if (e.keep) v = e.keep[i * ldc + j] ? v / (1.0f - e.dropout_p) : 0.0f;
      if (e.grad_x) cpu::activation_backward(e.grad_act, e.grad_x + i * ldc + j, &v, &v, 1);
    }
  if (e.b_col_sums)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) s += b[p * ldb + j];
      e.b_col_sums[j] = static_cast<float>(s);
    }
}

// |got - want| within the GEMM error bound of check_gemm, scaled by the largest
// |slope| of the epilogue (activations are Lipschitz with constant <= ~1.1).
void check_fused(bool ta, bool tb, int64_t m, int64_t n, int64_t k, int variant, uint64_t seed) {
  const int64_t pad = 2, lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  auto a = randv((ta ? k : m) * lda, seed), b = randv((tb ? n : k) * ldb, seed + 1);
  auto bias = randv(n, seed + 2), gx = randv(m * ldc, seed + 3, -3, 3);
  std::vector<uint8_t> keep(m * ldc);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = rng_uniform(seed + 4, i) >= 0.3f;
  const Activation acts[] = {Activation::Identity, Activation::ReLU, Activation::SiLU, Activation::GELU,
                             Activation::Tanh};
  GemmEpilogue e;
  std::vector<float> pre(m * ldc, 7.0f), pre_ref(m * ldc, 7.0f), cs(n, -1.0f), cs_ref(n, -2.0f);
  if (variant < 5) {  // forward: bias, pre, act
    e.bias = bias.data(), e.pre = pre.data(), e.act = acts[variant];
  } else if (variant < 10) {  // backward: dropout then activation slope
    e.keep = keep.data(), e.dropout_p = 0.3f, e.grad_x = gx.data(), e.grad_act = acts[variant - 5];
  } else {  // weight gradient with the bias gradient on the side
    e.b_col_sums = tb ? nullptr : cs.data();
  }
  GemmEpilogue er = e;
  if (er.pre) er.pre = pre_ref.data();
  if (er.b_col_sums) er.b_col_sums = cs_ref.data();
  auto c = randv(m * ldc, seed + 5), cr = c;  // C's old contents must not matter (beta = 0)
  c[0] = std::numeric_limits<float>::quiet_NaN();
  cpu::sgemm_fused(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, c.data(), ldc, e);
  fused_reference(ta, tb, m, n, k, a.data(), lda, b.data(), ldb, cr.data(), ldc, er);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double mag = 0.0;
      for (int64_t p = 0; p < k; ++p)
        mag += std::fabs((ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]));
      const double tol = 4.0 * (k + 2) * FLT_EPSILON * (mag + 1.0) * 1.5 + 1e-6;
      const int64_t o = i * ldc + j;
      if (!(std::fabs(c[o] - cr[o]) <= tol)) {
        std::ostringstream os;
        os << "sgemm_fused variant " << variant << " ta=" << ta << " tb=" << tb << " " << m << "x" << n << "x" << k
           << " C[" << i << "," << j << "] = " << c[o] << " vs " << cr[o];
        throw ordo_test::Failure{os.str()};
      }
      if (e.pre) CHECK_NEAR(pre[o], pre_ref[o], tol);
    }
  for (int64_t i = 0; i < m; ++i)  // the padding between rows is untouched
    for (int64_t j = n; j < ldc; ++j) CHECK(pre[i * ldc + j] == 7.0f);
  if (e.b_col_sums)
    for (int64_t j = 0; j < n; ++j)  // same double sum, same order: bit-identical
      if (cs[j] != cs_ref[j]) {
        std::ostringstream os;
        os << "b_col_sums " << m << "x" << n << "x" << k << " ta=" << ta << " [" << j << "] " << cs[j] << " vs " << cs_ref[j];
        throw ordo_test::Failure{os.str()};
      }
}

}  // namespace

TEST_CASE("sgemm_fused: every epilogue vs the unfused composition (transposes, edges, n = 1 GEMV, k = 1, K blocks)") {
  const std::vector<GemmShape> shapes = {{1, 1, 1},   {7, 13, 5},  {6, 16, 8},    {37, 1, 300}, {300, 1, 37},
                                         {50, 70, 1}, {65, 129, 31}, {13, 64, 600}, {128, 48, 40},
                                         {300, 70, 80}, {40, 200, 300}};  // the last two run on 2+ threads (M, N split)
  uint64_t seed = 100;
  for (const GemmShape& s : shapes)
    for (int t = 0; t < 4; ++t)
      for (int variant = 0; variant < 11; ++variant) check_fused(t & 1, t & 2, s.m, s.n, s.k, variant, seed += 7);
}

TEST_CASE("sgemm_fused: the bias gradient equals bias_backward bit for bit; threads do not change results") {
  const int64_t rows = 700, in = 37, out = 150;
  auto x = randv(rows * in, 1), dy = randv(rows * out, 2);
  std::vector<float> db_ref(out), db(out), dw1(in * out), dw2(in * out), db2(out);
  cpu::bias_backward(dy.data(), rows, out, db_ref.data());
  GemmEpilogue e;
  const int saved = num_threads();
  set_num_threads(1);
  e.b_col_sums = db.data();
  cpu::sgemm_fused(true, false, in, out, rows, x.data(), in, dy.data(), out, dw1.data(), out, e);
  set_num_threads(2);
  e.b_col_sums = db2.data();
  cpu::sgemm_fused(true, false, in, out, rows, x.data(), in, dy.data(), out, dw2.data(), out, e);
  set_num_threads(saved);
  CHECK(db == db_ref);
  CHECK(db2 == db_ref);
  CHECK(dw1 == dw2);
  // a one-column dY (a scorer's output layer): GEMV path, same sums
  std::vector<float> g1(in), b1(1), b1_ref(1);
  cpu::bias_backward(dy.data(), rows, 1, b1_ref.data());
  e.b_col_sums = b1.data();
  cpu::sgemm_fused(true, false, in, 1, rows, x.data(), in, dy.data(), 1, g1.data(), 1, e);
  CHECK(b1 == b1_ref);
  // errors name the problem
  CHECK_THROWS(ArgumentError, cpu::sgemm_fused(false, true, 4, 4, 4, x.data(), 4, dy.data(), 4, dw1.data(), 4, e),
               "b_col_sums needs trans_b == false");
  GemmEpilogue bad;
  bad.dropout_p = 1.0f;
  CHECK_THROWS(ArgumentError, cpu::sgemm_fused(false, false, 4, 4, 4, x.data(), 4, dy.data(), 4, dw1.data(), 4, bad),
               "dropout_p");
  // empty shapes: k = 0 gives act(bias), m = 0 still sums B's columns (none here: k = 0 rows -> 0)
  std::vector<float> c(6, 5.0f), bias = {1.0f, -2.0f, 3.0f};
  GemmEpilogue f;
  f.bias = bias.data(), f.act = Activation::ReLU;
  cpu::sgemm_fused(false, false, 2, 3, 0, nullptr, 1, nullptr, 3, c.data(), 3, f);
  CHECK(c == std::vector<float>({1.0f, 0.0f, 3.0f, 1.0f, 0.0f, 3.0f}));
}

TEST_CASE("layernorm_dropout_forward: LayerNorm then dropout, same masks; p = 0; no affine; odd widths and offsets") {
  for (uint64_t offset : {1000, 1003})
  for (int64_t cols : {1, 7, 8, 33, 256}) {
    const int64_t rows = 45, n = rows * cols;
    auto x = randv(n, cols, -2, 3), gamma = randv(cols, 2, 0.5f, 1.5f), beta = randv(cols, 3);
    for (int affine = 0; affine < 2; ++affine)
      for (float p : {0.0f, 0.1f, 0.5f}) {
        const float* g = affine ? gamma.data() : nullptr;
        const float* bt = affine ? beta.data() : nullptr;
        std::vector<float> y(n), yr(n), mean(rows), rstd(rows), mr(rows), rr(rows);
        std::vector<uint8_t> mask(n, 9), maskr(n, 9);
        cpu::layernorm_dropout_forward(x.data(), g, bt, y.data(), mean.data(), rstd.data(), p > 0 ? mask.data() : nullptr,
                                       rows, cols, 1e-5f, p, 42, offset);
        cpu::layernorm_forward(x.data(), g, bt, yr.data(), mr.data(), rr.data(), rows, cols, 1e-5f);
        if (p > 0) cpu::dropout_forward(yr.data(), yr.data(), maskr.data(), n, p, 42, offset);
        for (int64_t r = 0; r < rows; ++r) {
          CHECK_NEAR(mean[r], mr[r], 1e-6 + 1e-6 * std::fabs(mr[r]));
          CHECK_NEAR(rstd[r], rr[r], 1e-5 * std::fabs(rr[r]));
        }
        for (int64_t i = 0; i < n; ++i) {
          CHECK_NEAR(y[i], yr[i], 2e-5 * (1.0 + std::fabs(yr[i])));
          if (p > 0) CHECK(mask[i] == maskr[i]);
        }
      }
  }
  std::vector<float> x(4), y(4), m(1), r(1);
  CHECK_THROWS(ArgumentError, cpu::layernorm_dropout_forward(x.data(), nullptr, nullptr, y.data(), m.data(), r.data(),
                                                              nullptr, 1, 4, 1e-5f, 0.5f, 1, 0),
               "needs a mask");
}

TEST_CASE("layernorm_act_backward: vs layernorm_backward + activation_backward, and central differences") {
  const Activation acts[] = {Activation::Identity, Activation::ReLU, Activation::SiLU, Activation::GELU,
                             Activation::Tanh};
  for (int64_t cols : {3, 8, 19, 256})
    for (Activation act : acts) {
      const int64_t rows = 41, n = rows * cols;
      auto z = randv(n, cols + 1, -3, 3), dy = randv(n, 2), gamma = randv(cols, 3, 0.5f, 1.5f);
      std::vector<float> x(n), ln(n), mean(rows), rstd(rows);
      cpu::activation_forward(act, z.data(), x.data(), n);
      cpu::layernorm_forward(x.data(), gamma.data(), nullptr, ln.data(), mean.data(), rstd.data(), rows, cols, 1e-5f);
      std::vector<float> dz(n), dzr(n), dg(cols), db(cols), dgr(cols), dbr(cols);
      const bool needs_z = act != Activation::Identity && act != Activation::ReLU;
      cpu::layernorm_act_backward(act, dy.data(), x.data(), needs_z ? z.data() : nullptr, gamma.data(), mean.data(),
                                  rstd.data(), dz.data(), dg.data(), db.data(), rows, cols);
      cpu::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dzr.data(), dgr.data(),
                              dbr.data(), rows, cols);
      cpu::activation_backward(act, z.data(), dzr.data(), dzr.data(), n);
      double scale = 0.0;
      for (float v : dzr) scale = std::max(scale, static_cast<double>(std::fabs(v)));
      for (int64_t i = 0; i < n; ++i) CHECK_NEAR(dz[i], dzr[i], 1e-5 * (1.0 + scale));
      for (int64_t c = 0; c < cols; ++c) {
        CHECK_NEAR(dg[c], dgr[c], 1e-5 * (1.0 + std::fabs(dgr[c])));
        CHECK_NEAR(db[c], dbr[c], 1e-5 * (1.0 + std::fabs(dbr[c])));
      }
    }
  // central differences of L = sum(w * LN(silu(z))) w.r.t. z, in double around the float kernels
  const int64_t rows = 3, cols = 10, n = rows * cols;
  auto z = randv(n, 5, -2, 2), w = randv(n, 6), gamma = randv(cols, 7, 0.5f, 1.5f), beta = randv(cols, 8);
  auto loss = [&](const std::vector<float>& zz) {
    std::vector<float> x(n), y(n), m(rows), r(rows);
    cpu::activation_forward(Activation::SiLU, zz.data(), x.data(), n);
    cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), m.data(), r.data(), rows, cols, 1e-5f);
    double L = 0.0;
    for (int64_t i = 0; i < n; ++i) L += static_cast<double>(w[i]) * y[i];
    return L;
  };
  std::vector<float> x(n), y(n), m(rows), r(rows), dz(n), dg(cols), db(cols);
  cpu::activation_forward(Activation::SiLU, z.data(), x.data(), n);
  cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), m.data(), r.data(), rows, cols, 1e-5f);
  cpu::layernorm_act_backward(Activation::SiLU, w.data(), x.data(), z.data(), gamma.data(), m.data(), r.data(),
                              dz.data(), dg.data(), db.data(), rows, cols);
  const float h = 1e-2f;
  for (int64_t i = 0; i < n; ++i) {
    auto zp = z, zm = z;
    zp[i] += h, zm[i] -= h;
    const double fd = (loss(zp) - loss(zm)) / (2.0 * h);
    CHECK_NEAR(dz[i], fd, 3e-3 + 3e-3 * std::fabs(fd));
  }
  CHECK_THROWS(ArgumentError,
               cpu::layernorm_act_backward(Activation::SiLU, w.data(), x.data(), nullptr, gamma.data(), m.data(),
                                           r.data(), dz.data(), nullptr, nullptr, rows, cols),
               "z (the activation's input)");
}

namespace {
// mlp_forward / mlp_backward as they were before the fused paths: one unfused primitive per step.
struct UnfusedMlp {
  const MlpConfig& cfg;
  std::vector<MlpLayerLayout> layout;
  std::vector<std::vector<float>> z, a, ln, drop, mean, rstd, out;
  std::vector<std::vector<uint8_t>> mask;
  explicit UnfusedMlp(const MlpConfig& c) : cfg(c), layout(mlp_layout(c)) {}
  void forward(const float* p, const float* x, int64_t B, bool training, uint64_t seed, float* y) {
    const size_t nh = cfg.hidden.size();
    z.assign(nh, {}), a.assign(nh, {}), ln.assign(nh, {}), drop.assign(nh, {}), mean.assign(nh, {}), rstd.assign(nh, {});
    mask.assign(nh, {}), out.assign(nh, {});
    const float* in = x;
    uint64_t off = 0;
    for (size_t l = 0; l < nh; ++l) {
      const MlpLayerLayout& L = layout[l];
      const int64_t n = B * L.out;
      z[l].resize(n), a[l].resize(n);
      cpu::sgemm(false, false, B, L.out, L.in, 1.0f, in, L.in, p + L.w, L.out, 0.0f, z[l].data(), L.out);
      cpu::add_bias(z[l].data(), p + L.b, B, L.out);
      cpu::activation_forward(cfg.act, z[l].data(), a[l].data(), n);
      out[l] = a[l];
      if (cfg.layernorm) {
        ln[l].resize(n), mean[l].resize(B), rstd[l].resize(B);
        cpu::layernorm_forward(a[l].data(), p + L.gamma, p + L.beta, ln[l].data(), mean[l].data(), rstd[l].data(), B,
                               L.out, cfg.layernorm_eps);
        out[l] = ln[l];
      }
      if (training && cfg.dropout > 0) {
        drop[l].resize(n), mask[l].resize(n);
        cpu::dropout_forward(out[l].data(), drop[l].data(), mask[l].data(), n, cfg.dropout, seed, off);
        out[l] = drop[l];
      }
      off += static_cast<uint64_t>(n);
      in = out[l].data();
    }
    const MlpLayerLayout& L = layout.back();
    cpu::sgemm(false, false, B, L.out, L.in, 1.0f, in, L.in, p + L.w, L.out, 0.0f, y, L.out);
    cpu::add_bias(y, p + L.b, B, L.out);
  }
  void backward(const float* p, const float* x, const float* dy, int64_t B, bool training, float* g, float* dx) {
    const size_t nh = cfg.hidden.size();
    std::vector<float> cur(dy, dy + B * layout.back().out);
    for (size_t l = nh + 1; l-- > 0;) {
      const MlpLayerLayout& L = layout[l];
      const int64_t n = B * L.out;
      if (l < nh) {
        if (training && cfg.dropout > 0) cpu::dropout_backward(cur.data(), mask[l].data(), cur.data(), n, cfg.dropout);
        if (cfg.layernorm) {
          std::vector<float> t(n);
          cpu::layernorm_backward(cur.data(), a[l].data(), p + L.gamma, mean[l].data(), rstd[l].data(), t.data(),
                                  g + L.gamma, g + L.beta, B, L.out);
          cur = t;
        }
        cpu::activation_backward(cfg.act, z[l].data(), cur.data(), cur.data(), n);
      }
      const float* in = l == 0 ? x : out[l - 1].data();
      cpu::sgemm(true, false, L.in, L.out, B, 1.0f, in, L.in, cur.data(), L.out, 0.0f, g + L.w, L.out);
      cpu::bias_backward(cur.data(), B, L.out, g + L.b);
      std::vector<float> next(B * L.in);
      cpu::sgemm(false, true, B, L.in, L.out, 1.0f, cur.data(), L.out, p + L.w, L.out, 0.0f, next.data(), L.in);
      if (l == 0) std::copy(next.begin(), next.end(), dx);
      cur = next;
    }
  }
};

void check_mlp_matches_unfused(const MlpConfig& cfg, int64_t batch, bool training) {
  std::vector<float> params(mlp_param_count(cfg));
  mlp_init_params(cfg, params.data(), 5);
  for (const auto& l : mlp_layout(cfg))
    if (l.gamma >= 0)
      for (int64_t i = 0; i < l.out; ++i) params[l.gamma + i] += 0.3f * (rng_uniform(9, i) - 0.5f);
  auto x = randv(batch * cfg.in, 6), dy = randv(batch * cfg.out, 7);
  MlpCache cache(Backend::Cpu, cfg, batch);
  std::vector<float> y(batch * cfg.out), yr(y.size()), g(params.size()), gr(params.size()), dx(x.size()), dxr(x.size());
  mlp_forward(Backend::Cpu, cfg, params.data(), x.data(), batch, training, 31, cache, y.data());
  mlp_backward(Backend::Cpu, cfg, params.data(), cache, dy.data(), batch, g.data(), dx.data());
  UnfusedMlp ref(cfg);
  ref.forward(params.data(), x.data(), batch, training, 31, yr.data());
  ref.backward(params.data(), x.data(), dy.data(), batch, training, gr.data(), dxr.data());
  auto close = [](const std::vector<float>& u, const std::vector<float>& v, const char* what) {
    double scale = 0.0;
    for (float t : v) scale = std::max(scale, static_cast<double>(std::fabs(t)));
    for (size_t i = 0; i < u.size(); ++i)
      if (!(std::fabs(u[i] - v[i]) <= 1e-5 * scale + 1e-4 * std::fabs(v[i]))) {
        std::ostringstream os;
        os << what << "[" << i << "]: fused " << u[i] << " vs unfused " << v[i];
        throw ordo_test::Failure{os.str()};
      }
  };
  close(y, yr, "mlp y");
  close(g, gr, "mlp grads");
  close(dx, dxr, "mlp dx");
}
}  // namespace

TEST_CASE("mlp: fused forward/backward match the unfused composition (ReLU scorer, SiLU+LN+dropout, GELU+dropout)") {
  MlpConfig relu;  // the issue #4 shape, small: out = 1 runs the GEMV paths
  relu.in = 37, relu.hidden = {64, 40}, relu.out = 1;
  check_mlp_matches_unfused(relu, 300, true);
  MlpConfig dr;  // the DiffusionRank denoiser shape, small
  dr.in = 50, dr.hidden = {48, 32, 48}, dr.out = 9, dr.act = Activation::SiLU, dr.layernorm = true, dr.dropout = 0.1f;
  check_mlp_matches_unfused(dr, 257, true);
  check_mlp_matches_unfused(dr, 257, false);
  MlpConfig gd;
  gd.in = 11, gd.hidden = {20}, gd.out = 3, gd.act = Activation::GELU, gd.dropout = 0.3f;
  check_mlp_matches_unfused(gd, 100, true);
  MlpConfig id;
  id.in = 9, id.hidden = {17, 5}, id.out = 1, id.act = Activation::Identity, id.layernorm = true;
  check_mlp_matches_unfused(id, 70, false);
}

// ---------------------------------------------------------------- CUDA parity
#ifdef ORDO_WITH_CUDA
namespace {
struct Dev {
  void* p = nullptr;
  explicit Dev(size_t bytes) : p(cuda::device_alloc(bytes)) {}
  ~Dev() { cuda::device_free(p); }
  float* f() const { return static_cast<float*>(p); }
  uint8_t* u8() const { return static_cast<uint8_t*>(p); }
};
template <class T>
std::unique_ptr<Dev> up(const std::vector<T>& h) {
  auto d = std::make_unique<Dev>(std::max<size_t>(1, h.size() * sizeof(T)));
  cuda::copy_to_device(d->p, h.data(), h.size() * sizeof(T));
  return d;
}
template <class T>
std::vector<T> down(const Dev& d, size_t n) {
  std::vector<T> h(n);
  cuda::copy_to_host(h.data(), d.p, n * sizeof(T));
  return h;
}
void need_gpu() {
  const CudaStatus& s = cuda_status();
  if (!s.usable)
    SKIP("no usable CUDA device: " + (s.error_name.empty() ? std::string("none found") : s.error_name + " (" + s.error_string + ")"));
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
}  // namespace
#endif

TEST_CASE("cuda parity: sgemm (all transposes, edges, alpha/beta)") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  need_gpu();
  for (const GemmShape& s : std::vector<GemmShape>{{1, 1, 1}, {7, 13, 5}, {130, 129, 31}, {300, 257, 513}, {4096, 1, 64}})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const int64_t pad = 3, lda = (ta ? s.m : s.k) + pad, ldb = (tb ? s.k : s.n) + pad, ldc = s.n + pad;
      auto a = randv((ta ? s.k : s.m) * lda, 1), b = randv((tb ? s.n : s.k) * ldb, 2), c = randv(s.m * ldc, 3);
      auto da = up(a), db = up(b), dc = up(c);
      cuda::sgemm(ta, tb, s.m, s.n, s.k, 0.5f, da->f(), lda, db->f(), ldb, -1.0f, dc->f(), ldc);
      cpu::sgemm_reference(ta, tb, s.m, s.n, s.k, 0.5f, a.data(), lda, b.data(), ldb, -1.0f, c.data(), ldc);
      check_close(down<float>(*dc, c.size()), c, 1e-4 * std::sqrt((double)s.k), 1e-4, "sgemm");
    }
#endif
}

TEST_CASE("cuda parity: bias, activations, layernorm, dropout, adam, sgd, mlp") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  need_gpu();
  const int64_t rows = 333, cols = 97, n = rows * cols;
  auto x = randv(n, 1, -3, 3), bias = randv(cols, 2), dy = randv(n, 3);
  auto dx_ = up(x), dbias = up(bias), ddy = up(dy);
  {  // bias
    auto y = x;
    Dev dyb(n * 4);
    cuda::copy_device_to_device(dyb.p, dx_->p, n * 4);
    cuda::add_bias(dyb.f(), dbias->f(), rows, cols);
    cpu::add_bias(y.data(), bias.data(), rows, cols);
    check_close(down<float>(dyb, n), y, 1e-6, 1e-6, "add_bias");
    std::vector<float> db(cols);
    Dev ddb(cols * 4);
    cuda::bias_backward(ddy->f(), rows, cols, ddb.f());
    cpu::bias_backward(dy.data(), rows, cols, db.data());
    check_close(down<float>(ddb, cols), db, 1e-5, 1e-5, "bias_backward");
  }
  for (Activation a : kActs) {
    std::vector<float> y(n), g(n);
    Dev dyv(n * 4), dg(n * 4);
    cuda::activation_forward(a, dx_->f(), dyv.f(), n);
    cuda::activation_backward(a, dx_->f(), ddy->f(), dg.f(), n);
    cpu::activation_forward(a, x.data(), y.data(), n);
    cpu::activation_backward(a, x.data(), dy.data(), g.data(), n);
    check_close(down<float>(dyv, n), y, 1e-5, 1e-5, "activation_forward");
    check_close(down<float>(dg, n), g, 1e-5, 1e-5, "activation_backward");
  }
  {  // layernorm
    auto gamma = randv(cols, 4, 0.5f, 1.5f), beta = randv(cols, 5);
    auto dgm = up(gamma), dbt = up(beta);
    std::vector<float> y(n), mean(rows), rstd(rows), gx(n), gg(cols), gb(cols);
    Dev yv(n * 4), mv(rows * 4), rv(rows * 4), gxv(n * 4), ggv(cols * 4), gbv(cols * 4);
    cuda::layernorm_forward(dx_->f(), dgm->f(), dbt->f(), yv.f(), mv.f(), rv.f(), rows, cols, 1e-5f);
    cpu::layernorm_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), rows, cols, 1e-5f);
    check_close(down<float>(yv, n), y, 1e-4, 1e-4, "layernorm_forward");
    check_close(down<float>(mv, rows), mean, 1e-5, 1e-5, "layernorm mean");
    check_close(down<float>(rv, rows), rstd, 1e-5, 1e-5, "layernorm rstd");
    cuda::layernorm_backward(ddy->f(), dx_->f(), dgm->f(), mv.f(), rv.f(), gxv.f(), ggv.f(), gbv.f(), rows, cols);
    cpu::layernorm_backward(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), gx.data(), gg.data(), gb.data(),
                            rows, cols);
    check_close(down<float>(gxv, n), gx, 1e-4, 1e-4, "layernorm dx");
    check_close(down<float>(ggv, cols), gg, 1e-3, 1e-4, "layernorm dgamma");
    check_close(down<float>(gbv, cols), gb, 1e-4, 1e-4, "layernorm dbeta");
  }
  {  // dropout: masks bit-identical
    std::vector<float> y(n), g(n);
    std::vector<uint8_t> mask(n);
    Dev yv(n * 4), mv(n), gv(n * 4);
    cuda::dropout_forward(dx_->f(), yv.f(), mv.u8(), n, 0.4f, 123, 77);
    cpu::dropout_forward(x.data(), y.data(), mask.data(), n, 0.4f, 123, 77);
    CHECK(down<uint8_t>(mv, n) == mask);
    check_close(down<float>(yv, n), y, 0, 1e-6, "dropout_forward");
    cuda::dropout_backward(ddy->f(), mv.u8(), gv.f(), n, 0.4f);
    cpu::dropout_backward(dy.data(), mask.data(), g.data(), n, 0.4f);
    check_close(down<float>(gv, n), g, 0, 1e-6, "dropout_backward");
  }
  {  // optimisers
    auto w = randv(n, 6), m = randv(n, 7, 0, 0.1f), v = randv(n, 8, 0, 0.1f);
    auto dw = up(w), dm = up(m), dv = up(v);
    AdamParams ap;
    ap.step = 3, ap.weight_decay = 0.01f;
    for (bool dec : {true, false}) {
      ap.decoupled = dec;
      cuda::adam_update(dw->f(), ddy->f(), dm->f(), dv->f(), n, ap);
      cpu::adam_update(w.data(), dy.data(), m.data(), v.data(), n, ap);
    }
    check_close(down<float>(*dw, n), w, 1e-6, 1e-5, "adam param");
    check_close(down<float>(*dm, n), m, 1e-6, 1e-5, "adam m");
    check_close(down<float>(*dv, n), v, 1e-6, 1e-5, "adam v");
    auto buf = randv(n, 9);
    auto dbuf = up(buf);
    SgdParams sp;
    sp.momentum = 0.9f, sp.nesterov = true, sp.weight_decay = 0.01f;
    cuda::sgd_update(dw->f(), ddy->f(), dbuf->f(), n, sp);
    cpu::sgd_update(w.data(), dy.data(), buf.data(), n, sp);
    check_close(down<float>(*dw, n), w, 1e-6, 1e-5, "sgd param");
  }
  {  // MLP forward + backward
    MlpConfig cfg;
    cfg.in = 13, cfg.hidden = {64, 33}, cfg.out = 2, cfg.act = Activation::GELU, cfg.layernorm = true, cfg.dropout = 0.2f;
    const int64_t batch = 150;
    std::vector<float> params(mlp_param_count(cfg));
    mlp_init_params(cfg, params.data(), 1);
    auto xin = randv(batch * cfg.in, 2), g = randv(batch * cfg.out, 3);
    MlpCache cc(Backend::Cpu, cfg, batch), gc(Backend::Cuda, cfg, batch);
    std::vector<float> y(batch * cfg.out), grads(params.size()), gx(xin.size());
    mlp_forward(Backend::Cpu, cfg, params.data(), xin.data(), batch, true, 9, cc, y.data());
    mlp_backward(Backend::Cpu, cfg, params.data(), cc, g.data(), batch, grads.data(), gx.data());
    auto dp = up(params), dxin = up(xin), dgo = up(g);
    Dev yv(y.size() * 4), gv(grads.size() * 4), gxv(gx.size() * 4);
    mlp_forward(Backend::Cuda, cfg, dp->f(), dxin->f(), batch, true, 9, gc, yv.f());
    mlp_backward(Backend::Cuda, cfg, dp->f(), gc, dgo->f(), batch, gv.f(), gxv.f());
    check_close(down<float>(yv, y.size()), y, 1e-4, 1e-3, "mlp y");
    check_close(down<float>(gv, grads.size()), grads, 1e-3, 1e-3, "mlp grads");
    check_close(down<float>(gxv, gx.size()), gx, 1e-4, 1e-3, "mlp dx");
  }
#endif
}

TEST_CASE("cuda parity: sgemm_fused epilogues, layernorm_dropout_forward, layernorm_act_backward") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  need_gpu();
  const int64_t m = 333, n = 97, k = 150;
  auto a = randv(m * k, 1), b = randv(k * n, 2), bias = randv(n, 3), gx = randv(m * n, 4, -3, 3);
  std::vector<uint8_t> keep(m * n);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = rng_uniform(5, i) >= 0.2f;
  auto da = up(a), db = up(b), dbias = up(bias), dgx = up(gx), dkeep = up(keep);
  for (int variant = 0; variant < 3; ++variant) {
    GemmEpilogue e, de;
    if (variant == 0) e.bias = bias.data(), e.act = Activation::SiLU, de.bias = dbias->f(), de.act = Activation::SiLU;
    if (variant == 1) {
      e.keep = keep.data(), e.dropout_p = 0.2f, e.grad_x = gx.data(), e.grad_act = Activation::GELU;
      de.keep = dkeep->u8(), de.dropout_p = 0.2f, de.grad_x = dgx->f(), de.grad_act = Activation::GELU;
    }
    std::vector<float> c(m * n), cs(n), pre(m * n);
    Dev dc(m * n * 4), dcs(n * 4), dpre(m * n * 4);
    if (variant == 2) e.b_col_sums = cs.data(), de.b_col_sums = dcs.f();
    if (variant == 0) e.pre = pre.data(), de.pre = dpre.f();
    cpu::sgemm_fused(false, false, m, n, k, a.data(), k, b.data(), n, c.data(), n, e);
    cuda::sgemm_fused(false, false, m, n, k, da->f(), k, db->f(), n, dc.f(), n, de);
    check_close(down<float>(dc, c.size()), c, 1e-4 * std::sqrt((double)k), 1e-4, "sgemm_fused");
    if (variant == 0) check_close(down<float>(dpre, pre.size()), pre, 1e-4 * std::sqrt((double)k), 1e-4, "sgemm_fused pre");
    if (variant == 2) check_close(down<float>(dcs, n), cs, 1e-5, 1e-5, "sgemm_fused b_col_sums");
  }
  const int64_t rows = 257, cols = 96, cnt = rows * cols;
  auto x = randv(cnt, 6, -2, 2), gamma = randv(cols, 7, 0.5f, 1.5f), beta = randv(cols, 8), dy = randv(cnt, 9);
  auto dx_ = up(x), dgm = up(gamma), dbt = up(beta), ddy = up(dy);
  std::vector<float> y(cnt), mean(rows), rstd(rows);
  std::vector<uint8_t> mask(cnt);
  Dev dyv(cnt * 4), dm(rows * 4), dr(rows * 4), dmask(cnt);
  cpu::layernorm_dropout_forward(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), mask.data(),
                                 rows, cols, 1e-5f, 0.1f, 3, 17);
  cuda::layernorm_dropout_forward(dx_->f(), dgm->f(), dbt->f(), dyv.f(), dm.f(), dr.f(), dmask.u8(), rows, cols, 1e-5f,
                                  0.1f, 3, 17);
  check_close(down<float>(dyv, cnt), y, 1e-5, 1e-4, "layernorm_dropout_forward");
  CHECK(down<uint8_t>(dmask, cnt) == mask);
  std::vector<float> z = x, dz(cnt), dg(cols), dbb(cols);
  std::vector<float> xa(cnt);
  cpu::activation_forward(Activation::SiLU, z.data(), xa.data(), cnt);
  auto dxa = up(xa), dz_ = up(z);
  cpu::layernorm_act_backward(Activation::SiLU, dy.data(), xa.data(), z.data(), gamma.data(), mean.data(), rstd.data(),
                              dz.data(), dg.data(), dbb.data(), rows, cols);
  Dev ddz(cnt * 4), ddg(cols * 4), ddb(cols * 4);
  cuda::layernorm_act_backward(Activation::SiLU, ddy->f(), dxa->f(), dz_->f(), dgm->f(), dm.f(), dr.f(), ddz.f(), ddg.f(),
                               ddb.f(), rows, cols);
  check_close(down<float>(ddz, cnt), dz, 1e-4, 1e-3, "layernorm_act_backward dz");
  check_close(down<float>(ddg, cols), dg, 1e-3, 1e-4, "layernorm_act_backward dgamma");
  check_close(down<float>(ddb, cols), dbb, 1e-3, 1e-4, "layernorm_act_backward dbeta");
#endif
}

TEST_MAIN("native dense")
