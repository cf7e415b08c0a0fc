// DiffusionRank / TabDiff kernels on CUDA: the contract, formulas and random
// streams are those of core/diffusion.h and cpu/diffusion.cc (double inside,
// float stored; the shared math lives in core/diffusion.h).
//
// Layout of the work:
//  * schedules: one thread per (row, column); the ρ / k gradients one block
//    per column, a fixed-order tree reduction in double (deterministic).
//  * noise / denoiser input: one block per row (thread 0 draws the row's t,
//    mask and σ into shared memory; the block fills the row).
//  * loss: one warp per row (fixed-order shuffle reduction), per-row partials
//    in double, then a single block sums them in a fixed order.
//  * pair sampler: one thread per pair.
// Content errors (bad class ids, t, σ) are flagged by the kernels (the first
// bad row, atomicMin) after they guarded the index, read back after the launch
// and thrown as ArgumentError. The pair sampler reads nothing back.
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/diffusion.h"
#include "core/error.h"

namespace ordo {
namespace cuda {
namespace {

using diffusion::sigmoid;
using diffusion::softplus;

constexpr unsigned kNoRow = 0xFFFFFFFFu;

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw BackendError(std::string("CUDA ") + what + " launch failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

unsigned grid_for(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535 * 16 ? 65535 * 16 : b));
}

// Device scratch: `doubles` doubles followed by `flags` u32 error flags set to
// kNoRow. Freed on scope exit.
class Scratch {
 public:
  Scratch(size_t doubles, int flags) : doubles_(doubles), flags_(flags) {
    const size_t bytes = doubles * sizeof(double) + static_cast<size_t>(flags) * sizeof(unsigned);
    p_ = device_alloc(bytes < 8 ? 8 : bytes);
    if (flags > 0) {
      const cudaError_t e = cudaMemset(flag_ptr(), 0xFF, static_cast<size_t>(flags) * sizeof(unsigned));
      if (e != cudaSuccess) {
        device_free(p_);
        throw BackendError(std::string("CUDA cudaMemset failed: ") + cudaGetErrorName(e));
      }
    }
  }
  ~Scratch() { device_free(p_); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  double* doubles() const { return static_cast<double*>(p_); }
  unsigned* flag_ptr() const { return reinterpret_cast<unsigned*>(static_cast<double*>(p_) + doubles_); }
  std::vector<unsigned> read_flags() const {  // synchronises (and surfaces kernel errors)
    std::vector<unsigned> h(static_cast<size_t>(flags_));
    copy_to_host(h.data(), flag_ptr(), h.size() * sizeof(unsigned));
    return h;
  }

 private:
  void* p_ = nullptr;
  size_t doubles_;
  int flags_;
};

__device__ __forceinline__ bool valid_class(float c, int64_t limit) {
  return isfinite(c) && c >= 0.0f && c < static_cast<float>(limit) && c == floorf(c);
}

__device__ __forceinline__ void flag_row(unsigned* flag, int64_t row) { atomicMin(flag, static_cast<unsigned>(row)); }

// ---- schedules ------------------------------------------------------------------------

__global__ void k_schedule_numeric(const float* t, int64_t batch, int64_t cols, const float* rho_raw, double sigma_min,
                                   double sigma_max, double rho_fixed, double rho_offset, float* sigma, float* dsdt) {
  const int64_t n = batch * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    const double rho = rho_raw ? softplus(rho_raw[c]) + rho_offset : rho_fixed;
    const double a = pow(sigma_min, 1.0 / rho), b = pow(sigma_max, 1.0 / rho);
    const double base = a + static_cast<double>(t[r]) * (b - a);
    sigma[i] = static_cast<float>(pow(base, rho));
    if (dsdt) dsdt[i] = static_cast<float>(rho * pow(base, rho - 1.0) * (b - a));
  }
}

constexpr int kReduceThreads = 256;

// Fixed-order block sum of v (every thread of the block calls it); the result in thread 0.
__device__ double block_sum(double v) {
  __shared__ double buf[kReduceThreads];
  buf[threadIdx.x] = v;
  __syncthreads();
  for (int stride = kReduceThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) buf[threadIdx.x] += buf[threadIdx.x + stride];
    __syncthreads();
  }
  return buf[0];
}

__global__ void k_schedule_numeric_backward(const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                            const float* d_sigma, double log_min, double log_max, double rho_offset,
                                            float* d_rho_raw) {
  const int64_t c = blockIdx.x;
  const double rho = softplus(rho_raw[c]) + rho_offset;
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < batch; r += kReduceThreads)
    acc += static_cast<double>(d_sigma[r * cols + c]) * diffusion::dsigma_drho(t[r], rho, log_min, log_max);
  const double total = block_sum(acc);
  if (threadIdx.x == 0) d_rho_raw[c] = static_cast<float>(total * sigmoid(rho_raw[c]));
}

