// C++ tests of the ranking losses (core/losses.h): each loss against a plain
// textbook reference written here in double precision, gradients against
// central finite differences of that reference, edge cases (n = 1, no
// relevant doc, ties, huge scores, k > n, 1000+ docs), determinism, option
// errors and CUDA parity when a GPU is usable.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/error.h"
#include "core/losses.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/check.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

using namespace ordo;
using V = std::vector<double>;

namespace {

const double kE = 1e-10;
double gainf(double y, bool p) { return p ? std::pow(2.0, y) - 1.0 : y; }
double discf(int i) { return 1.0 / std::log2(i + 2.0); }
double sigm(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double idcg_ref(const V& y, int k, bool p) {
  V g;
  for (double v : y) g.push_back(gainf(v, p));
  std::sort(g.rbegin(), g.rend());
  double s = 0;
  for (int i = 0; i < std::min<int>(k, g.size()); ++i) s += g[i] * discf(i);
  return s;
}
std::vector<int> argsort_desc(const V& s) {
  std::vector<int> o(s.size());
  std::iota(o.begin(), o.end(), 0);
  std::stable_sort(o.begin(), o.end(), [&](int a, int b) { return s[a] > s[b]; });
  return o;
}
int keff(uint32_t k, int n) { return (k == 0 || static_cast<int>(k) > n) ? n : static_cast<int>(k); }

// ---- textbook references (one list) ----
double r_mse(const V& s, const V& y, const LossOptions&, uint64_t) {
  double l = 0;
  for (size_t i = 0; i < s.size(); ++i) l += (s[i] - y[i]) * (s[i] - y[i]);
  return l / s.size();
}
double g_label_max = 0;  // batch label max for SigmoidCE
double r_sce(const V& s, const V& y, const LossOptions&, uint64_t) {
  double l = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const double t = std::min(1.0, std::max(0.0, y[i] / g_label_max));
    const double p = sigm(s[i]);
    l += -(t * std::log(p) + (1 - t) * std::log(1 - p));
  }
  return l / s.size();
}
double r_softmax(const V& s, const V& y, const LossOptions&, uint64_t) {
  double ys = 0, z = 0;
  for (size_t i = 0; i < s.size(); ++i) ys += y[i], z += std::exp(s[i]);
  if (ys <= 0) return 0;
  double l = 0;
  for (size_t i = 0; i < s.size(); ++i) l -= y[i] / ys * std::log(std::exp(s[i]) / z);
  return l;
}
double r_ranknet(const V& s, const V& y, const LossOptions& o, uint64_t) {
  double l = 0;
  int np = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (y[i] > y[j]) l += std::log(1 + std::exp(-o.sigma * (s[i] - s[j]))), ++np;
  return np ? l / np : 0.0;
}
double r_listnet(const V& s, const V& y, const LossOptions&, uint64_t) {
  double zs = 0, zy = 0;
  for (size_t i = 0; i < s.size(); ++i) zs += std::exp(s[i]), zy += std::exp(y[i]);
  double l = 0;
  for (size_t i = 0; i < s.size(); ++i) l -= std::exp(y[i]) / zy * std::log(std::exp(s[i]) / zs + kE);
  return l;
}
double r_listmle(const V& s, const V& y, const LossOptions& o, uint64_t doc0) {
  const int n = s.size();
  std::vector<int> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](int a, int b) {
    if (y[a] != y[b]) return y[a] > y[b];
    return std::make_pair(rng_bits(o.seed, doc0 + a), a) < std::make_pair(rng_bits(o.seed, doc0 + b), b);
  });
  const double m = *std::max_element(s.begin(), s.end());
  double l = 0;
  for (int i = 0; i < n; ++i) {
    double z = 0;
    for (int k = i; k < n; ++k) z += std::exp(s[idx[k]] - m);
    l += std::log(z + kE) - (s[idx[i]] - m);
  }
  return l;
}
double r_approx(const V& s, const V& y, const LossOptions& o, uint64_t) {
  const int n = s.size();
  const double a = 1.0 / o.temperature, md = std::max(idcg_ref(y, n, o.powered_gains), kE);
  double l = 0;
  for (int i = 0; i < n; ++i) {
    double r = 1;
    for (int j = 0; j < n; ++j)
      if (j != i) r += std::max(sigm(-a * (s[i] - s[j])), kE);
    l -= gainf(y[i], o.powered_gains) / md / std::log2(1 + r);
  }
  return l;
}
// LightGBM lambdarank, written over unordered pairs of sorted positions.
double r_lambdarank_grad(const V& s, const V& y, const LossOptions& o, V* grad) {
  const int n = s.size(), T = keff(o.k, n);
  grad->assign(n, 0.0);
  const double md = idcg_ref(y, T, o.powered_gains);
  if (md <= 0) return 0;
  auto ord = argsort_desc(s);
  double l = 0, sl = 0;
  for (int a = 0; a < n; ++a)
    for (int b = a + 1; b < n; ++b) {
      if (a >= T) continue;  // the higher-ranked position must be within the truncation
      const int da = ord[a], db = ord[b];
      if (y[da] == y[db]) continue;
      const bool a_high = y[da] > y[db];
      const int h = a_high ? da : db, lo = a_high ? db : da;
      double dl = (gainf(y[h], o.powered_gains) - gainf(y[lo], o.powered_gains)) * std::fabs(discf(a) - discf(b)) / md;
      if (o.lambdarank_norm && s[ord[0]] != s[ord[n - 1]]) dl /= 0.01 + std::fabs(s[h] - s[lo]);
      const double p = 1.0 / (1.0 + std::exp(o.sigma * (s[h] - s[lo])));
      l += dl * std::log(1 + std::exp(-o.sigma * (s[h] - s[lo])));
      (*grad)[h] -= o.sigma * dl * p;
      (*grad)[lo] += o.sigma * dl * p;
      sl += 2 * o.sigma * dl * p;
    }
  if (o.lambdarank_norm && sl > 0)
    for (double& g : *grad) g *= std::log2(1 + sl) / sl;
  return l;
}
double r_lambdarank(const V& s, const V& y, const LossOptions& o, uint64_t) {
  V g;
  return r_lambdarank_grad(s, y, o, &g);
}
double r_lambdaloss(const V& s, const V& y, const LossOptions& o, uint64_t) {
  const int n = s.size(), k = keff(o.k, n);
  auto ord = argsort_desc(s);
  const double md = std::max(idcg_ref(y, k, o.powered_gains), kE);
  double l = 0;
  for (int p = 0; p < k; ++p)
    for (int q = 0; q < k; ++q) {
      const double yp = y[ord[p]], yq = y[ord[q]];
      if (!(yp > yq)) continue;
      const double Gp = gainf(yp, o.powered_gains) / md, Gq = gainf(yq, o.powered_gains) / md;
      const double Dp = std::log2(2.0 + p), Dq = std::log2(2.0 + q);
      const int t = std::abs(p - q);
      const double delta = std::fabs(1 / std::log2(1.0 + t) - 1 / std::log2(2.0 + t));
      const double w = o.mu * delta * std::fabs(Gp - Gq) + std::fabs(1 / Dp - 1 / Dq) * std::fabs(Gp - Gq);
      const double pr = std::max(sigm(o.sigma * (s[ord[p]] - s[ord[q]])), kE);
      l -= std::log2(std::max(std::pow(pr, w), kE));
    }
  return l;
}
// allRank neuralNDCG: explicit P̂, matrix Sinkhorn exactly as allRank loops.
double r_neural(const V& s, const V& y, const LossOptions& o, bool transposed) {
  const int n = s.size(), k = keff(o.k, n);
  const double idcg = idcg_ref(y, k, transposed ? true : o.powered_gains);
  if (idcg == 0) return 0;
  V b(n, 0), P(n * n);
  for (int j = 0; j < n; ++j)
    for (int m = 0; m < n; ++m) b[j] += std::fabs(s[j] - s[m]);
  for (int i = 0; i < n; ++i) {
    const double c = n + 1 - 2 * (i + 1);
    double mx = -INFINITY, z = 0;
    for (int j = 0; j < n; ++j) mx = std::max(mx, (c * s[j] - b[j]) / o.temperature);
    for (int j = 0; j < n; ++j) z += std::exp((c * s[j] - b[j]) / o.temperature - mx);
    for (int j = 0; j < n; ++j) P[i * n + j] = std::exp((c * s[j] - b[j]) / o.temperature - mx) / z;
  }
  for (int it = 0; it < o.sinkhorn_max_iter; ++it) {
    for (int j = 0; j < n; ++j) {
      double cs = 0;
      for (int i = 0; i < n; ++i) cs += P[i * n + j];
      for (int i = 0; i < n; ++i) P[i * n + j] /= std::max(cs, kE);
    }
    for (int i = 0; i < n; ++i) {
      double rs = 0;
      for (int j = 0; j < n; ++j) rs += P[i * n + j];
      for (int j = 0; j < n; ++j) P[i * n + j] /= std::max(rs, kE);
    }
    double e = 0;
    for (int i = 0; i < n; ++i) {
      double rs = 0, cs = 0;
      for (int j = 0; j < n; ++j) rs += P[i * n + j], cs += P[j * n + i];
      e = std::max(e, std::max(std::fabs(rs - 1), std::fabs(cs - 1)));
    }
    if (e < o.sinkhorn_tol) break;
  }
  double dcg = 0;
  for (int i = 0; i < k; ++i)
    for (int j = 0; j < n; ++j) dcg += discf(i) * P[i * n + j] * gainf(y[j], o.powered_gains);
  return -dcg / (idcg + kE);
}
double r_neural_std(const V& s, const V& y, const LossOptions& o, uint64_t) { return r_neural(s, y, o, false); }
double r_neural_t(const V& s, const V& y, const LossOptions& o, uint64_t) { return r_neural(s, y, o, true); }

using RefFn = std::function<double(const V&, const V&, const LossOptions&, uint64_t)>;
struct Kind {
  LossKind kind;
  const char* name;
  RefFn ref;
};
const std::vector<Kind>& kinds() {
  static const std::vector<Kind> k = {
      {LossKind::PointwiseMSE, "PointwiseMSE", r_mse},
      {LossKind::SigmoidCrossEntropy, "SigmoidCrossEntropy", r_sce},
      {LossKind::SoftmaxCrossEntropy, "SoftmaxCrossEntropy", r_softmax},
      {LossKind::RankNet, "RankNet", r_ranknet},
      {LossKind::LambdaRank, "LambdaRank", r_lambdarank},
      {LossKind::ListNet, "ListNet", r_listnet},
      {LossKind::ListMLE, "ListMLE", r_listmle},
      {LossKind::ApproxNDCG, "ApproxNDCG", r_approx},
      {LossKind::NeuralNDCG, "NeuralNDCG", r_neural_std},
      {LossKind::NeuralNDCGTransposed, "NeuralNDCGTransposed", r_neural_t},
      {LossKind::LambdaLossNDCG2PP, "LambdaLossNDCG2PP", r_lambdaloss},
  };
  return k;
}

struct Batch {
  std::vector<float> s, y;
  std::vector<uint32_t> off{0};
  int64_t lists() const { return static_cast<int64_t>(off.size()) - 1; }
  void add(const std::vector<float>& sc, const std::vector<float>& lab) {
    s.insert(s.end(), sc.begin(), sc.end());
    y.insert(y.end(), lab.begin(), lab.end());
    off.push_back(static_cast<uint32_t>(s.size()));
  }
  V sl(int64_t q) const { return V(s.begin() + off[q], s.begin() + off[q + 1]); }
  V yl(int64_t q) const { return V(y.begin() + off[q], y.begin() + off[q + 1]); }
};

