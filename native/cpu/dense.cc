// cpu:: dense-layer primitives other than SGEMM: bias, activations, LayerNorm,
// dropout, optimiser updates. Elementwise loops are left to the compiler's
// vectoriser; reductions use a fixed order (per column, rows in order) so the
// results do not depend on the thread count at all.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/dense.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "cpu/activation_scalar.h"
#include "cpu/sgemm_avx2.h"

namespace ordo {
namespace cpu {
namespace {

constexpr int64_t kElemGrain = 1 << 15;  // elementwise work per chunk (items)

void need(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw ArgumentError(std::string(fn) + ": " + what);
}

// Rows per chunk so that a chunk holds about kElemGrain elements.
int64_t row_grain(int64_t cols) { return std::max<int64_t>(1, kElemGrain / std::max<int64_t>(1, cols)); }

}  // namespace

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  need(rows >= 0 && cols >= 0, "add_bias", "negative shape");
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      float* yr = y + r * cols;
      for (int64_t c = 0; c < cols; ++c) yr[c] += bias[c];
    }
  });
}

void bias_backward(const float* dy, int64_t rows, int64_t cols, float* dbias) {
  need(rows >= 0 && cols >= 0, "bias_backward", "negative shape");
  // Columns split across threads; each column summed over rows in order (double).
  const int64_t cgrain = std::max<int64_t>(16, kElemGrain / std::max<int64_t>(1, rows));
  parallel_for(cols, cgrain, [&](int64_t c0, int64_t c1, int) {
    std::vector<double> acc(static_cast<size_t>(c1 - c0), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* d = dy + r * cols + c0;
      for (int64_t c = 0; c < c1 - c0; ++c) acc[c] += d[c];
    }
    for (int64_t c = c0; c < c1; ++c) dbias[c] = static_cast<float>(acc[c - c0]);
  });
}

void activation_forward(Activation act, const float* x, float* y, int64_t n) {
  need(n >= 0, "activation_forward", "negative length");
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    switch (act) {
      case Activation::Identity:
        if (y != x) std::memmove(y + b, x + b, static_cast<size_t>(e - b) * sizeof(float));
        break;
      case Activation::ReLU:
        for (int64_t i = b; i < e; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
      case Activation::SiLU:
        for (int64_t i = b; i < e; ++i) y[i] = x[i] / (1.0f + std::exp(-x[i]));
        break;
      case Activation::GELU:
        for (int64_t i = b; i < e; ++i) {
          const float v = x[i];
          const float inner = kGeluBeta * (v + kGeluKappa * v * v * v);
          y[i] = 0.5f * v * (1.0f + std::tanh(inner));
        }
        break;
      case Activation::Tanh:
        for (int64_t i = b; i < e; ++i) y[i] = std::tanh(x[i]);
        break;
    }
  });
}

void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t n) {
  need(n >= 0, "activation_backward", "negative length");
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    switch (act) {
      case Activation::Identity:
        if (dx != dy) std::memmove(dx + b, dy + b, static_cast<size_t>(e - b) * sizeof(float));
        break;
      case Activation::ReLU:
        for (int64_t i = b; i < e; ++i) dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
        break;
      case Activation::SiLU:
        for (int64_t i = b; i < e; ++i) {
          const float s = 1.0f / (1.0f + std::exp(-x[i]));
          dx[i] = dy[i] * s * (1.0f + x[i] * (1.0f - s));
        }
        break;
      case Activation::GELU:
        // As PyTorch's GeluBackward (approximate='tanh').
        for (int64_t i = b; i < e; ++i) {
          const float v = x[i], v2 = v * v;
          const float t = std::tanh(kGeluBeta * (v + kGeluKappa * v2 * v));
          const float left = 0.5f * v, right = 1.0f + t;
          const float dleft = 0.5f * right;
          const float dright = left * (1.0f - t * t) * kGeluBeta * (1.0f + 3.0f * kGeluKappa * v2);
          dx[i] = dy[i] * (dleft + dright);
        }
        break;
      case Activation::Tanh:
        for (int64_t i = b; i < e; ++i) {
          const float t = std::tanh(x[i]);
          dx[i] = dy[i] * (1.0f - t * t);
        }
        break;
    }
  });
}

