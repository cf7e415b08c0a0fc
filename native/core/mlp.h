// ordo/core/mlp.h — a multi-layer perceptron scorer built from the dense
// primitives (core/dense.h), one code path for both backends.
//
// Architecture: for each hidden width h_l (l = 0..L-1)
//     z_l = x_l · W_l + b_l            (Linear; x_0 = input, W_l is [in_l x h_l] row-major)
//     a_l = act(z_l)
//     n_l = LayerNorm(a_l) * gamma_l + beta_l          (only when cfg.layernorm)
//     x_{l+1} = dropout(n_l or a_l, p)                  (only when cfg.dropout > 0 and training)
// then y = x_L · W_L + b_L with W_L [in_L x out]. L = 0 is a linear model.
//
// Parameters: ONE flat float buffer of mlp_param_count(cfg) floats, in order
//     W_0 [in x h_0] row-major, b_0 [h_0], (gamma_0 [h_0], beta_0 [h_0] if layernorm),
//     W_1 [h_0 x h_1], b_1, (gamma_1, beta_1), ..., W_L [h_{L-1} x out], b_L [out].
// mlp_layout() gives the offsets. Gradients use a buffer with the same layout
// and are OVERWRITTEN (not accumulated) by mlp_backward. So one adam_update /
// sgd_update call over the whole buffer trains every parameter.
//
// Backend: Backend::Cpu calls ordo::cpu::*, Backend::Cuda ordo::cuda::* (only
// in builds with ORDO_WITH_CUDA; otherwise BackendError). With Cuda, params,
// grads, x, y, dy and dx are DEVICE pointers and the cache lives on the device.
//
// Dropout: element i of hidden layer l in a forward pass with `seed` is kept iff
// dropout_keep(seed, offset_l + i, dropout_threshold(p)) (core/rng.h), offset_l = batch * (h_0 + ... + h_{l-1});
// masks are identical on both backends. With training == false dropout is off.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dense.h"
#include "core/dispatch.h"

namespace ordo {

struct MlpConfig {
  int64_t in = 0;                 // input features
  std::vector<int64_t> hidden;    // hidden widths (may be empty)
  int64_t out = 1;                // output units (1 for a scorer)
  Activation act = Activation::ReLU;
  bool layernorm = false;
  float dropout = 0.0f;           // probability of dropping, in [0, 1)
  float layernorm_eps = 1e-5f;
};

// Offsets (in floats) of one Linear layer's parameters in the flat buffer.
struct MlpLayerLayout {
  int64_t in = 0, out = 0;        // W is [in x out]
  int64_t w = 0, b = 0;           // offsets of W and b
  int64_t gamma = -1, beta = -1;  // LayerNorm affine parameters, -1 when absent (and always for the output layer)
};

void mlp_validate(const MlpConfig& cfg);                        // throws ArgumentError on a bad config
std::vector<MlpLayerLayout> mlp_layout(const MlpConfig& cfg);   // hidden layers, then the output layer
int64_t mlp_param_count(const MlpConfig& cfg);

// Host-side initialisation like PyTorch's nn.Linear / nn.LayerNorm defaults:
// W, b ~ U(-1/sqrt(in), 1/sqrt(in)) (drawn from rng_uniform(seed, index)), gamma = 1, beta = 0.
void mlp_init_params(const MlpConfig& cfg, float* host_params, uint64_t seed);

// Activations kept by mlp_forward for mlp_backward, plus backward scratch,
// allocated on the backend for up to `max_batch` rows. Floats held:
//   per hidden layer: z, a [batch*h] (+ LayerNorm output [batch*h], mean, rstd [batch])
//   (+ dropout output [batch*h] and a byte mask [batch*h]); two gradient
//   buffers of batch * max(h_l) floats. The input pointer x is remembered, not
//   copied: keep x alive and unchanged until mlp_backward.
class MlpCache {
 public:
  MlpCache(Backend backend, const MlpConfig& cfg, int64_t max_batch);
  ~MlpCache();
  MlpCache(const MlpCache&) = delete;
  MlpCache& operator=(const MlpCache&) = delete;

  Backend backend() const { return backend_; }
  int64_t max_batch() const { return max_batch_; }
  size_t bytes() const { return floats_ * sizeof(float) + mask_bytes_; }

 private:
  friend void mlp_forward(Backend, const MlpConfig&, const float*, const float*, int64_t, bool, uint64_t, MlpCache&,
                          float*);
  friend void mlp_backward(Backend, const MlpConfig&, const float*, MlpCache&, const float*, int64_t, float*, float*);
  struct Layer {
    float *z = nullptr, *a = nullptr, *ln = nullptr, *mean = nullptr, *rstd = nullptr, *drop = nullptr;
    uint8_t* mask = nullptr;
  };
  Backend backend_;
  MlpConfig cfg_;
  int64_t max_batch_ = 0;
  size_t floats_ = 0, mask_bytes_ = 0;
  float* arena_ = nullptr;
  uint8_t* mask_arena_ = nullptr;
  std::vector<Layer> layers_;
  float *grad0_ = nullptr, *grad1_ = nullptr;
  // state of the last forward pass
  const float* x_ = nullptr;
  int64_t batch_ = -1;
  bool training_ = false;
  float* output(size_t l) const;  // what hidden layer l hands to the next layer
};

// y [batch x out] = MLP(x [batch x in]). Fills `cache` (same backend, cfg and
// batch <= max_batch) for a following mlp_backward.
void mlp_forward(Backend backend, const MlpConfig& cfg, const float* params, const float* x, int64_t batch,
                 bool training, uint64_t seed, MlpCache& cache, float* y);

// From dy = dLoss/dy [batch x out]: grads (same layout as params, overwritten)
// and, when dx is not null, dx = dLoss/dx [batch x in]. Uses the cache of the
// last mlp_forward with the same batch; params must be those of that forward.
void mlp_backward(Backend backend, const MlpConfig& cfg, const float* params, MlpCache& cache, const float* dy,
                  int64_t batch, float* grads, float* dx);

}  // namespace ordo
