// AVX2 + FMA versions of the fused dense kernels (compiled with -mavx2 -mfma,
// called by dense.cc after the run-time CPU check):
//   layernorm_dropout_forward: per row, mean and variance (float lanes summed
//     in double), then y = dropout(LN(x)) with the dropout draws made 16 at a
//     time (simd_avx2.h);
//   layernorm_act_backward: per row, the two LayerNorm sums and dz in one
//     pass (float lanes); dgamma / dbeta summed in float over blocks of 64 rows,
//     in double per thread chunk, and combined in chunk order, so results
//     depend on the thread count only.
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

// Sum of 8 float lanes, in double.
inline double hsum_ps(__m256 v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  return ((static_cast<double>(t[0]) + t[1]) + (static_cast<double>(t[2]) + t[3])) +
         ((static_cast<double>(t[4]) + t[5]) + (static_cast<double>(t[6]) + t[7]));
}

// SiLU'(z) from z and a = SiLU(z) = z·σ(z) without an exponential (the
// backward already holds both): σ = a/z (σ(0) = 1/2 for |z| < 1e-30), and
// SiLU'(z) = σ·(1 + z·(1 − σ)) = σ + a·(1 − σ).
inline __m256 silu_slope_from_output(__m256 z, __m256 a) {
  const __m256 tiny = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), z), _mm256_set1_ps(1e-30f), _CMP_LT_OQ);
  const __m256 sig = _mm256_blendv_ps(_mm256_mul_ps(a, recip_ps(z)), _mm256_set1_ps(0.5f), tiny);
  return _mm256_fmadd_ps(a, _mm256_sub_ps(_mm256_set1_ps(1.0f), sig), sig);
}

}  // namespace

