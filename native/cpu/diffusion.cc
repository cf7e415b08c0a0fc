// DiffusionRank / TabDiff kernels, CPU reference (core/diffusion.h), and the
// Backend entry points shared by both backends (option checks + dispatch).
//
// Everything is computed in double and stored as float. Row-parallel loops use
// the pool when a batch is large enough to pay (about 16k values per chunk);
// reductions sum per chunk, then the chunks in order (deterministic for a
// thread count); the schedule gradients sum each column serially (independent
// of the thread count).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "core/diffusion.h"
#include "core/error.h"
#include "core/metrics.h"
#include "core/parallel.h"
#include "cpu/sgemm_avx2.h"

namespace ordo {
namespace {

using diffusion::sigmoid;
using diffusion::softplus;

constexpr int64_t kValuesPerChunk = 16384;
int64_t row_grain(int64_t values_per_row) { return std::max<int64_t>(1, kValuesPerChunk / std::max<int64_t>(1, values_per_row)); }

std::string num_str(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

bool finite(double v) { return std::isfinite(v); }

// A class id stored as a float: finite, integral, in [0, limit).
bool valid_class(float c, int64_t limit) { return std::isfinite(c) && c >= 0.0f && c < static_cast<float>(limit) && c == std::floor(c); }

void check_power_mean(const PowerMeanSchedule& s, bool learnable, const char* who) {
  if (!(finite(s.sigma_min) && s.sigma_min > 0))
    throw ArgumentError(std::string(who) + ": sigmaMin must be a finite number > 0, got " + num_str(s.sigma_min));
  if (!(finite(s.sigma_max) && s.sigma_max > s.sigma_min))
    throw ArgumentError(std::string(who) + ": sigmaMax must be finite and > sigmaMin, got " + num_str(s.sigma_max));
  if (learnable) {
    if (!(finite(s.rho_offset) && s.rho_offset >= 0))
      throw ArgumentError(std::string(who) + ": rhoOffset must be a finite number >= 0, got " + num_str(s.rho_offset));
  } else if (!(finite(s.rho) && s.rho > 0)) {
    throw ArgumentError(std::string(who) + ": rho must be a finite number > 0, got " + num_str(s.rho));
  }
}

void check_log_linear(const LogLinearSchedule& s, bool learnable, const char* who) {
  if (!(finite(s.eps_min) && s.eps_min >= 0))
    throw ArgumentError(std::string(who) + ": epsMin must be a finite number >= 0, got " + num_str(s.eps_min));
  if (!(finite(s.eps_max) && s.eps_max >= 0))
    throw ArgumentError(std::string(who) + ": epsMax must be a finite number >= 0, got " + num_str(s.eps_max));
  if (!(s.eps_min + s.eps_max < 1))
    throw ArgumentError(std::string(who) + ": epsMin + epsMax must be < 1, got " + num_str(s.eps_min + s.eps_max));
  if (learnable && !(finite(s.k_offset) && s.k_offset >= 0))
    throw ArgumentError(std::string(who) + ": kOffset must be a finite number >= 0, got " + num_str(s.k_offset));
}

void check_sizes(int64_t batch, int64_t cols, const char* who) {
  if (batch < 0) throw ArgumentError(std::string(who) + ": batch must be >= 0, got " + std::to_string(batch));
  if (cols < 1) throw ArgumentError(std::string(who) + ": the number of schedule columns must be >= 1, got " + std::to_string(cols));
}

void check_ptr(const void* p, bool needed, const char* who, const char* name) {
  if (needed && !p) throw ArgumentError(std::string(who) + ": " + name + " must not be null");
}

void check_t_host(const float* t, int64_t n, const char* who) {
  for (int64_t b = 0; b < n; ++b)
    if (!(t[b] >= 0.0f && t[b] <= 1.0f))
      throw ArgumentError(std::string(who) + ": t[" + std::to_string(b) + "] = " + num_str(t[b]) + " is not in [0, 1]");
}

}  // namespace

double power_mean_inverse(double sigma, const PowerMeanSchedule& s) {
  check_power_mean(s, false, "power_mean_inverse");
  const double a = std::pow(s.sigma_min, 1.0 / s.rho), b = std::pow(s.sigma_max, 1.0 / s.rho);
  return (std::pow(sigma, 1.0 / s.rho) - a) / (b - a);
}

namespace cpu {

void diffusion_schedule_numeric(const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                const PowerMeanSchedule& s, float* sigma, float* dsigma_dt) {
  std::vector<double> rho(cols), a(cols), b(cols);
  for (int64_t c = 0; c < cols; ++c) {
    rho[c] = rho_raw ? softplus(rho_raw[c]) + s.rho_offset : s.rho;
    a[c] = std::pow(s.sigma_min, 1.0 / rho[c]);
    b[c] = std::pow(s.sigma_max, 1.0 / rho[c]);
  }
  parallel_for(batch, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const double tt = t[r];
      for (int64_t c = 0; c < cols; ++c) {
        if (!rho_raw && c > 0) {  // fixed ρ: every column equals the first
          sigma[r * cols + c] = sigma[r * cols];
          if (dsigma_dt) dsigma_dt[r * cols + c] = dsigma_dt[r * cols];
          continue;
        }
        const double base = a[c] + tt * (b[c] - a[c]);
        sigma[r * cols + c] = static_cast<float>(std::pow(base, rho[c]));
        if (dsigma_dt) dsigma_dt[r * cols + c] = static_cast<float>(rho[c] * std::pow(base, rho[c] - 1.0) * (b[c] - a[c]));
      }
    }
  });
}

void diffusion_schedule_numeric_backward(const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                         const float* d_sigma, const PowerMeanSchedule& s, float* d_rho_raw) {
  const double log_min = std::log(s.sigma_min), log_max = std::log(s.sigma_max);
  parallel_for(cols, 1, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; ++c) {
      const double rho = softplus(rho_raw[c]) + s.rho_offset;
      double acc = 0.0;
      for (int64_t r = 0; r < batch; ++r)
        acc += static_cast<double>(d_sigma[r * cols + c]) * diffusion::dsigma_drho(t[r], rho, log_min, log_max);
      d_rho_raw[c] = static_cast<float>(acc * sigmoid(rho_raw[c]));
    }
  });
}