__global__ void k_schedule_categorical(const float* t, int64_t batch, int64_t cols, const float* k_raw, double cc,
                                       double eps_min, double k_offset, float* move_chance, float* sigma_cat, float* weight) {
  const int64_t n = batch * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / cols, c = i - r * cols;
    const double tt = t[r];
    double tau = tt, dtau = 1.0;
    if (k_raw) {
      const double k = softplus(k_raw[c]) + k_offset;
      tau = pow(tt, k);
      dtau = k * pow(tt, k - 1.0);
    }
    const double mc = cc * tau + eps_min;
    move_chance[i] = static_cast<float>(mc);
    if (sigma_cat) sigma_cat[i] = static_cast<float>(-log1p(-mc));
    if (weight) weight[i] = static_cast<float>(cc * dtau / mc);
  }
}

__global__ void k_schedule_categorical_backward(const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                                const float* d_mc, const float* d_w, double cc, double eps_min,
                                                double k_offset, float* d_k_raw) {
  const int64_t c = blockIdx.x;
  const double k = softplus(k_raw[c]) + k_offset;
  double acc = 0.0;
  for (int64_t r = threadIdx.x; r < batch; r += kReduceThreads)
    acc += diffusion::categorical_dk(t[r], k, cc, eps_min, d_mc[r * cols + c], d_w ? d_w[r * cols + c] : 0.0);
  const double total = block_sum(acc);
  if (threadIdx.x == 0) d_k_raw[c] = static_cast<float>(total * sigmoid(k_raw[c]));
}

// ---- inputs -----------------------------------------------------------------------------

constexpr int kRowThreads = 128;

struct NoiseParams {
  int64_t batch, features, classes, half;
  uint64_t step;
  double a, b, rho, cc, eps_min;
};

