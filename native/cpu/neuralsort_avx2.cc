// AVX2+FMA NeuralSort row kernels (compiled with -mavx2 -mfma; called from
// neuralsort.cc only after a run-time CPU check). Contract: neuralsort_avx2.h.
// The exp2 is the same polynomial as the portable exp2_nonpos in
// neuralsort.cc, 8 lanes wide with FMA.
#include "cpu/neuralsort_avx2.h"

#include <immintrin.h>

namespace ordo {
namespace cpu {
namespace nsk {
namespace {

// 2^x for x ≤ 0 (x < −125 gives 0): x = k + f, k = round(x) by the 1.5·2^23
// trick, |f| ≤ 1/2, degree-6 near-minimax polynomial (rel. error ≈ 1e-7).
inline __m256 exp2_nonpos8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-125.0f);
  const __m256 xc = _mm256_max_ps(x, lo);
  const __m256 magic = _mm256_set1_ps(12582912.0f);
  const __m256 y = _mm256_add_ps(xc, magic);
  const __m256 f = _mm256_sub_ps(xc, _mm256_sub_ps(y, magic));
  __m256 p = _mm256_set1_ps(kExp2C6);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C5));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C4));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C3));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C2));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C1));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  // low mantissa bits of y hold k; (k + 127) << 23 is 2^k
  const __m256 scale =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_castps_si256(y), _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), _mm256_mul_ps(p, scale));
}

// x_k for k .. k+7 (before the shift): min(float(fma(c, S, −B) − m), 0).
inline __m256 logits8(const double* S, const double* B, int k, __m256d c, __m256d m) {
  const __m256d t0 = _mm256_sub_pd(_mm256_fmsub_pd(c, _mm256_loadu_pd(S + k), _mm256_loadu_pd(B + k)), m);
  const __m256d t1 = _mm256_sub_pd(_mm256_fmsub_pd(c, _mm256_loadu_pd(S + k + 4), _mm256_loadu_pd(B + k + 4)), m);
  const __m256 x = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(t0)), _mm256_cvtpd_ps(t1), 1);
  return _mm256_min_ps(x, _mm256_setzero_ps());
}

// Keeps the compiler from contracting the product into a following add/sub.
inline __m256 no_contract(__m256 x) {
  __asm__("" : "+x"(x));
  return x;
}

inline double lanes_sum(__m256 v) {
  alignas(32) float l[8];
  _mm256_store_ps(l, v);
  double s = 0.0;
  for (int i = 0; i < 8; ++i) s += l[i];
  return s;
}

}  // namespace

void fwd_row_avx2(const double* S, const double* B, const float* V, int k0, int k1, double ci, double m, double* sum,
                  double* dot) {
  const __m256d c = _mm256_set1_pd(ci), mv = _mm256_set1_pd(m);
  __m256 acc_s = _mm256_setzero_ps(), acc_d = _mm256_setzero_ps();
  for (int k = k0; k < k1; k += 8) {
    const __m256 e = exp2_nonpos8(logits8(S, B, k, c, mv));
    acc_s = _mm256_add_ps(acc_s, e);
    acc_d = _mm256_fmadd_ps(e, _mm256_loadu_ps(V + k), acc_d);
  }
  *sum = lanes_sum(acc_s);
  *dot = lanes_sum(acc_d);
}

void bwd_row_avx2(const double* S, const double* B, const float* V, const float* sig, int k0, int k1, double ci,
                  double m, float lse, float g, float* p, float* U, float* W, float* A) {
  const __m256d c = _mm256_set1_pd(ci), mv = _mm256_set1_pd(m);
  const __m256 shift = _mm256_set1_ps(lse);
  __m256 acc_d = _mm256_setzero_ps();
  for (int k = k0; k < k1; k += 8) {
    const __m256 e = exp2_nonpos8(_mm256_sub_ps(logits8(S, B, k, c, mv), shift));
    _mm256_storeu_ps(p + k, e);
    acc_d = _mm256_fmadd_ps(e, _mm256_loadu_ps(V + k), acc_d);
  }
  const double y = lanes_sum(acc_d);
  const __m256 gv = _mm256_set1_ps(g);
  const __m256 gy = _mm256_set1_ps(static_cast<float>(static_cast<double>(g) * y));
  const __m256 cf = _mm256_set1_ps(static_cast<float>(ci));
  // g·V_k − g·y unfused (as the portable kernel): exactly 0 where y = V_k
  // (one-hot rows), whose rounding noise the 1/τ and the prefix sums amplify.
  if (A) {
    for (int k = k0; k < k1; k += 8) {
      const __m256 pk = _mm256_loadu_ps(p + k);
      const __m256 h = _mm256_mul_ps(pk, _mm256_sub_ps(no_contract(_mm256_mul_ps(gv, _mm256_loadu_ps(V + k))), gy));
      _mm256_storeu_ps(U + k, _mm256_add_ps(_mm256_loadu_ps(U + k), h));
      _mm256_storeu_ps(W + k, _mm256_fmadd_ps(_mm256_sub_ps(cf, _mm256_loadu_ps(sig + k)), h, _mm256_loadu_ps(W + k)));
      _mm256_storeu_ps(A + k, _mm256_fmadd_ps(gv, pk, _mm256_loadu_ps(A + k)));
    }
  } else {
    for (int k = k0; k < k1; k += 8) {
      const __m256 pk = _mm256_loadu_ps(p + k);
      const __m256 h = _mm256_mul_ps(pk, _mm256_sub_ps(no_contract(_mm256_mul_ps(gv, _mm256_loadu_ps(V + k))), gy));
      _mm256_storeu_ps(U + k, _mm256_add_ps(_mm256_loadu_ps(U + k), h));
      _mm256_storeu_ps(W + k, _mm256_fmadd_ps(_mm256_sub_ps(cf, _mm256_loadu_ps(sig + k)), h, _mm256_loadu_ps(W + k)));
    }
  }
}

}  // namespace nsk
}  // namespace cpu
}  // namespace ordo
