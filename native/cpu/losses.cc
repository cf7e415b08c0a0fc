// Ranking losses, CPU reference (parallel over lists; every list is computed
// by one thread in double precision, so results do not depend on timing or on
// the thread count).
//
// Conventions shared by all losses (lists are ragged CSR ranges, so the
// reference libraries' padding rules reduce to "only the list's own docs"):
//  * loss_per_list[q] is the loss of list q before any reduction over lists;
//    grad_scores[d] = ∂ loss_per_list[q(d)] / ∂ s_d (overwritten).
//  * gain(y) = 2^y − 1 when opt.powered_gains, else y; discount of 0-based
//    position i is 1/log2(i + 2).
//  * Empty lists give loss 0. Each loss documents its single-document and
//    no-relevant-document behaviour below.
//
// Per loss (reference followed; reduction within a list):
//  PointwiseMSE         mean_i (s_i − y_i)² over the list's docs.
//  SigmoidCrossEntropy  mean_i BCE(σ(s_i), t_i), t = clamp(y/label_max, 0, 1)
//                       (label_max 0 → largest label of the batch; ≤ 0 → t = 0),
//                       stable form max(s,0) − s·t + log1p(e^−|s|) (allRank
//                       sigmoid/BCE, TF-Ranking SigmoidCrossEntropyLoss).
//  SoftmaxCrossEntropy  TF-Ranking SoftmaxLoss: −Σ_i (y_i/Σy)·log softmax(s)_i.
//                       TF-Ranking also weights each list by Σy in its
//                       reduction; that weight is the caller's. Σy ≤ 0 → 0.
//  RankNet              allRank rankNet / TF-Ranking pairwise logistic: pairs
//                       (i, j) with y_i > y_j, ℓ = log(1 + e^{−σ(s_i − s_j)})
//                       (stable relu(−x) + log1p(e^{−|x|})); the list's loss
//                       is the MEAN over its pairs (TF-Ranking per-list
//                       normalisation; allRank averages over the batch's
//                       pairs). No pair → 0.
//  LambdaRank           LightGBM rank_objective.hpp LambdarankNDCG (see below).
//  ListNet              allRank listNet: −Σ softmax(y)_i·log(softmax(s)_i + 1e-10).
//  ListMLE              allRank listMLE (see below).
//  ApproxNDCG           allRank approxNDCGLoss (see below).
//  NeuralNDCG(+T)       allRank neuralNDCG / neuralNDCG_transposed (see below).
//  LambdaLossNDCG2PP    allRank lambdaLoss, weighing_scheme ndcgLoss2PP_scheme
//                       (see below).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/losses.h"
#include "core/neuralsort.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace ordo {
namespace cpu {
namespace {

constexpr double kEps = 1e-10;  // allRank DEFAULT_EPS

inline double softplus(double x) { return std::max(x, 0.0) + std::log1p(std::exp(-std::fabs(x))); }
inline double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}
inline double gain_of(double y, bool powered) { return powered ? std::exp2(y) - 1.0 : y; }
inline double disc(int i) { return 1.0 / std::log2(static_cast<double>(i) + 2.0); }

// Exact DCG@k of the ideal order (labels sorted descending).
double ideal_dcg(const float* y, int n, int k, bool powered, std::vector<double>& tmp) {
  tmp.resize(n);
  for (int i = 0; i < n; ++i) tmp[i] = gain_of(y[i], powered);
  std::sort(tmp.begin(), tmp.end(), std::greater<double>());
  double s = 0.0;
  for (int i = 0; i < std::min(k, n); ++i) s += tmp[i] * disc(i);
  return s;
}

// Descending by score, ties → lower index (a stable sort).
void order_by_score(const float* s, int n, std::vector<int>& ord) {
  ord.resize(n);
  std::iota(ord.begin(), ord.end(), 0);
  std::stable_sort(ord.begin(), ord.end(), [&](int a, int b) { return s[a] > s[b]; });
}

struct Scratch {
  std::vector<int> ord;
  std::vector<double> a, b, c, d, e;
  std::vector<float> pm, gm;
  std::vector<double> hist_r, hist_c, hist_yb, hist_xb;
  std::vector<unsigned char> rc, cc;
};

// Losses and gradients are computed in double; a value beyond float32's range
// (e.g. MSE of scores near ±1e30: 1e60) saturates to ±FLT_MAX instead of
// becoming ±Inf, so finite scores always give finite outputs. NaN stays NaN.
inline float saturate_to_float(double v) {
  constexpr double kMax = std::numeric_limits<float>::max();
  return static_cast<float>(v > kMax ? kMax : v < -kMax ? -kMax : v);
}

// ---------------------------------------------------------------------------
double mse(const float* s, const float* y, int n, double* g) {
  double l = 0;
  for (int i = 0; i < n; ++i) {
    const double r = static_cast<double>(s[i]) - y[i];
    l += r * r;
    if (g) g[i] = 2.0 * r / n;
  }
  return l / n;
}

double sigmoid_ce(const float* s, const float* y, int n, double label_max, double* g) {
  double l = 0;
  for (int i = 0; i < n; ++i) {
    const double t = label_max > 0 ? std::min(1.0, std::max(0.0, y[i] / label_max)) : 0.0;
    const double x = s[i];
    l += std::max(x, 0.0) - x * t + std::log1p(std::exp(-std::fabs(x)));
    if (g) g[i] = (sigmoid(x) - t) / n;
  }
  return l / n;
}

// TF-Ranking SoftmaxLoss; single doc with y > 0: loss 0, grad 0.
double softmax_ce(const float* s, const float* y, int n, double* g, Scratch& w) {
  double ysum = 0;
  for (int i = 0; i < n; ++i) ysum += y[i];
  if (!(ysum > 0)) {
    if (g) std::fill(g, g + n, 0.0);
    return 0.0;
  }
  double m = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; ++i) m = std::max(m, static_cast<double>(s[i]));
  double z = 0;
  for (int i = 0; i < n; ++i) z += std::exp(s[i] - m);
  const double lz = std::log(z) + m;
  double l = 0;
  for (int i = 0; i < n; ++i) {
    const double t = y[i] / ysum;
    l -= t * (s[i] - lz);
    if (g) g[i] = std::exp(s[i] - lz) - t;
  }
  (void)w;
  return l;
}