void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                               float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,
                               uint64_t seed, uint64_t offset) {
  const float scale = 1.0f / (1.0f - p);
  const uint32_t threshold = dropout_threshold(p);
  const int64_t c8 = cols / 8 * 8;
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      // mean and biased variance (two passes), 8 float lanes each, summed in double
      __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
      int64_t c = 0;
      for (; c + 16 <= c8; c += 16) {
        s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr + c));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(xr + c + 8));
      }
      if (c < c8) s0 = _mm256_add_ps(s0, _mm256_loadu_ps(xr + c));
      double s = hsum_ps(_mm256_add_ps(s0, s1));
      for (c = c8; c < cols; ++c) s += xr[c];
      const double mu = s / static_cast<double>(cols);
      const float muf = static_cast<float>(mu);
      const __m256 vmu = _mm256_set1_ps(muf);
      s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
      for (c = 0; c + 16 <= c8; c += 16) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + c), vmu), d1 = _mm256_sub_ps(_mm256_loadu_ps(xr + c + 8), vmu);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
      }
      if (c < c8) {
        const __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(xr + c), vmu);
        s0 = _mm256_fmadd_ps(d0, d0, s0);
      }
      double ss = hsum_ps(_mm256_add_ps(s0, s1));
      for (c = c8; c < cols; ++c) ss += (xr[c] - muf) * (xr[c] - muf);
      const float m = static_cast<float>(mu);
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps)));
      if (mean) mean[r] = m;
      if (rstd) rstd[r] = rs;
      float* yr = y + r * cols;
      uint8_t* mr = mask ? mask + r * cols : nullptr;
      const uint64_t idx = offset + static_cast<uint64_t>(r * cols);
      const __m256 vm = _mm256_set1_ps(m), vrs = _mm256_set1_ps(rs), vscale = _mm256_set1_ps(scale);
      alignas(32) uint16_t draws[16];
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 h = _mm256_mul_ps(_mm256_sub_ps(load_n(xr + c, n), vm), vrs);
        __m256 v = _mm256_fmadd_ps(h, gamma ? load_n(gamma + c, n) : _mm256_set1_ps(1.0f),
                                   beta ? load_n(beta + c, n) : _mm256_setzero_ps());
        if (p > 0.0f) {
          if ((c & 15) == 0) dropout_bits16(seed, idx + static_cast<uint64_t>(c), draws);
          const __m256 keep = dropout_keep8(draws + (c & 15), threshold);
          v = _mm256_and_ps(_mm256_mul_ps(v, vscale), keep);
          if (mr) store_mask_n(mr + c, keep, n);
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
  // dgamma / dbeta: per thread chunk, float sums over blocks of kBlockRows rows
  // added into double partial sums [dgamma | dbeta] per chunk, then the chunks
  // combined in chunk order.
  constexpr int64_t kBlockRows = 64;
  const int64_t cols8 = (cols + 7) / 8 * 8;
  std::vector<double> part(params ? static_cast<size_t>(chunks) * 2 * static_cast<size_t>(cols) : 0, 0.0);
  const float* slope_x = z ? z : x;  // ReLU / identity: x = act(z) > 0 iff z > 0
  parallel_for(rows, grain, [&](int64_t r0, int64_t r1, int chunk) {
    double* pg = params ? part.data() + static_cast<size_t>(chunk) * 2 * cols : nullptr;
    double* pb = pg ? pg + cols : nullptr;
    std::vector<float> block(params ? static_cast<size_t>(2 * cols8) : 0, 0.0f);
    float* bg = params ? block.data() : nullptr;
    float* bb = params ? bg + cols8 : nullptr;
    auto flush = [&] {
      for (int64_t c = 0; c < cols; ++c) pg[c] += bg[c], pb[c] += bb[c];
      std::fill(block.begin(), block.end(), 0.0f);
    };
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      const __m256 vm = _mm256_set1_ps(mean[r]), vrs = _mm256_set1_ps(rstd[r]);
      // sums of g = dy * gamma and g * xhat over the row (float lanes, summed in double)
      __m256 sg = _mm256_setzero_ps(), sgx = _mm256_setzero_ps();
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 d = load_n(dyr + c, n);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(load_n(xr + c, n), vm), vrs);
        const __m256 g = gamma ? _mm256_mul_ps(d, load_n(gamma + c, n)) : d;
        sg = _mm256_add_ps(sg, g);
        sgx = _mm256_fmadd_ps(g, xh, sgx);
        if (bg) {  // dgamma += dy * xhat, dbeta += dy (per column; lanes past cols add 0)
          _mm256_storeu_ps(bg + c, _mm256_fmadd_ps(d, xh, _mm256_loadu_ps(bg + c)));
          _mm256_storeu_ps(bb + c, _mm256_add_ps(d, _mm256_loadu_ps(bb + c)));
        }
      }
      if (bg && ((r - r0) % kBlockRows == kBlockRows - 1 || r + 1 == r1)) flush();
      const float mg = static_cast<float>(hsum_ps(sg) / cols), mgx = static_cast<float>(hsum_ps(sgx) / cols);
      const __m256 vmg = _mm256_set1_ps(mg), vmgx = _mm256_set1_ps(mgx);
      float* dzr = dz + r * cols;
      const float* sx = slope_x + r * cols;
      for (int64_t c = 0; c < cols; c += 8) {
        const int n = static_cast<int>(std::min<int64_t>(8, cols - c));
        const __m256 d = load_n(dyr + c, n);
        const __m256 xv = load_n(xr + c, n);
        const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(xv, vm), vrs);
        const __m256 g = gamma ? _mm256_mul_ps(d, load_n(gamma + c, n)) : d;
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
        __m256 v = _mm256_mul_ps(vrs, _mm256_fnmadd_ps(xh, vmgx, _mm256_sub_ps(g, vmg)));
        const __m256 sv = load_n(sx + c, n);
        if (act == Activation::ReLU)
          v = _mm256_and_ps(v, _mm256_cmp_ps(sv, _mm256_setzero_ps(), _CMP_GT_OQ));
        else if (act == Activation::SiLU)
          v = _mm256_mul_ps(v, silu_slope_from_output(sv, xv));
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