__global__ void k_noise_input(NoiseParams P, const float* x0, const float* classes, const float* t, float* input,
                              float* target, float* row_info, unsigned* flags) {
  const int64_t r = blockIdx.x;
  const int64_t D = P.features, K = P.classes, width = D + K + 2;
  __shared__ double s_sig, s_cin;
  __shared__ int64_t s_slot;
  if (threadIdx.x == 0) {
    const int64_t src = r >= P.half ? r - P.half : r;
    double tt = t ? static_cast<double>(t[src]) : static_cast<double>(diffusion::draw(P.step, src, diffusion::kDrawT));
    if (t && !(tt >= 0.0 && tt <= 1.0)) flag_row(flags + 1, src);
    const float u = diffusion::draw(P.step, src, diffusion::kDrawMask);
    const double mc = diffusion::move_chance(tt, P.cc, P.eps_min);
    const bool masked = static_cast<double>(u) < mc;
    const double sig = diffusion::power_mean_sigma(tt, P.a, P.b, P.rho);
    const float cls = classes[r];
    int64_t slot = -1;  // a bad class id writes an all-zero one-hot (and is reported)
    if (!valid_class(cls, K)) flag_row(flags, r);
    else slot = masked ? K : static_cast<int64_t>(cls);
    s_sig = sig;
    s_cin = 1.0 / sqrt(sig * sig + 1.0);
    s_slot = slot;
    float* info = row_info + r * 4;
    info[0] = static_cast<float>(tt);
    info[1] = static_cast<float>(sig);
    info[2] = masked ? 1.0f : 0.0f;
    info[3] = static_cast<float>(1.0 / mc);
  }
  __syncthreads();
  const double sig = s_sig, c_in = s_cin;
  float* in = input + r * width;
  for (int64_t m = threadIdx.x; 2 * m < D; m += blockDim.x) {  // Box–Muller pair m: eps[2m], eps[2m + 1]
    const uint64_t col = diffusion::kDrawEps + 2 * static_cast<uint64_t>(m);
    double eps[2];
    diffusion::box_muller(diffusion::draw(P.step, r, col), diffusion::draw(P.step, r, col + 1), &eps[0], &eps[1]);
    for (int64_t h = 0; h < 2 && 2 * m + h < D; ++h) {
      const int64_t j = 2 * m + h;
      const double x = x0[r * D + j];
      in[j] = static_cast<float>(c_in * (x + sig * eps[h]));
      target[r * D + j] = static_cast<float>((sig * x - eps[h]) * c_in);
    }
  }
  for (int64_t k = threadIdx.x; k <= K + 1; k += blockDim.x)
    in[D + k] = k == K + 1 ? static_cast<float>(log(sig) / 4.0) : (k == s_slot ? 1.0f : 0.0f);
}

__global__ void k_denoiser_input(const float* xt, const float* state, const float* sigma, int64_t features,
                                 int64_t classes, float* input, unsigned* flags) {
  const int64_t r = blockIdx.x;
  const int64_t D = features, K = classes, width = D + K + 2;
  const float st = state[r];
  const float sg = sigma[r];
  const bool st_ok = valid_class(st, K + 1);
  const bool sg_ok = isfinite(sg) && sg > 0.0f;
  if (threadIdx.x == 0) {
    if (!st_ok) flag_row(flags, r);
    if (!sg_ok) flag_row(flags + 1, r);
  }
  const int64_t slot = st_ok ? static_cast<int64_t>(st) : -1;
  const double sig = sg;
  const double c_in = 1.0 / sqrt(sig * sig + 1.0);
  float* in = input + r * width;
  for (int64_t j = threadIdx.x; j < D; j += blockDim.x) in[j] = static_cast<float>(c_in * xt[r * D + j]);
  for (int64_t k = threadIdx.x; k <= K + 1; k += blockDim.x)
    in[D + k] = k == K + 1 ? static_cast<float>(log(sig) / 4.0) : (k == slot ? 1.0f : 0.0f);
}

// ---- loss -------------------------------------------------------------------------------

struct LossParams {
  int64_t batch, features, classes, dout, pairs;
  bool pointwise, use_features;
  double feat_scale, label_scale, fw;
};