double ranknet(const float* s, const float* y, int n, double sigma, double* g) {
  if (g) std::fill(g, g + n, 0.0);
  double l = 0;
  int64_t pairs = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      if (!(y[i] > y[j])) continue;
      const double x = sigma * (static_cast<double>(s[i]) - s[j]);
      l += softplus(-x);
      ++pairs;
      if (g) {
        const double d = -sigma * sigmoid(-x);
        g[i] += d;
        g[j] -= d;
      }
    }
  if (pairs == 0) return 0.0;
  if (g)
    for (int i = 0; i < n; ++i) g[i] /= static_cast<double>(pairs);
  return l / static_cast<double>(pairs);
}

// LightGBM LambdarankNDCG::GetGradientsForOneQuery, with p computed exactly
// (LightGBM reads it from a 2^20-bin sigmoid table):
//  * stable sort by score (descending); truncation T = opt.k (0 → n);
//  * inv = 1/maxDCG@T (gain per opt.powered_gains, LightGBM's default label_gain
//    is 2^y − 1); maxDCG = 0 → loss 0, grad 0;
//  * pairs: sorted positions i < min(n−1, T), j > i, labels differ; "high" h
//    is the doc with the larger label;
//    Δ = |gain_h − gain_l|·|disc(i) − disc(j)|·inv, and with norm (and the best
//    score ≠ the worst score) Δ /= 0.01 + |s_h − s_l|;
//    p = 1/(1 + e^{σ(s_h − s_l)}), λ = −σ·Δ·p, grad[h] += λ, grad[l] −= λ;
//  * norm: all grads × log2(1 + Σ|λ|·2)/(Σ|λ|·2) when that sum is > 0.
// grad is LightGBM's gradient (a loss to minimise: grad[h] < 0, so gradient
// descent raises the more relevant doc). The reported loss value is the
// surrogate Σ_pairs Δ·log(1 + e^{−σ(s_h − s_l)}) with Δ held constant, whose
// gradient is exactly the λ's before the norm rescaling. Single doc → 0.
double lambdarank(const float* s, const float* y, int n, const LossOptions& opt, double* g, Scratch& w) {
  if (g) std::fill(g, g + n, 0.0);
  const int T = (opt.k == 0 || opt.k > static_cast<uint32_t>(n)) ? n : static_cast<int>(opt.k);
  const double maxdcg = ideal_dcg(y, n, T, opt.powered_gains, w.a);
  if (!(maxdcg > 0) || n < 2) return 0.0;
  const double inv = 1.0 / maxdcg;
  const double sigma = opt.sigma;
  order_by_score(s, n, w.ord);
  const std::vector<int>& o = w.ord;
  const double best = s[o[0]], worst = s[o[n - 1]];
  double l = 0, sum_lambdas = 0;
  for (int i = 0; i < n - 1 && i < T; ++i) {
    for (int j = i + 1; j < n; ++j) {
      const int di = o[i], dj = o[j];
      if (y[di] == y[dj]) continue;
      int h = di, lo = dj, rh = i, rl = j;
      if (y[di] < y[dj]) {
        h = dj;
        lo = di;
        rh = j;
        rl = i;
      }
      const double delta_s = static_cast<double>(s[h]) - s[lo];
      double dndcg = (gain_of(y[h], opt.powered_gains) - gain_of(y[lo], opt.powered_gains)) *
                     std::fabs(disc(rh) - disc(rl)) * inv;
      if (opt.lambdarank_norm && best != worst) dndcg /= 0.01 + std::fabs(delta_s);
      const double p = sigmoid(-sigma * delta_s);
      const double lambda = -sigma * dndcg * p;
      l += dndcg * softplus(-sigma * delta_s);
      if (g) {
        g[h] += lambda;
        g[lo] -= lambda;
      }
      sum_lambdas -= 2.0 * lambda;
    }
  }
  if (g && opt.lambdarank_norm && sum_lambdas > 0) {
    const double f = std::log2(1.0 + sum_lambdas) / sum_lambdas;
    for (int i = 0; i < n; ++i) g[i] *= f;
  }
  return l;
}

// allRank listNet: target softmax(y) (not y/Σy), eps 1e-10 inside the log.
// Single doc: loss −log(1 + 1e-10) ≈ 0, grad 0. All-zero labels: uniform target.
double listnet(const float* s, const float* y, int n, double* g, Scratch& w) {
  w.a.resize(n);
  w.b.resize(n);
  double ms = -std::numeric_limits<double>::infinity(), my = ms;
  for (int i = 0; i < n; ++i) {
    ms = std::max(ms, static_cast<double>(s[i]));
    my = std::max(my, static_cast<double>(y[i]));
  }
  double zs = 0, zy = 0;
  for (int i = 0; i < n; ++i) {
    w.a[i] = std::exp(s[i] - ms);
    zs += w.a[i];
    w.b[i] = std::exp(y[i] - my);
    zy += w.b[i];
  }
  double l = 0, acc = 0;
  for (int i = 0; i < n; ++i) {
    w.a[i] /= zs;  // p
    w.b[i] /= zy;  // t
    l -= w.b[i] * std::log(w.a[i] + kEps);
    acc += w.b[i] * w.a[i] / (w.a[i] + kEps);
  }
  // ∂/∂s_k = −t_k·p_k/(p_k+eps) + p_k·Σ_i t_i·p_i/(p_i+eps)
  if (g)
    for (int k = 0; k < n; ++k) g[k] = -w.b[k] * w.a[k] / (w.a[k] + kEps) + w.a[k] * acc;
  return l;
}

// allRank listMLE: docs ordered by label descending, ties in labels broken by
// a seeded shuffle (allRank shuffles at random first): the tie key of doc d is
// rng_bits(opt.seed, global doc index d), then the doc index. With m = max s,
//   loss = Σ_i [log(Σ_{k≥i} e^{s_k − m} + 1e-10) − (s_i − m)]   (sum over the list).
// The gradient includes the (tiny) path through m, as autograd does.
// Single doc: loss log(1 + 1e-10) ≈ 1e-10.
double listmle(const float* s, const float* y, int n, uint64_t doc0, uint64_t seed, double* g, Scratch& w) {
  std::vector<int>& o = w.ord;
  o.resize(n);
  std::iota(o.begin(), o.end(), 0);
  std::sort(o.begin(), o.end(), [&](int a, int b) {
    if (y[a] != y[b]) return y[a] > y[b];
    const uint64_t ka = rng_bits(seed, doc0 + a), kb = rng_bits(seed, doc0 + b);
    if (ka != kb) return ka < kb;
    return a < b;
  });
  int am = 0;
  for (int i = 1; i < n; ++i)
    if (s[i] > s[am]) am = i;
  const double m = s[am];
  w.a.resize(n);  // e in sorted order
  w.b.resize(n);  // suffix sums E_i
  for (int i = 0; i < n; ++i) w.a[i] = std::exp(s[o[i]] - m);
  double acc = 0;
  for (int i = n - 1; i >= 0; --i) {
    acc += w.a[i];
    w.b[i] = acc;
  }
  double l = 0;
  for (int i = 0; i < n; ++i) l += std::log(w.b[i] + kEps) - (s[o[i]] - m);
  if (g) {
    // ∂/∂s_{o(k)} = e_k·Σ_{i≤k} 1/(E_i+eps) − 1; ∂/∂m = Σ_i [1 − E_i/(E_i+eps)] = Σ eps/(E_i+eps).
    double pref = 0, dm = 0;
    for (int k = 0; k < n; ++k) {
      pref += 1.0 / (w.b[k] + kEps);
      dm += kEps / (w.b[k] + kEps);
      g[o[k]] = w.a[k] * pref - 1.0;
    }
    g[am] += dm;
  }
  return l;
}

