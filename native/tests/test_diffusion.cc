// C++ tests of the DiffusionRank kernels (core/diffusion.h): schedules against
// the closed forms (the table of the notes, §2.1) and their derivatives by
// central finite differences in double, learnable ρ / k gradients by finite
// differences, the fused input against a scalar reference written here from
// the documented random-stream layout (core/rng.h), the EDM target identity,
// the losses against scalar references with finite-difference gradients, the
// pair sampler's invariants, bad inputs, and CPU/CUDA parity when a usable GPU
// is present (SKIP otherwise).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "core/diffusion.h"
#include "core/dispatch.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "tests/check.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

using namespace ordo;
using F = std::vector<float>;
using V = std::vector<double>;

namespace {

// ---- scalar references (double) -------------------------------------------------------
double sp(double x) { return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0); }
double sigma_ref(double t, double smin, double smax, double rho) {
  const double a = std::pow(smin, 1 / rho), b = std::pow(smax, 1 / rho);
  return std::pow(a + t * (b - a), rho);
}
double mc_ref(double t, double k, double emin, double emax) { return (1 - emax - emin) * std::pow(t, k) + emin; }
double sigcat_ref(double t, double k, double emin, double emax) { return -std::log(1 - mc_ref(t, k, emin, emax)); }

// The documented stream of the fused input: draw(row, col) =
// rng_uniform(rng_bits(rng_bits(seed, "noise"), counter), row·2^32 + col), "noise" = 0x6E6F697365.
float draw_ref(uint64_t seed, uint64_t counter, uint64_t row, uint64_t col) {
  return rng_uniform(rng_bits(rng_bits(seed, 0x6E6F697365ull), counter), row * 4294967296ull + col);
}

F randf(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  F v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(lo + (hi - lo) * rng_uniform(seed, i));
  return v;
}

void near_rel(double got, double want, double rtol, double atol, const std::string& what) {
  if (!(std::fabs(got - want) <= atol + rtol * std::fabs(want)))
    throw ordo_test::Failure{what + ": got " + std::to_string(got) + ", want " + std::to_string(want)};
}

// ---- the fused input, reference ----------------------------------------------------------
struct NoiseOut {
  F input, target, info;
};
NoiseOut noise_ref(const F& x0, const F& classes, const F* t, int64_t B, int64_t D, int64_t K, uint64_t seed,
                   uint64_t counter, bool pairs) {
  NoiseOut o{F(B * (D + K + 2)), F(B * D), F(B * 4)};
  const double smin = 0.002, smax = 80, rho = 7, emin = 1e-5, emax = 1e-3;
  const int64_t half = pairs ? B / 2 : B;
  for (int64_t r = 0; r < B; ++r) {
    const int64_t src = r >= half ? r - half : r;
    const double tt = t ? (*t)[src] : draw_ref(seed, counter, src, 0);
    const double mc = (1 - emax - emin) * tt + emin;
    const bool masked = draw_ref(seed, counter, src, 1) < mc;
    const double s = sigma_ref(tt, smin, smax, rho);
    const double cin = 1 / std::sqrt(s * s + 1);
    for (int64_t j = 0; j < D; ++j) {
      const int64_t m = j / 2;  // Box–Muller pair m: cos for even j, sin for odd j
      const double u1 = draw_ref(seed, counter, r, 2 + 2 * m), u2 = draw_ref(seed, counter, r, 3 + 2 * m);
      const double angle = 6.283185307179586 * u2;
      const double eps = std::sqrt(-2 * std::log(u1)) * (j % 2 == 0 ? std::cos(angle) : std::sin(angle));
      const double xt = x0[r * D + j] + s * eps;
      const double cskip = 1 / (s * s + 1), cout = s / std::sqrt(s * s + 1);
      o.input[r * (D + K + 2) + j] = static_cast<float>(cin * xt);
      o.target[r * D + j] = static_cast<float>((x0[r * D + j] - cskip * xt) / cout);  // the textbook form, in double
    }
    o.input[r * (D + K + 2) + D + (masked ? K : static_cast<int64_t>(classes[r]))] = 1;
    o.input[r * (D + K + 2) + D + K + 1] = static_cast<float>(std::log(s) / 4);
    o.info[r * 4 + 0] = static_cast<float>(tt);
    o.info[r * 4 + 1] = static_cast<float>(s);
    o.info[r * 4 + 2] = masked ? 1.0f : 0.0f;
    o.info[r * 4 + 3] = static_cast<float>(1 / mc);
  }
  return o;
}

// ---- the loss, reference -----------------------------------------------------------------
struct LossCase {
  bool pointwise;
  int64_t B, D, K;
  F out, target, classes, info;
  bool use_target, use_info;
  double fw;
  int64_t dout() const { return pointwise ? D + K : D + 1; }
};
// {feature loss, label loss}
std::pair<double, double> loss_ref(const LossCase& c, const V& out) {
  const int64_t dout = c.dout();
  double feat = 0, label = 0;
  if (c.use_target && c.D > 0) {
    for (int64_t r = 0; r < c.B; ++r)
      for (int64_t j = 0; j < c.D; ++j) feat += std::pow(out[r * dout + j] - c.target[r * c.D + j], 2);
    feat /= static_cast<double>(c.B * c.D);
  }
  auto mw = [&](int64_t r) { return c.use_info ? static_cast<double>(c.info[r * 4 + 2]) * c.info[r * 4 + 3] : 1.0; };
  if (c.pointwise) {
    for (int64_t r = 0; r < c.B; ++r) {
      double z = 0;
      for (int64_t k = 0; k < c.K; ++k) z += std::exp(out[r * dout + c.D + k]);
      const double p = std::exp(out[r * dout + c.D + static_cast<int64_t>(c.classes[r])]) / z;
      label += mw(r) * -std::log(p);
    }
    label /= static_cast<double>(c.B);
  } else {
    const int64_t P = c.B / 2;
    for (int64_t p = 0; p < P; ++p) {
      const double d = out[p * dout + c.D] - out[(p + P) * dout + c.D];
      label += mw(p) * -std::log(1 / (1 + std::exp(-d)));
    }
    label /= static_cast<double>(P);
  }
  return {feat, label};
}

