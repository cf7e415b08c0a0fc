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

}  // namespace ordo
