// C++ tests of NeuralSort (core/neuralsort.h) against a plain double-precision
// reference that builds P̂ by the formula, finite differences of every
// backward, and CUDA parity when a GPU is usable.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/error.h"
#include "core/neuralsort.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/check.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

using namespace ordo;

namespace {

struct Batch {
  std::vector<float> s, v;
  std::vector<uint32_t> off{0};
  std::vector<uint64_t> moff{0};
  int64_t lists() const { return static_cast<int64_t>(off.size()) - 1; }
  void add(const std::vector<float>& scores, std::mt19937& rng) {
    std::normal_distribution<float> nd;
    for (float x : scores) {
      s.push_back(x);
      v.push_back(nd(rng));
    }
    off.push_back(static_cast<uint32_t>(s.size()));
    const uint64_t n = scores.size();
    moff.push_back(moff.back() + n * n);
  }
};

std::vector<float> randn(int n, std::mt19937& rng, float scale = 1.0f) {
  std::normal_distribution<float> nd;
  std::vector<float> x(n);
  for (float& e : x) e = scale * nd(rng);
  return x;
}

// Mixed batch: n = 1, 2, ties, moderate sizes.
Batch mixed_batch(uint32_t seed) {
  std::mt19937 rng(seed);
  Batch b;
  b.add({0.3f}, rng);
  b.add({1.0f, -0.5f}, rng);
  b.add(randn(7, rng), rng);
  b.add({0.5f, 0.5f, -1.0f, 0.5f, 2.0f}, rng);  // ties
  b.add(randn(33, rng), rng);
  b.add({2.0f, 2.0f}, rng);
  b.add(randn(16, rng, 3.0f), rng);
  return b;
}

// Effective (possibly Gumbel-perturbed) scores in double.
std::vector<double> eff_scores(const float* s, int n, uint64_t doc0, const NeuralSortOptions& o) {
  std::vector<double> e(n);
  for (int j = 0; j < n; ++j) {
    e[j] = s[j];
    if (o.gumbel) e[j] += o.gumbel_beta * (-std::log(-std::log(static_cast<double>(rng_uniform(o.seed, doc0 + j)))));
  }
  return e;
}

// Reference P̂ by the formula (row i = rank i + 1), double precision.
std::vector<double> ref_phat(const std::vector<double>& s, double tau) {
  const int n = static_cast<int>(s.size());
  std::vector<double> b(n, 0.0), P(static_cast<size_t>(n) * n);
  for (int j = 0; j < n; ++j)
    for (int k = 0; k < n; ++k) b[j] += std::fabs(s[j] - s[k]);
  for (int i = 0; i < n; ++i) {
    const double c = n + 1 - 2 * (i + 1);
    double m = -INFINITY;
    for (int j = 0; j < n; ++j) m = std::max(m, (c * s[j] - b[j]) / tau);
    double z = 0;
    for (int j = 0; j < n; ++j) z += std::exp((c * s[j] - b[j]) / tau - m);
    for (int j = 0; j < n; ++j) P[static_cast<size_t>(i) * n + j] = std::exp((c * s[j] - b[j]) / tau - m) / z;
  }
  return P;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

bool all_finite(const std::vector<float>& a) {
  for (float x : a)
    if (!std::isfinite(x)) return false;
  return true;
}

void check_matrix_vs_ref(const Batch& b, const NeuralSortOptions& o, double tol) {
  std::vector<float> P(b.moff.back());
  cpu::neuralsort_matrix(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, P.data());
  for (int64_t q = 0; q < b.lists(); ++q) {
    const int n = b.off[q + 1] - b.off[q];
    const auto ref = ref_phat(eff_scores(&b.s[b.off[q]], n, b.off[q], o), o.tau);
    for (int i = 0; i < n; ++i) {
      if (o.hard) {
        int am = 0;
        for (int j = 1; j < n; ++j)
          if (ref[static_cast<size_t>(i) * n + j] > ref[static_cast<size_t>(i) * n + am]) am = j;
        for (int j = 0; j < n; ++j) CHECK_NEAR(P[b.moff[q] + static_cast<size_t>(i) * n + j], j == am ? 1.0 : 0.0, 0);
      } else {
        for (int j = 0; j < n; ++j)
          CHECK_NEAR(P[b.moff[q] + static_cast<size_t>(i) * n + j], ref[static_cast<size_t>(i) * n + j], tol);
      }
    }
  }
}

// L(s) = Σ_q Σ_ij G_ij P̂_ij in double (for finite differences).
double ref_matrix_loss(const Batch& b, const std::vector<double>& sd, const std::vector<float>& G,
                       const NeuralSortOptions& o) {
  double L = 0;
  for (int64_t q = 0; q < b.lists(); ++q) {
    const int n = b.off[q + 1] - b.off[q];
    std::vector<float> sf(n);
    std::vector<double> s(sd.begin() + b.off[q], sd.begin() + b.off[q + 1]);
    if (o.gumbel) {
      NeuralSortOptions og = o;
      for (int j = 0; j < n; ++j) sf[j] = 0.0f;
      const auto noise = eff_scores(sf.data(), n, b.off[q], og);
      for (int j = 0; j < n; ++j) s[j] += noise[j];
    }
    const auto P = ref_phat(s, o.tau);
    for (size_t e = 0; e < P.size(); ++e) L += P[e] * G[b.moff[q] + e];
  }
  return L;
}

double ref_apply_loss(const Batch& b, const std::vector<double>& sd, const std::vector<double>& vd,
                      const std::vector<float>& w, double tau) {
  double L = 0;
  for (int64_t q = 0; q < b.lists(); ++q) {
    const int n = b.off[q + 1] - b.off[q];
    std::vector<double> s(sd.begin() + b.off[q], sd.begin() + b.off[q + 1]);
    const auto P = ref_phat(s, tau);
    for (int i = 0; i < n; ++i) {
      double y = 0;
      for (int j = 0; j < n; ++j) y += P[static_cast<size_t>(i) * n + j] * vd[b.off[q] + j];
      L += w[b.off[q] + i] * y;
    }
  }
  return L;
}

}  // namespace

TEST_CASE("neuralsort_matrix equals the formula (ragged, n=1, n=2, ties)") {
  NeuralSortOptions o;
  check_matrix_vs_ref(mixed_batch(1), o, 2e-6);
  o.tau = 0.3f;
  check_matrix_vs_ref(mixed_batch(2), o, 2e-6);
  o.tau = 5.0f;
  check_matrix_vs_ref(mixed_batch(3), o, 2e-6);
}

TEST_CASE("n = 1 gives [[1]] and zero gradient") {
  std::vector<float> s = {4.0f}, P(1), g(1, 7.0f), gs(1, 5.0f);
  std::vector<uint32_t> off = {0, 1};
  std::vector<uint64_t> moff = {0, 1};
  NeuralSortOptions o;
  cpu::neuralsort_matrix(s.data(), off.data(), 1, moff.data(), o, P.data());
  CHECK_NEAR(P[0], 1.0, 0);
  cpu::neuralsort_matrix_backward(s.data(), off.data(), 1, moff.data(), o, g.data(), gs.data());
  CHECK_NEAR(gs[0], 0.0, 0);
}

TEST_CASE("Gumbel variant equals the formula on s + beta*g") {
  NeuralSortOptions o;
  o.gumbel = true;
  o.gumbel_beta = 0.5f;
  o.seed = 42;
  check_matrix_vs_ref(mixed_batch(4), o, 2e-6);
}

TEST_CASE("hard variant: one-hot argmax rows, ties -> lowest j") {
  NeuralSortOptions o;
  o.hard = true;
  check_matrix_vs_ref(mixed_batch(5), o, 0);
  // tied pair: both rows pick column 0
  std::vector<float> s = {1.0f, 1.0f}, P(4);
  std::vector<uint32_t> off = {0, 2};
  std::vector<uint64_t> moff = {0, 4};
  cpu::neuralsort_matrix(s.data(), off.data(), 1, moff.data(), o, P.data());
  CHECK(P[0] == 1.0f && P[1] == 0.0f && P[2] == 1.0f && P[3] == 0.0f);
}

TEST_CASE("large and small scores, small tau: finite, rows sum to 1") {
  std::mt19937 rng(7);
  Batch b;
  b.add(randn(20, rng, 1e4f), rng);
  b.add({1e30f, -1e30f, 0.0f, 1e30f, 3e29f}, rng);
  b.add({-1e30f, 1e-30f, -1e-30f}, rng);
  b.add(randn(50, rng, 1e-6f), rng);
  for (float tau : {1.0f, 1e-3f}) {
    NeuralSortOptions o;
    o.tau = tau;
    std::vector<float> P(b.moff.back()), out(b.s.size()), st(2 * b.s.size()), gs(b.s.size()), gv(b.s.size());
    cpu::neuralsort_matrix(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, P.data());
    CHECK(all_finite(P));
    for (int64_t q = 0; q < b.lists(); ++q) {
      const int n = b.off[q + 1] - b.off[q];
      for (int i = 0; i < n; ++i) {
        double r = 0;
        for (int j = 0; j < n; ++j) r += P[b.moff[q] + static_cast<size_t>(i) * n + j];
        CHECK_NEAR(r, 1.0, 1e-5);
      }
    }
    cpu::neuralsort_apply(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, out.data(), st.data());
    CHECK(all_finite(out));
    CHECK(all_finite(st));
    std::vector<float> go(b.s.size(), 1.0f);
    cpu::neuralsort_apply_backward(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, st.data(), go.data(),
                                   gs.data(), gv.data());
    CHECK(all_finite(gs));
    CHECK(all_finite(gv));
    std::vector<float> G(P.size(), 0.5f);
    cpu::neuralsort_matrix_backward(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, G.data(), gs.data());
    CHECK(all_finite(gs));
  }
  // tau = 1e-3 on well separated scores: P̂ is the sorting permutation
  NeuralSortOptions o;
  o.tau = 1e-3f;
  check_matrix_vs_ref(b, o, 1e-5);
}

TEST_CASE("neuralsort_apply equals matrix then mat-vec (incl. 1200-doc list, hard)") {
  std::mt19937 rng(11);
  Batch b = mixed_batch(11);
  b.add(randn(1200, rng), rng);
  for (bool hard : {false, true}) {
    NeuralSortOptions o;
    o.hard = hard;
    o.tau = 0.7f;
    std::vector<float> P(b.moff.back()), out(b.s.size()), st(2 * b.s.size());
    cpu::neuralsort_matrix(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, P.data());
    cpu::neuralsort_apply(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, out.data(), st.data());
    for (int64_t q = 0; q < b.lists(); ++q) {
      const int n = b.off[q + 1] - b.off[q];
      for (int i = 0; i < n; ++i) {
        double y = 0;
        for (int j = 0; j < n; ++j) y += static_cast<double>(P[b.moff[q] + static_cast<size_t>(i) * n + j]) * b.v[b.off[q] + j];
        CHECK_NEAR(out[b.off[q] + i], y, 1e-5 * (1 + std::fabs(y)));
      }
    }
  }
}

TEST_CASE("neuralsort_matrix_backward: central finite differences (tau = 1, gumbel)") {
  for (bool gumbel : {false, true}) {
    Batch b = mixed_batch(21);
    NeuralSortOptions o;
    o.gumbel = gumbel;
    o.gumbel_beta = 0.3f;
    o.seed = 9;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> ud(-1, 1);
    std::vector<float> G(b.moff.back()), gs(b.s.size());
    for (float& x : G) x = ud(rng);
    cpu::neuralsort_matrix_backward(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, G.data(), gs.data());
    std::vector<double> sd(b.s.begin(), b.s.end());
    for (size_t d = 0; d < sd.size(); ++d) {
      const double h = 1e-5, x0 = sd[d];
      sd[d] = x0 + h;
      const double lp = ref_matrix_loss(b, sd, G, o);
      sd[d] = x0 - h;
      const double lm = ref_matrix_loss(b, sd, G, o);
      sd[d] = x0;
      const double fd = (lp - lm) / (2 * h);
      CHECK_NEAR(gs[d], fd, 1e-4 + 1e-3 * std::fabs(fd));
    }
    // hard: same backward as soft
    std::vector<float> gh(b.s.size());
    o.hard = true;
    cpu::neuralsort_matrix_backward(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, G.data(), gh.data());
    CHECK(max_abs_diff(gs, gh) == 0.0);
  }
}

TEST_CASE("neuralsort_apply_backward: finite differences and equality with matrix_backward") {
  Batch b = mixed_batch(31);
  NeuralSortOptions o;
  std::mt19937 rng(6);
  std::normal_distribution<float> nd;
  std::vector<float> w(b.s.size()), out(b.s.size()), st(2 * b.s.size()), gs(b.s.size()), gv(b.s.size());
  for (float& x : w) x = nd(rng);
  cpu::neuralsort_apply(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, out.data(), st.data());
  cpu::neuralsort_apply_backward(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, st.data(), w.data(), gs.data(),
                                 gv.data());
  std::vector<double> sd(b.s.begin(), b.s.end()), vd(b.v.begin(), b.v.end());
  for (size_t d = 0; d < sd.size(); ++d) {
    const double h = 1e-5;
    double x0 = sd[d];
    sd[d] = x0 + h;
    double lp = ref_apply_loss(b, sd, vd, w, o.tau);
    sd[d] = x0 - h;
    double lm = ref_apply_loss(b, sd, vd, w, o.tau);
    sd[d] = x0;
    double fd = (lp - lm) / (2 * h);
    CHECK_NEAR(gs[d], fd, 1e-4 + 1e-3 * std::fabs(fd));
    x0 = vd[d];
    vd[d] = x0 + h;
    lp = ref_apply_loss(b, sd, vd, w, o.tau);
    vd[d] = x0 - h;
    lm = ref_apply_loss(b, sd, vd, w, o.tau);
    vd[d] = x0;
    fd = (lp - lm) / (2 * h);
    CHECK_NEAR(gv[d], fd, 1e-4 + 1e-3 * std::fabs(fd));
  }
  // G = grad_out ⊗ values through matrix_backward
  std::vector<float> G(b.moff.back()), gm(b.s.size());
  for (int64_t q = 0; q < b.lists(); ++q) {
    const int n = b.off[q + 1] - b.off[q];
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) G[b.moff[q] + static_cast<size_t>(i) * n + j] = w[b.off[q] + i] * b.v[b.off[q] + j];
  }
  cpu::neuralsort_matrix_backward(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, G.data(), gm.data());
  for (size_t d = 0; d < gm.size(); ++d) CHECK_NEAR(gs[d], gm[d], 1e-4 * (1 + std::fabs(gm[d])));
}

