// ordo/core/dense.h — dense layers for scoring: SGEMM, bias, activations,
// LayerNorm, dropout, optimiser updates. Forward and backward side by side.
//
// All matrices are row-major float32. The cpu:: functions take host pointers
// and use the thread pool (core/parallel.h); results are deterministic for a
// given thread count. The cuda:: functions take device pointers, launch on the
// default stream and throw BackendError on a CUDA error; they exist only when
// ORDO_WITH_CUDA is defined. CPU is the reference: CUDA must match it within
// float rounding (dropout masks match exactly: core/rng.h).
#pragma once
#include <cstdint>

namespace ordo {

enum class Activation { Identity, ReLU, SiLU, GELU, Tanh };  // GELU: tanh approximation (as PyTorch approximate='tanh')

struct AdamParams {
  float lr = 1e-3f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0.0f;
  int64_t step = 1;        // 1-based step for bias correction
  bool decoupled = true;   // true: AdamW (decay on the weights), false: Adam (L2 added to the gradient)
};

struct SgdParams {
  float lr = 1e-2f, momentum = 0.0f, weight_decay = 0.0f;
  bool nesterov = false;
};

// Fused write-back of sgemm_fused: once the full K sum v = (op(A) op(B))[i, j]
// of an element is known, these steps run on it in this order (each only when
// its pointer is set), and C[i, j] receives the result:
//   v += bias[j];  pre[i, j] = v;  v = act(v);                      (forward Linear -> activation)
//   v = keep[i, j] ? v / (1 - dropout_p) : 0;                        (dropout backward, as dropout_backward)
//   v *= grad_act'(grad_x[i, j])                                     (activation backward)
// pre, keep and grad_x are [m x n] with leading dimension ldc. For ReLU,
// grad_x may be the activation output instead of its input (a > 0 iff z > 0).
// b_col_sums[j] = sum over p of op(B)[p, j] (overwritten; the bias gradient
// when C = X^T dY is a weight gradient): a double sum with p ascending, as in
// bias_backward; needs trans_b == false (and, on CUDA, ldb == n).
struct GemmEpilogue {
  const float* bias = nullptr;
  float* pre = nullptr;
  Activation act = Activation::Identity;
  const uint8_t* keep = nullptr;
  float dropout_p = 0.0f;
  const float* grad_x = nullptr;
  Activation grad_act = Activation::Identity;
  float* b_col_sums = nullptr;
};

#define ORDO_DENSE_API                                                                                                     \
  /* C[m,n] = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) is k x n (transposed when trans_*). */             \
  void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,       \
             const float* b, int64_t ldb, float beta, float* c, int64_t ldc);                                            \
  /* C[m,n] = epilogue(op(A) * op(B)) (GemmEpilogue above; alpha = 1, beta = 0). */                                   \
  void sgemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,             \
                   const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& epilogue);                   \
  /* y[r, c] += bias[c] */                                                                                                \
  void add_bias(float* y, const float* bias, int64_t rows, int64_t cols);                                                 \
  /* dbias[c] = sum_r dy[r, c] (overwrites dbias) */                                                                      \
  void bias_backward(const float* dy, int64_t rows, int64_t cols, float* dbias);                                          \
  /* y = f(x), elementwise; y may alias x */                                                                              \
  void activation_forward(Activation act, const float* x, float* y, int64_t n);                                          \
  /* dx = dy * f'(x) from the pre-activation x; dx may alias dy */                                                        \
  void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t n);                       \
  /* per row: y = (x - mean) * rstd * gamma + beta; saves mean and rstd (rows values each) */                            \
  void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,       \
                         int64_t rows, int64_t cols, float eps);                                                          \
  /* dx (overwritten); dgamma, dbeta overwritten with sums over rows */                                                   \
  void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,     \
                          float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols);                            \
  /* inverted dropout: keep element i when dropout_keep(seed, offset + i, dropout_threshold(p)) (core/rng.h); y = keep ? x / (1 - p) : 0; mask[i] = keep */ \
  void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset);      \
  void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p);                             \
  /* layernorm_forward then dropout_forward (element i of x is index offset + i) in one pass: y = dropout(LN(x));      \
     p == 0: no dropout (mask may be null then) */                                                                       \
  void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,           \
                                 float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,             \
                                 uint64_t seed, uint64_t offset);                                                        \
  /* layernorm_backward then activation_backward in one pass: x = act(z) was LayerNorm's input (the CPU path may read    \
     act'(z) off x and z, e.g. SiLU' = σ + x·(1 − σ) with σ = x/z); dz = act'(z) * dLN/dx(dy); dgamma, dbeta            \
     overwritten (may be null). z may be null for Identity and ReLU (then x)  */                                          \
  void layernorm_act_backward(Activation act, const float* dy, const float* x, const float* z, const float* gamma,       \
                              const float* mean, const float* rstd, float* dz, float* dgamma, float* dbeta,             \
                              int64_t rows, int64_t cols);                                                               \
  /* fused, in place: param, m, v updated */                                                                              \
  void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamParams& p);                  \
  /* fused, in place; momentum_buf may be null when momentum == 0 */                                                      \
  void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, const SgdParams& p);

namespace cpu {
ORDO_DENSE_API
// Plain triple loop, the reference the tests compare every backend with.
void sgemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// True when the AVX2+FMA code path is in use (runtime CPU check; ORDO_NO_AVX2=1 forces the scalar path).
bool sgemm_uses_avx2();
}  // namespace cpu

#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_DENSE_API
}  // namespace cuda
#endif

}  // namespace ordo
