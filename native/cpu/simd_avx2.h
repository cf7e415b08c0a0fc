// ordo/cpu/simd_avx2.h — private: 8-lane AVX2/FMA helpers shared by the
// -mavx2 -mfma translation units (sgemm_avx2.cc, dense_avx2.cc). Include it
// only there: nothing here may run before the run-time CPU check.
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "core/dense.h"
#include "core/rng.h"
#include "cpu/activation_scalar.h"

namespace ordo {
namespace cpu {
namespace avx2 {

// Loads / stores of the first n (0..8) lanes; the others read as 0.
inline __m256 load_n(const float* p, int n) {
  if (n == 8) return _mm256_loadu_ps(p);  // the common case; the rest is for edge tiles
  alignas(32) float t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int i = 0; i < n; ++i) t[i] = p[i];
  return _mm256_load_ps(t);
}
inline void store_n(float* p, __m256 v, int n) {
  if (n == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  for (int i = 0; i < n; ++i) p[i] = t[i];
}
// All-ones lanes where the byte mask is non-zero.
inline __m256 mask_n(const uint8_t* p, int n) {
  alignas(8) uint8_t t[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (n < 8)
    for (int i = 0; i < n; ++i) t[i] = p[i];
  const __m256i w = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(n == 8 ? p : t)));
  return _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(w, _mm256_setzero_si256()), _mm256_set1_epi32(-1)));
}

// e^x (Cephes expf: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial; within
// ~2 ulp of libm). Inputs are clamped to [-87.3, 88]: no inf, no denormals
// (SiLU only needs 1 + e^-v, where the clamp changes nothing that matters).
inline __m256 exp_ps(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 split in two for an exact reduction
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

// Activation of 8 values (ReLU, SiLU and identity vectorised; GELU and tanh per lane).
inline __m256 act_ps(Activation act, __m256 v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::ReLU: return _mm256_max_ps(v, _mm256_setzero_ps());  // NaN -> 0, as v > 0 ? v : 0
    case Activation::SiLU:
      return _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), v))));
    default: {
      alignas(32) float t[8];
      _mm256_store_ps(t, v);
      for (float& x : t) x = act_value(act, x);
      return _mm256_load_ps(t);
    }
  }
}

// f'(x) of 8 values (for ReLU, x may be the activation output).
inline __m256 act_slope_ps(Activation act, __m256 x) {
  switch (act) {
    case Activation::Identity: return _mm256_set1_ps(1.0f);
    case Activation::ReLU:
      return _mm256_and_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ), _mm256_set1_ps(1.0f));
    case Activation::SiLU: {
      const __m256 one = _mm256_set1_ps(1.0f);
      const __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
      return _mm256_mul_ps(s, _mm256_fmadd_ps(x, _mm256_sub_ps(one, s), one));
    }
    default: {
      alignas(32) float t[8];
      _mm256_store_ps(t, x);
      for (float& v : t) v = act_slope(act, v);
      return _mm256_load_ps(t);
    }
  }
}

// rng_uniform(seed, index0 + 0..7) >= p as lane masks, bit-identical to the
// scalar draw: SplitMix64 in 64-bit lanes (64-bit products from 32-bit ones).
inline __m256i mul64_const(__m256i a, uint64_t c) {
  const __m256i clo = _mm256_set1_epi64x(static_cast<int64_t>(c & 0xffffffffull));
  const __m256i chi = _mm256_set1_epi64x(static_cast<int64_t>(c >> 32));
  const __m256i lolo = _mm256_mul_epu32(a, clo);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), clo), _mm256_mul_epu32(a, chi));
  return _mm256_add_epi64(lolo, _mm256_slli_epi64(cross, 32));
}
inline __m128 rng_uniform4(__m256i z) {  // z = the SplitMix64 input of 4 lanes
  z = mul64_const(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xBF58476D1CE4E5B9ull);
  z = mul64_const(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94D049BB133111EBull);
  z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
  const __m256i top = _mm256_srli_epi64(z, 40);  // 24 bits per 64-bit lane
  const __m128i bits = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(top, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0)));
  return _mm_mul_ps(_mm_add_ps(_mm_cvtepi32_ps(bits), _mm_set1_ps(0.5f)), _mm_set1_ps(1.0f / 16777216.0f));
}
inline __m256 keep_mask8(uint64_t seed, uint64_t index0, float p) {
  const uint64_t c2 = 0xD1B54A32D192ED03ull;
  const uint64_t z0 = seed * 0x9E3779B97F4A7C15ull + index0 * c2 + 0x632BE59BD9B4E019ull;
  const __m256i lo = _mm256_setr_epi64x(static_cast<int64_t>(z0), static_cast<int64_t>(z0 + c2),
                                        static_cast<int64_t>(z0 + 2 * c2), static_cast<int64_t>(z0 + 3 * c2));
  const __m256i hi = _mm256_add_epi64(lo, _mm256_set1_epi64x(static_cast<int64_t>(4 * c2)));
  const __m256 u = _mm256_set_m128(rng_uniform4(hi), rng_uniform4(lo));
  return _mm256_cmp_ps(u, _mm256_set1_ps(p), _CMP_GE_OQ);
}

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo
