// NeuralSort (Grover et al., "Stochastic Optimization of Sorting Networks via
// Continuous Relaxations", ICLR 2019), CPU reference, parallel over lists.
//
// Formulas (core/neuralsort.h): for a list of n scores s (0-based rows i),
//   c_i = n − 1 − 2i,  b_j = Σ_k |s_j − s_k|,
//   z_ij = (c_i·s_j − b_j)/τ,   P̂[i, j] = softmax_j(z_ij).
//
// Numerics.
//  * Scores are widened to double; b, s/τ and b/τ are double, so the
//    cancellation in c_i·s_j − b_j (both ~n·|s|) keeps ~1e-16 relative error
//    and ±1e30 scores stay finite (|z| ≤ ~1e36 ≪ DBL_MAX).
//  * The row max is known analytically: z_i· is a concave function of s_j
//    (b is convex piecewise linear with slope #below − #above), maximised at
//    the doc of rank i (Grover et al., Thm. 1). So m_i = z_{i,π(i)}, π the
//    descending order, costs O(1) per row and no max pass is needed; z − m is
//    clamped at 0 against rounding.
//  * exp runs in float on z − m − lse ∈ (−∞, 0] (a small polynomial exp,
//    error ≲ 2 ulp, vectorisable).
//  * b_j is computed per tie group from one sort + prefix sums (O(n log n)),
//    so tied scores get bit-identical b (hard argmax ties then resolve to the
//    lowest j, as documented).
//
// Row statistics (neuralsort_apply): row_stats[2·d] = the row max m_i (as a
// float, informative), row_stats[2·d+1] = log Σ_j exp(z_ij − m_i) (relative to
// the exact max, in [0, log n]). The backward recomputes m_i exactly in O(1)
// from the sort and uses the stored log-sum-exp, so it needs one exp per P̂
// entry and no extra normalisation pass. Storing the absolute log-sum-exp as a
// float would lose ~|z|·6e-8 (0.1 for τ = 1e-3, n = 2000): not acceptable.
//
// Backward (core/neuralsort.h, derived in shared notes §1.2):
//   H = P̂ ⊙ (G − rowsum(P̂⊙G)),  u = colsum(H),  σ_m = #below(m) − #above(m),
//   ∂L/∂s_m = (1/τ)[Σ_i c_i H_im − σ_m u_m − Σ_j sign(s_m − s_j) u_j].
// We accumulate W_m = Σ_i (c_i − σ_m)·H_im directly: P̂ concentrates where
// c_i ≈ σ_m, so this avoids the n-fold cancellation of Σ c_i H − σ u.
// Σ_j sign(s_m − s_j) u_j comes from prefix sums over the sorted order.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/neuralsort.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/neuralsort_avx2.h"

