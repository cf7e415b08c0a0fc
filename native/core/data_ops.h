// ordo/core/data_ops.h — small data-movement and reduction kernels used by the
// trainers: gather rows into a batch, scale, sum of squares (for gradient
// clipping), fill. CPU (host pointers) and CUDA (device pointers) with the same
// contract; reductions are deterministic (fixed order) on the CPU.
#pragma once
#include <cstdint>

namespace ordo {

#define ORDO_DATA_OPS_API                                                                                         \
  /* dst[r, :] = src[rows[r], :] for r < num_rows (src has num_src_rows rows of `cols` floats; rows checked by    \
     the caller). */                                                                                              \
  void gather_rows(const float* src, int64_t cols, const uint32_t* rows, int64_t num_rows, float* dst);          \
  /* x *= alpha */                                                                                                \
  void scale(float* x, int64_t n, float alpha);                                                                   \
  /* Σ x² in double */                                                                                            \
  double sum_squares(const float* x, int64_t n);                                                                  \
  /* Σ x in double */                                                                                             \
  double sum(const float* x, int64_t n);

namespace cpu {
ORDO_DATA_OPS_API
}  // namespace cpu

#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_DATA_OPS_API
}  // namespace cuda
#endif

}  // namespace ordo
