// AVX2 + FMA versions of the fused dense kernels (compiled with -mavx2 -mfma,
// called by dense.cc after the run-time CPU check):
//   layernorm_dropout_forward: per row, mean and variance (double lanes), then
//     y = dropout(LN(x)) with the dropout draws made 8 at a time (simd_avx2.h);
//   layernorm_act_backward: per row, the two LayerNorm sums and dz in one
//     pass; dgamma / dbeta summed per thread chunk (double) and combined in
//     chunk order, so results depend on the thread count only.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/sgemm_avx2.h"
#include "cpu/simd_avx2.h"

namespace ordo {
namespace cpu {
namespace avx2 {
namespace {

int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, cols)); }

inline double hsum_pd(__m256d v) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }

}  // namespace

void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                               float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,
                               uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / (1.0f - p);
  const int64_t c8 = cols / 8 * 8;
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      // mean and biased variance in double (two passes, like layernorm_forward)
      __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
      for (int64_t c = 0; c < c8; c += 8) {
        const __m256 v = _mm256_loadu_ps(xr + c);
        s0 = _mm256_add_pd(s0, lo_pd(v));
        s1 = _mm256_add_pd(s1, hi_pd(v));
      }
      double s = hsum_pd(_mm256_add_pd(s0, s1));
      for (int64_t c = c8; c < cols; ++c) s += xr[c];
      const double mu = s / static_cast<double>(cols);
      const __m256d vmu = _mm256_set1_pd(mu);
      s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
      for (int64_t c = 0; c < c8; c += 8) {
        const __m256 v = _mm256_loadu_ps(xr + c);
        const __m256d d0 = _mm256_sub_pd(lo_pd(v), vmu), d1 = _mm256_sub_pd(hi_pd(v), vmu);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
      }
      double ss = hsum_pd(_mm256_add_pd(s0, s1));
      for (int64_t c = c8; c < cols; ++c) ss += (xr[c] - mu) * (xr[c] - mu);
      const float m = static_cast<float>(mu);
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps)));
      if (mean) mean[r] = m;
      if (rstd) rstd[r] = rs;
      float* yr = y + r * cols;
      uint8_t* mr = mask ? mask + r * cols : nullptr;
      const uint64_t idx = offset + static_cast<uint64_t>(r * cols);
      const __m256 vm = _mm256_set1_ps(m), vrs = _mm256_set1_ps(rs), vscale = _mm256_set1_ps(scale);
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 h = _mm256_mul_ps(_mm256_sub_ps(load_n(xr + c, n), vm), vrs);
        __m256 v = _mm256_fmadd_ps(h, gamma ? load_n(gamma + c, n) : _mm256_set1_ps(1.0f),
                                   beta ? load_n(beta + c, n) : _mm256_setzero_ps());
        if (p > 0.0f) {
          __m256 keep;
          if (n == 8) {
            keep = keep_mask8(seed, idx + static_cast<uint64_t>(c), p);
          } else {  // row tail: the scalar draw
            alignas(32) float t[8] = {};
            for (int q = 0; q < n; ++q) t[q] = rng_uniform(seed, idx + static_cast<uint64_t>(c + q)) >= p ? 1.0f : 0.0f;
            keep = _mm256_cmp_ps(_mm256_load_ps(t), _mm256_setzero_ps(), _CMP_GT_OQ);
          }
          v = _mm256_and_ps(_mm256_mul_ps(v, vscale), keep);
          if (mr) {
            const int bits = _mm256_movemask_ps(keep);
            for (int q = 0; q < n; ++q) mr[c + q] = static_cast<uint8_t>((bits >> q) & 1);
          }
        }
        store_n(yr + c, v, n);
      }
    }
  });
}