namespace ordo {
namespace cpu {
namespace {

// e^x for x ≤ 0 (x > 0 is not expected; x < −87 gives 0). Cody–Waite range
// reduction x = k·ln2 + r, |r| ≤ ln2/2, Cephes expf polynomial for e^r.
inline float exp_nonpos(float x) {
  const float xc = x < -87.0f ? -87.0f : x;
  const float t = xc * 1.44269504088896341f;
  const float kf = (t + 12582912.0f) - 12582912.0f;  // round to nearest
  const float r = (xc - kf * 0.693359375f) + kf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int ki = static_cast<int>(kf);
  const uint32_t bits = static_cast<uint32_t>(ki + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x < -87.0f ? 0.0f : p * scale;
}

// 2^x for x ≤ 0 (x < −125 gives 0): scalar twin of nsk::exp2_nonpos8.
inline float exp2_nonpos(float x) {
  const float xc = x < -125.0f ? -125.0f : x;
  const float y = xc + 12582912.0f;
  const float f = xc - (y - 12582912.0f);
  float p = nsk::kExp2C6;
  p = p * f + nsk::kExp2C5;
  p = p * f + nsk::kExp2C4;
  p = p * f + nsk::kExp2C3;
  p = p * f + nsk::kExp2C2;
  p = p * f + nsk::kExp2C1;
  p = p * f + 1.0f;
  uint32_t ybits;
  std::memcpy(&ybits, &y, 4);
  const uint32_t bits = (ybits + 127u) << 23;
  float scale;
  std::memcpy(&scale, &bits, 4);
  return x < -125.0f ? 0.0f : p * scale;
}

void check_options(const NeuralSortOptions& opt, const char* fn) {
  if (!(opt.tau > 0.0f) || !std::isfinite(opt.tau))
    throw ArgumentError(std::string(fn) + ": option tau must be a finite number > 0, got " + std::to_string(opt.tau));
  if (opt.gumbel && (!(opt.gumbel_beta >= 0.0f) || !std::isfinite(opt.gumbel_beta)))
    throw ArgumentError(std::string(fn) + ": option gumbel_beta must be finite and >= 0, got " +
                        std::to_string(opt.gumbel_beta));
}

void check_offsets(const uint32_t* offsets, int64_t num_lists, const char* fn) {
  if (num_lists < 0) throw ArgumentError(std::string(fn) + ": num_lists must be >= 0");
  if (num_lists > 0 && offsets == nullptr) throw ArgumentError(std::string(fn) + ": offsets is null");
  for (int64_t q = 0; q < num_lists; ++q)
    if (offsets[q + 1] < offsets[q])
      throw ArgumentError(std::string(fn) + ": offsets must be non-decreasing (offsets[" + std::to_string(q + 1) +
                          "] < offsets[" + std::to_string(q) + "])");
}

// Per-list prepared state, reused across lists of one chunk.
struct ListState {
  int n = 0;
  std::vector<double> sd;     // s'/τ (s' = s + β·gumbel when enabled)
  std::vector<double> bd;     // b/τ
  std::vector<double> rmax;   // row max m_i (scaled logits)
  std::vector<int> order;     // descending order of s' (ties: lower index first)
  std::vector<double> sigma;  // σ_m = #below − #above
  std::vector<int> grp_lo, grp_hi;  // per doc: its tie group's [lo, hi) in `order`
  std::vector<float> tbuf;    // one row of shifted logits / probabilities
  std::vector<float> acc_u, acc_w, acc_v;  // backward column accumulators (float: 4-wide vectorised)
  std::vector<float> sigf;                 // σ as float
  std::vector<double> gcol;   // generic per-column scratch

  void prepare(const float* s, uint64_t doc0, int len, const NeuralSortOptions& opt) {
    n = len;
    sd.resize(n);
    bd.resize(n);
    rmax.resize(n);
    order.resize(n);
    sigma.resize(n);
    grp_lo.resize(n);
    grp_hi.resize(n);
    tbuf.resize(n);
    std::vector<double>& sp = gcol;
    sp.resize(n);
    for (int j = 0; j < n; ++j) {
      double v = s[j];
      if (opt.gumbel) {
        const double u = rng_uniform(opt.seed, doc0 + j);
        v += static_cast<double>(opt.gumbel_beta) * (-std::log(-std::log(u)));
      }
      sp[j] = v;
    }
    for (int j = 0; j < n; ++j) order[j] = j;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return sp[a] > sp[b] || (sp[a] == sp[b] && a < b); });
    // Prefix sums over the descending order; per tie group [lo, hi):
    //   b = Σ_{above} (s_k − a) + Σ_{below} (a − s_k),  σ = #below − #above.
    double total = 0.0;
    for (int j = 0; j < n; ++j) total += sp[j];
    double above_sum = 0.0;  // sum of s over positions < lo
    const double inv_tau = 1.0 / static_cast<double>(opt.tau);
    for (int lo = 0; lo < n;) {
      const double a = sp[order[lo]];
      int hi = lo + 1;
      while (hi < n && sp[order[hi]] == a) ++hi;
      double grp_sum = a * (hi - lo);
      const double below_sum = total - above_sum - grp_sum;
      const double b = (above_sum - a * lo) + (a * (n - hi) - below_sum);
      for (int p = lo; p < hi; ++p) {
        const int j = order[p];
        bd[j] = b * inv_tau;
        sd[j] = a * inv_tau;
        sigma[j] = static_cast<double>((n - hi) - lo);
        grp_lo[j] = lo;
        grp_hi[j] = hi;
      }
      above_sum += grp_sum;
      lo = hi;
    }
    sigf.resize(n);
    for (int j = 0; j < n; ++j) sigf[j] = static_cast<float>(sigma[j]);
    for (int i = 0; i < n; ++i) {
      const int j = order[i];
      rmax[i] = static_cast<double>(n - 1 - 2 * i) * sd[j] - bd[j];
    }
  }