LossCase make_loss_case(bool pointwise, int64_t B, int64_t D, int64_t K, bool use_target, bool use_info, uint64_t seed) {
  LossCase c{pointwise, B, D, K, {}, {}, {}, {}, use_target, use_info, 0.7};
  c.out = randf(B * c.dout(), seed, -2, 2);
  c.target = randf(B * D, seed + 1, -2, 2);
  c.classes.resize(B);
  for (int64_t r = 0; r < B; ++r) c.classes[r] = static_cast<float>(rng_bits(seed + 2, r) % K);
  c.info.resize(B * 4);
  for (int64_t r = 0; r < B; ++r) {
    c.info[r * 4 + 2] = rng_uniform(seed + 3, r) < 0.6f ? 1.0f : 0.0f;
    c.info[r * 4 + 3] = 1.0f + 3.0f * rng_uniform(seed + 4, r);
  }
  return c;
}

void run_loss(Backend b, const LossCase& c, F& grad, F& parts);

void check_loss_case(const LossCase& c, const std::string& what) {
  F grad(c.B * c.dout(), -99.0f), parts(2, -1.0f);
  run_loss(Backend::Cpu, c, grad, parts);
  V out(c.out.begin(), c.out.end());
  const auto ref = loss_ref(c, out);
  near_rel(parts[0], ref.first, 1e-5, 1e-7, what + " feature loss");
  near_rel(parts[1], ref.second, 1e-5, 1e-7, what + " label loss");
  const double h = 1e-5;
  for (size_t i = 0; i < out.size(); ++i) {
    V up = out, dn = out;
    up[i] += h;
    dn[i] -= h;
    const auto a = loss_ref(c, up), z = loss_ref(c, dn);
    const double fd = ((a.second + c.fw * a.first) - (z.second + c.fw * z.first)) / (2 * h);
    near_rel(grad[i], fd, 1e-4, 1e-6, what + " gradOut[" + std::to_string(i) + "]");
  }
}

void run_loss(Backend b, const LossCase& c, F& grad, F& parts) {
  DiffusionLossOptions o;
  o.num_features = c.D;
  o.num_classes = c.K;
  o.feature_weight = c.fw;
  const auto obj = c.pointwise ? DiffusionObjective::Pointwise : DiffusionObjective::Pairwise;
  if (b == Backend::Cpu) {
    diffusion_loss(b, obj, c.out.data(), c.use_target ? c.target.data() : nullptr, c.classes.data(),
                   c.use_info ? c.info.data() : nullptr, c.B, o, grad.data(), parts.data());
    return;
  }
#ifdef ORDO_WITH_CUDA
  auto up = [](const F& h) {
    float* d = static_cast<float*>(cuda::device_alloc(std::max<size_t>(4, h.size() * 4)));
    cuda::copy_to_device(d, h.data(), h.size() * 4);
    return d;
  };
  float *dout = up(c.out), *dt = up(c.target), *dc = up(c.classes), *di = up(c.info), *dg = up(grad), *dp = up(parts);
  diffusion_loss(b, obj, dout, c.use_target ? dt : nullptr, dc, c.use_info ? di : nullptr, c.B, o, dg, dp);
  cuda::copy_to_host(grad.data(), dg, grad.size() * 4);
  cuda::copy_to_host(parts.data(), dp, 8);
  for (float* p : {dout, dt, dc, di, dg, dp}) cuda::device_free(p);
#endif
}

// A random ragged dataset for the pair sampler.
struct Ranked {
  std::vector<uint32_t> offsets, eligible;
  F classes;
};
Ranked make_ranked(int Q, uint64_t seed) {
  Ranked d;
  d.offsets.push_back(0);
  for (int q = 0; q < Q; ++q) {
    const int n = static_cast<int>(rng_bits(seed, q) % 12);  // 0..11 docs
    const int grades = 1 + static_cast<int>(rng_bits(seed + 1, q) % 4);
    std::set<float> distinct;
    for (int i = 0; i < n; ++i) {
      const float c = static_cast<float>(rng_bits(seed + 2, d.classes.size()) % grades);
      d.classes.push_back(c);
      distinct.insert(c);
    }
    d.offsets.push_back(static_cast<uint32_t>(d.classes.size()));
    if (n >= 2 && distinct.size() >= 2) d.eligible.push_back(q);
  }
  return d;
}

bool cuda_usable(std::string& why) {
#ifndef ORDO_WITH_CUDA
  why = "no usable CUDA device: built without CUDA";
  return false;
#else
  const CudaStatus& st = cuda_status();
  if (!st.usable) why = "no usable CUDA device: " + (st.error_name.empty() ? std::string("none found") : st.error_name);
  return st.usable;
#endif
}

}  // namespace

// ============================================================ schedules

TEST_CASE("power-mean schedule: the notes' table, dσ/dt by finite differences, inverse") {
  const F t = {0.0f, 0.1f, 0.25f, 0.5f, 0.75f, 1.0f};
  const double table[] = {0.002, 0.01672, 0.16975, 2.5152, 17.528, 80};
  F sigma(t.size()), dsdt(t.size());
  PowerMeanSchedule s;
  diffusion_schedule_numeric(Backend::Cpu, t.data(), 6, 1, nullptr, s, sigma.data(), dsdt.data());
  for (size_t i = 0; i < t.size(); ++i) {
    near_rel(sigma[i], table[i], 2e-4, 0, "sigma(" + std::to_string(t[i]) + ") vs the table");
    near_rel(sigma[i], sigma_ref(t[i], 0.002, 80, 7), 1e-6, 0, "sigma vs the double reference");
    const double h = 1e-6, tt = t[i];
    const double fd = (sigma_ref(tt + h, 0.002, 80, 7) - sigma_ref(tt - h, 0.002, 80, 7)) / (2 * h);
    near_rel(dsdt[i], fd, 1e-6, 1e-9, "dsigma/dt at t = " + std::to_string(t[i]));
    near_rel(power_mean_inverse(sigma_ref(tt, 0.002, 80, 7), s), tt, 0, 1e-12, "inverse(sigma(t)) = t");
    near_rel(power_mean_inverse(sigma[i], s), tt, 0, 2e-7, "inverse of the float sigma");
  }
  // [B, C] without rhoRaw: every column equal; other constants
  s.sigma_min = 0.01;
  s.sigma_max = 10;
  s.rho = 3;
  F sig3(6 * 3), d3(6 * 3);
  diffusion_schedule_numeric(Backend::Cpu, t.data(), 6, 3, nullptr, s, sig3.data(), d3.data());
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 3; ++c) {
      CHECK(sig3[r * 3 + c] == sig3[r * 3]);
      CHECK(d3[r * 3 + c] == d3[r * 3]);
      near_rel(sig3[r * 3 + c], sigma_ref(t[r], 0.01, 10, 3), 1e-6, 0, "sigma with rho 3");
    }
  // dsigmaDt may be null
  diffusion_schedule_numeric(Backend::Cpu, t.data(), 6, 1, nullptr, PowerMeanSchedule{}, sigma.data(), nullptr);
  near_rel(sigma[3], 2.5152, 2e-4, 0, "sigma(0.5) without dsigmaDt");
}