TEST_CASE("deterministic: same result twice and for 1 vs 2 threads") {
  std::mt19937 rng(3);
  Batch b = mixed_batch(41);
  b.add(randn(300, rng), rng);
  NeuralSortOptions o;
  o.gumbel = true;
  o.seed = 77;
  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> out(b.s.size()), st(2 * b.s.size()), gs(b.s.size()), gv(b.s.size());
    std::vector<float> go(b.s.size(), 0.25f);
    cpu::neuralsort_apply(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, out.data(), st.data());
    cpu::neuralsort_apply_backward(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, st.data(), go.data(), gs.data(),
                                   gv.data());
    out.insert(out.end(), gs.begin(), gs.end());
    out.insert(out.end(), gv.begin(), gv.end());
    return out;
  };
  const int t0 = num_threads();
  const auto a = run(2), a2 = run(2), c = run(1);
  set_num_threads(t0);
  CHECK(a == a2);
  CHECK(a == c);
}

TEST_CASE("bad options throw ArgumentError naming the option") {
  std::vector<float> s = {1, 2}, out(2), st(4);
  std::vector<uint32_t> off = {0, 2};
  NeuralSortOptions o;
  o.tau = 0.0f;
  CHECK_THROWS(ArgumentError, cpu::neuralsort_apply(s.data(), s.data(), off.data(), 1, o, out.data(), st.data()), "tau");
  o.tau = 1.0f;
  o.gumbel = true;
  o.gumbel_beta = -1.0f;
  CHECK_THROWS(ArgumentError, cpu::neuralsort_apply(s.data(), s.data(), off.data(), 1, o, out.data(), st.data()),
               "gumbel_beta");
}

