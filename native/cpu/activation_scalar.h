// ordo/cpu/activation_scalar.h — private: the activations and their slopes
// for one float, with the formulas (and operation order) of
// cpu::activation_forward / activation_backward in dense.cc, for the fused
// kernels' scalar paths (GELU and tanh everywhere; all of them off AVX2).
#pragma once
#include <cmath>

#include "core/dense.h"

namespace ordo {
namespace cpu {

constexpr float kGeluBeta = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluKappa = 0.044715f;

inline float act_value(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::ReLU: return v > 0.0f ? v : 0.0f;
    case Activation::SiLU: return v / (1.0f + std::exp(-v));
    case Activation::GELU: return 0.5f * v * (1.0f + std::tanh(kGeluBeta * (v + kGeluKappa * v * v * v)));
    case Activation::Tanh: return std::tanh(v);
  }
  return v;
}

// f'(v): activation_backward computes dx = dy * act_slope(act, x).
inline float act_slope(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return 1.0f;
    case Activation::ReLU: return v > 0.0f ? 1.0f : 0.0f;
    case Activation::SiLU: {
      const float s = 1.0f / (1.0f + std::exp(-v));
      return s * (1.0f + v * (1.0f - s));
    }
    case Activation::GELU: {
      const float v2 = v * v;
      const float t = std::tanh(kGeluBeta * (v + kGeluKappa * v2 * v));
      return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluBeta * (1.0f + 3.0f * kGeluKappa * v2);
    }
    case Activation::Tanh: {
      const float t = std::tanh(v);
      return 1.0f - t * t;
    }
  }
  return 1.0f;
}

}  // namespace cpu
}  // namespace ordo