TEST_CASE("learnable ρ: ρ = softplus(ρraw) + 5 per column, dρraw by finite differences") {
  const int64_t B = 9, C = 3;
  const F t = {0.0f, 0.05f, 0.2f, 0.33f, 0.5f, 0.61f, 0.8f, 0.97f, 1.0f};
  const F rho_raw = {7.0f, -1.0f, 0.5f};
  const F dS = randf(B * C, 42);
  PowerMeanSchedule s;
  F sigma(B * C), dsdt(B * C), drho(C, 123.0f);
  diffusion_schedule_numeric(Backend::Cpu, t.data(), B, C, rho_raw.data(), s, sigma.data(), dsdt.data());
  near_rel(sp(7.0) + 5, 12.0009, 0, 1e-4, "initial rho of the notes");
  for (int64_t r = 0; r < B; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double rho = sp(rho_raw[c]) + 5;
      near_rel(sigma[r * C + c], sigma_ref(t[r], 0.002, 80, rho), 1e-6, 0, "learnable sigma");
      const double h = 1e-6;
      const double fd = (sigma_ref(t[r] + h, 0.002, 80, rho) - sigma_ref(t[r] - h, 0.002, 80, rho)) / (2 * h);
      near_rel(dsdt[r * C + c], fd, 1e-5, 1e-9, "learnable dsigma/dt");
    }
  diffusion_schedule_numeric_backward(Backend::Cpu, t.data(), B, C, rho_raw.data(), dS.data(), s, drho.data());
  for (int64_t c = 0; c < C; ++c) {
    auto L = [&](double raw) {
      double l = 0;
      for (int64_t r = 0; r < B; ++r) l += dS[r * C + c] * sigma_ref(t[r], 0.002, 80, sp(raw) + 5);
      return l;
    };
    const double h = 1e-5;
    const double fd = (L(rho_raw[c] + h) - L(rho_raw[c] - h)) / (2 * h);
    near_rel(drho[c], fd, 1e-5, 1e-7, "dRhoRaw[" + std::to_string(c) + "]");
  }
}

TEST_CASE("log-linear schedule: closed forms, dσcat/dt and the MDLM weight by finite differences") {
  const F t = {0.0f, 0.01f, 0.3f, 0.5f, 0.9f, 1.0f};
  F mc(6), sc(6), w(6);
  LogLinearSchedule s;
  diffusion_schedule_categorical(Backend::Cpu, t.data(), 6, 1, nullptr, s, mc.data(), sc.data(), w.data());
  near_rel(sc[0], 1.0e-5, 1e-5, 0, "sigmaCat(0)");
  near_rel(sc[5], 6.9078, 1e-5, 0, "sigmaCat(1) = -log(epsMax)");
  near_rel(mc[3], 0.99899 * 0.5 + 1e-5, 1e-7, 0, "moveChance(0.5)");
  for (int i = 0; i < 6; ++i) {
    const double tt = t[i];
    near_rel(mc[i], mc_ref(tt, 1, 1e-5, 1e-3), 1e-7, 0, "moveChance");
    near_rel(sc[i], sigcat_ref(tt, 1, 1e-5, 1e-3), 1e-6, 0, "sigmaCat");
    const double h = 1e-9;
    const double lo = std::max(0.0, tt - h), hi = std::min(1.0, tt + h);
    const double rate = (sigcat_ref(hi, 1, 1e-5, 1e-3) - sigcat_ref(lo, 1, 1e-5, 1e-3)) / (hi - lo);
    const double want = rate / std::expm1(sigcat_ref(tt, 1, 1e-5, 1e-3));
    near_rel(w[i], want, 1e-5, 0, "MDLM weight at t = " + std::to_string(tt));
  }
  // other constants, null outputs allowed
  s.eps_min = 0.01;
  s.eps_max = 0.05;
  diffusion_schedule_categorical(Backend::Cpu, t.data(), 6, 1, nullptr, s, mc.data(), nullptr, nullptr);
  near_rel(mc[5], 0.95, 1e-6, 0, "moveChance(1) = 1 - epsMax");
}

TEST_CASE("learnable k: t -> t^k, k = softplus(kraw) + 1, dkraw by finite differences (with and without dWeight)") {
  const int64_t B = 8, C = 3;
  const F t = {0.0f, 0.02f, 0.2f, 0.4f, 0.5f, 0.77f, 0.93f, 1.0f};
  const F k_raw = {-6.0f, 0.3f, 1.5f};
  near_rel(sp(-6.0) + 1, 1.00248, 0, 1e-5, "initial k of the notes");
  const F dM = randf(B * C, 7), dW = randf(B * C, 8);
  LogLinearSchedule s;
  F mc(B * C), sc(B * C), w(B * C), dk(C);
  diffusion_schedule_categorical(Backend::Cpu, t.data(), B, C, k_raw.data(), s, mc.data(), sc.data(), w.data());
  for (int64_t r = 0; r < B; ++r)
    for (int64_t c = 0; c < C; ++c) {
      const double k = sp(k_raw[c]) + 1, tt = t[r];
      near_rel(mc[r * C + c], mc_ref(tt, k, 1e-5, 1e-3), 1e-6, 1e-12, "learnable moveChance");
      near_rel(sc[r * C + c], sigcat_ref(tt, k, 1e-5, 1e-3), 1e-6, 1e-12, "learnable sigmaCat");
      const double rate = 0.99899 * k * std::pow(tt, k - 1) / (1 - mc_ref(tt, k, 1e-5, 1e-3));
      near_rel(w[r * C + c], rate / std::expm1(sigcat_ref(tt, k, 1e-5, 1e-3)), 1e-5, 1e-12, "learnable MDLM weight");
    }
  for (bool with_w : {true, false}) {
    diffusion_schedule_categorical_backward(Backend::Cpu, t.data(), B, C, k_raw.data(), dM.data(), with_w ? dW.data() : nullptr, s,
                                            dk.data());
    for (int64_t c = 0; c < C; ++c) {
      auto L = [&](double raw) {
        const double k = sp(raw) + 1;
        double l = 0;
        for (int64_t r = 0; r < B; ++r) {
          const double tt = t[r], m = mc_ref(tt, k, 1e-5, 1e-3);
          l += dM[r * C + c] * m;
          if (with_w) l += dW[r * C + c] * 0.99899 * k * std::pow(tt, k - 1) / m;
        }
        return l;
      };
      const double h = 1e-5;
      near_rel(dk[c], (L(k_raw[c] + h) - L(k_raw[c] - h)) / (2 * h), 1e-5, 1e-7,
               std::string("dKRaw[") + std::to_string(c) + "]" + (with_w ? "" : " (no dWeight)"));
    }
  }
}

// ============================================================ inputs

TEST_CASE("fused noise input matches the scalar reference (drawn t, given t, pairs; D = 5, 16, 37)") {
  for (int64_t D : {5, 16, 37}) {
  const int64_t B = D == 37 ? 256 : 64, K = 3;
  const F x0 = randf(B * D, 3, -3, 3);
  F classes(B);
  for (int64_t r = 0; r < B; ++r) classes[r] = static_cast<float>(r % K);
  F tgiven = randf(B, 9, 0, 1);
  tgiven[0] = 0.0f;
  tgiven[1] = 1.0f;
  for (int variant = 0; variant < 3; ++variant) {
    DiffusionNoiseOptions o;
    o.num_classes = K;
    o.seed = 1234;
    o.counter = 17 + variant;
    o.pairs = variant == 2;
    const F* t = variant == 1 ? &tgiven : nullptr;
    F input(B * (D + K + 2), -7), target(B * D, -7), info(B * 4, -7);
    diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), t ? t->data() : nullptr, B, D, o, input.data(), target.data(),
                          info.data());
    const NoiseOut ref = noise_ref(x0, classes, t, B, D, K, o.seed, o.counter, o.pairs);
    const std::string v = "D " + std::to_string(D) + " variant " + std::to_string(variant);
    for (size_t i = 0; i < input.size(); ++i) near_rel(input[i], ref.input[i], 2e-6, 2e-6, v + " input[" + std::to_string(i) + "]");
    for (size_t i = 0; i < target.size(); ++i) near_rel(target[i], ref.target[i], 1e-5, 1e-5, v + " target[" + std::to_string(i) + "]");
    for (int64_t r = 0; r < B; ++r) {
      CHECK(info[r * 4 + 2] == ref.info[r * 4 + 2]);  // the mask, exactly
      CHECK(info[r * 4 + 0] == ref.info[r * 4 + 0]);
      near_rel(info[r * 4 + 1], ref.info[r * 4 + 1], 1e-6, 0, v + " rowInfo sigma");
      near_rel(info[r * 4 + 3], ref.info[r * 4 + 3], 1e-6, 0, v + " rowInfo 1/mc");
      double hot = 0;
      for (int64_t k = 0; k <= K; ++k) hot += input[r * (D + K + 2) + D + k];
      CHECK(hot == 1.0);
    }
  }
  }
}

TEST_CASE("noise input: pairs share t and the mask draw, eps independent; mask rate; counters differ") {
  const int64_t B = 4000, D = 3, K = 2, P = B / 2;
  const F x0(B * D, 0.5f);
  F classes(B, 1.0f);
  DiffusionNoiseOptions o;
  o.num_classes = K;
  o.seed = 5;
  o.counter = 1;
  o.pairs = true;
  F input(B * (D + K + 2)), target(B * D), info(B * 4);
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, B, D, o, input.data(), target.data(), info.data());
  int masked = 0, same_eps = 0;
  double mean_mc = 0;
  for (int64_t p = 0; p < P; ++p) {
    for (int c = 0; c < 4; ++c) CHECK(info[p * 4 + c] == info[(p + P) * 4 + c]);
    if (target[p * D] == target[(p + P) * D]) ++same_eps;
    masked += info[p * 4 + 2] > 0;
    mean_mc += 1 / info[p * 4 + 3];
    // the one-hot agrees with the mask: MASK slot or the class
    CHECK(input[p * (D + K + 2) + D + (info[p * 4 + 2] > 0 ? K : 1)] == 1.0f);
  }
  CHECK(same_eps == 0);
  // masked ~ Bernoulli(mc): the count is within 5 standard deviations of Σ mc
  near_rel(masked, mean_mc, 0, 5 * std::sqrt(P * 0.25), "masked pairs vs the expected count");
  near_rel(mean_mc / P, 0.5, 0, 0.05, "mean move chance with t ~ U(0, 1)");
  // another counter gives other draws; the same (seed, counter) the same bits
  F input2(input.size()), target2(target.size()), info2(info.size());
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, B, D, o, input2.data(), target2.data(), info2.data());
  CHECK(input2 == input && target2 == target && info2 == info);
  o.counter = 2;
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, B, D, o, input2.data(), target2.data(), info2.data());
  CHECK(info2[0] != info[0] && target2[0] != target[0]);
  // thread count does not change the (row-wise) result
  const int saved = num_threads();
  set_num_threads(1);
  o.counter = 1;
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, B, D, o, input2.data(), target2.data(), info2.data());
  set_num_threads(saved);
  CHECK(input2 == input && target2 == target && info2 == info);
}

TEST_CASE("noise input: eps is standard normal, the two halves of a Box–Muller pair uncorrelated") {
  const int64_t B = 4000, D = 6, K = 2;
  const F x0(B * D, 0.0f), classes(B, 0.0f), t(B, 0.5f);
  DiffusionNoiseOptions o;
  o.num_classes = K;
  o.seed = 3;
  F input(B * (D + K + 2)), target(B * D), info(B * 4);
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), t.data(), B, D, o, input.data(), target.data(), info.data());
  const double s = info[1], cin = 1 / std::sqrt(s * s + 1);
  double sum = 0, sq = 0, cross = 0;
  for (int64_t r = 0; r < B; ++r)
    for (int64_t j = 0; j < D; ++j) {
      const double e = -target[r * D + j] / cin;  // x0 = 0: T = −eps·c_in
      sum += e;
      sq += e * e;
      if (j % 2 == 0) cross += e * (-target[r * D + j + 1] / cin);
    }
  const double n = static_cast<double>(B * D);
  near_rel(sum / n, 0.0, 0, 5 / std::sqrt(n), "mean of eps");
  near_rel(sq / n, 1.0, 0, 5 * std::sqrt(2 / n), "variance of eps");
  near_rel(cross / (n / 2), 0.0, 0, 5 / std::sqrt(n / 2), "correlation of eps[2m] and eps[2m + 1]");
}