void diffusion_schedule_categorical(const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                    const LogLinearSchedule& s, float* move_chance, float* sigma_cat, float* weight) {
  const double cc = 1.0 - s.eps_max - s.eps_min;
  std::vector<double> k(cols, 1.0);
  if (k_raw)
    for (int64_t c = 0; c < cols; ++c) k[c] = softplus(k_raw[c]) + s.k_offset;
  parallel_for(batch, row_grain(cols), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const double tt = t[r];
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t i = r * cols + c;
        const double tau = k_raw ? std::pow(tt, k[c]) : tt;
        const double dtau = k_raw ? k[c] * std::pow(tt, k[c] - 1.0) : 1.0;
        const double mc = cc * tau + s.eps_min;
        move_chance[i] = static_cast<float>(mc);
        if (sigma_cat) sigma_cat[i] = static_cast<float>(-std::log1p(-mc));
        if (weight) weight[i] = static_cast<float>(cc * dtau / mc);  // = (dσcat/dt) / expm1(σcat)
      }
    }
  });
}

void diffusion_schedule_categorical_backward(const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                             const float* d_move_chance, const float* d_weight,
                                             const LogLinearSchedule& s, float* d_k_raw) {
  const double cc = 1.0 - s.eps_max - s.eps_min;
  parallel_for(cols, 1, [&](int64_t c0, int64_t c1, int) {
    for (int64_t c = c0; c < c1; ++c) {
      const double k = softplus(k_raw[c]) + s.k_offset;
      double acc = 0.0;
      for (int64_t r = 0; r < batch; ++r)
        acc += diffusion::categorical_dk(t[r], k, cc, s.eps_min, d_move_chance[r * cols + c], d_weight ? d_weight[r * cols + c] : 0.0);
      d_k_raw[c] = static_cast<float>(acc * sigmoid(k_raw[c]));
    }
  });
}

