// ordo/cpu/sgemm_avx2.h — private: the SGEMM code paths behind cpu::sgemm,
// and the AVX2 versions of the fused dense kernels (dense_avx2.cc).
//
// cpu::sgemm (sgemm.cc) validates its arguments, handles the trivial cases
// (m, n == 0; k == 0 or alpha == 0: C = beta * C) and then calls one of these.
// Both compute every C element with one fixed, sequential K order and no
// split-K, so results are bit-identical run to run and for any thread count.
#pragma once
#include <cstdint>

#include "core/dense.h"

namespace ordo {
namespace cpu {

// Portable blocked kernel (baseline x86-64 / any CPU). Also the test hook
// that lets tests exercise the scalar path on an AVX2 machine.
void sgemm_scalar(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                  const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

namespace avx2 {
// Packed AVX2+FMA kernel (sgemm_avx2.cc, compiled with -mavx2 -mfma). Only
// defined when the library is built with ORDO_HAVE_AVX2_KERNELS; call it only
// after a run-time CPU check. Preconditions: m, n, k >= 1.
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
// cpu::sgemm_fused after its checks; same preconditions, trans_b == false when e.b_col_sums is set.
void sgemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e);
// cpu::layernorm_dropout_forward / layernorm_act_backward after their checks (dense_avx2.cc).
void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                               float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,
                               uint64_t seed, uint64_t offset);
void layernorm_act_backward(Activation act, const float* dy, const float* x, const float* z, const float* gamma,
                            const float* mean, const float* rstd, float* dz, float* dgamma, float* dbeta,
                            int64_t rows, int64_t cols);
// The feature part of one row of cpu::diffusion_noise_input (diffusion_avx2.cc):
// eps from the row's Box–Muller draws, input = c_in·(x + σ·eps), target = (σ·x − eps)·c_in.
void diffusion_noise_row(uint64_t step, int64_t row, const float* x, int64_t features, float sigma, float c_in,
                         float* input, float* target);
}  // namespace avx2

}  // namespace cpu
}  // namespace ordo