  // tbuf[j] = min(z_ij − m_i, 0) − shift, as float.
  void row_logits(int i, double shift) {
    const double ci = static_cast<double>(n - 1 - 2 * i);
    const double m = rmax[i];
    const double* s = sd.data();
    const double* b = bd.data();
    float* t = tbuf.data();
    for (int j = 0; j < n; ++j) {
      const double z = ci * s[j] - b[j] - m;
      t[j] = static_cast<float>((z < 0.0 ? z : 0.0) - shift);
    }
  }
  // tbuf[j] = exp(tbuf[j]); returns Σ_j (in double, 8 float lanes).
  double row_exp_sum() {
    float* t = tbuf.data();
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; ++l) {
        const float e = exp_nonpos(t[j + l]);
        t[j + l] = e;
        lane[l] += e;
      }
    double sum = 0.0;
    for (; j < n; ++j) {
      t[j] = exp_nonpos(t[j]);
      sum += t[j];
    }
    for (int l = 0; l < 8; ++l) sum += lane[l];
    return sum;
  }
  // Σ_j tbuf[j]·v[j] (8 float lanes).
  double row_dot(const float* v) const {
    const float* t = tbuf.data();
    float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int j = 0;
    for (; j + 8 <= n; j += 8)
      for (int l = 0; l < 8; ++l) lane[l] += t[j + l] * v[j + l];
    double sum = 0.0;
    for (; j < n; ++j) sum += static_cast<double>(t[j]) * v[j];
    for (int l = 0; l < 8; ++l) sum += lane[l];
    return sum;
  }
  // Soft row i of P̂ into tbuf (normalised); returns its log-sum-exp.
  double soft_row(int i) {
    row_logits(i, 0.0);
    const double sum = row_exp_sum();
    const float inv = static_cast<float>(1.0 / sum);
    for (int j = 0; j < n; ++j) tbuf[j] *= inv;
    return std::log(sum);
  }
  // Hard row i: argmax_j z_ij, ties → lowest j.
  int hard_argmax(int i) const {
    const double ci = static_cast<double>(n - 1 - 2 * i);
    int best = 0;
    double bz = ci * sd[0] - bd[0];
    for (int j = 1; j < n; ++j) {
      const double z = ci * sd[j] - bd[j];
      if (z > bz) {
        bz = z;
        best = j;
      }
    }
    return best;
  }

  void begin_backward() {
    acc_u.assign(n, 0.0f);
    acc_w.assign(n, 0.0f);
  }
  // Accumulates row i's H_ij = p_ij·(G_ij − r) where h[j] holds G_ij − r in
  // place of G (caller-provided), p in tbuf.
  void accumulate_row(int i, const float* gmr) {
    const float ci = static_cast<float>(n - 1 - 2 * i);
    const float* p = tbuf.data();
    float* u = acc_u.data();
    float* w = acc_w.data();
    const float* sg = sigf.data();
    for (int j = 0; j < n; ++j) {
      const float h = p[j] * gmr[j];
      u[j] += h;
      w[j] += (ci - sg[j]) * h;
    }
  }
  // grad[m] = (1/τ)[W_m − Σ_j sign(s_m − s_j) u_j].
  void finish_backward(float inv_tau, float* grad) const {
    // prefix sums of u over the descending order
    double above = 0.0, total = 0.0;
    for (int j = 0; j < n; ++j) total += static_cast<double>(acc_u[j]);
    for (int lo = 0; lo < n;) {
      const int hi = grp_hi[order[lo]];
      double grp = 0.0;
      for (int p = lo; p < hi; ++p) grp += acc_u[order[p]];
      const double below = total - above - grp;
      const double su = below - above;  // Σ_{s_j<s_m} u_j − Σ_{s_j>s_m} u_j
      for (int p = lo; p < hi; ++p) {
        const int m = order[p];
        grad[m] = static_cast<float>(static_cast<double>(inv_tau) * (static_cast<double>(acc_w[m]) - su));
      }
      above += grp;
      lo = hi;
    }
  }
};

// ---------------------------------------------------------------------------
// Fast path for neuralsort_apply / neuralsort_apply_backward.
//
// Rows work in descending-score order (sorted position k, doc order[k]), so
// that row i's non-negligible entries form one contiguous window around k = i:
// z_i,order[k] − m_i is non-increasing away from k = i (the per-step change is
// (2i − 2l − 1)·(gap_l)/τ ≤ 0), and the window only moves right as i grows
// (two pointers, O(n) per list). The kernels use base-2 logits (S, B scaled by
// log2 e in double, so the cancellation stays exact to ~1e-16 relative) and a
// float exp2. Entries with z − m < −(ln n + 40 ln 2) are skipped: together
// they hold < 2^-40 of the row's mass relative to its max entry (the float
// exp itself is only good to ~1e-7). Windows are widened to whole 8-blocks
// (their extra entries are computed, or are padding giving exactly 0). The
// blocks depend only on the list, so forward and backward see the same
// entries and results do not depend on the thread count. Row kernels:
// nsk::*_avx2 (AVX2+FMA, neuralsort_avx2.cc) or the portable ones below.
constexpr double kLog2e = 1.4426950408889634074;
constexpr double kLn2 = 0.69314718055994530942;

bool avx2_enabled() {
#if defined(ORDO_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__)) && \
    (defined(__x86_64__) || defined(__i386__))
  static const bool on = [] {
    const char* env = std::getenv("ORDO_NO_AVX2");
    if (env && env[0] && std::strcmp(env, "0") != 0) return false;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return on;
#else
  return false;
#endif
}

// Portable row kernels (same contract as neuralsort_avx2.h, unfused logits).
void fwd_row_portable(const double* S, const double* B, const float* V, int k0, int k1, double ci, double m,
                      double* sum, double* dot) {
  float ls[8] = {0, 0, 0, 0, 0, 0, 0, 0}, ld[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int k = k0; k < k1; k += 8) {
    float x[8];
    for (int l = 0; l < 8; ++l) {
      const float t = static_cast<float>(ci * S[k + l] - B[k + l] - m);
      x[l] = t < 0.0f ? t : 0.0f;
    }
    for (int l = 0; l < 8; ++l) {
      const float e = exp2_nonpos(x[l]);
      ls[l] += e;
      ld[l] += e * V[k + l];
    }
  }
  double s = 0.0, d = 0.0;
  for (int l = 0; l < 8; ++l) s += ls[l];
  for (int l = 0; l < 8; ++l) d += ld[l];
  *sum = s;
  *dot = d;
}

void bwd_row_portable(const double* S, const double* B, const float* V, const float* sig, int k0, int k1, double ci,
                      double m, float lse, float g, float* p, float* U, float* W, float* A) {
  float ld[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int k = k0; k < k1; k += 8) {
    for (int l = 0; l < 8; ++l) {
      const float t = static_cast<float>(ci * S[k + l] - B[k + l] - m);
      p[k + l] = (t < 0.0f ? t : 0.0f) - lse;
    }
    for (int l = 0; l < 8; ++l) {
      const float e = exp2_nonpos(p[k + l]);
      p[k + l] = e;
      ld[l] += e * V[k + l];
    }
  }
  double y = 0.0;
  for (int l = 0; l < 8; ++l) y += ld[l];
  const float gy = static_cast<float>(static_cast<double>(g) * y);
  const float cf = static_cast<float>(ci);
  for (int k = k0; k < k1; ++k) {
    const float h = p[k] * (g * V[k] - gy);
    U[k] += h;
    W[k] += (cf - sig[k]) * h;
  }
  if (A)
    for (int k = k0; k < k1; ++k) A[k] += g * p[k];
}

struct RowKernels {
  bool fused;  // m_i must use the kernels' logit formula (fma or not)
  void (*fwd)(const double*, const double*, const float*, int, int, double, double, double*, double*);
  void (*bwd)(const double*, const double*, const float*, const float*, int, int, double, double, float, float, float*,
              float*, float*, float*);
};

RowKernels row_kernels() {
#if defined(ORDO_HAVE_AVX2_KERNELS)
  if (avx2_enabled()) return {true, nsk::fwd_row_avx2, nsk::bwd_row_avx2};
#endif
  return {false, fwd_row_portable, bwd_row_portable};
}

// Per-list state in sorted order, reused across the lists of one chunk (O(n)).
struct SortedState {
  int n = 0, n8 = 0;
  std::vector<double> S, B, m;    // log2e·s'/τ, log2e·b/τ (sorted order, padded); row max m_i (base 2)
  std::vector<double> Sn, Bn;     // s'/τ, b/τ (sorted order; hard argmax)
  double cut = 0.0;               // window cut on base-2 logits
  std::vector<float> V, sig;      // values, σ (sorted order, padded)
  std::vector<float> p, U, W, A;  // backward row / column accumulators (padded)
  std::vector<int> order;         // sorted position → doc (descending s', ties: lower doc first)
  std::vector<int> grp_end;       // sorted position → end of its tie group
  std::vector<double> sp;         // scratch: s'

  void prepare(const float* s, uint64_t doc0, int len, const NeuralSortOptions& opt, bool fused) {
    n = len;
    n8 = (n + 7) & ~7;
    S.assign(n8, 0.0);
    B.assign(n8, 1e300);  // padding: logit −1e300 → p = 0
    Sn.resize(n);
    Bn.resize(n);
    cut = -(std::log2(static_cast<double>(n)) + 40.0);
    m.resize(n);
    sig.assign(n8, 0.0f);
    order.resize(n);
    grp_end.resize(n);
    sp.resize(n);
    for (int j = 0; j < n; ++j) {
      double v = s[j];
      if (opt.gumbel) {
        const double u = rng_uniform(opt.seed, doc0 + j);
        v += static_cast<double>(opt.gumbel_beta) * (-std::log(-std::log(u)));
      }
      sp[j] = v;
    }
    for (int j = 0; j < n; ++j) order[j] = j;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return sp[a] > sp[b] || (sp[a] == sp[b] && a < b); });
    double total = 0.0;
    for (int j = 0; j < n; ++j) total += sp[j];
    double above_sum = 0.0;
    const double inv_tau = 1.0 / static_cast<double>(opt.tau);
    for (int lo = 0; lo < n;) {
      const double a = sp[order[lo]];
      int hi = lo + 1;
      while (hi < n && sp[order[hi]] == a) ++hi;
      const double grp_sum = a * (hi - lo);
      const double below_sum = total - above_sum - grp_sum;
      const double b = (above_sum - a * lo) + (a * (n - hi) - below_sum);
      for (int k = lo; k < hi; ++k) {
        Bn[k] = b * inv_tau;
        Sn[k] = a * inv_tau;
        B[k] = Bn[k] * kLog2e;
        S[k] = Sn[k] * kLog2e;
        sig[k] = static_cast<float>((n - hi) - lo);
        grp_end[k] = hi;
      }
      above_sum += grp_sum;
      lo = hi;
    }
    for (int i = 0; i < n; ++i) {
      const double ci = static_cast<double>(n - 1 - 2 * i);
      m[i] = fused ? std::fma(ci, S[i], -B[i]) : ci * S[i] - B[i];
    }
  }
  void load_values(const float* v) {
    V.assign(n8, 0.0f);
    for (int k = 0; k < n; ++k) V[k] = v[order[k]];
  }
  double ci(int i) const { return static_cast<double>(n - 1 - 2 * i); }
  // Row i's window [lo, hi) (sorted positions; lo ≤ i < hi), advancing the
  // previous row's window (start with lo = hi = 0 at row 0).
  void window(int i, int& lo, int& hi) const {
    const double c = ci(i), mi = m[i];
    while (lo < i && c * S[lo] - B[lo] - mi < cut) ++lo;
    if (hi < i + 1) hi = i + 1;
    while (hi < n && c * S[hi] - B[hi] - mi >= cut) ++hi;
  }
  // argmax_j z_ij, ties → lowest doc j (as ListState::hard_argmax).
  int hard_argmax(int i) const {
    const double c = ci(i);
    int best = order[0];
    double bz = c * Sn[0] - Bn[0];
    for (int k = 1; k < n; ++k) {
      const double z = c * Sn[k] - Bn[k];
      const int j = order[k];
      if (z > bz || (z == bz && j < best)) {
        bz = z;
        best = j;
      }
    }
    return best;
  }
  // grad[doc] = (1/τ)[W − Σ_j sign(s_doc − s_j) u_j] from the sorted accumulators.
  void finish_backward(float inv_tau, float* grad) const {
    double total = 0.0, above = 0.0;
    for (int k = 0; k < n; ++k) total += static_cast<double>(U[k]);
    for (int lo = 0; lo < n;) {
      const int hi = grp_end[lo];
      double grp = 0.0;
      for (int k = lo; k < hi; ++k) grp += U[k];
      const double su = (total - above - grp) - above;
      for (int k = lo; k < hi; ++k)
        grad[order[k]] = static_cast<float>(static_cast<double>(inv_tau) * (static_cast<double>(W[k]) - su));
      above += grp;
      lo = hi;
    }
  }
};