TEST_CASE("EDM target identity: c_skip·x_t + c_out·T = x0, stable at σmin and σmax; D = 0") {
  const int64_t B = 6, D = 40, K = 2;
  const F x0 = randf(B * D, 21, -4, 4);
  const F classes(B, 0.0f);
  const F t = {0.0f, 0.0f, 0.1f, 0.5f, 1.0f, 1.0f};
  DiffusionNoiseOptions o;
  o.num_classes = K;
  o.seed = 77;
  F input(B * (D + K + 2)), target(B * D), info(B * 4);
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), t.data(), B, D, o, input.data(), target.data(), info.data());
  for (int64_t r = 0; r < B; ++r) {
    const double s = info[r * 4 + 1];
    const double cin = 1 / std::sqrt(s * s + 1), cskip = 1 / (s * s + 1), cout = s * cin;
    near_rel(input[r * (D + K + 2) + D + K + 1], std::log(s) / 4, 1e-6, 1e-6, "c_noise");
    for (int64_t j = 0; j < D; ++j) {
      const double xt = input[r * (D + K + 2) + j] / cin;
      const double den = cskip * xt + cout * target[r * D + j];
      // float inputs: x_t carries σ·eps (up to 80·6), so the tolerance scales with σ
      near_rel(den, x0[r * D + j], 0, 1e-5 * (1 + s), "denoised = x0 at sigma " + std::to_string(s));
    }
  }
  near_rel(info[1], 0.002, 1e-6, 0, "sigma(0)");
  near_rel(input[D + K + 1], -1.5536520, 0, 1e-6, "c_noise at sigmaMin = log(0.002)/4");
  // D = 0: only the one-hot and c_noise
  F in0(B * (K + 2)), info0(B * 4);
  diffusion_noise_input(Backend::Cpu, nullptr, classes.data(), t.data(), B, 0, o, in0.data(), nullptr, info0.data());
  for (int64_t r = 0; r < B; ++r) CHECK(in0[r * (K + 2) + (info0[r * 4 + 2] > 0 ? K : 0)] == 1.0f);
}

TEST_CASE("denoiser input: c_in·x_t, one-hot over K+1 with MASK = K, c_noise") {
  const int64_t B = 5, D = 4, K = 3;
  const F xt = randf(B * D, 31, -5, 5);
  const F state = {0, 1, 2, 3, 3};
  const F sigma = {0.002f, 0.1f, 1.0f, 17.5f, 80.0f};
  F input(B * (D + K + 2), -1);
  diffusion_denoiser_input(Backend::Cpu, xt.data(), state.data(), sigma.data(), B, D, K, input.data());
  for (int64_t r = 0; r < B; ++r) {
    const double s = sigma[r], cin = 1 / std::sqrt(s * s + 1);
    for (int64_t j = 0; j < D; ++j) near_rel(input[r * (D + K + 2) + j], cin * xt[r * D + j], 1e-6, 1e-7, "c_in x_t");
    for (int64_t k = 0; k <= K; ++k) CHECK(input[r * (D + K + 2) + D + k] == (k == state[r] ? 1.0f : 0.0f));
    near_rel(input[r * (D + K + 2) + D + K + 1], std::log(s) / 4, 1e-6, 1e-7, "c_noise");
  }
}

// ============================================================ loss

TEST_CASE("loss: pointwise and pairwise vs scalar references, gradOut by finite differences") {
  check_loss_case(make_loss_case(true, 12, 5, 2, true, true, 100), "pointwise K=2");
  check_loss_case(make_loss_case(true, 9, 3, 5, true, false, 200), "pointwise K=5, no rowInfo");
  check_loss_case(make_loss_case(true, 7, 0, 3, false, true, 300), "pointwise D=0");
  check_loss_case(make_loss_case(true, 6, 4, 2, false, true, 350), "pointwise, target null");
  check_loss_case(make_loss_case(false, 12, 5, 1, true, true, 400), "pairwise");
  check_loss_case(make_loss_case(false, 10, 3, 1, true, false, 500), "pairwise, no rowInfo");
  check_loss_case(make_loss_case(false, 8, 0, 1, false, true, 600), "pairwise D=0");
}

TEST_CASE("loss: rowInfo null is plain cross-entropy / RankNet; masked-out rows add nothing; large margins are stable") {
  // pointwise, one row, logits (0, log 3), class 1: CE = log(4/3)
  LossCase c = make_loss_case(true, 1, 0, 2, false, false, 1);
  c.out = {0.0f, static_cast<float>(std::log(3.0))};
  c.classes = {1.0f};
  F grad(2), parts(2);
  run_loss(Backend::Cpu, c, grad, parts);
  near_rel(parts[1], std::log(4.0 / 3.0), 1e-6, 0, "CE");
  near_rel(grad[0], 0.25, 1e-6, 0, "softmax - onehot");
  near_rel(grad[1], -0.25, 1e-6, 0, "softmax - onehot");
  // rowInfo with m = 0 everywhere: label loss and label gradient are 0
  c.use_info = true;
  c.info = {0, 0, 0.0f, 5.0f};
  run_loss(Backend::Cpu, c, grad, parts);
  CHECK(parts[1] == 0.0f && grad[0] == 0.0f && grad[1] == 0.0f);
  // pairwise, huge margins: softplus stays finite and exact
  LossCase p = make_loss_case(false, 4, 0, 1, false, false, 2);
  p.out = {200.0f, -200.0f, 0.0f, 0.0f};  // pairs (200, 0) and (-200, 0)
  F g2(4), parts2(2);
  run_loss(Backend::Cpu, p, g2, parts2);
  near_rel(parts2[1], (0.0 + 200.0) / 2, 1e-6, 1e-12, "RankNet with |Δ| = 200");
  near_rel(g2[1], -0.5, 1e-6, 0, "dΔ of a badly ordered pair");
  CHECK(std::fabs(g2[0]) < 1e-30);
  CHECK(g2[3] == -g2[1]);
}

