// cpu::sgemm: argument checks, trivial cases, and the choice between the
// AVX2+FMA packed kernel (sgemm_avx2.cc) and the portable blocked kernel here.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/dense.h"
#include "core/error.h"
#include "core/parallel.h"
#include "cpu/activation_scalar.h"
#include "cpu/sgemm_avx2.h"

namespace ordo {
namespace cpu {
namespace {

void check_args(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                int64_t ldb, const float* c, int64_t ldc) {
  auto fail = [](const std::string& what) { throw ArgumentError("sgemm: " + what); };
  if (m < 0 || n < 0 || k < 0)
    fail("negative size (m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) + ")");
  const int64_t a_cols = ta ? m : k, b_cols = tb ? k : n;
  if (lda < std::max<int64_t>(1, a_cols)) fail("lda=" + std::to_string(lda) + " < " + std::to_string(a_cols));
  if (ldb < std::max<int64_t>(1, b_cols)) fail("ldb=" + std::to_string(ldb) + " < " + std::to_string(b_cols));
  if (ldc < std::max<int64_t>(1, n)) fail("ldc=" + std::to_string(ldc) + " < " + std::to_string(n));
  if (m > 0 && n > 0) {
    if (!c) fail("C is null");
    if (k > 0 && (!a || !b)) fail("A or B is null");
  }
}

// C = beta * C (beta == 0: C = 0 without reading it, so NaN/Inf in C vanish, as in BLAS).
void scale_c(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* cr = c + i * ldc;
    if (beta == 0.0f)
      std::memset(cr, 0, static_cast<size_t>(n) * sizeof(float));
    else if (beta != 1.0f)
      for (int64_t j = 0; j < n; ++j) cr[j] *= beta;
  }
}

bool avx2_enabled() {
#if defined(ORDO_HAVE_AVX2_KERNELS) && (defined(__GNUC__) || defined(__clang__))
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

}  // namespace

bool sgemm_uses_avx2() { return avx2_enabled(); }

// Portable path: rows of C split across threads; per thread, op(B) is packed
// KC x NC at a time into a dense row-major block, and each C row accumulates
// a[i,p] * Bblock[p, :] in an (auto-vectorised) row buffer, p in order.
void sgemm_scalar(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_c(m, n, beta, c, ldc);
    return;
  }
  constexpr int64_t KC = 128, NC = 512;
  const double flops = 2.0 * m * n * k;
  const int64_t grain = flops < 2e6 ? m : 1;
  parallel_for(m, grain, [&](int64_t i0, int64_t i1, int) {
    std::vector<float> bb(static_cast<size_t>(std::min(KC, k) * std::min(NC, n)));
    std::vector<float> acc(static_cast<size_t>(std::min(NC, n)));
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nc = std::min(NC, n - jc);
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = std::min(KC, k - pc);
        for (int64_t p = 0; p < kc; ++p)
          for (int64_t j = 0; j < nc; ++j)
            bb[p * nc + j] = trans_b ? b[(jc + j) * ldb + pc + p] : b[(pc + p) * ldb + jc + j];
        const bool first = pc == 0;
        for (int64_t i = i0; i < i1; ++i) {
          float* accp = acc.data();
          std::fill(accp, accp + nc, 0.0f);
          for (int64_t p = 0; p < kc; ++p) {
            const float av = trans_a ? a[(pc + p) * lda + i] : a[i * lda + pc + p];
            const float* br = bb.data() + p * nc;
            for (int64_t j = 0; j < nc; ++j) accp[j] += av * br[j];
          }
          float* cr = c + i * ldc + jc;
          if (first && beta == 0.0f)
            for (int64_t j = 0; j < nc; ++j) cr[j] = alpha * accp[j];
          else if (first && beta != 1.0f)
            for (int64_t j = 0; j < nc; ++j) cr[j] = alpha * accp[j] + beta * cr[j];
          else
            for (int64_t j = 0; j < nc; ++j) cr[j] += alpha * accp[j];
        }
      }
    }
  });
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#if defined(ORDO_HAVE_AVX2_KERNELS)
  if (avx2_enabled()) {
    check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == 0.0f) {
      scale_c(m, n, beta, c, ldc);
      return;
    }
    avx2::sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
#endif
  sgemm_scalar(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

namespace {

// sgemm_fused without AVX2 (and for empty shapes): the plain GEMM, the column
// sums of B, then one pass over C for the rest of the epilogue.
void sgemm_fused_unfused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                         const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  if (e.b_col_sums)
    parallel_for(n, std::max<int64_t>(16, (1 << 15) / std::max<int64_t>(1, k)), [&](int64_t j0, int64_t j1, int) {
      for (int64_t j = j0; j < j1; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < k; ++p) s += b[p * ldb + j];
        e.b_col_sums[j] = static_cast<float>(s);
      }
    });
  const bool any = e.bias || e.pre || e.act != Activation::Identity || e.keep || e.grad_x;
  if (m == 0 || n == 0 || !any) return;
  const float scale = 1.0f / (1.0f - e.dropout_p);
  parallel_for(m, std::max<int64_t>(1, (1 << 15) / n), [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j) {
        const int64_t o = i * ldc + j;
        float v = c[o];
        if (e.bias) v += e.bias[j];
        if (e.pre) e.pre[o] = v;
        v = act_value(e.act, v);
        if (e.keep) v = e.keep[o] ? v * scale : 0.0f;
        if (e.grad_x) v = e.grad_act == Activation::ReLU ? (e.grad_x[o] > 0.0f ? v : 0.0f) : v * act_slope(e.grad_act, e.grad_x[o]);
        c[o] = v;
      }
  });
}

}  // namespace

void sgemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  if (e.b_col_sums && trans_b) throw ArgumentError("sgemm_fused: b_col_sums needs trans_b == false");
  if (!(e.dropout_p >= 0.0f && e.dropout_p < 1.0f))
    throw ArgumentError("sgemm_fused: dropout_p must be in [0, 1), got " + std::to_string(e.dropout_p));
#if defined(ORDO_HAVE_AVX2_KERNELS)
  if (avx2_enabled() && m > 0 && n > 0 && k > 0) {
    avx2::sgemm_fused(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, e);
    return;
  }
#endif
  sgemm_fused_unfused(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, e);
}

void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  check_args(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a[p * lda + i] : a[i * lda + p];
        const double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      float& cv = c[i * ldc + j];
      cv = beta == 0.0f ? static_cast<float>(alpha * s) : static_cast<float>(alpha * s + static_cast<double>(beta) * cv);
    }
}

}  // namespace cpu
}  // namespace ordo