TEST_CASE("CUDA parity (every kernel, soft/hard/gumbel)") {
#ifndef ORDO_WITH_CUDA
  SKIP("no usable CUDA device: built without CUDA");
#else
  const CudaStatus& cs = cuda_status();
  if (!cs.usable) SKIP("no usable CUDA device: " + (cs.error_name.empty() ? std::string("none found") : cs.error_name));
  std::mt19937 rng(13);
  Batch b = mixed_batch(51);
  b.add(randn(1100, rng), rng);
  b.add({1e30f, -1e30f, 0.0f, 1e30f}, rng);
  const size_t nd = b.s.size(), nm = b.moff.back();
  auto up = [](const void* h, size_t bytes) {
    void* d = cuda::device_alloc(bytes);
    cuda::copy_to_device(d, h, bytes);
    return d;
  };
  std::vector<float> G(nm), go(nd);
  std::normal_distribution<float> ndist;
  for (float& x : G) x = ndist(rng);
  for (float& x : go) x = ndist(rng);
  float* ds = static_cast<float*>(up(b.s.data(), nd * 4));
  float* dv = static_cast<float*>(up(b.v.data(), nd * 4));
  uint32_t* doff = static_cast<uint32_t*>(up(b.off.data(), b.off.size() * 4));
  uint64_t* dmoff = static_cast<uint64_t*>(up(b.moff.data(), b.moff.size() * 8));
  float* dG = static_cast<float*>(up(G.data(), nm * 4));
  float* dgo = static_cast<float*>(up(go.data(), nd * 4));
  float* dP = static_cast<float*>(cuda::device_alloc(nm * 4));
  float* dout = static_cast<float*>(cuda::device_alloc(nd * 4));
  float* dst = static_cast<float*>(cuda::device_alloc(nd * 8));
  float* dgs = static_cast<float*>(cuda::device_alloc(nd * 4));
  float* dgv = static_cast<float*>(cuda::device_alloc(nd * 4));
  for (int variant = 0; variant < 3; ++variant) {
    NeuralSortOptions o;
    o.tau = 0.5f;
    o.hard = variant == 1;
    o.gumbel = variant == 2;
    o.seed = 5;
    std::vector<float> P(nm), Pc(nm), out(nd), outc(nd), st(2 * nd), stc(2 * nd), gs(nd), gsc(nd), gv(nd), gvc(nd);
    cpu::neuralsort_matrix(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, P.data());
    cuda::neuralsort_matrix(ds, doff, b.lists(), dmoff, o, dP);
    cuda::copy_to_host(Pc.data(), dP, nm * 4);
    CHECK(max_abs_diff(P, Pc) < 1e-5);
    cpu::neuralsort_matrix_backward(b.s.data(), b.off.data(), b.lists(), b.moff.data(), o, G.data(), gs.data());
    cuda::neuralsort_matrix_backward(ds, doff, b.lists(), dmoff, o, dG, dgs);
    cuda::copy_to_host(gsc.data(), dgs, nd * 4);
    for (size_t d = 0; d < nd; ++d) CHECK_NEAR(gs[d], gsc[d], 1e-3 * (1 + std::fabs(gs[d])));
    cpu::neuralsort_apply(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, out.data(), st.data());
    cuda::neuralsort_apply(ds, dv, doff, b.lists(), o, dout, dst);
    cuda::copy_to_host(outc.data(), dout, nd * 4);
    cuda::copy_to_host(stc.data(), dst, nd * 8);
    for (size_t d = 0; d < nd; ++d) CHECK_NEAR(out[d], outc[d], 1e-4 * (1 + std::fabs(out[d])));
    for (size_t d = 0; d < nd; ++d) CHECK_NEAR(st[2 * d + 1], stc[2 * d + 1], 1e-4);
    cpu::neuralsort_apply_backward(b.s.data(), b.v.data(), b.off.data(), b.lists(), o, st.data(), go.data(),
                                   gs.data(), gv.data());
    cuda::neuralsort_apply_backward(ds, dv, doff, b.lists(), o, dst, dgo, dgs, dgv);
    cuda::copy_to_host(gsc.data(), dgs, nd * 4);
    cuda::copy_to_host(gvc.data(), dgv, nd * 4);
    for (size_t d = 0; d < nd; ++d) CHECK_NEAR(gs[d], gsc[d], 1e-3 * (1 + std::fabs(gs[d])));
    for (size_t d = 0; d < nd; ++d) CHECK_NEAR(gv[d], gvc[d], 1e-4 * (1 + std::fabs(gv[d])));
  }
  for (void* p : {static_cast<void*>(ds), static_cast<void*>(dv), static_cast<void*>(doff), static_cast<void*>(dmoff),
                  static_cast<void*>(dG), static_cast<void*>(dgo), static_cast<void*>(dP), static_cast<void*>(dout),
                  static_cast<void*>(dst), static_cast<void*>(dgs), static_cast<void*>(dgv)})
    cuda::device_free(p);
#endif
}

TEST_MAIN("native neuralsort")