// Runs body(q) for every list, split over threads into contiguous list ranges
// of about equal Σ n² (the work), fixed by the offsets and the thread count.
template <class Body>
void for_lists_balanced(const uint32_t* offsets, int64_t num_lists, const Body& body) {
  if (num_lists <= 0) return;
  const int threads = std::max(1, num_threads());
  std::vector<double> cum(num_lists + 1, 0.0);
  for (int64_t q = 0; q < num_lists; ++q) {
    const double n = static_cast<double>(offsets[q + 1] - offsets[q]);
    cum[q + 1] = cum[q] + n * n + 16.0 * n + 64.0;
  }
  const int64_t parts = std::min<int64_t>(threads, num_lists);
  std::vector<int64_t> bound(parts + 1, 0);
  bound[parts] = num_lists;
  for (int64_t c = 1; c < parts; ++c) {
    const double target = cum[num_lists] * static_cast<double>(c) / static_cast<double>(parts);
    bound[c] = std::lower_bound(cum.begin(), cum.end(), target) - cum.begin();
    bound[c] = std::max(bound[c - 1], std::min(bound[c], num_lists));
  }
  parallel_for(parts, 1, [&](int64_t c0, int64_t c1, int) {
    SortedState st;  // per-chunk scratch
    for (int64_t q = bound[c0]; q < bound[c1]; ++q) body(st, q);
  });
}

