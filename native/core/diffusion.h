// ordo/core/diffusion.h — DiffusionRank (Ebrahimi et al. 2026) on TabDiff
// (Shi et al. 2025): noise schedules with their gradients, the fused training
// input, the denoiser input, the joint feature + label loss and the in-query
// pair sampler. Forward and backward side by side; CPU and CUDA share this
// contract (see /work/shared/notes/diffusionrank.md §2.1, §2.2, §3.3, §3.4, §5).
//
// Definitions (defaults in the structs below):
//  * power-mean schedule (numeric columns, variance-exploding EDM):
//      σ(t) = (a + t(b − a))^ρ, a = σmin^(1/ρ), b = σmax^(1/ρ);
//      dσ/dt = ρ(a + t(b − a))^(ρ−1)(b − a); t(σ) = (σ^(1/ρ) − a)/(b − a).
//    Learnable (TabDiff PowerMeanNoise_PerColumn): ρ_c = softplus(ρraw_c) + ρoffset.
//  * log-linear schedule (the label column, masked/absorbing diffusion):
//      mc(t) = (1 − εmax − εmin)·τ + εmin, τ = t (fixed) or t^k (learnable,
//      k_c = softplus(kraw_c) + koffset); σcat = −log1p(−mc);
//      MDLM weight w = (dσcat/dt)/expm1(σcat), which simplifies to
//      (1 − εmax − εmin)·dτ/dt / mc (computed in that form).
//  * EDM preconditioning, σ_data = 1: c_in = 1/√(σ²+1), c_skip = 1/(σ²+1),
//    c_out = σ/√(σ²+1), c_noise = log(σ)/4.
//
// Pointers: the cpu:: functions take host pointers, the cuda:: functions
// device pointers (they exist only with ORDO_WITH_CUDA). The ordo:: entry
// points take the Backend first, validate the scalar options for both
// backends and dispatch (BackendError for Cuda in a build without CUDA).
// Content checks (class ids, t in [0, 1], offsets) run on the host for the
// CPU; CUDA kernels guard every index and report what they can (see each).
//
// Random streams (diffusion_noise_input, diffusion_sample_pairs): every draw is
// rng_uniform(step, (row << 32) | column) with step = rng_bits(rng_bits(seed,
// stream), counter) (core/rng.h) and one stream id per kernel ("noise",
// "pairs"), so CPU and CUDA draw identical numbers and the two kernels stay
// independent when a trainer gives both the same (seed, counter); callers pass
// a new counter each training step.
#pragma once
#include <cmath>
#include <cstdint>

#include "core/dispatch.h"
#include "core/rng.h"

namespace ordo {

struct PowerMeanSchedule {
  double sigma_min = 0.002, sigma_max = 80.0;
  double rho = 7.0;          // fixed ρ (used when no per-column ρraw is given)
  double rho_offset = 5.0;   // learnable: ρ_c = softplus(ρraw_c) + rho_offset
};

struct LogLinearSchedule {
  double eps_min = 1e-5, eps_max = 1e-3;
  double k_offset = 1.0;     // learnable: k_c = softplus(kraw_c) + k_offset
};

struct DiffusionNoiseOptions {
  int64_t num_classes = 2;   // K; the one-hot has K + 1 slots, slot K is MASK
  uint64_t seed = 0, counter = 0;
  bool pairs = false;        // rows b and b + B/2 share t and the mask draw
  PowerMeanSchedule numeric;   // the fixed-ρ schedule (rho) is used
  LogLinearSchedule categorical;
};

enum class DiffusionObjective { Pointwise, Pairwise };

struct DiffusionLossOptions {
  int64_t num_features = 0;  // D
  int64_t num_classes = 2;   // K (pointwise label head width)
  double feature_weight = 1.0;
};

// ---- math shared by both backends (double precision) --------------------------
namespace diffusion {

// Column ids of the random draws of one row (see the header comment).
constexpr uint64_t kDrawT = 0, kDrawMask = 1, kDrawEps = 2;     // eps[2m], eps[2m+1]: columns 2 + 2m, 3 + 2m
constexpr uint64_t kDrawQuery = 0, kDrawDocs = 1;                // pair sampler: attempt a uses 1 + 2a, 2 + 2a
constexpr int kPairAttempts = 64;

constexpr uint64_t kStreamNoise = 0x6E6F697365ull;  // "noise"
constexpr uint64_t kStreamPairs = 0x7061697273ull;  // "pairs"

ORDO_HD uint64_t step_key(uint64_t seed, uint64_t stream, uint64_t counter) { return rng_bits(rng_bits(seed, stream), counter); }
ORDO_HD float draw(uint64_t step, uint64_t row, uint64_t column) { return rng_uniform(step, (row << 32) | column); }

// a·b + c rounded twice (never contracted into an FMA), so the mask decision
// u < mc(t) is bit-identical on the CPU and the GPU.
ORDO_HD double mul_add_rn(double a, double b, double c) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(__dmul_rn(a, b), c);
#else
  volatile double p = a * b;
  return p + c;
#endif
}

// Two independent standard normals from two uniforms in (0, 1) (Box–Muller:
// R·cos θ and R·sin θ, R = √(−2 log u1), θ = 2π·u2).
ORDO_HD void box_muller(float u1, float u2, double* z_cos, double* z_sin) {
  const double radius = sqrt(-2.0 * log(static_cast<double>(u1)));
  const double theta = 6.283185307179586 * static_cast<double>(u2);
  *z_cos = radius * cos(theta);
  *z_sin = radius * sin(theta);
}

ORDO_HD double softplus(double x) { return (x > 0 ? x : 0.0) + log1p(exp(-fabs(x))); }
ORDO_HD double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + exp(-x));
  const double e = exp(x);
  return e / (1.0 + e);
}

// σ(t) for a fixed ρ with a = σmin^(1/ρ), b = σmax^(1/ρ) precomputed.
ORDO_HD double power_mean_sigma(double t, double a, double b, double rho) { return pow(a + t * (b - a), rho); }

// Move chance of the fixed log-linear schedule: c·t + εmin, c = 1 − εmax − εmin.
ORDO_HD double move_chance(double t, double c, double eps_min) { return mul_add_rn(c, t, eps_min); }

// ∂σ/∂ρ of σ = (a + t(b − a))^ρ where a = σmin^(1/ρ) and b = σmax^(1/ρ) depend
// on ρ too: ∂σ/∂ρ = σ·(log base + ρ·base'/base), a' = −a·log σmin/ρ².
ORDO_HD double dsigma_drho(double t, double rho, double log_min, double log_max) {
  const double a = exp(log_min / rho), b = exp(log_max / rho);
  const double da = -a * log_min / (rho * rho), db = -b * log_max / (rho * rho);
  const double base = a + t * (b - a), dbase = da + t * (db - da);
  return pow(base, rho) * (log(base) + rho * dbase / base);
}

// Learnable log-linear schedule, one (t, k): the k-derivative of the move
// chance mc = c·t^k + εmin and of the MDLM weight w = c·k·t^(k−1)/mc, combined
// with the incoming gradients: d_mc·∂mc/∂k + d_w·∂w/∂k. At t = 0 both are flat
// in k (t^k ln t → 0 for k > 0; w = 0 for k > 1) and the term is 0.
ORDO_HD double categorical_dk(double t, double k, double c, double eps_min, double d_mc, double d_w) {
  if (!(t > 0.0)) return 0.0;
  const double lt = log(t);
  const double tau = pow(t, k);
  const double mc = c * tau + eps_min;
  const double dmc = c * tau * lt;
  const double w = c * k * pow(t, k - 1.0) / mc;
  return d_mc * dmc + d_w * w * (1.0 / k + lt - dmc / mc);  // ∂ log w/∂k = 1/k + ln t − (∂mc/∂k)/mc
}

}  // namespace diffusion

// Host helpers (inverse schedule and the constants a, b of a fixed ρ).
double power_mean_inverse(double sigma, const PowerMeanSchedule& s);   // t(σ) for the fixed ρ