// allRank approxNDCGLoss (α = 1/temperature, eps 1e-10, no truncation):
//   r̂_i = 1 + Σ_{j≠i} max(σ(−α(s_i − s_j)), eps),
//   loss = −Σ_i G_i / log2(1 + r̂_i),  G_i = gain(y_i)/max(maxDCG, eps)
// (maxDCG over the whole list). No relevant doc → G = 0 → loss 0, grad 0.
// Single doc: r̂ = 1, loss −G = −1 if its label is relevant (grad 0).
double approx_ndcg(const float* s, const float* y, int n, const LossOptions& opt, double* g, Scratch& w) {
  const double alpha = 1.0 / static_cast<double>(opt.temperature);
  const double maxdcg = std::max(ideal_dcg(y, n, n, opt.powered_gains, w.a), kEps);
  w.b.assign(n, 0.0);  // r̂
  for (int i = 0; i < n; ++i) {
    double r = 1.0;
    for (int j = 0; j < n; ++j)
      if (j != i) r += std::max(sigmoid(-alpha * (static_cast<double>(s[i]) - s[j])), kEps);
    w.b[i] = r;
  }
  double l = 0;
  w.c.resize(n);  // ∂loss/∂r̂_i
  for (int i = 0; i < n; ++i) {
    const double G = gain_of(y[i], opt.powered_gains) / maxdcg;
    const double lg = std::log2(1.0 + w.b[i]);
    l -= G / lg;
    w.c[i] = G / (lg * lg * (1.0 + w.b[i]) * std::log(2.0));
  }
  if (g) {
    for (int i = 0; i < n; ++i) g[i] = 0.0;
    for (int i = 0; i < n; ++i) {
      if (w.c[i] == 0.0) continue;
      for (int j = 0; j < n; ++j) {
        if (j == i) continue;
        const double sg = sigmoid(-alpha * (static_cast<double>(s[i]) - s[j]));
        if (sg < kEps) continue;  // clamped: no gradient
        const double d = w.c[i] * alpha * sg * (1.0 - sg);  // ∂r̂_i/∂s_j = α·σ'(·)
        g[i] -= d;
        g[j] += d;
      }
    }
  }
  return l;
}

// allRank neuralNDCG (transposed = false) and neuralNDCG_transposed:
//   P̂ = NeuralSort(s; τ = opt.temperature) (deterministic), Q = Sinkhorn(P̂):
//   repeat ≤ max_iter: divide columns by max(colsum, 1e-10), then rows by
//   max(rowsum, 1e-10); stop once max|rowsum − 1| < tol and max|colsum − 1| <
//   tol (checked per list; allRank checks the whole padded batch at once, so
//   its lists may run a few extra iterations, each changing Q by < tol).
//   DCG = Σ_i d_i Σ_j Q_ij g_j with d_i = 1/log2(i + 2) for i < k, else 0;
//   the transposed form Σ_j g_j (Qᵀd)_j is the same number; the variants differ
//   only in allRank's quirk that the transposed IDCG always uses 2^y − 1.
//   loss = −DCG/(IDCG@k + 1e-10), IDCG exact. IDCG = 0 → loss 0, grad 0 (allRank
//   excludes those queries from its mean; the JS layer counts them out).
//   k = 0 or k > n → n. Single doc: P̂ = Q = [[1]], loss −1 if relevant, grad 0.
// Gradient: Sinkhorn is kept in vector form Q = diag(R)·P̂·diag(C) with
// C ← 1/(P̂ᵀR), R ← 1/(P̂C) (or the clamped C/eps, R/eps); reverse mode runs
// through the stored per-iteration R, C (O(iter·n)); ∂L/∂P̂ is a sum of
// 2·iter + 1 rank-one terms, materialised once (n×n) and fed to the analytic
// NeuralSort backward.
double neural_ndcg(const float* s, const float* y, int n, const LossOptions& opt, bool transposed, double* g,
                   Scratch& w) {
  const int k = (opt.k == 0 || opt.k > static_cast<uint32_t>(n)) ? n : static_cast<int>(opt.k);
  const double idcg = ideal_dcg(y, n, k, transposed ? true : opt.powered_gains, w.a);
  if (g) std::fill(g, g + n, 0.0);
  if (!(idcg > 0)) return 0.0;
  const double Z = idcg + kEps;
  const size_t nn = static_cast<size_t>(n) * n;
  w.pm.resize(nn);
  const uint32_t off[2] = {0, static_cast<uint32_t>(n)};
  const uint64_t moff[2] = {0, nn};
  NeuralSortOptions nso;
  nso.tau = opt.temperature;
  neuralsort_matrix(s, off, 1, moff, nso, w.pm.data());
  const float* P = w.pm.data();
  const int T_max = opt.sinkhorn_max_iter;
  const double tol = opt.sinkhorn_tol;
  // histories: R^t, C^t for t = 0..T (n each)
  std::vector<double>& HR = w.hist_r;
  std::vector<double>& HC = w.hist_c;
  HR.assign(static_cast<size_t>(T_max + 1) * n, 1.0);
  HC.assign(static_cast<size_t>(T_max + 1) * n, 1.0);
  w.rc.assign(static_cast<size_t>(T_max + 1) * n, 1);
  w.cc.assign(static_cast<size_t>(T_max + 1) * n, 1);
  std::vector<double>& x = w.b;  // Pᵀ R
  std::vector<double>& yv = w.c;  // P C
  x.assign(n, 0.0);
  yv.assign(n, 0.0);
  auto matvec_t = [&](const double* r, double* out) {  // out = Pᵀ r
    std::fill(out, out + n, 0.0);
    for (int i = 0; i < n; ++i) {
      const double ri = r[i];
      const float* row = P + static_cast<size_t>(i) * n;
      for (int j = 0; j < n; ++j) out[j] += ri * row[j];
    }
  };
  auto matvec = [&](const double* c, double* out) {  // out = P c
    for (int i = 0; i < n; ++i) {
      const float* row = P + static_cast<size_t>(i) * n;
      double l4[4] = {0, 0, 0, 0};
      int j = 0;
      for (; j + 4 <= n; j += 4)
        for (int t = 0; t < 4; ++t) l4[t] += row[j + t] * c[j + t];
      double acc = (l4[0] + l4[1]) + (l4[2] + l4[3]);
      for (; j < n; ++j) acc += row[j] * c[j];
      out[i] = acc;
    }
  };
  matvec_t(&HR[0], x.data());
  int T = 0;
  for (int t = 1; t <= T_max; ++t) {
    const double* Rp = &HR[static_cast<size_t>(t - 1) * n];
    const double* Cp = &HC[static_cast<size_t>(t - 1) * n];
    double* Rt = &HR[static_cast<size_t>(t) * n];
    double* Ct = &HC[static_cast<size_t>(t) * n];
    unsigned char* rct = &w.rc[static_cast<size_t>(t) * n];
    unsigned char* cct = &w.cc[static_cast<size_t>(t) * n];
    for (int j = 0; j < n; ++j) {
      const double cs = Cp[j] * x[j];
      cct[j] = cs >= kEps;
      Ct[j] = cct[j] ? 1.0 / x[j] : Cp[j] / kEps;
    }
    matvec(Ct, yv.data());
    double rerr = 0;
    for (int i = 0; i < n; ++i) {
      const double rs = Rp[i] * yv[i];
      rct[i] = rs >= kEps;
      Rt[i] = rct[i] ? 1.0 / yv[i] : Rp[i] / kEps;
      rerr = std::max(rerr, std::fabs(Rt[i] * yv[i] - 1.0));
    }
    matvec_t(Rt, x.data());
    double cerr = 0;
    for (int j = 0; j < n; ++j) cerr = std::max(cerr, std::fabs(Ct[j] * x[j] - 1.0));
    T = t;
    if (rerr < tol && cerr < tol) break;
  }
  const double* RT = &HR[static_cast<size_t>(T) * n];
  const double* CT = &HC[static_cast<size_t>(T) * n];
  std::vector<double>& gn = w.d;  // gains
  gn.resize(n);
  for (int j = 0; j < n; ++j) gn[j] = gain_of(y[j], opt.powered_gains);
  std::vector<double> wv(n), a(n);
  for (int j = 0; j < n; ++j) wv[j] = CT[j] * gn[j];
  matvec(wv.data(), a.data());  // a = P (C⊙g)
  double dcg = 0;
  for (int i = 0; i < k; ++i) dcg += disc(i) * RT[i] * a[i];
  const double loss = -dcg / Z;
  if (!g) return loss;

  // ---- reverse mode ----
  std::vector<double> Rb(n, 0.0), Cb(n, 0.0), ev(n), bv(n), L0(n), tmp(n);
  for (int i = 0; i < n; ++i) {
    const double di = i < k ? disc(i) : 0.0;
    Rb[i] = -di * a[i] / Z;
    ev[i] = RT[i] * di;
    L0[i] = -di * RT[i] / Z;
  }
  matvec_t(ev.data(), bv.data());
  for (int j = 0; j < n; ++j) Cb[j] = -gn[j] * bv[j] / Z;
  std::vector<double>& YB = w.hist_yb;  // ȳ^t
  std::vector<double>& XB = w.hist_xb;  // x̄^t
  YB.assign(static_cast<size_t>(T + 1) * n, 0.0);
  XB.assign(static_cast<size_t>(T + 1) * n, 0.0);
  for (int t = T; t >= 1; --t) {
    const double* Rt = &HR[static_cast<size_t>(t) * n];
    const double* Ct = &HC[static_cast<size_t>(t) * n];
    const unsigned char* rct = &w.rc[static_cast<size_t>(t) * n];
    const unsigned char* cct = &w.cc[static_cast<size_t>(t) * n];
    double* yb = &YB[static_cast<size_t>(t) * n];
    double* xb = &XB[static_cast<size_t>(t) * n];
    // R^t = 1/(P C^t) (or R^{t−1}/eps)
    for (int i = 0; i < n; ++i) {
      if (rct[i]) {
        yb[i] = -Rb[i] * Rt[i] * Rt[i];
        Rb[i] = 0.0;
      } else {
        yb[i] = 0.0;
        Rb[i] = Rb[i] / kEps;
      }
    }
    matvec_t(yb, tmp.data());
    for (int j = 0; j < n; ++j) Cb[j] += tmp[j];
    // C^t = 1/(Pᵀ R^{t−1}) (or C^{t−1}/eps)
    for (int j = 0; j < n; ++j) {
      if (cct[j]) {
        xb[j] = -Cb[j] * Ct[j] * Ct[j];
        Cb[j] = 0.0;
      } else {
        xb[j] = 0.0;
        Cb[j] = Cb[j] / kEps;
      }
    }
    matvec(xb, tmp.data());
    for (int i = 0; i < n; ++i) Rb[i] += tmp[i];
  }
  // ∂L/∂P̂_ij = L0_i (C^T⊙g)_j + Σ_t ȳ^t_i C^t_j + Σ_t R^{t−1}_i x̄^t_j
  w.gm.resize(nn);
  std::vector<double> row(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) row[j] = L0[i] * wv[j];
    for (int t = 1; t <= T; ++t) {
      const double cy = YB[static_cast<size_t>(t) * n + i];
      if (cy != 0.0) {
        const double* Ct = &HC[static_cast<size_t>(t) * n];
        for (int j = 0; j < n; ++j) row[j] += cy * Ct[j];
      }
      const double cr = HR[static_cast<size_t>(t - 1) * n + i];
      const double* xb = &XB[static_cast<size_t>(t) * n];
      for (int j = 0; j < n; ++j) row[j] += cr * xb[j];
    }
    float* grow = w.gm.data() + static_cast<size_t>(i) * n;
    for (int j = 0; j < n; ++j) grow[j] = static_cast<float>(row[j]);
  }
  std::vector<float> gs(n);
  neuralsort_matrix_backward(s, off, 1, moff, nso, w.gm.data(), gs.data());
  for (int j = 0; j < n; ++j) g[j] = gs[j];
  return loss;
}