void diffusion_noise_input(const float* x0, const float* classes, const float* t, int64_t batch, int64_t features,
                           const DiffusionNoiseOptions& o, float* input, float* target, float* row_info) {
  const int64_t K = o.num_classes, D = features, width = D + K + 2;
  // Content checks first: nothing is written when a row is bad.
  for (int64_t r = 0; r < batch; ++r)
    if (!valid_class(classes[r], K))
      throw ArgumentError("diffusion_noise_input: classes[" + std::to_string(r) + "] = " + num_str(classes[r]) +
                          " is not a class id in 0.." + std::to_string(K - 1));
  if (t) check_t_host(t, batch, "diffusion_noise_input");
  const int64_t half = o.pairs ? batch / 2 : batch;
  const uint64_t step = diffusion::step_key(o.seed, diffusion::kStreamNoise, o.counter);
  const double rho = o.numeric.rho;
  const double a = std::pow(o.numeric.sigma_min, 1.0 / rho), b = std::pow(o.numeric.sigma_max, 1.0 / rho);
  const double cc = 1.0 - o.categorical.eps_max - o.categorical.eps_min;
#if defined(ORDO_HAVE_AVX2_KERNELS)
  const bool use_avx2 = sgemm_uses_avx2();
#endif
  parallel_for(batch, row_grain(2 * D + width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t src = r >= half ? r - half : r;  // the row whose t and mask draw this row uses
      const double tt = t ? static_cast<double>(t[src]) : diffusion::draw(step, src, diffusion::kDrawT);
      const float u = diffusion::draw(step, src, diffusion::kDrawMask);
      const double mc = diffusion::move_chance(tt, cc, o.categorical.eps_min);
      const bool masked = static_cast<double>(u) < mc;
      const double sig = diffusion::power_mean_sigma(tt, a, b, rho);
      const double c_in = 1.0 / std::sqrt(sig * sig + 1.0);
      float* in = input + r * width;
      float* tg = target + r * D;
      const float* x = x0 + r * D;
#if defined(ORDO_HAVE_AVX2_KERNELS)
      if (use_avx2) {
        avx2::diffusion_noise_row(step, r, x, D, static_cast<float>(sig), static_cast<float>(c_in), in, tg);
      } else
#endif
      for (int64_t j = 0; j < D; j += 2) {  // one Box–Muller pair gives eps[j] and eps[j + 1]
        const uint64_t col = diffusion::kDrawEps + static_cast<uint64_t>(j);
        double eps[2];
        diffusion::box_muller(diffusion::draw(step, r, col), diffusion::draw(step, r, col + 1), &eps[0], &eps[1]);
        for (int64_t h = 0; h < 2 && j + h < D; ++h) {
          const double xt = x[j + h] + sig * eps[h];
          in[j + h] = static_cast<float>(c_in * xt);
          tg[j + h] = static_cast<float>((sig * x[j + h] - eps[h]) * c_in);  // = (x0 − c_skip·x_t)/c_out, stable at small σ
        }
      }
      for (int64_t k = 0; k <= K; ++k) in[D + k] = 0.0f;
      in[D + (masked ? K : static_cast<int64_t>(classes[r]))] = 1.0f;
      in[D + K + 1] = static_cast<float>(std::log(sig) / 4.0);
      float* info = row_info + r * 4;
      info[0] = static_cast<float>(tt);
      info[1] = static_cast<float>(sig);
      info[2] = masked ? 1.0f : 0.0f;
      info[3] = static_cast<float>(1.0 / mc);
    }
  });
}

void diffusion_denoiser_input(const float* xt, const float* class_state, const float* sigma, int64_t batch,
                              int64_t features, int64_t num_classes, float* input) {
  const int64_t K = num_classes, D = features, width = D + K + 2;
  for (int64_t r = 0; r < batch; ++r) {
    if (!valid_class(class_state[r], K + 1))
      throw ArgumentError("diffusion_denoiser_input: classState[" + std::to_string(r) + "] = " + num_str(class_state[r]) +
                          " is not a state in 0.." + std::to_string(K) + " (" + std::to_string(K) + " = MASK)");
    if (!(std::isfinite(sigma[r]) && sigma[r] > 0.0f))
      throw ArgumentError("diffusion_denoiser_input: sigma[" + std::to_string(r) + "] = " + num_str(sigma[r]) +
                          " must be finite and > 0");
  }
  parallel_for(batch, row_grain(D + width), [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const double sig = sigma[r];
      const double c_in = 1.0 / std::sqrt(sig * sig + 1.0);
      float* in = input + r * width;
      for (int64_t j = 0; j < D; ++j) in[j] = static_cast<float>(c_in * xt[r * D + j]);
      for (int64_t k = 0; k <= K; ++k) in[D + k] = 0.0f;
      in[D + static_cast<int64_t>(class_state[r])] = 1.0f;
      in[D + K + 1] = static_cast<float>(std::log(sig) / 4.0);
    }
  });
}