__global__ void k_loss_rows(LossParams P, const float* out, const float* target, const float* classes,
                            const float* row_info, float* grad, double* row_feat, double* row_label, unsigned* flags) {
  const int lane = threadIdx.x & 31;
  const int64_t r = blockIdx.x * static_cast<int64_t>(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= P.batch) return;
  const int64_t D = P.features, K = P.classes;
  const float* y = out + r * P.dout;
  float* g = grad ? grad + r * P.dout : nullptr;
  double fsum = 0.0;
  for (int64_t j = lane; j < D; j += 32) {
    if (P.use_features) {
      const double diff = static_cast<double>(y[j]) - target[r * D + j];
      fsum += diff * diff;
      if (g) g[j] = static_cast<float>(P.fw * 2.0 * diff * P.feat_scale);
    } else if (g) {
      g[j] = 0.0f;
    }
  }
  for (int off = 16; off > 0; off /= 2) fsum += __shfl_down_sync(0xFFFFFFFFu, fsum, off);
  if (lane != 0) return;
  row_feat[r] = fsum;
  double l = 0.0;
  if (P.pointwise) {
    const double mw = row_info ? static_cast<double>(row_info[r * 4 + 2]) * row_info[r * 4 + 3] : 1.0;
    const float* z = y + D;
    const float cf = classes[r];
    int64_t cls = -1;
    if (!valid_class(cf, K)) flag_row(flags, r);
    else cls = static_cast<int64_t>(cf);
    double m = -INFINITY;
    for (int64_t k = 0; k < K; ++k) m = fmax(m, static_cast<double>(z[k]));
    double sum = 0.0;
    for (int64_t k = 0; k < K; ++k) sum += exp(z[k] - m);
    const double lse = m + log(sum);
    if (cls >= 0 && mw != 0.0) l = mw * (lse - z[cls]);
    if (g)
      for (int64_t k = 0; k < K; ++k)
        g[D + k] = static_cast<float>(mw * (exp(z[k] - m) / sum - (k == cls ? 1.0 : 0.0)) * P.label_scale);
  } else if (r < P.pairs) {
    const double mw = row_info ? static_cast<double>(row_info[r * 4 + 2]) * row_info[r * 4 + 3] : 1.0;
    const double delta = static_cast<double>(y[D]) - out[(r + P.pairs) * P.dout + D];
    if (mw != 0.0) l = mw * softplus(-delta);
    if (g) {
      const double dd = -mw * sigmoid(-delta) * P.label_scale;
      g[D] = static_cast<float>(dd);
      grad[(r + P.pairs) * P.dout + D] = static_cast<float>(-dd);
    }
  }
  row_label[r] = l;
}

__global__ void k_loss_reduce(const double* row_feat, const double* row_label, int64_t batch, double feat_scale,
                              double label_scale, float* parts) {
  double f = 0.0, l = 0.0;
  for (int64_t r = threadIdx.x; r < batch; r += kReduceThreads) {
    f += row_feat[r];
    l += row_label[r];
  }
  const double fs = block_sum(f);
  __syncthreads();  // block_sum's buffer is reused
  const double ls = block_sum(l);
  if (threadIdx.x == 0) {
    parts[0] = static_cast<float>(fs * feat_scale);
    parts[1] = static_cast<float>(ls * label_scale);
  }
}

// ---- pair sampler -------------------------------------------------------------------------

__global__ void k_sample_pairs(const uint32_t* offsets, int64_t num_queries, const float* classes, int64_t num_docs,
                               const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs, uint64_t step,
                               uint32_t* rows) {
  const int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (p >= num_pairs) return;
  const double uq = diffusion::draw(step, p, diffusion::kDrawQuery);
  int64_t e = static_cast<int64_t>(uq * static_cast<double>(num_eligible));
  if (e > num_eligible - 1) e = num_eligible - 1;
  const uint32_t q = eligible[e];
  uint32_t lo = 0;
  int64_t n = 0;
  if (q < num_queries) {
    const uint32_t a = offsets[q], b = offsets[q + 1];
    if (a <= b && b <= num_docs) {
      lo = a;
      n = b - a;
    } else {
      lo = a < num_docs ? a : static_cast<uint32_t>(num_docs - 1);
    }
  }
  int64_t i = 0, j = 0;
  bool found = false;
  if (n >= 2) {
    for (int at = 0; at < diffusion::kPairAttempts && !found; ++at) {
      const uint64_t col = diffusion::kDrawDocs + 2 * static_cast<uint64_t>(at);
      i = static_cast<int64_t>(static_cast<double>(diffusion::draw(step, p, col)) * n);
      if (i > n - 1) i = n - 1;
      j = static_cast<int64_t>(static_cast<double>(diffusion::draw(step, p, col + 1)) * (n - 1));
      if (j > n - 2) j = n - 2;
      if (j >= i) ++j;
      found = classes[lo + i] != classes[lo + j];
    }
    for (int64_t jj = 1; jj < n && !found; ++jj) {
      i = 0;
      j = jj;
      found = classes[lo] != classes[lo + jj];
    }
  }
  if (!found) {  // bad query id, bad offsets or a single-class query: an in-range degenerate pair
    const uint32_t r = lo < num_docs ? lo : static_cast<uint32_t>(num_docs - 1);  // an empty last query starts at N
    rows[p] = r;
    rows[p + num_pairs] = r;
    return;
  }
  const bool i_higher = classes[lo + i] > classes[lo + j];
  rows[p] = lo + static_cast<uint32_t>(i_higher ? i : j);
  rows[p + num_pairs] = lo + static_cast<uint32_t>(i_higher ? j : i);
}

}  // namespace

