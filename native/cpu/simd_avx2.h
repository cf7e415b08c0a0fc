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

// 1/d: the approximate reciprocal refined by one Newton step, r·(2 − d·r)
// (relative error ~1e-7, a few ulp). In the SiLU write-back of a GEMM it
// halves the activation's cost against a division (4096×256, this 2-core EPYC).
inline __m256 recip_ps(__m256 d) {
  const __m256 r = _mm256_rcp_ps(d);
  return _mm256_mul_ps(r, _mm256_fnmadd_ps(d, r, _mm256_set1_ps(2.0f)));
}

// Activation of 8 values (ReLU, SiLU and identity vectorised; GELU and tanh per lane).
inline __m256 act_ps(Activation act, __m256 v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::ReLU: return _mm256_max_ps(v, _mm256_setzero_ps());  // NaN -> 0, as v > 0 ? v : 0
    case Activation::SiLU:
      return _mm256_mul_ps(v, recip_ps(_mm256_add_ps(_mm256_set1_ps(1.0f), exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), v)))));
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
      const __m256 s = recip_ps(_mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))));
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

// SplitMix64 (core/rng.h rng_bits) of 4 consecutive indices q0 .. q0+3 in
// 64-bit lanes (64-bit products from 32-bit ones).
inline __m256i mul64_const(__m256i a, uint64_t c) {
  const __m256i clo = _mm256_set1_epi64x(static_cast<int64_t>(c & 0xffffffffull));
  const __m256i chi = _mm256_set1_epi64x(static_cast<int64_t>(c >> 32));
  const __m256i lolo = _mm256_mul_epu32(a, clo);
  const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), clo), _mm256_mul_epu32(a, chi));
  return _mm256_add_epi64(lolo, _mm256_slli_epi64(cross, 32));
}
inline __m256i rng_bits4(uint64_t seed, uint64_t q0) {
  const uint64_t c2 = 0xD1B54A32D192ED03ull;
  const uint64_t z0 = seed * 0x9E3779B97F4A7C15ull + q0 * c2 + 0x632BE59BD9B4E019ull;
  __m256i z = _mm256_setr_epi64x(static_cast<int64_t>(z0), static_cast<int64_t>(z0 + c2),
                                 static_cast<int64_t>(z0 + 2 * c2), static_cast<int64_t>(z0 + 3 * c2));
  z = mul64_const(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xBF58476D1CE4E5B9ull);
  z = mul64_const(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94D049BB133111EBull);
  return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}
// The 16 dropout draws (core/rng.h dropout_bits) of indices i0 .. i0+15: one
// rng_bits4 when i0 is a multiple of 4 (little-endian: lane q's 16-bit piece j
// is draw 4q + j), else one scalar draw each.
inline void dropout_bits16(uint64_t seed, uint64_t i0, uint16_t* out /* 16, 32-byte aligned */) {
  if ((i0 & 3u) == 0) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(out), rng_bits4(seed, i0 >> 2));
  } else {
    for (int q = 0; q < 16; ++q) out[q] = static_cast<uint16_t>(dropout_bits(seed, i0 + static_cast<uint64_t>(q)));
  }
}
// Keep lanes (all ones) of 8 draws: bits >= threshold.
inline __m256 dropout_keep8(const uint16_t* bits, uint32_t threshold) {
  const __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bits)));
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(b, _mm256_set1_epi32(static_cast<int>(threshold) - 1)));
}
// Stores the first n (0..8) keep lanes as bytes 0 / 1.
inline void store_mask_n(uint8_t* p, __m256 keep, int n) {
  const __m256i k = _mm256_castps_si256(keep);
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(k), _mm256_extracti128_si256(k, 1));
  const __m128i b8 = _mm_and_si128(_mm_packs_epi16(w16, w16), _mm_set1_epi8(1));
  if (n == 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), b8);
    return;
  }
  alignas(16) uint8_t t[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), b8);
  for (int i = 0; i < n; ++i) p[i] = t[i];
}

}  // namespace avx2
}  // namespace cpu
}  // namespace ordo