inline int list_len(const uint32_t* offsets, int64_t q) { return static_cast<int>(offsets[q + 1] - offsets[q]); }

}  // namespace

void neuralsort_matrix(const float* scores, const uint32_t* offsets, int64_t num_lists, const uint64_t* mat_offsets,
                       const NeuralSortOptions& opt, float* p_hat) {
  check_options(opt, "neuralsort_matrix");
  check_offsets(offsets, num_lists, "neuralsort_matrix");
  parallel_for(num_lists, 1, [&](int64_t q0, int64_t q1, int) {
    ListState st;
    for (int64_t q = q0; q < q1; ++q) {
      const int n = list_len(offsets, q);
      if (n == 0) continue;
      st.prepare(scores + offsets[q], offsets[q], n, opt);
      float* out = p_hat + mat_offsets[q];
      for (int i = 0; i < n; ++i) {
        float* row = out + static_cast<size_t>(i) * n;
        if (opt.hard) {
          std::fill(row, row + n, 0.0f);
          row[st.hard_argmax(i)] = 1.0f;
        } else {
          st.soft_row(i);
          std::copy(st.tbuf.begin(), st.tbuf.end(), row);
        }
      }
    }
  });
}

void neuralsort_matrix_backward(const float* scores, const uint32_t* offsets, int64_t num_lists,
                                const uint64_t* mat_offsets, const NeuralSortOptions& opt, const float* grad_p_hat,
                                float* grad_scores) {
  check_options(opt, "neuralsort_matrix_backward");
  check_offsets(offsets, num_lists, "neuralsort_matrix_backward");
  parallel_for(num_lists, 1, [&](int64_t q0, int64_t q1, int) {
    ListState st;
    std::vector<float> gmr;
    for (int64_t q = q0; q < q1; ++q) {
      const int n = list_len(offsets, q);
      if (n == 0) continue;
      st.prepare(scores + offsets[q], offsets[q], n, opt);
      st.begin_backward();
      gmr.resize(n);
      const float* g = grad_p_hat + mat_offsets[q];
      for (int i = 0; i < n; ++i) {
        const float* grow = g + static_cast<size_t>(i) * n;
        st.soft_row(i);
        const double r = st.row_dot(grow);  // rowsum(P̂⊙G)_i
        const float rf = static_cast<float>(r);
        for (int j = 0; j < n; ++j) gmr[j] = grow[j] - rf;
        st.accumulate_row(i, gmr.data());
      }
      st.finish_backward(1.0f / opt.tau, grad_scores + offsets[q]);
    }
  });
}