void diffusion_loss(DiffusionObjective objective, const float* out, const float* target, const float* classes,
                    const float* row_info, int64_t batch, const DiffusionLossOptions& o, float* grad_out,
                    float* parts) {
  const bool pointwise = objective == DiffusionObjective::Pointwise;
  const int64_t D = o.num_features, K = o.num_classes;
  const int64_t dout = pointwise ? D + K : D + 1;
  if (pointwise)
    for (int64_t r = 0; r < batch; ++r)
      if (!valid_class(classes[r], K))
        throw ArgumentError("diffusion_loss: classes[" + std::to_string(r) + "] = " + num_str(classes[r]) +
                            " is not a class id in 0.." + std::to_string(K - 1));
  const int64_t pairs = batch / 2;
  const bool features = D > 0 && target != nullptr;
  const double feat_scale = features && batch > 0 ? 1.0 / (static_cast<double>(batch) * D) : 0.0;
  const double label_scale = pointwise ? (batch > 0 ? 1.0 / batch : 0.0) : (pairs > 0 ? 1.0 / pairs : 0.0);
  const double fw = o.feature_weight;
  const int64_t grain = row_grain(dout);
  const int chunks = parallel_chunks(batch, grain);
  // one slot per chunk (sized for any thread count), summed in chunk order
  std::vector<double> feat(static_cast<size_t>(std::max(chunks, 256)), 0.0), label(feat.size(), 0.0);
  parallel_for(batch, grain, [&](int64_t r0, int64_t r1, int chunk) {
    double fsum = 0.0, lsum = 0.0;
    std::vector<double> soft(pointwise ? static_cast<size_t>(K) : 0);
    for (int64_t r = r0; r < r1; ++r) {
      const float* y = out + r * dout;
      float* g = grad_out ? grad_out + r * dout : nullptr;
      // feature channels
      if (features) {
        for (int64_t j = 0; j < D; ++j) {
          const double diff = static_cast<double>(y[j]) - target[r * D + j];
          fsum += diff * diff;
          if (g) g[j] = static_cast<float>(fw * 2.0 * diff * feat_scale);
        }
      } else if (g) {
        for (int64_t j = 0; j < D; ++j) g[j] = 0.0f;
      }
      if (pointwise) {
        const double mw = row_info ? static_cast<double>(row_info[r * 4 + 2]) * row_info[r * 4 + 3] : 1.0;
        const float* z = y + D;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t k = 0; k < K; ++k) m = std::max(m, static_cast<double>(z[k]));
        double sum = 0.0;
        for (int64_t k = 0; k < K; ++k) sum += (soft[k] = std::exp(z[k] - m));
        const int64_t cls = static_cast<int64_t>(classes[r]);
        const double lse = m + std::log(sum);
        if (mw != 0.0) lsum += mw * (lse - z[cls]);
        if (g)
          for (int64_t k = 0; k < K; ++k)
            g[D + k] = static_cast<float>(mw * (soft[k] / sum - (k == cls ? 1.0 : 0.0)) * label_scale);
      } else if (r < pairs) {
        // RankNet −log σ(Δ) = softplus(−Δ), Δ = s_i − s_j (the authors' code
        // adds 1e-10 inside the log: −log(σ(Δ) + 1e-10); we use the exact
        // stable form, which differs only when σ(Δ) ≲ 1e-8).
        const double mw = row_info ? static_cast<double>(row_info[r * 4 + 2]) * row_info[r * 4 + 3] : 1.0;
        const double delta = static_cast<double>(y[D]) - out[(r + pairs) * dout + D];
        if (mw != 0.0) lsum += mw * softplus(-delta);
        if (g) {
          const double dd = -mw * sigmoid(-delta) * label_scale;
          g[D] = static_cast<float>(dd);
          grad_out[(r + pairs) * dout + D] = static_cast<float>(-dd);
        }
      }
    }
    feat[static_cast<size_t>(chunk)] = fsum;
    label[static_cast<size_t>(chunk)] = lsum;
  });
  double fsum = 0.0, lsum = 0.0;
  for (size_t c = 0; c < feat.size(); ++c) {
    fsum += feat[c];
    lsum += label[c];
  }
  parts[0] = static_cast<float>(fsum * feat_scale);
  parts[1] = static_cast<float>(lsum * label_scale);
}