// gamma / beta may be null (no affine: gamma = 1, beta = 0).
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps) {
  need(rows >= 0 && cols >= 1, "layernorm_forward", "need rows >= 0 and cols >= 1");
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      double s = 0.0;
      for (int64_t c = 0; c < cols; ++c) s += xr[c];
      const double mu = s / static_cast<double>(cols);
      double ss = 0.0;  // two-pass (biased) variance
      for (int64_t c = 0; c < cols; ++c) {
        const double d = xr[c] - mu;
        ss += d * d;
      }
      const float m = static_cast<float>(mu);
      const float rs = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(cols) + static_cast<double>(eps)));
      if (mean) mean[r] = m;
      if (rstd) rstd[r] = rs;
      float* yr = y + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float h = (xr[c] - m) * rs;
        yr[c] = h * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
      }
    }
  });
}

// xhat = (x - mean) * rstd, g = dy * gamma:
//   dx = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat));  dgamma = sum_r dy * xhat;  dbeta = sum_r dy.
// dgamma / dbeta may be null (not wanted).
void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols) {
  need(rows >= 0 && cols >= 1, "layernorm_backward", "need rows >= 0 and cols >= 1");
  parallel_for(rows, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * cols;
      const float* dyr = dy + r * cols;
      const float m = mean[r], rs = rstd[r];
      double sg = 0.0, sgx = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
        sg += g;
        sgx += static_cast<double>(g) * ((xr[c] - m) * rs);
      }
      const float mg = static_cast<float>(sg / cols), mgx = static_cast<float>(sgx / cols);
      float* dxr = dx + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
        dxr[c] = rs * (g - mg - ((xr[c] - m) * rs) * mgx);
      }
    }
  });
  if (!dgamma && !dbeta) return;
  const int64_t cgrain = std::max<int64_t>(16, kElemGrain / std::max<int64_t>(1, rows));
  parallel_for(cols, cgrain, [&](int64_t c0, int64_t c1, int) {
    const int64_t w = c1 - c0;
    std::vector<double> ag(static_cast<size_t>(w), 0.0), ab(static_cast<size_t>(w), 0.0);
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x + r * cols + c0;
      const float* dyr = dy + r * cols + c0;
      const float m = mean[r], rs = rstd[r];
      for (int64_t c = 0; c < w; ++c) {
        ag[c] += static_cast<double>(dyr[c]) * ((xr[c] - m) * rs);
        ab[c] += dyr[c];
      }
    }
    for (int64_t c = 0; c < w; ++c) {
      if (dgamma) dgamma[c0 + c] = static_cast<float>(ag[c]);
      if (dbeta) dbeta[c0 + c] = static_cast<float>(ab[c]);
    }
  });
}

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset) {
  need(n >= 0, "dropout_forward", "negative length");
  need(p >= 0.0f && p <= 1.0f, "dropout_forward", "p must be in [0, 1], got " + std::to_string(p));
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  const uint32_t threshold = dropout_threshold(p);
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const bool keep = dropout_keep(seed, offset + static_cast<uint64_t>(i), threshold);
      if (mask) mask[i] = keep ? 1 : 0;
      y[i] = keep ? x[i] * scale : 0.0f;
    }
  });
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) {
  need(n >= 0, "dropout_backward", "negative length");
  need(p >= 0.0f && p <= 1.0f, "dropout_backward", "p must be in [0, 1], got " + std::to_string(p));
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) dx[i] = mask[i] ? dy[i] * scale : 0.0f;
  });
}