// ---- kernels ------------------------------------------------------------------------
// Shapes: B = batch rows, C = schedule columns (1 for a per-row schedule),
// D = features, K = classes. All float buffers row-major.
#define ORDO_DIFFUSION_API                                                                                              \
  /* sigma [B, C] = σ(t_b) (ρ fixed when rho_raw is null: every column equal; else ρ_c from rho_raw [C]);          \
     dsigma_dt [B, C] (may be null). */                                                                               \
  void diffusion_schedule_numeric(const float* t, int64_t batch, int64_t cols, const float* rho_raw,                  \
                                  const PowerMeanSchedule& s, float* sigma, float* dsigma_dt);                        \
  /* d_rho_raw [C] (overwritten) = Σ_b d_sigma[b, c]·∂σ_bc/∂ρraw_c (fixed summation order). */                     \
  void diffusion_schedule_numeric_backward(const float* t, int64_t batch, int64_t cols, const float* rho_raw,         \
                                           const float* d_sigma, const PowerMeanSchedule& s, float* d_rho_raw);       \
  /* move_chance, sigma_cat, weight [B, C] (the last two may be null); k learnable when k_raw [C] is given. */     \
  void diffusion_schedule_categorical(const float* t, int64_t batch, int64_t cols, const float* k_raw,                \
                                      const LogLinearSchedule& s, float* move_chance, float* sigma_cat,                \
                                      float* weight);                                                                  \
  /* d_k_raw [C] (overwritten) from d_move_chance [B, C] and d_weight [B, C] (may be null). */                     \
  void diffusion_schedule_categorical_backward(const float* t, int64_t batch, int64_t cols, const float* k_raw,       \
                                               const float* d_move_chance, const float* d_weight,                     \
                                               const LogLinearSchedule& s, float* d_k_raw);                           \
  /* The fused training input (see diffusion_noise_input below). */                                                   \
  void diffusion_noise_input(const float* x0, const float* classes, const float* t, int64_t batch, int64_t features,  \
                             const DiffusionNoiseOptions& o, float* input, float* target, float* row_info);           \
  /* input [B, D+K+2] = [c_in(σ_b)·xt_b, onehot(state_b) over K+1 slots, log(σ_b)/4]. */                         \
  void diffusion_denoiser_input(const float* xt, const float* class_state, const float* sigma, int64_t batch,         \
                                int64_t features, int64_t num_classes, float* input);                                 \
  /* parts [2] = {feature loss, label loss}; grad_out (may be null) = ∂(label + w·feature)/∂out. */                \
  void diffusion_loss(DiffusionObjective objective, const float* out, const float* target, const float* classes,      \
                      const float* row_info, int64_t batch, const DiffusionLossOptions& o, float* grad_out,           \
                      float* parts);                                                                                   \
  /* rows [2P]: pair p = (rows[p], rows[p + P]), same query, different classes, the higher class first. */          \
  void diffusion_sample_pairs(const uint32_t* offsets, int64_t num_queries, const float* classes, int64_t num_docs,    \
                              const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs, uint64_t seed,       \
                              uint64_t counter, uint32_t* rows);

namespace cpu {
ORDO_DIFFUSION_API
}  // namespace cpu

#ifdef ORDO_WITH_CUDA
namespace cuda {
ORDO_DIFFUSION_API
}  // namespace cuda
#endif

// ---- entry points (validate options, dispatch on the backend) ------------------------

// Noise schedules. t [B] in [0, 1] (values outside extrapolate the formulas).
void diffusion_schedule_numeric(Backend backend, const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                const PowerMeanSchedule& s, float* sigma, float* dsigma_dt);
void diffusion_schedule_numeric_backward(Backend backend, const float* t, int64_t batch, int64_t cols,
                                         const float* rho_raw, const float* d_sigma, const PowerMeanSchedule& s,
                                         float* d_rho_raw);
void diffusion_schedule_categorical(Backend backend, const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                    const LogLinearSchedule& s, float* move_chance, float* sigma_cat, float* weight);
void diffusion_schedule_categorical_backward(Backend backend, const float* t, int64_t batch, int64_t cols,
                                             const float* k_raw, const float* d_move_chance, const float* d_weight,
                                             const LogLinearSchedule& s, float* d_k_raw);