// allRank lambdaLoss(weighing_scheme = "ndcgLoss2PP_scheme", reduction = "sum",
// reduction_log = "binary"): positions p, q = 1..n in predicted order (stable
// sort by score, descending), G_p = gain(y_p)/max(maxDCG@k, eps),
// D_p = log2(1 + p), pairs with y_p > y_q and both p, q ≤ k (k = 0 → n),
//   w_pq = μ·δ_{|p−q|}·|G_p − G_q| + |1/D_p − 1/D_q|·|G_p − G_q|,
//   δ_t = |1/log2(1 + t) − 1/log2(2 + t)|,
//   loss = −Σ_pairs log2(max(max(σ(σ_s·(s_p − s_q)), eps)^{w_pq}, eps)),
// score differences clamped to ±1e8. The weights are constants (they depend on
// labels and sorted positions only, as allRank computes them without a
// gradient path through the sort). Sum over the list's pairs; no pair → 0.
double lambdaloss(const float* s, const float* y, int n, const LossOptions& opt, double* g, Scratch& w) {
  if (g) std::fill(g, g + n, 0.0);
  const int k = (opt.k == 0 || opt.k > static_cast<uint32_t>(n)) ? n : static_cast<int>(opt.k);
  const double maxdcg = std::max(ideal_dcg(y, n, k, opt.powered_gains, w.a), kEps);
  order_by_score(s, n, w.ord);
  const std::vector<int>& o = w.ord;
  const double sig = opt.sigma, mu = opt.mu;
  const double log_eps = std::log(kEps);
  double l = 0;
  for (int p = 0; p < k; ++p) {
    for (int q = 0; q < k; ++q) {
      const int dp = o[p], dq = o[q];
      if (!(y[dp] > y[dq])) continue;
      const double Gp = gain_of(y[dp], opt.powered_gains) / maxdcg, Gq = gain_of(y[dq], opt.powered_gains) / maxdcg;
      const double dG = std::fabs(Gp - Gq);
      const int t = std::abs(p - q);
      const double delta = std::fabs(1.0 / std::log2(1.0 + t) - 1.0 / std::log2(2.0 + t));
      const double lr = std::fabs(1.0 / std::log2(2.0 + p) - 1.0 / std::log2(2.0 + q));
      const double wt = mu * delta * dG + lr * dG;
      double x = static_cast<double>(s[dp]) - s[dq];
      bool clamped_x = false;
      if (x > 1e8) {
        x = 1e8;
        clamped_x = true;
      } else if (x < -1e8) {
        x = -1e8;
        clamped_x = true;
      }
      const double ls = -softplus(-sig * x);  // log σ(σ_s x)
      if (ls < log_eps) {                      // σ clamped at eps: constant
        const double lw = wt * log_eps;
        l -= std::max(lw, log_eps) / std::log(2.0);
        continue;
      }
      const double lw = wt * ls;  // log(σ^w)
      if (lw < log_eps) {
        l -= log_eps / std::log(2.0);
        continue;
      }
      l -= lw / std::log(2.0);
      if (g && !clamped_x && wt != 0.0) {
        // d/dx [−w·log2 σ(σ_s x)] = −(w/ln2)·σ_s·σ(−σ_s x)
        const double d = -(wt / std::log(2.0)) * sig * sigmoid(-sig * x);
        g[dp] += d;
        g[dq] -= d;
      }
    }
  }
  return l;
}