void diffusion_sample_pairs(const uint32_t* offsets, int64_t num_queries, const float* classes, int64_t num_docs,
                            const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs, uint64_t seed,
                            uint64_t counter, uint32_t* rows) {
  check_query_offsets(offsets, static_cast<uint64_t>(num_queries) + 1, static_cast<uint64_t>(num_docs), "offsets");
  for (int64_t e = 0; e < num_eligible; ++e)
    if (eligible[e] >= num_queries)
      throw ArgumentError("diffusion_sample_pairs: eligible[" + std::to_string(e) + "] = " + std::to_string(eligible[e]) +
                          " is not a query id (there are " + std::to_string(num_queries) + " queries)");
  const uint64_t step = diffusion::step_key(seed, diffusion::kStreamPairs, counter);
  std::atomic<int64_t> first_bad{num_pairs};
  parallel_for(num_pairs, 256, [&](int64_t p0, int64_t p1, int) {
    for (int64_t p = p0; p < p1; ++p) {
      const double uq = diffusion::draw(step, p, diffusion::kDrawQuery);
      const int64_t e = std::min<int64_t>(num_eligible - 1, static_cast<int64_t>(uq * static_cast<double>(num_eligible)));
      const uint32_t q = eligible[e];
      const uint32_t lo = offsets[q];
      const int64_t n = offsets[q + 1] - lo;
      int64_t i = 0, j = 0;
      bool found = false;
      if (n >= 2) {
        for (int a = 0; a < diffusion::kPairAttempts && !found; ++a) {
          const uint64_t col = diffusion::kDrawDocs + 2 * static_cast<uint64_t>(a);
          i = std::min<int64_t>(n - 1, static_cast<int64_t>(static_cast<double>(diffusion::draw(step, p, col)) * n));
          j = std::min<int64_t>(n - 2, static_cast<int64_t>(static_cast<double>(diffusion::draw(step, p, col + 1)) * (n - 1)));
          if (j >= i) ++j;  // two distinct docs, uniformly
          found = classes[lo + i] != classes[lo + j];
        }
        for (int64_t jj = 1; jj < n && !found; ++jj) {  // deterministic fallback
          i = 0;
          j = jj;
          found = classes[lo] != classes[lo + jj];
        }
      }
      if (!found) {
        int64_t cur = first_bad.load();
        while (p < cur && !first_bad.compare_exchange_weak(cur, p)) {
        }
        continue;
      }
      const bool i_higher = classes[lo + i] > classes[lo + j];
      rows[p] = lo + static_cast<uint32_t>(i_higher ? i : j);
      rows[p + num_pairs] = lo + static_cast<uint32_t>(i_higher ? j : i);
    }
  });
  const int64_t bad = first_bad.load();
  if (bad < num_pairs) {
    const double uq = diffusion::draw(step, bad, diffusion::kDrawQuery);
    const int64_t e = std::min<int64_t>(num_eligible - 1, static_cast<int64_t>(uq * static_cast<double>(num_eligible)));
    throw ArgumentError("diffusion_sample_pairs: eligible[" + std::to_string(e) + "] = query " + std::to_string(eligible[e]) +
                        " has no two documents with different classes (eligible must list queries with >= 2 docs and "
                        ">= 2 distinct classes)");
  }
}

}  // namespace cpu

// ---- entry points ---------------------------------------------------------------------

#ifdef ORDO_WITH_CUDA
#define ORDO_DIFFUSION_DISPATCH(backend, call) \
  do {                                         \
    if ((backend) == Backend::Cuda) {          \
      cuda::call;                              \
    } else {                                   \
      cpu::call;                               \
    }                                          \
  } while (0)
#else
#define ORDO_DIFFUSION_DISPATCH(backend, call)                                                    \
  do {                                                                                            \
    if ((backend) == Backend::Cuda) throw BackendError("diffusion: this build has no CUDA backend"); \
    cpu::call;                                                                                    \
  } while (0)
#endif

void diffusion_schedule_numeric(Backend backend, const float* t, int64_t batch, int64_t cols, const float* rho_raw,
                                const PowerMeanSchedule& s, float* sigma, float* dsigma_dt) {
  const char* who = "diffusion_schedule_numeric";
  check_sizes(batch, cols, who);
  check_power_mean(s, rho_raw != nullptr, who);
  if (batch == 0) return;
  check_ptr(t, true, who, "t");
  check_ptr(sigma, true, who, "sigma");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_schedule_numeric(t, batch, cols, rho_raw, s, sigma, dsigma_dt));
}

void diffusion_schedule_numeric_backward(Backend backend, const float* t, int64_t batch, int64_t cols,
                                         const float* rho_raw, const float* d_sigma, const PowerMeanSchedule& s,
                                         float* d_rho_raw) {
  const char* who = "diffusion_schedule_numeric_backward";
  check_sizes(batch, cols, who);
  check_power_mean(s, true, who);
  check_ptr(rho_raw, true, who, "rhoRaw");
  check_ptr(d_rho_raw, true, who, "dRhoRaw");
  check_ptr(t, batch > 0, who, "t");
  check_ptr(d_sigma, batch > 0, who, "dSigma");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_schedule_numeric_backward(t, batch, cols, rho_raw, d_sigma, s, d_rho_raw));
}

void diffusion_schedule_categorical(Backend backend, const float* t, int64_t batch, int64_t cols, const float* k_raw,
                                    const LogLinearSchedule& s, float* move_chance, float* sigma_cat, float* weight) {
  const char* who = "diffusion_schedule_categorical";
  check_sizes(batch, cols, who);
  check_log_linear(s, k_raw != nullptr, who);
  if (batch == 0) return;
  check_ptr(t, true, who, "t");
  check_ptr(move_chance, true, who, "moveChance");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_schedule_categorical(t, batch, cols, k_raw, s, move_chance, sigma_cat, weight));
}

void diffusion_schedule_categorical_backward(Backend backend, const float* t, int64_t batch, int64_t cols,
                                             const float* k_raw, const float* d_move_chance, const float* d_weight,
                                             const LogLinearSchedule& s, float* d_k_raw) {
  const char* who = "diffusion_schedule_categorical_backward";
  check_sizes(batch, cols, who);
  check_log_linear(s, true, who);
  check_ptr(k_raw, true, who, "kRaw");
  check_ptr(d_k_raw, true, who, "dKRaw");
  check_ptr(t, batch > 0, who, "t");
  check_ptr(d_move_chance, batch > 0, who, "dMoveChance");
  ORDO_DIFFUSION_DISPATCH(backend,
                          diffusion_schedule_categorical_backward(t, batch, cols, k_raw, d_move_chance, d_weight, s, d_k_raw));
}

void diffusion_noise_input(Backend backend, const float* x0, const float* classes, const float* t, int64_t batch,
                           int64_t features, const DiffusionNoiseOptions& o, float* input, float* target,
                           float* row_info) {
  const char* who = "diffusion_noise_input";
  if (batch < 0 || features < 0) throw ArgumentError(std::string(who) + ": batch and features must be >= 0");
  if (o.num_classes < 1) throw ArgumentError(std::string(who) + ": numClasses must be >= 1, got " + std::to_string(o.num_classes));
  if (o.pairs && batch % 2 != 0)
    throw ArgumentError(std::string(who) + ": pairs needs an even batch (rows b and b + B/2 form a pair), got " + std::to_string(batch));
  check_power_mean(o.numeric, false, who);
  check_log_linear(o.categorical, false, who);
  if (batch == 0) return;
  check_ptr(x0, features > 0, who, "x0");
  check_ptr(target, features > 0, who, "target");
  check_ptr(classes, true, who, "classes");
  check_ptr(input, true, who, "input");
  check_ptr(row_info, true, who, "rowInfo");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_noise_input(x0, classes, t, batch, features, o, input, target, row_info));
}

void diffusion_denoiser_input(Backend backend, const float* xt, const float* class_state, const float* sigma,
                              int64_t batch, int64_t features, int64_t num_classes, float* input) {
  const char* who = "diffusion_denoiser_input";
  if (batch < 0 || features < 0) throw ArgumentError(std::string(who) + ": batch and features must be >= 0");
  if (num_classes < 1) throw ArgumentError(std::string(who) + ": numClasses must be >= 1, got " + std::to_string(num_classes));
  if (batch == 0) return;
  check_ptr(xt, features > 0, who, "xt");
  check_ptr(class_state, true, who, "classState");
  check_ptr(sigma, true, who, "sigma");
  check_ptr(input, true, who, "input");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_denoiser_input(xt, class_state, sigma, batch, features, num_classes, input));
}

void diffusion_loss(Backend backend, DiffusionObjective objective, const float* out, const float* target,
                    const float* classes, const float* row_info, int64_t batch, const DiffusionLossOptions& o,
                    float* grad_out, float* parts) {
  const char* who = "diffusion_loss";
  const bool pointwise = objective == DiffusionObjective::Pointwise;
  if (!pointwise && objective != DiffusionObjective::Pairwise) throw ArgumentError(std::string(who) + ": unknown objective");
  if (batch < 0 || o.num_features < 0) throw ArgumentError(std::string(who) + ": batch and numFeatures must be >= 0");
  if (pointwise && o.num_classes < 1)
    throw ArgumentError(std::string(who) + ": numClasses must be >= 1, got " + std::to_string(o.num_classes));
  if (!pointwise && batch % 2 != 0)
    throw ArgumentError(std::string(who) + ": the pairwise objective needs an even batch (rows p and p + B/2 form a pair), got " +
                        std::to_string(batch));
  if (!finite(o.feature_weight)) throw ArgumentError(std::string(who) + ": featureWeight must be finite");
  check_ptr(parts, true, who, "parts");
  if (batch > 0) {
    check_ptr(out, true, who, "out");
    check_ptr(classes, pointwise, who, "classes");
  }
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_loss(objective, out, target, classes, row_info, batch, o, grad_out, parts));
}

void diffusion_sample_pairs(Backend backend, const uint32_t* offsets, int64_t num_queries, const float* classes,
                            int64_t num_docs, const uint32_t* eligible, int64_t num_eligible, int64_t num_pairs,
                            uint64_t seed, uint64_t counter, uint32_t* rows) {
  const char* who = "diffusion_sample_pairs";
  if (num_queries < 0 || num_docs < 0 || num_eligible < 0 || num_pairs < 0)
    throw ArgumentError(std::string(who) + ": sizes must be >= 0");
  if (num_docs > 0xFFFFFFFFll) throw ArgumentError(std::string(who) + ": at most 2^32 - 1 documents");
  if (num_pairs == 0) return;
  if (num_eligible == 0) throw ArgumentError(std::string(who) + ": eligible is empty: no query can give a pair");
  if (num_queries < 1 || num_docs < 2)
    throw ArgumentError(std::string(who) + ": pairs need at least one query and two documents, got " +
                        std::to_string(num_queries) + " queries and " + std::to_string(num_docs) + " documents");
  check_ptr(offsets, true, who, "offsets");
  check_ptr(classes, num_docs > 0, who, "classes");
  check_ptr(eligible, true, who, "eligible");
  check_ptr(rows, true, who, "rows");
  ORDO_DIFFUSION_DISPATCH(backend, diffusion_sample_pairs(offsets, num_queries, classes, num_docs, eligible, num_eligible,
                                                          num_pairs, seed, counter, rows));
}

}  // namespace ordo