// The fused training input of a batch (draws of the "noise" stream). Per row b
// (t_b = t[b] when t is not null, else the draw (b, 0); pairs: row b + B/2
// uses row b's t and mask draw):
//   σ = σ(t_b) (fixed ρ), mc = mc(t_b), masked = draw(b, 1) < mc,
//   (eps_2m, eps_2m+1) = BoxMuller(draw(b, 2 + 2m), draw(b, 3 + 2m)) (cos, sin),
//   x_t = x0 + σ·eps,
//   input [B, D+K+2]  = [c_in·x_t, onehot(MASK if masked else classes[b]) over K+1 slots, log(σ)/4],
//   target [B, D]     = (x0 − c_skip·x_t)/c_out, computed as (σ·x0 − eps)·c_in,
//   row_info [B, 4]   = [t, σ, masked, 1/mc].
// The draws, t, the mask and the one-hot are identical on every path; eps is
// computed in double (portable CPU path, CUDA) or in float lanes with Cephes
// log/sin/cos (AVX2 path, cpu/diffusion_avx2.cc), so input and target agree
// across paths to ~1e-6 relative, not bit for bit.
// classes hold class ids 0..K−1 as floats. CPU: a bad class id or t outside
// [0, 1] throws ArgumentError naming the row before anything is written. CUDA:
// the kernel never writes out of bounds (a bad row gets an all-zero one-hot)
// and the first bad row is read back and thrown as ArgumentError.
void diffusion_noise_input(Backend backend, const float* x0, const float* classes, const float* t, int64_t batch,
                           int64_t features, const DiffusionNoiseOptions& o, float* input, float* target,
                           float* row_info);

// The denoiser input for given x_t, label states (0..K−1, or K = MASK) and σ > 0
// per row (scoring at σmin with every label masked; the sampler). Bad states or
// σ: as diffusion_noise_input (ArgumentError naming the row on both backends).
void diffusion_denoiser_input(Backend backend, const float* xt, const float* class_state, const float* sigma,
                              int64_t batch, int64_t features, int64_t num_classes, float* input);

// The joint loss. out [B, Dout], Dout = D + K (pointwise) or D + 1 (pairwise);
// F = out[:, :D]. parts[0] = mean over B·D of (F − target)² (0 when D = 0 or
// target is null); parts[1] = label loss:
//   pointwise: (1/B) Σ_b m_b·w_b·(−log_softmax(out[b, D:D+K])[classes[b]]);
//   pairwise (B = 2P, row p the more relevant doc, row p + P the other):
//     (1/P) Σ_p m_p·w_p·softplus(−(s_p − s_{p+P})), s = out[:, D];
// m_b = row_info[b, 2], w_b = row_info[b, 3] (row_info null: m = w = 1, the
// discriminative counterparts). grad_out (overwritten) = ∂(parts[1] +
// feature_weight·parts[0])/∂out. parts lives on the backend. Reductions run in
// a fixed order (deterministic for a thread count / launch configuration).
// Bad class ids (pointwise): ArgumentError naming the row (CUDA: read back).
void diffusion_loss(Backend backend, DiffusionObjective objective, const float* out, const float* target,
                    const float* classes, const float* row_info, int64_t batch, const DiffusionLossOptions& o,
                    float* grad_out, float* parts);

// Pair p (of P = num_pairs; draws of the "pairs" stream): query
// q = eligible[floor(u·E)] (u = draw(p, 0));
// up to 64 attempts draw two distinct docs of q (attempt a: draws (p, 1 + 2a),
// (p, 2 + 2a)) until their classes differ; otherwise a deterministic scan of q
// (its first doc with the first doc of another class). rows[p] is the doc
// with the higher class, rows[p + P] the lower (global row ids).
// eligible = ids of queries with >= 2 docs and >= 2 distinct classes (built by
// the caller). CPU: offsets must be non-decreasing with offsets[Q] == N,
// eligible ids < Q, and every sampled query must hold two classes
// (ArgumentError otherwise). CUDA: no device memory is read back; the kernel
// never indexes out of bounds, and a pair it cannot form (a bad query id, bad
// offsets, a single-class query) is written as (r, r) for some r < N.
void diffusion_sample_pairs(Backend backend, const uint32_t* offsets, int64_t num_queries, const float* classes,
                            int64_t num_docs, const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs,
                            uint64_t seed, uint64_t counter, uint32_t* rows);

}  // namespace ordo