// Random ragged batch with n = 1, 2, ties in labels, an all-zero list; scores
// spread so that no two are within FD reach of a tie.
Batch random_batch(uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> lab(0, 3);
  Batch b;
  for (int n : {1, 2, 5, 9, 3, 12, 6}) {
    std::vector<float> sc(n), y(n);
    // distinct well-separated scores: a shuffled grid plus jitter
    std::vector<int> perm(n);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    std::uniform_real_distribution<float> jit(-0.1f, 0.1f);
    for (int i = 0; i < n; ++i) {
      sc[i] = scale * (0.37f * perm[i] - 0.15f * n + jit(rng));
      y[i] = static_cast<float>(lab(rng));
    }
    b.add(sc, y);
  }
  b.add({0.3f, -0.2f, 0.9f}, {0, 0, 0});  // no relevant doc
  b.add({0.1f, 0.8f}, {2, 2});            // all labels equal
  return b;
}

void run_cpu(LossKind k, const Batch& b, const LossOptions& o, std::vector<float>& loss, std::vector<float>& grad) {
  loss.assign(b.lists(), -1.0f);
  grad.assign(b.s.size(), -7.0f);
  cpu::ranking_loss(k, b.s.data(), b.y.data(), b.off.data(), b.lists(), o, loss.data(), grad.data());
}

void set_label_max(const Batch& b, const LossOptions& o) {
  g_label_max = o.label_max > 0 ? o.label_max : *std::max_element(b.y.begin(), b.y.end());
}

// Values against the reference and gradients against central differences.
void check_kind(const Kind& K, const Batch& b, const LossOptions& o, bool fd, double vtol = 1e-5) {
  set_label_max(b, o);
  std::vector<float> loss, grad;
  run_cpu(K.kind, b, o, loss, grad);
  for (int64_t q = 0; q < b.lists(); ++q) {
    const V s = b.sl(q), y = b.yl(q);
    const double r = K.ref(s, y, o, b.off[q]);
    if (!(std::fabs(loss[q] - r) <= vtol * (1 + std::fabs(r))))
      throw ordo_test::Failure{std::string(K.name) + ": list " + std::to_string(q) + " loss " +
                               std::to_string(loss[q]) + " vs reference " + std::to_string(r)};
    if (!fd) continue;
    for (size_t d = 0; d < s.size(); ++d) {
      V sp = s, sm = s;
      const double h = 1e-6;
      sp[d] += h;
      sm[d] -= h;
      const double g = (K.ref(sp, y, o, b.off[q]) - K.ref(sm, y, o, b.off[q])) / (2 * h);
      double expect = g;
      if (K.kind == LossKind::LambdaRank) {  // gradient = LightGBM's lambdas (not d(value)/ds under norm)
        V lg;
        r_lambdarank_grad(s, y, o, &lg);
        expect = lg[d];
      }
      const float got = grad[b.off[q] + d];
      if (!(std::fabs(got - expect) <= 2e-4 + 2e-3 * std::fabs(expect)))
        throw ordo_test::Failure{std::string(K.name) + ": list " + std::to_string(q) + " doc " + std::to_string(d) +
                                 " grad " + std::to_string(got) + " vs " + std::to_string(expect)};
    }
  }
}

}  // namespace

TEST_CASE("every loss: value = textbook reference, grad = finite differences (ragged, n=1, n=2, ties)") {
  for (const Kind& K : kinds()) {
    LossOptions o;
    o.sinkhorn_tol = 0.0f;  // fixed iteration count: the FD reference is smooth
    o.sinkhorn_max_iter = 20;
    check_kind(K, random_batch(1), o, true);
  }
}

TEST_CASE("options: sigma, k (incl. k > n), linear gains, no norm, temperature, mu") {
  for (const Kind& K : kinds()) {
    LossOptions o;
    o.sigma = 2.0f;
    o.k = 3;
    o.powered_gains = false;
    o.lambdarank_norm = false;
    o.temperature = 0.5f;
    o.mu = 3.0f;
    o.sinkhorn_tol = 0.0f;
    o.sinkhorn_max_iter = 15;
    o.label_max = 5.0f;
    o.seed = 17;
    check_kind(K, random_batch(2), o, true);
    o.k = 100;  // k > n
    check_kind(K, random_batch(3), o, true);
  }
}

TEST_CASE("LambdaRank without norm: grad = d(surrogate)/ds") {
  LossOptions o;
  o.lambdarank_norm = false;
  o.k = 4;
  Batch b = random_batch(4);
  std::vector<float> loss, grad;
  run_cpu(LossKind::LambdaRank, b, o, loss, grad);
  for (int64_t q = 0; q < b.lists(); ++q) {
    const V s = b.sl(q), y = b.yl(q);
    for (size_t d = 0; d < s.size(); ++d) {
      V sp = s, sm = s;
      sp[d] += 1e-6;
      sm[d] -= 1e-6;
      const double fd = (r_lambdarank(sp, y, o, 0) - r_lambdarank(sm, y, o, 0)) / 2e-6;
      CHECK_NEAR(grad[b.off[q] + d], fd, 1e-4 + 1e-3 * std::fabs(fd));
    }
  }
}

TEST_CASE("NeuralNDCG with default Sinkhorn tolerance matches allRank's loop") {
  LossOptions o;  // tol 1e-6, 50 iterations
  check_kind(kinds()[8], random_batch(5), o, false, 1e-4);
  check_kind(kinds()[9], random_batch(6), o, false, 1e-4);
}

TEST_CASE("single doc, no relevant doc: documented values, zero gradients") {
  Batch b;
  b.add({0.7f}, {2});
  b.add({0.1f, 0.5f, -0.3f}, {0, 0, 0});
  for (const Kind& K : kinds()) {
    LossOptions o;
    std::vector<float> loss, grad;
    run_cpu(K.kind, b, o, loss, grad);
    if (K.kind != LossKind::PointwiseMSE && K.kind != LossKind::SigmoidCrossEntropy) CHECK_NEAR(grad[0], 0.0, 1e-7);
    const bool nd = K.kind == LossKind::LambdaRank || K.kind == LossKind::NeuralNDCG ||
                    K.kind == LossKind::NeuralNDCGTransposed || K.kind == LossKind::ApproxNDCG ||
                    K.kind == LossKind::LambdaLossNDCG2PP || K.kind == LossKind::RankNet ||
                    K.kind == LossKind::SoftmaxCrossEntropy;
    if (nd) {
      CHECK_NEAR(loss[1], 0.0, 0);
      for (int d = 1; d < 4; ++d) CHECK_NEAR(grad[d], 0.0, 0);
    }
    if (K.kind == LossKind::NeuralNDCG || K.kind == LossKind::ApproxNDCG) CHECK_NEAR(loss[0], -1.0, 1e-6);
  }
}

TEST_CASE("huge scores (+-1e4, +-1e30) stay finite; 1100-doc lists") {
  std::mt19937 rng(8);
  std::normal_distribution<float> nd;
  std::uniform_int_distribution<int> lab(0, 4);
  Batch b;
  b.add({1e30f, -1e30f, 0.0f, 1e30f}, {1, 0, 2, 1});
  std::vector<float> s1(40), y1(40);
  for (int i = 0; i < 40; ++i) s1[i] = 1e4f * nd(rng), y1[i] = lab(rng);
  b.add(s1, y1);
  Batch big;
  std::vector<float> s2(1100), y2(1100);
  for (int i = 0; i < 1100; ++i) s2[i] = nd(rng), y2[i] = lab(rng);
  big.add(s2, y2);
  for (int i = 0; i < 1100; ++i) s2[i] = nd(rng);
  big.add(s2, y2);
  for (const Kind& K : kinds()) {
    LossOptions o;
    std::vector<float> loss, grad;
    run_cpu(K.kind, b, o, loss, grad);
    // MSE of 1e30 is 1e60: not a float, so only its gradient must stay finite
    if (K.kind != LossKind::PointwiseMSE)
      for (float x : loss)
        if (!std::isfinite(x)) throw ordo_test::Failure{std::string(K.name) + ": non-finite loss"};
    for (float x : grad)
      if (!std::isfinite(x)) throw ordo_test::Failure{std::string(K.name) + ": non-finite grad"};
    if (K.kind == LossKind::NeuralNDCG || K.kind == LossKind::NeuralNDCGTransposed) o.sinkhorn_max_iter = 5;
    run_cpu(K.kind, big, o, loss, grad);
    for (float x : grad) CHECK(std::isfinite(x));
    if (K.kind != LossKind::NeuralNDCG && K.kind != LossKind::NeuralNDCGTransposed &&
        K.kind != LossKind::LambdaLossNDCG2PP && K.kind != LossKind::ApproxNDCG) {
      set_label_max(big, o);
      CHECK_NEAR(loss[0], K.ref(big.sl(0), big.yl(0), o, 0), 1e-4 * (1 + std::fabs(loss[0])));
    }
  }
}

TEST_CASE("ListMLE: ties broken by the seeded shuffle; deterministic; threads") {
  Batch b;
  b.add({0.5f, -1.0f, 2.0f, 0.1f, 1.3f}, {1, 1, 1, 0, 1});
  LossOptions o;
  std::vector<float> l1, g1, l2, g2;
  bool differs = false;
  for (uint64_t seed = 0; seed < 8; ++seed) {
    o.seed = seed;
    run_cpu(LossKind::ListMLE, b, o, l1, g1);
    run_cpu(LossKind::ListMLE, b, o, l2, g2);
    CHECK(l1 == l2 && g1 == g2);
    CHECK_NEAR(l1[0], r_listmle(b.sl(0), b.yl(0), o, 0), 1e-5);
    o.seed = seed + 100;
    run_cpu(LossKind::ListMLE, b, o, l2, g2);
    differs = differs || l1 != l2;
  }
  CHECK(differs);
  // all losses: 1 thread vs 2 threads, bit-identical
  Batch r = random_batch(9);
  const int t0 = num_threads();
  for (const Kind& K : kinds()) {
    LossOptions lo;
    set_num_threads(1);
    run_cpu(K.kind, r, lo, l1, g1);
    set_num_threads(2);
    run_cpu(K.kind, r, lo, l2, g2);
    CHECK(l1 == l2 && g1 == g2);
  }
  set_num_threads(t0);
}

