// AVX2 + FMA feature part of cpu::diffusion_noise_input (compiled with -mavx2
// -mfma, called by diffusion.cc after the run-time CPU check): the Box–Muller
// noise of 8 column pairs at a time in float lanes, from the same draws as
// the scalar path (core/diffusion.h: eps[2m], eps[2m+1] from the uniforms of
// columns kDrawEps + 2m, kDrawEps + 2m + 1 of the row), then
//   input = c_in·(x0 + σ·eps),  target = (σ·x0 − eps)·c_in.
// log, sin and cos are Cephes' single-precision polynomials (a few ulp; the
// scalar path uses double libm); the tests compare both with one reference.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "core/diffusion.h"
#include "cpu/sgemm_avx2.h"
#include "cpu/simd_avx2.h"

namespace ordo {
namespace cpu {
namespace avx2 {
namespace {

// rng_uniform (core/rng.h) of the 4 indices i0 .. i0+3, bit for bit: the top
// 24 bits of each 64-bit lane, as (k + 0.5) / 2^24 in float.
inline __m128 rng_uniform4(uint64_t seed, uint64_t i0) {
  const __m256i top = _mm256_srli_epi64(rng_bits4(seed, i0), 40);
  const __m128i k = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(top, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
  return _mm_mul_ps(_mm_add_ps(_mm_cvtepi32_ps(k), _mm_set1_ps(0.5f)), _mm_set1_ps(1.0f / 16777216.0f));
}

// Natural log of u in (0, 1] (Cephes logf: u = m·2^e with m in [√½, √2),
// log(1 + x) = x − x²/2 + x³·P(x), x = m − 1, ln 2 split in two).
inline __m256 log_ps(__m256 u) {
  const __m256i bits = _mm256_castps_si256(u);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  // mantissa in [0.5, 1)
  __m256 m = _mm256_or_ps(_mm256_castsi256_ps(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF))), _mm256_set1_ps(0.5f));
  const __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(small, _mm256_set1_ps(1.0f)));
  const __m256 x = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(small, m)), _mm256_set1_ps(1.0f));
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(7.0376836292e-2f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(-1.1514610310e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.1676998740e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(-1.2420140846e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.4249322787e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(-1.6668057665e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(2.0000714765e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(-2.4999993993e-1f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(3.3333331174e-1f));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, z), x);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(x, y));
}

// cos(2πu) and sin(2πu) for u in (0, 1): w = 4u, q = round(w) (exact), the
// angle left is φ = (w − q)·π/2 in [−π/4, π/4] (Cephes sinf / cosf
// polynomials there), rotated by q quarter turns.
inline void sincos_2pi_ps(__m256 u, __m256* c, __m256* s) {
  const __m256 w = _mm256_mul_ps(u, _mm256_set1_ps(4.0f));
  const __m256 q = _mm256_round_ps(w, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 phi = _mm256_mul_ps(_mm256_sub_ps(w, q), _mm256_set1_ps(1.57079632679489662f));
  const __m256 z = _mm256_mul_ps(phi, phi);
  __m256 sp = _mm256_set1_ps(-1.9515295891e-4f);
  sp = _mm256_fmadd_ps(sp, z, _mm256_set1_ps(8.3321608736e-3f));
  sp = _mm256_fmadd_ps(sp, z, _mm256_set1_ps(-1.6666654611e-1f));
  const __m256 sn = _mm256_fmadd_ps(_mm256_mul_ps(sp, z), phi, phi);
  __m256 cp = _mm256_set1_ps(2.443315711809948e-5f);
  cp = _mm256_fmadd_ps(cp, z, _mm256_set1_ps(-1.388731625493765e-3f));
  cp = _mm256_fmadd_ps(cp, z, _mm256_set1_ps(4.166664568298827e-2f));
  const __m256 cs = _mm256_add_ps(_mm256_fnmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.0f)),
                                  _mm256_mul_ps(_mm256_mul_ps(cp, z), z));
  // quadrant q mod 4: 0: (c, s)  1: (−s, c)  2: (−c, −s)  3: (s, −c)
  const __m256i qi = _mm256_and_si256(_mm256_cvtps_epi32(q), _mm256_set1_epi32(3));
  const __m256 swap = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(qi, _mm256_set1_epi32(1)), _mm256_set1_epi32(1)));
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 neg_c = _mm256_castsi256_ps(_mm256_or_si256(_mm256_cmpeq_epi32(qi, _mm256_set1_epi32(1)),
                                                           _mm256_cmpeq_epi32(qi, _mm256_set1_epi32(2))));
  const __m256 neg_s = _mm256_castsi256_ps(_mm256_or_si256(_mm256_cmpeq_epi32(qi, _mm256_set1_epi32(2)),
                                                           _mm256_cmpeq_epi32(qi, _mm256_set1_epi32(3))));
  const __m256 c0 = _mm256_blendv_ps(cs, sn, swap), s0 = _mm256_blendv_ps(sn, cs, swap);
  *c = _mm256_xor_ps(c0, _mm256_and_ps(neg_c, sign));
  *s = _mm256_xor_ps(s0, _mm256_and_ps(neg_s, sign));
}

}  // namespace

void diffusion_noise_row(uint64_t step, int64_t row, const float* x, int64_t features, float sigma, float c_in,
                         float* input, float* target) {
  const uint64_t base = (static_cast<uint64_t>(row) << 32) | diffusion::kDrawEps;
  const __m256 vsig = _mm256_set1_ps(sigma), vcin = _mm256_set1_ps(c_in);
  for (int64_t j = 0; j < features; j += 16) {
    // uniforms of columns kDrawEps + j .. + 15: pairs (u1, u2) interleaved
    const __m256 a = _mm256_set_m128(rng_uniform4(step, base + j + 4), rng_uniform4(step, base + j));
    const __m256 b = _mm256_set_m128(rng_uniform4(step, base + j + 12), rng_uniform4(step, base + j + 8));
    // de-interleave: u1 = even lanes, u2 = odd lanes, pair order kept
    const __m256 u1 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
    const __m256 u2 = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
    const __m256 radius = _mm256_sqrt_ps(_mm256_mul_ps(_mm256_set1_ps(-2.0f), log_ps(u1)));
    __m256 c, s;
    sincos_2pi_ps(u2, &c, &s);
    c = _mm256_mul_ps(radius, c);
    s = _mm256_mul_ps(radius, s);
    // re-interleave: eps[2m] = cos part, eps[2m + 1] = sin part
    const __m256 lo = _mm256_unpacklo_ps(c, s), hi = _mm256_unpackhi_ps(c, s);
    const __m256 eps[2] = {_mm256_permute2f128_ps(lo, hi, 0x20), _mm256_permute2f128_ps(lo, hi, 0x31)};
    for (int h = 0; h < 2; ++h) {
      const int64_t col = j + 8 * h;
      const int n = static_cast<int>(std::min<int64_t>(8, features - col));
      if (n <= 0) break;
      const __m256 x0 = load_n(x + col, n);
      store_n(input + col, _mm256_mul_ps(vcin, _mm256_fmadd_ps(vsig, eps[h], x0)), n);
      store_n(target + col, _mm256_mul_ps(vcin, _mm256_fmsub_ps(vsig, x0, eps[h])), n);  // (x0 − c_skip·x_t)/c_out
    }
  }
}

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo
