// ordo/core/transformer.h — the context-aware listwise scorer of allRank
// (FCModel input projection + Transformer Encoder over the documents of ONE
// query + output Linear), forward and backward, one code path for both
// backends over the dense primitives (core/dense.h) plus the ragged attention
// kernels declared below.
//
// Architecture (allRank's make_transformer, which is PRE-norm: its
// SublayerConnection computes x + dropout(sublayer(LayerNorm(x))) and its
// Encoder ends with a LayerNorm). N docs of a batch, D = d_model, H heads,
// dk = D / H, F = d_ff, lists given by CSR offsets (attention never crosses a list):
//     h     = act(x W_in + b_in)                      x [N x in]; dropout(h) when training
//     for each of the `layers` encoder layers:
//       n1    = LayerNorm1(h)
//       Q,K,V = n1 Wq + bq, n1 Wk + bk, n1 Wv + bv     [N x D]
//       per list, per head: O = softmax(Q Kᵀ / sqrt(dk)) V   (rows and columns: the list's docs)
//       h     = h + dropout(O Wo + bo)
//       n2    = LayerNorm2(h)
//       h     = h + dropout(dropout(relu(n2 W1 + b1)) W2 + b2)
//     s = LayerNorm_f(h) w_out + b_out                 scores [N]
// Differences from allRank, on purpose: LayerNorm is torch.nn.LayerNorm
// ((x - mean) / sqrt(biased var + eps), the dense primitive) where allRank's
// hand-written LayerNorm divides by (unbiased std + eps); no dropout on the
// attention probabilities (allRank has one there); FCModel is one Linear layer
// with no input LayerNorm; no positional encoding (allRank's default) and no
// output activation (allRank's default for a scorer). Padding masks are
// unnecessary: lists are ragged.
//
// Parameters: ONE flat float buffer of transformer_param_count(cfg) floats.
// Every Linear's W is [fan_in x fan_out] row-major (y = x W + b; the transpose
// of PyTorch's weight). Order:
//     W_in [in x D], b_in [D],
//     per layer: ln1_gamma [D], ln1_beta [D],
//                Wq [D x D], bq [D], Wk [D x D], bk [D], Wv [D x D], bv [D], Wo [D x D], bo [D],
//                ln2_gamma [D], ln2_beta [D],
//                W1 [D x F], b1 [F], W2 [F x D], b2 [D],
//     lnf_gamma [D], lnf_beta [D], w_out [D x 1], b_out [1].
// Heads: head h uses columns h*dk .. h*dk+dk-1 of Q, K, V and O.
// transformer_layout() gives the offsets. Gradients use the same layout and are
// OVERWRITTEN by transformer_backward.
//
// Backend: Backend::Cpu runs ordo::cpu::*, Backend::Cuda ordo::cuda::* (only
// with ORDO_WITH_CUDA; otherwise BackendError). With Cuda, params, grads, x,
// offsets, scores, dscores and dx are DEVICE pointers and the cache lives on the
// device; the forward copies the (small) offsets to the host once to check them.
//
// Dropout (training && cfg.dropout > 0): inverted dropout with dropout_keep
// masks (core/rng.h) exactly as in core/mlp.h; the sites, in forward order, are: h after the
// input projection [N*D]; then per layer: attention output [N*D], FF hidden
// [N*F], FF output [N*D]. A site's rng offset is the total size of the sites
// before it (as in mlp), so masks are identical on both backends.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dense.h"
#include "core/dispatch.h"

namespace ordo {

struct TransformerConfig {
  int64_t in = 0;        // input features
  int64_t d_model = 0;   // model width D (multiple of heads)
  int64_t heads = 1;     // attention heads H
  int64_t layers = 1;    // encoder layers (0 allowed: FCModel + final LayerNorm + output)
  int64_t d_ff = 0;      // feed-forward hidden width F
  Activation input_act = Activation::ReLU;  // after the input projection
  float dropout = 0.0f;  // probability of dropping, in [0, 1)
  float ln_eps = 1e-6f;  // LayerNorm epsilon (allRank uses 1e-6)
};

struct TransformerLayerLayout {
  int64_t ln1_gamma = 0, ln1_beta = 0;
  int64_t wq = 0, bq = 0, wk = 0, bk = 0, wv = 0, bv = 0, wo = 0, bo = 0;
  int64_t ln2_gamma = 0, ln2_beta = 0;
  int64_t w1 = 0, b1 = 0, w2 = 0, b2 = 0;
};

struct TransformerLayout {
  int64_t w_in = 0, b_in = 0;
  std::vector<TransformerLayerLayout> layers;
  int64_t lnf_gamma = 0, lnf_beta = 0, w_out = 0, b_out = 0;
  int64_t count = 0;  // total floats
};

void transformer_validate(const TransformerConfig& cfg);  // throws ArgumentError on a bad config
TransformerLayout transformer_layout(const TransformerConfig& cfg);
int64_t transformer_param_count(const TransformerConfig& cfg);

// Host-side initialisation like PyTorch's defaults: every Linear's W and b ~
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) drawn from rng_uniform(seed, index) in
// layout order; LayerNorm gamma = 1, beta = 0.
void transformer_init_params(const TransformerConfig& cfg, float* host_params, uint64_t seed);

// Activations kept by transformer_forward for transformer_backward plus the
// backward scratch, allocated on the backend for up to `max_docs` rows in a
// batch and lists of at most `max_list_length` docs. The attention
// probabilities take H * max_docs * max_list_length floats per layer. The
// input x and the offsets are remembered, not copied: keep them alive and
// unchanged until transformer_backward.
class TransformerCache {
 public:
  TransformerCache(Backend backend, const TransformerConfig& cfg, int64_t max_docs, int64_t max_list_length);
  ~TransformerCache();
  TransformerCache(const TransformerCache&) = delete;
  TransformerCache& operator=(const TransformerCache&) = delete;

  Backend backend() const { return backend_; }
  int64_t max_docs() const { return max_docs_; }
  int64_t max_list_length() const { return max_len_; }
  size_t bytes() const { return floats_ * sizeof(float) + mask_bytes_; }

  // Internal state (used by the forward/backward implementation).
  struct Layer {
    float *x = nullptr;                                  // layer input [N x D] (not owned for layer 0)
    float *n1 = nullptr, *mean1 = nullptr, *rstd1 = nullptr;
    float *q = nullptr, *k = nullptr, *v = nullptr, *p = nullptr, *o = nullptr;
    float *xmid = nullptr, *n2 = nullptr, *mean2 = nullptr, *rstd2 = nullptr;
    float *f1 = nullptr, *r = nullptr, *rd = nullptr;    // FF pre-ReLU, ReLU output, its dropout output
    uint8_t *mask_attn = nullptr, *mask_r = nullptr, *mask_ff = nullptr;
  };
  Backend backend_;
  TransformerConfig cfg_;
  int64_t max_docs_ = 0, max_len_ = 0;
  size_t floats_ = 0, mask_bytes_ = 0;
  float* arena_ = nullptr;
  uint8_t* mask_arena_ = nullptr;
  float *z_in = nullptr, *h_in = nullptr, *h_in_drop = nullptr;
  uint8_t* mask_in = nullptr;
  std::vector<Layer> layers;
  float *x_last = nullptr, *nf = nullptr, *meanf = nullptr, *rstdf = nullptr;
  float *g = nullptr, *t1 = nullptr, *t2 = nullptr, *t3 = nullptr, *dq = nullptr, *dk = nullptr, *dv = nullptr,
        *tf = nullptr, *ds = nullptr;
  // state of the last forward pass
  const float* x_ = nullptr;
  const uint32_t* offsets_ = nullptr;
  int64_t num_lists_ = -1, num_docs_ = -1;
  bool training_ = false;
};

// scores [num_docs] = Transformer(x [num_docs x in]) over the lists given by
// offsets (u32 CSR, num_lists + 1 values from 0 to num_docs, on the backend).
// Fills `cache` (same backend and config, num_docs <= max_docs, every list
// <= max_list_length) for a following transformer_backward.
void transformer_forward(Backend backend, const TransformerConfig& cfg, const float* params, const float* x,
                         const uint32_t* offsets, int64_t num_lists, int64_t num_docs, bool training, uint64_t seed,
                         TransformerCache& cache, float* scores);

// From dscores = dLoss/dscores [num_docs] of the last forward: grads (same
// layout as params, overwritten) and, when dx is not null, dx [num_docs x in].
// params must be those of that forward.
void transformer_backward(Backend backend, const TransformerConfig& cfg, const float* params, TransformerCache& cache,
                          const float* dscores, float* grads, float* dx);

// ---- ragged multi-head self-attention kernels (used by the above) ----------
// q, k, v, o, dq, dk, dv: [num_docs x d_model] row-major, head h in columns
// h*dk..; p (probabilities) and ds (scratch): [heads x num_docs x max_len], the
// row of doc r (list-local column c) at (h * num_docs + r) * max_len + c.
// Lists longer than max_len are the caller's error (checked by the forward).
// y = a + b (elementwise, y may alias a or b).
#define ORDO_TRANSFORMER_API                                                                                           \
  void attention_forward(const float* q, const float* k, const float* v, const uint32_t* offsets, int64_t num_lists,   \
                         int64_t num_docs, int64_t d_model, int64_t heads, int64_t max_len, float* p, float* o);        \
  void attention_backward(const float* q, const float* k, const float* v, const float* p, const float* d_o,             \
                          const uint32_t* offsets, int64_t num_lists, int64_t num_docs, int64_t d_model, int64_t heads, \
                          int64_t max_len, float* ds, float* dq, float* dk, float* dv);                                \
  void add(const float* a, const float* b, float* y, int64_t n);

namespace cpu {
ORDO_TRANSFORMER_API
}  // namespace cpu
#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_TRANSFORMER_API
}  // namespace cuda
#endif

}  // namespace ordo
