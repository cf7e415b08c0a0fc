// C++ tests of the dense-layer kernels (core/dense.h) and the MLP (core/mlp.h):
// SGEMM against the triple-loop reference on both CPU code paths, every
// primitive against a scalar (double) formula and central finite differences,
// the optimisers against PyTorch's update rules, an MLP gradient check, and
// CPU/CUDA parity when a usable GPU is present (SKIP otherwise).
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
TEST_CASE("dropout: mask from rng_uniform, scaling, backward, p = 0 and p = 1") {
  const int64_t n = 20000;
  const float p = 0.3f;
  auto x = randv(n, 11);
  std::vector<float> y(n), dx(n);
  std::vector<uint8_t> mask(n);
  cpu::dropout_forward(x.data(), y.data(), mask.data(), n, p, 42, 1000);
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    const bool keep = rng_uniform(42, 1000 + i) >= p;
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

TEST_MAIN("native dense")