void neuralsort_apply(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,
                      const NeuralSortOptions& opt, float* out, float* row_stats) {
  check_options(opt, "neuralsort_apply");
  check_offsets(offsets, num_lists, "neuralsort_apply");
  const RowKernels rk = row_kernels();
  for_lists_balanced(offsets, num_lists, [&](SortedState& st, int64_t q) {
    const int n = list_len(offsets, q);
    if (n == 0) return;
    const uint32_t d0 = offsets[q];
    st.prepare(scores + d0, d0, n, opt, rk.fused);
    st.load_values(values + d0);
    int lo = 0, hi = 0;
    for (int i = 0; i < n; ++i) {
      st.window(i, lo, hi);
      double sum, dot;
      rk.fwd(st.S.data(), st.B.data(), st.V.data(), lo & ~7, (hi + 7) & ~7, st.ci(i), st.m[i], &sum, &dot);
      if (opt.hard) {
        out[d0 + i] = values[d0 + st.hard_argmax(i)];
      } else {
        out[d0 + i] = static_cast<float>(dot / sum);
      }
      if (row_stats) {
        row_stats[2 * (static_cast<size_t>(d0) + i)] = static_cast<float>(st.m[i] * kLn2);
        row_stats[2 * (static_cast<size_t>(d0) + i) + 1] = static_cast<float>(std::log(sum));
      }
    }
  });
}

void neuralsort_apply_backward(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,
                               const NeuralSortOptions& opt, const float* row_stats, const float* grad_out,
                               float* grad_scores, float* grad_values) {
  check_options(opt, "neuralsort_apply_backward");
  check_offsets(offsets, num_lists, "neuralsort_apply_backward");
  if (row_stats == nullptr) throw ArgumentError("neuralsort_apply_backward: row_stats is null");
  const RowKernels rk = row_kernels();
  const float inv_tau = 1.0f / opt.tau;
  for_lists_balanced(offsets, num_lists, [&](SortedState& st, int64_t q) {
    const int n = list_len(offsets, q);
    if (n == 0) return;
    const uint32_t d0 = offsets[q];
    st.prepare(scores + d0, d0, n, opt, rk.fused);
    st.load_values(values + d0);
    st.p.resize(st.n8);
    st.U.assign(st.n8, 0.0f);
    st.W.assign(st.n8, 0.0f);
    float* A = nullptr;
    if (grad_values) {
      st.A.assign(st.n8, 0.0f);
      A = st.A.data();
    }
    int lo = 0, hi = 0;
    for (int i = 0; i < n; ++i) {
      st.window(i, lo, hi);
      const float gi = grad_out[d0 + i];
      if (gi == 0.0f) continue;  // H row is zero and so is its grad_values term
      // P̂ row from the stored log-sum-exp (relative, natural log → base 2); G_ij = g_i·v_j, rowsum(P̂⊙G)_i = g_i·y_i.
      const float lse2 = static_cast<float>(kLog2e * row_stats[2 * (static_cast<size_t>(d0) + i) + 1]);
      rk.bwd(st.S.data(), st.B.data(), st.V.data(), st.sig.data(), lo & ~7, (hi + 7) & ~7, st.ci(i), st.m[i], lse2, gi,
             st.p.data(), st.U.data(), st.W.data(), A);
    }
    st.finish_backward(inv_tau, grad_scores + d0);
    if (grad_values)
      for (int k = 0; k < n; ++k) grad_values[d0 + st.order[k]] = st.A[k];
  });
}

}  // namespace cpu
}  // namespace ordo
