// ordo/cpu/sgemm_avx2.h — private: the SGEMM code paths behind cpu::sgemm.
//
// cpu::sgemm (sgemm.cc) validates its arguments, handles the trivial cases
// (m, n == 0; k == 0 or alpha == 0: C = beta * C) and then calls one of these.
// Both compute every C element with one fixed, sequential K order and no
// split-K, so results are bit-identical run to run and for any thread count.
#pragma once
#include <cstdint>

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
}  // namespace avx2

}  // namespace cpu
}  // namespace ordo