TEST_CASE("loss: deterministic run to run; thread counts agree to rounding") {
  const LossCase c = make_loss_case(true, 3000, 20, 2, true, true, 900);
  F g1(c.B * c.dout()), p1(2), g2(g1.size()), p2(2);
  run_loss(Backend::Cpu, c, g1, p1);
  run_loss(Backend::Cpu, c, g2, p2);
  CHECK(g1 == g2 && p1 == p2);
  const int saved = num_threads();
  set_num_threads(1);
  run_loss(Backend::Cpu, c, g2, p2);
  set_num_threads(saved);
  CHECK(g1 == g2);  // per-element gradients do not depend on the split
  near_rel(p2[0], p1[0], 1e-6, 0, "feature loss, 1 thread vs many");
  near_rel(p2[1], p1[1], 1e-6, 0, "label loss, 1 thread vs many");
}

// ============================================================ pair sampler

TEST_CASE("pair sampler: same query, distinct docs, higher class first, every eligible query hit, reproducible") {
  const Ranked d = make_ranked(40, 11);
  CHECK(d.eligible.size() >= 10);
  const int64_t P = 4000, N = d.classes.size();
  std::vector<uint32_t> rows(2 * P, 0xFFFFFFFFu);
  diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 40, d.classes.data(), N, d.eligible.data(), d.eligible.size(), P, 9, 3,
                         rows.data());
  std::set<uint32_t> hit;
  auto query_of = [&](uint32_t r) {
    return static_cast<uint32_t>(std::upper_bound(d.offsets.begin(), d.offsets.end(), r) - d.offsets.begin() - 1);
  };
  for (int64_t p = 0; p < P; ++p) {
    const uint32_t i = rows[p], j = rows[p + P];
    CHECK(i < N && j < N && i != j);
    CHECK(query_of(i) == query_of(j));
    CHECK(d.classes[i] > d.classes[j]);
    hit.insert(query_of(i));
  }
  CHECK(hit.size() == d.eligible.size());
  for (uint32_t q : hit) CHECK(std::find(d.eligible.begin(), d.eligible.end(), q) != d.eligible.end());
  std::vector<uint32_t> again(2 * P);
  diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 40, d.classes.data(), N, d.eligible.data(), d.eligible.size(), P, 9, 3,
                         again.data());
  CHECK(again == rows);
  diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 40, d.classes.data(), N, d.eligible.data(), d.eligible.size(), P, 9, 4,
                         again.data());
  CHECK(again != rows);
}

TEST_CASE("pair sampler: a query with one doc of another class (the fallback scan) still gives valid pairs") {
  // query 0: 300 docs of class 0 and one of class 2 at position 250; query 1: classes 1, 0
  Ranked d;
  d.classes.assign(301, 0.0f);
  d.classes[250] = 2.0f;
  d.classes.push_back(1.0f);
  d.classes.push_back(0.0f);
  d.offsets = {0, 301, 303};
  d.eligible = {0, 1};
  const int64_t P = 500;
  std::vector<uint32_t> rows(2 * P);
  diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 2, d.classes.data(), 303, d.eligible.data(), 2, P, 1, 0, rows.data());
  int q0 = 0;
  for (int64_t p = 0; p < P; ++p) {
    if (rows[p] < 301) {
      ++q0;
      CHECK(rows[p] == 250 && rows[p + P] < 301 && rows[p + P] != 250);
    } else {
      CHECK(rows[p] == 301 && rows[p + P] == 302);
    }
  }
  CHECK(q0 > 150 && q0 < 350);
}

TEST_CASE("pair sampler and fused input draw independent streams from the same (seed, counter)") {
  // E queries of two docs (classes 1, 0); pair p's query index vs row p's t: uncorrelated
  const int64_t E = 1000, P = 4000;
  Ranked d;
  d.offsets.push_back(0);
  for (int64_t q = 0; q < E; ++q) {
    d.classes.push_back(1.0f);
    d.classes.push_back(0.0f);
    d.offsets.push_back(static_cast<uint32_t>(d.classes.size()));
    d.eligible.push_back(static_cast<uint32_t>(q));
  }
  std::vector<uint32_t> rows(2 * P);
  diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), E, d.classes.data(), 2 * E, d.eligible.data(), E, P, 42, 7, rows.data());
  const F x0(P, 0.0f), classes(P, 0.0f);
  F input(P * 4), target(P), info(P * 4);
  DiffusionNoiseOptions o;
  o.num_classes = 2;
  o.seed = 42;
  o.counter = 7;
  diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, P, 0, o, input.data(), target.data(), info.data());
  double sq = 0, st = 0, sqq = 0, stt = 0, sqt = 0;
  for (int64_t p = 0; p < P; ++p) {
    const double q = rows[p] / 2.0 / E, t = info[p * 4];
    sq += q, st += t, sqq += q * q, stt += t * t, sqt += q * t;
  }
  const double cov = sqt / P - (sq / P) * (st / P);
  const double corr = cov / std::sqrt((sqq / P - sq * sq / P / P) * (stt / P - st * st / P / P));
  near_rel(corr, 0.0, 0, 5 / std::sqrt(static_cast<double>(P)), "correlation of the query pick and t");
}

// ============================================================ bad inputs

