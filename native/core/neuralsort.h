// ordo/core/neuralsort.h — NeuralSort (Grover et al., ICLR 2019), relaxed
// sorting for ragged batches of score lists.
//
// For a list s of n scores, A_jk = |s_j - s_k|, b = A·1, c_i = n + 1 - 2i
// (i = 1..n, rank 1 = highest score):
//     P̂[i, :] = softmax_j((c_i·s_j − b_j) / τ)          (row i: soft one-hot of the rank-i item)
// Lists are CSR ranges of a flat score array: list q holds docs
// offsets[q] .. offsets[q+1]-1. No padding is needed.
//
// Backward (analytic, O(n²) per list, checked by finite differences):
// with G = ∂L/∂P̂, H = P̂ ⊙ (G − rowsum(P̂⊙G)), u = column sums of H,
// σ_m = Σ_k sign(s_m − s_k):
//     ∂L/∂s_m = (1/τ)·[ Σ_i c_i·H_im − u_m·σ_m − Σ_j sign(s_m − s_j)·u_j ]
//
// Variants (NeuralSortOptions):
//  - gumbel: sorts s + β·g with g_j = −log(−log U_j), U_j = rng_uniform(seed, doc index)
//    (core/rng.h; identical draws on CPU and CUDA); gradients flow to s as if the
//    noise were a constant (reparameterisation).
//  - hard (straight-through): the forward value is the hard permutation
//    one_hot(argmax_j P̂[i, j]) (ties: lowest j), the backward is that of P̂
//    (Grover et al. §4.1; the value (P − P̂).detach() + P̂).
//
// Memory: neuralsort_apply computes y = P̂·v without storing P̂, keeping only
// each row's max and log-sum-exp (2 floats per doc); its backward recomputes
// P̂ rows from them (flash-attention style). Extra memory is O(n) per list.
#pragma once
#include <cstdint>

namespace ordo {

struct NeuralSortOptions {
  float tau = 1.0f;
  bool gumbel = false;
  float gumbel_beta = 1.0f;
  uint64_t seed = 0;
  bool hard = false;
};

#define ORDO_NEURALSORT_API                                                                                                 \
  /* Explicit P̂: list q writes an n_q x n_q row-major block at p_hat + mat_offsets[q]; mat_offsets (num_lists + 1 values) \
     are the prefix sums of n_q². */                                                                                        \
  void neuralsort_matrix(const float* scores, const uint32_t* offsets, int64_t num_lists, const uint64_t* mat_offsets,      \
                         const NeuralSortOptions& opt, float* p_hat);                                                       \
  /* grad_scores (overwritten, one per doc) from grad_p_hat (same layout as p_hat). P̂ is recomputed (soft P̂, also when    \
     opt.hard). */                                                                                                          \
  void neuralsort_matrix_backward(const float* scores, const uint32_t* offsets, int64_t num_lists,                          \
                                  const uint64_t* mat_offsets, const NeuralSortOptions& opt, const float* grad_p_hat,       \
                                  float* grad_scores);                                                                      \
  /* out[offsets[q] + i] = Σ_j P̂_q[i, j] · values[offsets[q] + j]; row_stats[2·doc] = row max, [2·doc+1] = log-sum-exp    \
     (of the scaled logits) for row i of list q at doc index offsets[q] + i. */                                            \
  void neuralsort_apply(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,               \
                        const NeuralSortOptions& opt, float* out, float* row_stats);                                        \
  /* grad_scores (overwritten) and grad_values (overwritten; may be null) from grad_out, recomputing P̂ from row_stats. */ \
  void neuralsort_apply_backward(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,      \
                                 const NeuralSortOptions& opt, const float* row_stats, const float* grad_out,               \
                                 float* grad_scores, float* grad_values);

namespace cpu {
ORDO_NEURALSORT_API
}  // namespace cpu

#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_NEURALSORT_API
}  // namespace cuda
#endif

}  // namespace ordo