void layernorm_act_backward(Activation act, const float* dy, const float* x, const float* z, const float* gamma,
                            const float* mean, const float* rstd, float* dz, float* dgamma, float* dbeta,
                            int64_t rows, int64_t cols) {
  const bool params = dgamma || dbeta;
  const int64_t grain = row_grain(cols);
  const int chunks = parallel_chunks(rows, grain);
  // per chunk: dgamma partial sums [cols], then dbeta [cols]
  std::vector<double> part(params ? static_cast<size_t>(chunks) * 2 * static_cast<size_t>(cols) : 0, 0.0);
  const float* slope_x = z ? z : x;  // ReLU / identity: x = act(z) > 0 iff z > 0
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int chunk) {
    double* pg = params ? part.data() + static_cast<size_t>(chunk) * 2 * cols : nullptr;
    double* pb = pg ? pg + cols : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      const __m256 vm = _mm256_set1_ps(mean[r]), vrs = _mm256_set1_ps(rstd[r]);
      // sums of g = dy * gamma and g * xhat over the row (double)
      __m256d sg = _mm256_setzero_pd(), sgx = _mm256_setzero_pd();
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 d = load_n(dyr + c, n);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load_n(xr + c, n), vm), vrs);
        const __m256 g = gamma ? _mm256_mul_ps(d, load_n(gamma + c, n)) : d;
        const __m256d glo = lo_pd(g), ghi = hi_pd(g);
        sg = _mm256_add_pd(sg, _mm256_add_pd(glo, ghi));
        sgx = _mm256_fmadd_pd(glo, lo_pd(xh), sgx);
        sgx = _mm256_fmadd_pd(ghi, hi_pd(xh), sgx);
        if (pg) {  // dgamma += dy * xhat, dbeta += dy (per column)
          double* a = pg + c;
          double* b = pb + c;
          if (n == 8) {
            _mm256_storeu_pd(a, _mm256_fmadd_pd(lo_pd(d), lo_pd(xh), _mm256_loadu_pd(a)));
            _mm256_storeu_pd(a + 4, _mm256_fmadd_pd(hi_pd(d), hi_pd(xh), _mm256_loadu_pd(a + 4)));
            _mm256_storeu_pd(b, _mm256_add_pd(lo_pd(d), _mm256_loadu_pd(b)));
            _mm256_storeu_pd(b + 4, _mm256_add_pd(hi_pd(d), _mm256_loadu_pd(b + 4)));
          } else {
            alignas(32) float td[8], tx[8];
            _mm256_store_ps(td, d);
            _mm256_store_ps(tx, xh);
            for (int q = 0; q < n; ++q) a[q] += static_cast<double>(td[q]) * tx[q], b[q] += td[q];
          }
        }
      }
      const float mg = static_cast<float>(hsum_pd(sg) / cols), mgx = static_cast<float>(hsum_pd(sgx) / cols);
      const __m256 vmg = _mm256_set1_ps(mg), vmgx = _mm256_set1_ps(mgx);
      float* dzr = dz + r * cols;
      const float* sx = slope_x + r * cols;
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 d = load_n(dyr + c, n);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load_n(xr + c, n), vm), vrs);
        const __m256 g = gamma ? _mm256_mul_ps(d, load_n(gamma + c, n)) : d;
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
        __m256 v = _mm256_mul_ps(vrs, _mm256_fnmadd_ps(xh, vmgx, _mm256_sub_ps(g, vmg)));
        const __m256 sv = load_n(sx + c, n);
        if (act == Activation::ReLU)
          v = _mm256_and_ps(v, _mm256_cmp_ps(sv, _mm256_setzero_ps(), _CMP_GT_OQ));
        else if (act != Activation::Identity)
          v = _mm256_mul_ps(v, act_slope_ps(act, sv));
        store_n(dzr + c, v, n);
      }
    }
  });
  if (!params) return;
  for (int64_t c = 0; c < cols; ++c) {
    double sgm = 0.0, sb = 0.0;
    for (int ch = 0; ch < chunks; ++ch) {
      sgm += part[static_cast<size_t>(ch) * 2 * cols + c];
      sb += part[static_cast<size_t>(ch) * 2 * cols + cols + c];
    }
    if (dgamma) dgamma[c] = static_cast<float>(sgm);
    if (dbeta) dbeta[c] = static_cast<float>(sb);
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo
