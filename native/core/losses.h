// ordo/core/losses.h — ranking losses over ragged batches: a value per list
// and the gradient with respect to every score.
//
// Inputs: scores and labels (one per doc), CSR offsets (num_lists + 1).
// Output: loss_per_list[q] (the loss of list q, before any reduction) and,
// when grad_scores is not null, grad_scores[d] = ∂ loss_per_list[q(d)] / ∂ s_d.
// Reduction over lists (mean or sum) is the caller's: the JS API documents it.
// Every loss documents (in losses.cc) which reference library's definition it
// follows, its masking rules, lists with no relevant document and lists of one
// document.
#pragma once
#include <cstdint>

namespace ordo {

enum class LossKind {
  PointwiseMSE,          // (s - y)², mean over the list's docs
  SigmoidCrossEntropy,   // BCE(σ(s), t), t = clamp(y / label_max, 0, 1), mean over docs
  SoftmaxCrossEntropy,   // TF-Ranking SoftmaxLoss: −Σ (y/Σy)·log softmax(s)
  RankNet,               // allRank rankNet / TF-Ranking pairwise logistic: pairs y_i > y_j
  LambdaRank,            // LightGBM lambdarank gradients (ΔNDCG, truncation, norm); loss = the RankNet-form value
  ListNet,               // allRank listNet: −Σ softmax(y)·log softmax(s)
  ListMLE,               // allRank listMLE (ties in y broken by a seeded shuffle)
  ApproxNDCG,            // allRank approxNDCGLoss (α = 1/temperature); loss = −NDCG approximation
  NeuralNDCG,            // allRank neuralNDCG (NeuralSort + Sinkhorn, τ, k); loss = −NDCG approximation
  NeuralNDCGTransposed,  // allRank neuralNDCG_transposed
  LambdaLossNDCG2PP,     // allRank lambdaLoss with ndcgLoss2PP_scheme (μ, σ, k)
};

struct LossOptions {
  float sigma = 1.0f;              // sigmoid scale: RankNet, LambdaRank, LambdaLoss
  uint32_t k = 0;                  // truncation; 0 = whole list (LambdaRank truncation level, NeuralNDCG k, LambdaLoss k)
  bool lambdarank_norm = true;     // LightGBM lambdarank_norm
  float temperature = 1.0f;        // NeuralSort τ (NeuralNDCG); ApproxNDCG α = 1 / temperature
  float mu = 10.0f;                // NDCG-Loss2++ weight of the NDCG-Loss2 term
  int sinkhorn_max_iter = 50;      // NeuralNDCG (allRank defaults)
  float sinkhorn_tol = 1e-6f;
  float label_max = 0.0f;          // SigmoidCrossEntropy target scale; 0 = largest label in the batch
  bool powered_gains = true;       // gain 2^y − 1 (else y) where the loss uses gains
  uint64_t seed = 0;               // ListMLE tie shuffling
};

#define ORDO_LOSSES_API                                                                                                   \
  void ranking_loss(LossKind kind, const float* scores, const float* labels, const uint32_t* offsets, int64_t num_lists,  \
                    const LossOptions& opt, float* loss_per_list, float* grad_scores);

namespace cpu {
ORDO_LOSSES_API
}  // namespace cpu

#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_LOSSES_API
}  // namespace cuda
#endif

}  // namespace ordo