void diffusion_schedule_numeric(const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                const PowerMeanSchedule& s, float* sigma, float* dsigma_dt) {
  const int64_t n = batch * cols;
  k_schedule_numeric<<<grid_for(n, 256), 256>>>(t, batch, cols, rho_raw, s.sigma_min, s.sigma_max, s.rho, s.rho_offset,
                                                 sigma, dsigma_dt);
  check_launch("diffusion_schedule_numeric");
}

void diffusion_schedule_numeric_backward(const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                         const float* d_sigma, const PowerMeanSchedule& s, float* d_rho_raw) {
  k_schedule_numeric_backward<<<static_cast<unsigned>(cols), kReduceThreads>>>(
      t, batch, cols, rho_raw, d_sigma, std::log(s.sigma_min), std::log(s.sigma_max), s.rho_offset, d_rho_raw);
  check_launch("diffusion_schedule_numeric_backward");
}

void diffusion_schedule_categorical(const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                    const LogLinearSchedule& s, float* move_chance, float* sigma_cat, float* weight) {
  const int64_t n = batch * cols;
  k_schedule_categorical<<<grid_for(n, 256), 256>>>(t, batch, cols, k_raw, 1.0 - s.eps_max - s.eps_min, s.eps_min,
                                                    s.k_offset, move_chance, sigma_cat, weight);
  check_launch("diffusion_schedule_categorical");
}

void diffusion_schedule_categorical_backward(const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                             const float* d_move_chance, const float* d_weight,
                                             const LogLinearSchedule& s, float* d_k_raw) {
  k_schedule_categorical_backward<<<static_cast<unsigned>(cols), kReduceThreads>>>(
      t, batch, cols, k_raw, d_move_chance, d_weight, 1.0 - s.eps_max - s.eps_min, s.eps_min, s.k_offset, d_k_raw);
  check_launch("diffusion_schedule_categorical_backward");
}

void diffusion_noise_input(const float* x0, const float* classes, const float* t, int64_t batch, int64_t features,
                           const DiffusionNoiseOptions& o, float* input, float* target, float* row_info) {
  NoiseParams P;
  P.batch = batch;
  P.features = features;
  P.classes = o.num_classes;
  P.half = o.pairs ? batch / 2 : batch;
  P.step = diffusion::step_key(o.seed, diffusion::kStreamNoise, o.counter);
  P.rho = o.numeric.rho;
  P.a = std::pow(o.numeric.sigma_min, 1.0 / P.rho);
  P.b = std::pow(o.numeric.sigma_max, 1.0 / P.rho);
  P.cc = 1.0 - o.categorical.eps_max - o.categorical.eps_min;
  P.eps_min = o.categorical.eps_min;
  Scratch sc(0, 2);
  k_noise_input<<<static_cast<unsigned>(batch), kRowThreads>>>(P, x0, classes, t, input, target, row_info, sc.flag_ptr());
  check_launch("diffusion_noise_input");
  const std::vector<unsigned> bad = sc.read_flags();
  if (bad[0] != kNoRow)
    throw ArgumentError("diffusion_noise_input: classes[" + std::to_string(bad[0]) + "] is not a class id in 0.." +
                        std::to_string(o.num_classes - 1));
  if (bad[1] != kNoRow) throw ArgumentError("diffusion_noise_input: t[" + std::to_string(bad[1]) + "] is not in [0, 1]");
}

void diffusion_denoiser_input(const float* xt, const float* class_state, const float* sigma, int64_t batch,
                              int64_t features, int64_t num_classes, float* input) {
  Scratch sc(0, 2);
  k_denoiser_input<<<static_cast<unsigned>(batch), kRowThreads>>>(xt, class_state, sigma, features, num_classes, input,
                                                                  sc.flag_ptr());
  check_launch("diffusion_denoiser_input");
  const std::vector<unsigned> bad = sc.read_flags();
  if (bad[0] != kNoRow)
    throw ArgumentError("diffusion_denoiser_input: classState[" + std::to_string(bad[0]) + "] is not a state in 0.." +
                        std::to_string(num_classes) + " (" + std::to_string(num_classes) + " = MASK)");
  if (bad[1] != kNoRow)
    throw ArgumentError("diffusion_denoiser_input: sigma[" + std::to_string(bad[1]) + "] must be finite and > 0");
}

void diffusion_loss(DiffusionObjective objective, const float* out, const float* target, const float* classes,
                    const float* row_info, int64_t batch, const DiffusionLossOptions& o, float* grad_out,
                    float* parts) {
  LossParams P;
  P.pointwise = objective == DiffusionObjective::Pointwise;
  P.batch = batch;
  P.features = o.num_features;
  P.classes = o.num_classes;
  P.dout = P.pointwise ? o.num_features + o.num_classes : o.num_features + 1;
  P.pairs = batch / 2;
  P.use_features = o.num_features > 0 && target != nullptr;
  P.feat_scale = P.use_features && batch > 0 ? 1.0 / (static_cast<double>(batch) * o.num_features) : 0.0;
  P.label_scale = P.pointwise ? (batch > 0 ? 1.0 / batch : 0.0) : (P.pairs > 0 ? 1.0 / P.pairs : 0.0);
  P.fw = o.feature_weight;
  Scratch sc(2 * static_cast<size_t>(batch), 1);
  double* row_feat = sc.doubles();
  double* row_label = row_feat + batch;
  if (batch > 0) {
    const int rows_per_block = kRowThreads / 32;
    k_loss_rows<<<static_cast<unsigned>((batch + rows_per_block - 1) / rows_per_block), kRowThreads>>>(
        P, out, target, classes, row_info, grad_out, row_feat, row_label, sc.flag_ptr());
    check_launch("diffusion_loss");
  }
  k_loss_reduce<<<1, kReduceThreads>>>(row_feat, row_label, batch, P.feat_scale, P.label_scale, parts);
  check_launch("diffusion_loss reduction");
  const std::vector<unsigned> bad = sc.read_flags();
  if (bad[0] != kNoRow)
    throw ArgumentError("diffusion_loss: classes[" + std::to_string(bad[0]) + "] is not a class id in 0.." +
                        std::to_string(o.num_classes - 1));
}

void diffusion_sample_pairs(const uint32_t* offsets, int64_t num_queries, const float* classes, int64_t num_docs,
                            const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs, uint64_t seed,
                            uint64_t counter, uint32_t* rows) {
  k_sample_pairs<<<static_cast<unsigned>((num_pairs + 127) / 128), 128>>>(offsets, num_queries, classes, num_docs, eligible, num_eligible,
                                                    num_pairs, diffusion::step_key(seed, diffusion::kStreamPairs, counter), rows);
  check_launch("diffusion_sample_pairs");
}

}  // namespace cuda
}  // namespace ordo
