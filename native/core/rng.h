// ordo/core/rng.h — counter-based random numbers, identical on CPU and CUDA.
//
// A value is a pure function of (seed, index): no state, any order, any
// thread or device gives the same draw, so dropout masks and Gumbel noise match
// between backends bit for bit and are reproducible per seed.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define ORDO_HD __host__ __device__ __forceinline__
#else
#define ORDO_HD inline
#endif

namespace ordo {

// SplitMix64 finaliser (Steele, Lea & Flood 2014) applied to seed and index.
ORDO_HD uint64_t rng_bits(uint64_t seed, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + index * 0xD1B54A32D192ED03ull + 0x632BE59BD9B4E019ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Uniform in the open interval (0, 1), 24 random bits.
ORDO_HD float rng_uniform(uint64_t seed, uint64_t index) {
  return (static_cast<float>(rng_bits(seed, index) >> 40) + 0.5f) * (1.0f / 16777216.0f);
}

// Dropout draws (core/dense.h, core/mlp.h, core/transformer.h): 16-bit uniforms,
// four per SplitMix64 value, so a mask costs a quarter of the hashing of one
// 24-bit draw per element. Element i reads bits 16·(i mod 4) … 16·(i mod 4) + 15
// of rng_bits(seed, ⌊i/4⌋) as u_i = (bits + 0.5) / 65536 and is kept when
// u_i >= p, i.e. when bits >= dropout_threshold(p) = ⌈65536·p − 0.5⌉ clamped to
// [0, 65536] (p = 0 keeps all, p = 1 none; p is resolved to 1/65536).
ORDO_HD uint32_t dropout_threshold(float p) {
  const double x = static_cast<double>(p) * 65536.0 - 0.5;
  if (!(x > 0.0)) return 0u;
  if (x >= 65536.0) return 65536u;
  uint32_t k = static_cast<uint32_t>(x);
  if (static_cast<double>(k) < x) ++k;
  return k;
}
ORDO_HD uint32_t dropout_bits(uint64_t seed, uint64_t index) {
  return static_cast<uint32_t>(rng_bits(seed, index >> 2) >> (16u * static_cast<unsigned>(index & 3u))) & 0xFFFFu;
}
ORDO_HD bool dropout_keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return dropout_bits(seed, index) >= threshold;
}

}  // namespace ordo