TEST_CASE("bad inputs are rejected with the argument named") {
  const F x0(4 * 2, 0.0f), t(4, 0.5f);
  F classes = {0, 1, 2.5f, 1};
  F input(4 * 6), target(4 * 2), info(4 * 4);
  DiffusionNoiseOptions o;
  o.num_classes = 2;
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 4, 2, o, input.data(), target.data(), info.data()), "classes[2]");
  for (float bad : {-1.0f, 2.0f, NAN}) {
    classes[2] = bad;
    CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 4, 2, o, input.data(), target.data(), info.data()), "classes[2]");
  }
  classes[2] = 0;
  F tbad = {0.5f, 1.5f, 0.1f, 0.1f};
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), tbad.data(), 4, 2, o, input.data(), target.data(), info.data()), "t[1]");
  DiffusionNoiseOptions o2 = o;
  o2.pairs = true;
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 3, 2, o2, input.data(), target.data(), info.data()), "even batch");
  o2 = o;
  o2.num_classes = 0;
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 4, 2, o2, input.data(), target.data(), info.data()), "numClasses");
  o2 = o;
  o2.numeric.sigma_min = 0;
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 4, 2, o2, input.data(), target.data(), info.data()), "sigmaMin");
  o2 = o;
  o2.categorical.eps_max = 0.999995;
  CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cpu, x0.data(), classes.data(), nullptr, 4, 2, o2, input.data(), target.data(), info.data()), "epsMin + epsMax");

  PowerMeanSchedule ps;
  ps.sigma_max = 0.001;
  F sig(4);
  CHECK_THROWS(ArgumentError, diffusion_schedule_numeric(Backend::Cpu, t.data(), 4, 1, nullptr, ps, sig.data(), nullptr), "sigmaMax");
  ps = PowerMeanSchedule{};
  ps.rho = -1;
  CHECK_THROWS(ArgumentError, diffusion_schedule_numeric(Backend::Cpu, t.data(), 4, 1, nullptr, ps, sig.data(), nullptr), "rho");
  CHECK_THROWS(ArgumentError, diffusion_schedule_numeric_backward(Backend::Cpu, t.data(), 4, 1, nullptr, sig.data(), PowerMeanSchedule{}, sig.data()), "rhoRaw");
  LogLinearSchedule ls;
  ls.eps_min = -1e-5;
  CHECK_THROWS(ArgumentError, diffusion_schedule_categorical(Backend::Cpu, t.data(), 4, 1, nullptr, ls, sig.data(), nullptr, nullptr), "epsMin");

  const F state = {0, 3, 1, 0}, sigma = {1, 1, 0, 1};
  CHECK_THROWS(ArgumentError, diffusion_denoiser_input(Backend::Cpu, x0.data(), state.data(), t.data(), 4, 2, 2, input.data()), "classState[1]");
  const F state_ok = {0, 2, 1, 0};
  CHECK_THROWS(ArgumentError, diffusion_denoiser_input(Backend::Cpu, x0.data(), state_ok.data(), sigma.data(), 4, 2, 2, input.data()), "sigma[2]");

  DiffusionLossOptions lo;
  lo.num_features = 2;
  lo.num_classes = 2;
  F out(4 * 4), grad(4 * 4), parts(2);
  const F cls_bad = {0, 1, 1, 7};
  CHECK_THROWS(ArgumentError, diffusion_loss(Backend::Cpu, DiffusionObjective::Pointwise, out.data(), target.data(), cls_bad.data(), nullptr, 4, lo, grad.data(), parts.data()), "classes[3]");
  CHECK_THROWS(ArgumentError, diffusion_loss(Backend::Cpu, DiffusionObjective::Pairwise, out.data(), target.data(), nullptr, nullptr, 3, lo, grad.data(), parts.data()), "even batch");
  CHECK_THROWS(ArgumentError, diffusion_loss(Backend::Cpu, DiffusionObjective::Pointwise, out.data(), target.data(), nullptr, nullptr, 4, lo, grad.data(), parts.data()), "classes");

  const Ranked d = make_ranked(10, 3);
  std::vector<uint32_t> rows(20);
  std::vector<uint32_t> bad_e = {0, 10};
  CHECK_THROWS(ArgumentError, diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 10, d.classes.data(), d.classes.size(), bad_e.data(), 2, 10, 1, 0, rows.data()), "eligible[1]");
  std::vector<uint32_t> off = d.offsets, el0 = {0};
  off.back() += 1;
  CHECK_THROWS(ArgumentError, diffusion_sample_pairs(Backend::Cpu, off.data(), 10, d.classes.data(), d.classes.size(), el0.data(), 1, 10, 1, 0, rows.data()), "offsets");
  // a single-class query listed as eligible
  const F one_class = {1, 1, 1};
  const std::vector<uint32_t> off1 = {0, 3}, el1 = {0};
  CHECK_THROWS(ArgumentError, diffusion_sample_pairs(Backend::Cpu, off1.data(), 1, one_class.data(), 3, el1.data(), 1, 4, 1, 0, rows.data()), "no two documents");
  CHECK_THROWS(ArgumentError, diffusion_sample_pairs(Backend::Cpu, off1.data(), 1, one_class.data(), 3, el1.data(), 0, 4, 1, 0, rows.data()), "eligible is empty");
#ifndef ORDO_WITH_CUDA
  CHECK_THROWS(BackendError, diffusion_schedule_numeric(Backend::Cuda, t.data(), 4, 1, nullptr, PowerMeanSchedule{}, sig.data(), nullptr), "no CUDA");
#endif
}

// ============================================================ CUDA parity