TEST_CASE("bad options throw ArgumentError naming the option") {
  Batch b = random_batch(1);
  std::vector<float> l(b.lists()), g(b.s.size());
  auto call = [&](LossKind k, const LossOptions& o) {
    cpu::ranking_loss(k, b.s.data(), b.y.data(), b.off.data(), b.lists(), o, l.data(), g.data());
  };
  LossOptions o;
  o.sigma = 0;
  CHECK_THROWS(ArgumentError, call(LossKind::RankNet, o), "sigma");
  o = {};
  o.temperature = -1;
  CHECK_THROWS(ArgumentError, call(LossKind::NeuralNDCG, o), "temperature");
  CHECK_THROWS(ArgumentError, call(LossKind::ApproxNDCG, o), "temperature");
  o = {};
  o.mu = NAN;
  CHECK_THROWS(ArgumentError, call(LossKind::LambdaLossNDCG2PP, o), "mu");
  o = {};
  o.sinkhorn_max_iter = -1;
  CHECK_THROWS(ArgumentError, call(LossKind::NeuralNDCG, o), "sinkhorn_max_iter");
  o = {};
  o.label_max = -2;
  CHECK_THROWS(ArgumentError, call(LossKind::SigmoidCrossEntropy, o), "label_max");
}

TEST_CASE("CUDA parity (every loss)") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  const CudaStatus& cs = cuda_status();
  if (!cs.usable) SKIP("no usable CUDA device: " + (cs.error_name.empty() ? std::string("none found") : cs.error_name));
  Batch b = random_batch(10);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> s2(700), y2(700);
  for (int i = 0; i < 700; ++i) s2[i] = nd(rng), y2[i] = static_cast<float>(i % 5);
  b.add(s2, y2);
  b.add({1e30f, -1e30f, 0.0f, 1e30f}, {1, 0, 2, 1});
  const size_t n = b.s.size();
  float* ds = static_cast<float*>(cuda::device_alloc(n * 4));
  float* dy = static_cast<float*>(cuda::device_alloc(n * 4));
  uint32_t* doff = static_cast<uint32_t*>(cuda::device_alloc(b.off.size() * 4));
  float* dl = static_cast<float*>(cuda::device_alloc(b.lists() * 4));
  float* dg = static_cast<float*>(cuda::device_alloc(n * 4));
  cuda::copy_to_device(ds, b.s.data(), n * 4);
  cuda::copy_to_device(dy, b.y.data(), n * 4);
  cuda::copy_to_device(doff, b.off.data(), b.off.size() * 4);
  for (const Kind& K : kinds()) {
    for (int variant = 0; variant < 2; ++variant) {
      LossOptions o;
      if (variant == 1) {
        o.k = 5;
        o.sigma = 1.5f;
        o.powered_gains = false;
        o.temperature = 0.5f;
        o.seed = 3;
      }
      std::vector<float> l, g, lc(b.lists()), gc(n);
      run_cpu(K.kind, b, o, l, g);
      cuda::ranking_loss(K.kind, ds, dy, doff, b.lists(), o, dl, dg);
      cuda::copy_to_host(lc.data(), dl, lc.size() * 4);
      cuda::copy_to_host(gc.data(), dg, n * 4);
      for (size_t q = 0; q < l.size(); ++q)
        if (!(std::fabs(l[q] - lc[q]) <= 1e-4 * (1 + std::fabs(l[q]))))
          throw ordo_test::Failure{std::string(K.name) + " cuda loss " + std::to_string(lc[q]) + " vs cpu " +
                                   std::to_string(l[q])};
      for (size_t d = 0; d < n; ++d)
        if (!(std::fabs(g[d] - gc[d]) <= 1e-4 + 1e-3 * std::fabs(g[d])))
          throw ordo_test::Failure{std::string(K.name) + " cuda grad " + std::to_string(gc[d]) + " vs cpu " +
                                   std::to_string(g[d])};
    }
  }
  for (void* p : {static_cast<void*>(ds), static_cast<void*>(dy), static_cast<void*>(doff), static_cast<void*>(dl),
                  static_cast<void*>(dg)})
    cuda::device_free(p);
#endif
}

TEST_MAIN("native losses")