void check_finite_pos(float v, const char* name) {
  if (!(v > 0.0f) || !std::isfinite(v))
    throw ArgumentError(std::string("ranking_loss: option ") + name + " must be a finite number > 0, got " +
                        std::to_string(v));
}

}  // namespace

void ranking_loss(LossKind kind, const float* scores, const float* labels, const uint32_t* offsets,
                  int64_t num_lists, const LossOptions& opt, float* loss_per_list, float* grad_scores) {
  if (num_lists < 0) throw ArgumentError("ranking_loss: num_lists must be >= 0");
  if (num_lists == 0) return;
  if (!offsets || !loss_per_list) throw ArgumentError("ranking_loss: offsets and loss_per_list must not be null");
  for (int64_t q = 0; q < num_lists; ++q)
    if (offsets[q + 1] < offsets[q])
      throw ArgumentError("ranking_loss: offsets must be non-decreasing (offsets[" + std::to_string(q + 1) + "] < offsets[" +
                          std::to_string(q) + "])");
  switch (kind) {
    case LossKind::RankNet:
    case LossKind::LambdaRank:
    case LossKind::LambdaLossNDCG2PP:
      check_finite_pos(opt.sigma, "sigma");
      break;
    case LossKind::ApproxNDCG:
    case LossKind::NeuralNDCG:
    case LossKind::NeuralNDCGTransposed:
      check_finite_pos(opt.temperature, "temperature");
      break;
    case LossKind::PointwiseMSE:
    case LossKind::SigmoidCrossEntropy:
    case LossKind::SoftmaxCrossEntropy:
    case LossKind::ListNet:
    case LossKind::ListMLE:
      break;
    default:
      throw ArgumentError("ranking_loss: unknown loss kind " + std::to_string(static_cast<int>(kind)));
  }
  if (kind == LossKind::LambdaLossNDCG2PP && (!(opt.mu >= 0.0f) || !std::isfinite(opt.mu)))
    throw ArgumentError("ranking_loss: option mu must be a finite number >= 0, got " + std::to_string(opt.mu));
  if (kind == LossKind::NeuralNDCG || kind == LossKind::NeuralNDCGTransposed) {
    if (opt.sinkhorn_max_iter < 0)
      throw ArgumentError("ranking_loss: option sinkhorn_max_iter must be >= 0, got " +
                          std::to_string(opt.sinkhorn_max_iter));
    if (!(opt.sinkhorn_tol >= 0.0f) || !std::isfinite(opt.sinkhorn_tol))
      throw ArgumentError("ranking_loss: option sinkhorn_tol must be a finite number >= 0, got " +
                          std::to_string(opt.sinkhorn_tol));
  }
  double label_max = opt.label_max;
  if (kind == LossKind::SigmoidCrossEntropy) {
    if (!(opt.label_max >= 0.0f) || !std::isfinite(opt.label_max))
      throw ArgumentError("ranking_loss: option label_max must be a finite number >= 0, got " +
                          std::to_string(opt.label_max));
    if (label_max == 0.0) {
      const uint32_t nd = offsets[num_lists] - offsets[0];
      for (uint32_t d = 0; d < nd; ++d) label_max = std::max(label_max, static_cast<double>(labels[offsets[0] + d]));
    }
  }
  parallel_for(num_lists, 1, [&](int64_t q0, int64_t q1, int) {
    Scratch w;
    std::vector<double> gd;
    for (int64_t q = q0; q < q1; ++q) {
      const uint32_t d0 = offsets[q];
      const int n = static_cast<int>(offsets[q + 1] - d0);
      if (n == 0) {
        loss_per_list[q] = 0.0f;
        continue;
      }
      const float* s = scores + d0;
      const float* y = labels + d0;
      gd.assign(n, 0.0);
      double* g = grad_scores ? gd.data() : nullptr;
      double l = 0;
      switch (kind) {
        case LossKind::PointwiseMSE: l = mse(s, y, n, g); break;
        case LossKind::SigmoidCrossEntropy: l = sigmoid_ce(s, y, n, label_max, g); break;
        case LossKind::SoftmaxCrossEntropy: l = softmax_ce(s, y, n, g, w); break;
        case LossKind::RankNet: l = ranknet(s, y, n, opt.sigma, g); break;
        case LossKind::LambdaRank: l = lambdarank(s, y, n, opt, g, w); break;
        case LossKind::ListNet: l = listnet(s, y, n, g, w); break;
        case LossKind::ListMLE: l = listmle(s, y, n, d0, opt.seed, g, w); break;
        case LossKind::ApproxNDCG: l = approx_ndcg(s, y, n, opt, g, w); break;
        case LossKind::NeuralNDCG: l = neural_ndcg(s, y, n, opt, false, g, w); break;
        case LossKind::NeuralNDCGTransposed: l = neural_ndcg(s, y, n, opt, true, g, w); break;
        case LossKind::LambdaLossNDCG2PP: l = lambdaloss(s, y, n, opt, g, w); break;
      }
      loss_per_list[q] = saturate_to_float(l);
      if (grad_scores)
        for (int i = 0; i < n; ++i) grad_scores[d0 + i] = saturate_to_float(gd[i]);
    }
  });
}

}  // namespace cpu
}  // namespace ordo