TEST_CASE("CUDA parity: schedules, fused input (identical masks), denoiser input, losses, pair sampler") {
  std::string why;
  if (!cuda_usable(why)) SKIP(why);
#ifdef ORDO_WITH_CUDA
  std::vector<void*> owned;
  auto up = [&](const auto& h) {
    using T = typename std::decay_t<decltype(h)>::value_type;
    T* d = static_cast<T*>(cuda::device_alloc(std::max<size_t>(8, h.size() * sizeof(T))));
    cuda::copy_to_device(d, h.data(), h.size() * sizeof(T));
    owned.push_back(d);
    return d;
  };
  auto down = [](auto& h, const void* d) { cuda::copy_to_host(h.data(), d, h.size() * sizeof(h[0])); };
  auto same = [](const F& a, const F& b, double rtol, double atol, const std::string& what) {
    CHECK(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) near_rel(b[i], a[i], rtol, atol, what + "[" + std::to_string(i) + "]");
  };
  // schedules
  const int64_t B = 257, C = 4;
  F t = randf(B, 1, 0, 1);
  t[0] = 0;
  t[1] = 1;
  const F rr = randf(C, 2, -2, 8), kr = randf(C, 3, -6, 2), dS = randf(B * C, 4), dM = randf(B * C, 5), dW = randf(B * C, 6);
  {
    F s1(B * C), d1(B * C), s2(B * C), d2(B * C), g1(C), g2(C);
    diffusion_schedule_numeric(Backend::Cpu, t.data(), B, C, rr.data(), PowerMeanSchedule{}, s1.data(), d1.data());
    float *ds = up(s2), *dd = up(d2), *dg = up(g2);
    diffusion_schedule_numeric(Backend::Cuda, up(t), B, C, up(rr), PowerMeanSchedule{}, ds, dd);
    down(s2, ds);
    down(d2, dd);
    same(s1, s2, 1e-5, 1e-12, "cuda sigma");
    same(d1, d2, 1e-5, 1e-12, "cuda dsigmaDt");
    diffusion_schedule_numeric_backward(Backend::Cpu, t.data(), B, C, rr.data(), dS.data(), PowerMeanSchedule{}, g1.data());
    diffusion_schedule_numeric_backward(Backend::Cuda, up(t), B, C, up(rr), up(dS), PowerMeanSchedule{}, dg);
    down(g2, dg);
    same(g1, g2, 1e-5, 1e-9, "cuda dRhoRaw");
    F m1(B * C), c1(B * C), w1(B * C), m2(B * C), c2(B * C), w2(B * C), k1(C), k2(C);
    diffusion_schedule_categorical(Backend::Cpu, t.data(), B, C, kr.data(), LogLinearSchedule{}, m1.data(), c1.data(), w1.data());
    float *dm = up(m2), *dc = up(c2), *dw = up(w2), *dk = up(k2);
    diffusion_schedule_categorical(Backend::Cuda, up(t), B, C, up(kr), LogLinearSchedule{}, dm, dc, dw);
    down(m2, dm);
    down(c2, dc);
    down(w2, dw);
    same(m1, m2, 1e-6, 1e-12, "cuda moveChance");
    same(c1, c2, 1e-5, 1e-12, "cuda sigmaCat");
    same(w1, w2, 1e-5, 1e-12, "cuda weight");
    diffusion_schedule_categorical_backward(Backend::Cpu, t.data(), B, C, kr.data(), dM.data(), dW.data(), LogLinearSchedule{}, k1.data());
    diffusion_schedule_categorical_backward(Backend::Cuda, up(t), B, C, up(kr), up(dM), up(dW), LogLinearSchedule{}, dk);
    down(k2, dk);
    same(k1, k2, 1e-5, 1e-9, "cuda dKRaw");
  }
  // fused input, both with drawn t and pairs
  {
    const int64_t NB = 2048, D = 37, K = 5;
    const F x0 = randf(NB * D, 8, -3, 3);
    F cls(NB);
    for (int64_t r = 0; r < NB; ++r) cls[r] = static_cast<float>(r % K);
    for (bool pairs : {false, true}) {
      DiffusionNoiseOptions o;
      o.num_classes = K;
      o.seed = 99;
      o.counter = 7;
      o.pairs = pairs;
      F i1(NB * (D + K + 2)), g1(NB * D), f1(NB * 4), i2(i1.size()), g2(g1.size()), f2(f1.size());
      diffusion_noise_input(Backend::Cpu, x0.data(), cls.data(), nullptr, NB, D, o, i1.data(), g1.data(), f1.data());
      float *di = up(i2), *dg = up(g2), *df = up(f2);
      diffusion_noise_input(Backend::Cuda, up(x0), up(cls), nullptr, NB, D, o, di, dg, df);
      down(i2, di);
      down(g2, dg);
      down(f2, df);
      for (int64_t r = 0; r < NB; ++r) CHECK(f1[r * 4 + 2] == f2[r * 4 + 2] && f1[r * 4] == f2[r * 4]);  // masks and t: bit for bit
      same(i1, i2, 1e-5, 1e-6, "cuda input");
      same(g1, g2, 1e-5, 1e-5, "cuda target");
      same(f1, f2, 1e-6, 0, "cuda rowInfo");
    }
    // a bad class id is reported as ArgumentError naming the row, and nothing is written out of bounds
    F bad = cls;
    bad[1000] = static_cast<float>(K);
    DiffusionNoiseOptions o;
    o.num_classes = K;
    F i2(NB * (D + K + 2)), g2(NB * D), f2(NB * 4);
    CHECK_THROWS(ArgumentError, diffusion_noise_input(Backend::Cuda, up(x0), up(bad), nullptr, NB, D, o, up(i2), up(g2), up(f2)), "classes[1000]");
    // denoiser input
    F st(NB), sg = randf(NB, 12, 0.002, 80), j1(NB * (D + K + 2)), j2(j1.size());
    for (int64_t r = 0; r < NB; ++r) st[r] = static_cast<float>(r % (K + 1));
    diffusion_denoiser_input(Backend::Cpu, x0.data(), st.data(), sg.data(), NB, D, K, j1.data());
    float* dj = up(j2);
    diffusion_denoiser_input(Backend::Cuda, up(x0), up(st), up(sg), NB, D, K, dj);
    down(j2, dj);
    same(j1, j2, 1e-6, 1e-7, "cuda denoiser input");
    st[5] = K + 1.0f;
    CHECK_THROWS(ArgumentError, diffusion_denoiser_input(Backend::Cuda, up(x0), up(st), up(sg), NB, D, K, up(j2)), "classState[5]");
  }
  // losses
  for (int variant = 0; variant < 4; ++variant) {
    const LossCase c = make_loss_case(variant < 2, 1000, variant == 3 ? 0 : 23, variant < 2 ? 3 : 1, variant != 3, variant % 2 == 0, 70 + variant);
    F g1(c.B * c.dout()), p1(2), g2(g1.size()), p2(2);
    run_loss(Backend::Cpu, c, g1, p1);
    run_loss(Backend::Cuda, c, g2, p2);
    same(g1, g2, 1e-5, 1e-9, "cuda gradOut, variant " + std::to_string(variant));
    same(p1, p2, 1e-5, 1e-9, "cuda parts, variant " + std::to_string(variant));
  }
  // pair sampler: identical rows; broken offsets stay in bounds
  {
    const Ranked d = make_ranked(300, 17);
    const int64_t P = 5000, N = d.classes.size();
    std::vector<uint32_t> r1(2 * P), r2(2 * P);
    diffusion_sample_pairs(Backend::Cpu, d.offsets.data(), 300, d.classes.data(), N, d.eligible.data(), d.eligible.size(), P, 5, 6, r1.data());
    uint32_t* dr = up(r2);
    diffusion_sample_pairs(Backend::Cuda, up(d.offsets), 300, up(d.classes), N, up(d.eligible), d.eligible.size(), P, 5, 6, dr);
    down(r2, dr);
    CHECK(r1 == r2);
    std::vector<uint32_t> off = d.offsets, el = d.eligible;
    off[7] = 0xFFFFFFF0u;
    off.push_back(static_cast<uint32_t>(N));  // query 300: empty, starting at N
    el[0] = 100000;
    el[1] = 300;
    diffusion_sample_pairs(Backend::Cuda, up(off), 301, up(d.classes), N, up(el), el.size(), P, 5, 6, dr);
    down(r2, dr);
    for (uint32_t r : r2) CHECK(r < N);
  }
  for (void* p : owned) cuda::device_free(p);
#endif
}

TEST_MAIN("native diffusion")