void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                               float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,
                               uint64_t seed, uint64_t offset) {
  need(rows >= 0 && cols >= 1, "layernorm_dropout_forward", "need rows >= 0 and cols >= 1");
  need(p >= 0.0f && p < 1.0f, "layernorm_dropout_forward", "p must be in [0, 1), got " + std::to_string(p));
  need(p == 0.0f || mask != nullptr, "layernorm_dropout_forward", "p > 0 needs a mask");
  if (rows == 0) return;
#if defined(ORDO_HAVE_AVX2_KERNELS)
  if (sgemm_uses_avx2()) {
    avx2::layernorm_dropout_forward(x, gamma, beta, y, mean, rstd, mask, rows, cols, eps, p, seed, offset);
    return;
  }
#endif
  layernorm_forward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
  if (p > 0.0f) dropout_forward(y, y, mask, rows * cols, p, seed, offset);
}

void layernorm_act_backward(Activation act, const float* dy, const float* x, const float* z, const float* gamma,
                            const float* mean, const float* rstd, float* dz, float* dgamma, float* dbeta,
                            int64_t rows, int64_t cols) {
  need(rows >= 0 && cols >= 1, "layernorm_act_backward", "need rows >= 0 and cols >= 1");
  need(z != nullptr || act == Activation::Identity || act == Activation::ReLU, "layernorm_act_backward",
       "z (the activation's input) is needed for this activation");
#if defined(ORDO_HAVE_AVX2_KERNELS)
  if (sgemm_uses_avx2()) {
    avx2::layernorm_act_backward(act, dy, x, z, gamma, mean, rstd, dz, dgamma, dbeta, rows, cols);
    return;
  }
#endif
  layernorm_backward(dy, x, gamma, mean, rstd, dz, dgamma, dbeta, rows, cols);
  activation_backward(act, z ? z : x, dz, dz, rows * cols);
}

// PyTorch torch.optim.Adam / AdamW (amsgrad=False, maximize=False), one step:
//   AdamW: param *= 1 - lr*wd;            Adam: grad += wd*param
//   m = b1*m + (1-b1)*grad;  v = b2*v + (1-b2)*grad^2
//   param -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamParams& p) {
  need(n >= 0, "adam_update", "negative length");
  need(p.step >= 1, "adam_update", "step must be >= 1 (1-based)");
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step)));
  const float step_size = p.lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  const float decay = 1.0f - p.lr * p.weight_decay;
  const float l2 = p.decoupled ? 0.0f : p.weight_decay;
  const bool decoupled = p.decoupled && p.weight_decay != 0.0f;
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float w = param[i];
      if (decoupled) w *= decay;
      const float g = grad[i] + l2 * param[i];
      const float mi = p.beta1 * m[i] + (1.0f - p.beta1) * g;
      const float vi = p.beta2 * v[i] + (1.0f - p.beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = w - step_size * mi / (std::sqrt(vi) / bc2_sqrt + p.eps);
    }
  });
}

// PyTorch torch.optim.SGD (dampening 0): d = grad + wd*param; with momentum
// buf = momentum*buf + d (buf zero-initialised reproduces PyTorch's first step
// buf = d), d = nesterov ? d + momentum*buf : buf; param -= lr*d.
void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, const SgdParams& p) {
  need(n >= 0, "sgd_update", "negative length");
  need(p.momentum == 0.0f || momentum_buf != nullptr, "sgd_update", "momentum != 0 needs a momentum buffer");
  parallel_for(n, kElemGrain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      float d = grad[i];
      if (p.weight_decay != 0.0f) d += p.weight_decay * param[i];
      if (p.momentum != 0.0f) {
        const float buf = p.momentum * momentum_buf[i] + d;
        momentum_buf[i] = buf;
        d = p.nesterov ? d + p.momentum * buf : buf;
      }
      param[i] -= p.lr * d;
    }
  });
}

}  // namespace cpu
}  // namespace ordo
