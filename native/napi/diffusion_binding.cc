// DiffusionRank kernel bindings (core/diffusion.h): every call checks dtypes,
// devices, shapes and options on the JS thread (TypeError for a wrong type,
// RangeError for a wrong shape or value, naming the argument), then runs on
// the tensors' device (sync, or async as <name>Async returning a Promise).
#include <cmath>
#include <string>
#include <vector>

#include "core/diffusion.h"
#include "core/error.h"
#include "napi/bindings.h"
#include "napi/convert.h"
#include "napi/kernel_job.h"
#include "napi/tensor.h"

namespace ordo_napi {
namespace {

using ordo::ArgumentError;
using ordo::Backend;


float* f32(Tensor* t, const char* name) { return t ? static_cast<float*>(t->data(name)) : nullptr; }
uint32_t* u32(Tensor* t, const char* name) { return t ? static_cast<uint32_t*>(t->data(name)) : nullptr; }

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

void require_shape(Tensor* t, const char* name, const std::vector<int64_t>& want) {
  if (t->shape() != want)
    throw ArgumentError(std::string(name) + " must have shape " + shape_str(want) + ", got " + shape_str(t->shape()));
}

int64_t rows_of_1d(Tensor* t, const char* name) {
  if (t->shape().size() != 1) throw ArgumentError(std::string(name) + " must be a 1-D tensor [B], got shape " + shape_str(t->shape()));
  return t->shape()[0];
}

double num(const Napi::Object& o, const char* key, double fallback) { return get_optional_number(o, key, fallback, "options"); }

int64_t int_opt(const Napi::Object& o, const char* key, bool required, int64_t fallback, int64_t lo, int64_t hi) {
  if (required && o.Get(key).IsUndefined()) throw ArgTypeError(std::string("options.") + key + " is required (an integer)");
  const double d = num(o, key, static_cast<double>(fallback));
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi) && d == std::floor(d)))
    throw ArgumentError(std::string("options.") + key + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                        "], got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

// A seed or counter: an integer in [0, 2^53) or a BigInt.
uint64_t u64_opt(const Napi::Object& o, const char* key, bool required) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    if (required) throw ArgTypeError(std::string("options.") + key + " is required (an integer or a BigInt)");
    return 0;
  }
  if (v.IsBigInt()) {
    bool lossless = true;
    const uint64_t r = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) throw ArgumentError(std::string("options.") + key + " must fit in 64 unsigned bits");
    return r;
  }
  const double d = get_optional_number(o, key, 0, "options");
  if (d < 0 || d > 9007199254740991.0 || d != std::floor(d))
    throw ArgumentError(std::string("options.") + key + " must be an integer in [0, 2^53) or a BigInt");
  return static_cast<uint64_t>(d);
}

ordo::PowerMeanSchedule power_mean(const Napi::Object& o) {
  ordo::PowerMeanSchedule s;
  s.sigma_min = num(o, "sigmaMin", s.sigma_min);
  s.sigma_max = num(o, "sigmaMax", s.sigma_max);
  s.rho = num(o, "rho", s.rho);
  s.rho_offset = num(o, "rhoOffset", s.rho_offset);
  return s;
}

ordo::LogLinearSchedule log_linear(const Napi::Object& o) {
  ordo::LogLinearSchedule s;
  s.eps_min = num(o, "epsMin", s.eps_min);
  s.eps_max = num(o, "epsMax", s.eps_max);
  s.k_offset = num(o, "kOffset", s.k_offset);
  return s;
}

// Schedule outputs: [B] (one column) or [B, C]. Returns C.
int64_t schedule_cols(Tensor* out, const char* name, int64_t batch) {
  const auto& s = out->shape();
  if (s.size() == 1 && s[0] == batch) return 1;
  if (s.size() == 2 && s[0] == batch && s[1] >= 1) return s[1];
  throw ArgumentError(std::string(name) + " must have shape [" + std::to_string(batch) + "] or [" + std::to_string(batch) +
                      ", C], got " + shape_str(s));
}

// ---- schedules ---------------------------------------------------------------------------

// diffusionScheduleNumeric(t, sigma, dsigmaDt | null, { rhoRaw?, rhoOffset?, sigmaMin?, sigmaMax?, rho? })
Napi::Value schedule_numeric(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* t = a.tensor(0, "t", DType::F32);
  Tensor* sigma = a.tensor(1, "sigma", DType::F32);
  Tensor* dsdt = a.tensor(2, "dsigmaDt", DType::F32, true);
  Napi::Object o = a.options(3);
  Tensor* rho_raw = a.tensor(o.Get("rhoRaw"), "options.rhoRaw", DType::F32, true);
  const ordo::PowerMeanSchedule s = power_mean(o);
  const int64_t batch = rows_of_1d(t, "t");
  int64_t cols;
  if (rho_raw) {
    cols = rows_of_1d(rho_raw, "options.rhoRaw");
    require_shape(sigma, "sigma", {batch, cols});
  } else {
    cols = schedule_cols(sigma, "sigma", batch);
  }
  if (dsdt) require_shape(dsdt, "dsigmaDt", sigma->shape());
  float *pt = f32(t, "t"), *ps = f32(sigma, "sigma"), *pd = f32(dsdt, "dsigmaDt"), *pr = f32(rho_raw, "options.rhoRaw");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_schedule_numeric(dev, pt, batch, cols, pr, s, ps, pd); };
  return run_kernel_job(info, std::move(a.job), async);
}

// diffusionScheduleNumericBackward(t, rhoRaw, dSigma, dRhoRaw, options?)
Napi::Value schedule_numeric_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* t = a.tensor(0, "t", DType::F32);
  Tensor* rho_raw = a.tensor(1, "rhoRaw", DType::F32);
  Tensor* d_sigma = a.tensor(2, "dSigma", DType::F32);
  Tensor* d_rho = a.tensor(3, "dRhoRaw", DType::F32);
  const ordo::PowerMeanSchedule s = power_mean(a.options(4));
  const int64_t batch = rows_of_1d(t, "t"), cols = rows_of_1d(rho_raw, "rhoRaw");
  require_shape(d_sigma, "dSigma", {batch, cols});
  require_shape(d_rho, "dRhoRaw", {cols});
  float *pt = f32(t, "t"), *pr = f32(rho_raw, "rhoRaw"), *pds = f32(d_sigma, "dSigma"), *pdr = f32(d_rho, "dRhoRaw");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_schedule_numeric_backward(dev, pt, batch, cols, pr, pds, s, pdr); };
  return run_kernel_job(info, std::move(a.job), async);
}

// diffusionScheduleCategorical(t, moveChance, sigmaCat | null, weight | null, { kRaw?, kOffset?, epsMin?, epsMax? })
Napi::Value schedule_categorical(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* t = a.tensor(0, "t", DType::F32);
  Tensor* mc = a.tensor(1, "moveChance", DType::F32);
  Tensor* sc = a.tensor(2, "sigmaCat", DType::F32, true);
  Tensor* w = a.tensor(3, "weight", DType::F32, true);
  Napi::Object o = a.options(4);
  Tensor* k_raw = a.tensor(o.Get("kRaw"), "options.kRaw", DType::F32, true);
  const ordo::LogLinearSchedule s = log_linear(o);
  const int64_t batch = rows_of_1d(t, "t");
  int64_t cols;
  if (k_raw) {
    cols = rows_of_1d(k_raw, "options.kRaw");
    require_shape(mc, "moveChance", {batch, cols});
  } else {
    cols = schedule_cols(mc, "moveChance", batch);
  }
  if (sc) require_shape(sc, "sigmaCat", mc->shape());
  if (w) require_shape(w, "weight", mc->shape());
  float *pt = f32(t, "t"), *pm = f32(mc, "moveChance"), *ps = f32(sc, "sigmaCat"), *pw = f32(w, "weight"),
        *pk = f32(k_raw, "options.kRaw");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_schedule_categorical(dev, pt, batch, cols, pk, s, pm, ps, pw); };
  return run_kernel_job(info, std::move(a.job), async);
}

// diffusionScheduleCategoricalBackward(t, kRaw, dMoveChance, dWeight | null, dKRaw, options?)
Napi::Value schedule_categorical_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* t = a.tensor(0, "t", DType::F32);
  Tensor* k_raw = a.tensor(1, "kRaw", DType::F32);
  Tensor* d_mc = a.tensor(2, "dMoveChance", DType::F32);
  Tensor* d_w = a.tensor(3, "dWeight", DType::F32, true);
  Tensor* d_k = a.tensor(4, "dKRaw", DType::F32);
  const ordo::LogLinearSchedule s = log_linear(a.options(5));
  const int64_t batch = rows_of_1d(t, "t"), cols = rows_of_1d(k_raw, "kRaw");
  require_shape(d_mc, "dMoveChance", {batch, cols});
  if (d_w) require_shape(d_w, "dWeight", {batch, cols});
  require_shape(d_k, "dKRaw", {cols});
  float *pt = f32(t, "t"), *pk = f32(k_raw, "kRaw"), *pdm = f32(d_mc, "dMoveChance"), *pdw = f32(d_w, "dWeight"),
        *pdk = f32(d_k, "dKRaw");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_schedule_categorical_backward(dev, pt, batch, cols, pk, pdm, pdw, s, pdk); };
  return run_kernel_job(info, std::move(a.job), async);
}

// ---- inputs ------------------------------------------------------------------------------

constexpr int64_t kMaxClasses = 1 << 20;

// diffusionNoiseInput(x0, classes, input, target, rowInfo, { numClasses, seed, counter?, pairs?, t?, schedule options })
Napi::Value noise_input(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* x0 = a.tensor(0, "x0", DType::F32);
  Tensor* classes = a.tensor(1, "classes", DType::F32);
  Tensor* input = a.tensor(2, "input", DType::F32);
  Tensor* target = a.tensor(3, "target", DType::F32);
  Tensor* row_info = a.tensor(4, "rowInfo", DType::F32);
  if (!info[5].IsObject()) throw ArgTypeError("options must be an object { numClasses, seed, ... }");
  Napi::Object o = info[5].As<Napi::Object>();
  Tensor* t = a.tensor(o.Get("t"), "options.t", DType::F32, true);
  ordo::DiffusionNoiseOptions opt;
  opt.num_classes = int_opt(o, "numClasses", true, 0, 1, kMaxClasses);
  opt.seed = u64_opt(o, "seed", true);
  opt.counter = u64_opt(o, "counter", false);
  opt.pairs = get_optional_bool(o, "pairs", false, "options");
  opt.numeric = power_mean(o);
  opt.categorical = log_linear(o);
  if (x0->shape().size() != 2) throw ArgumentError("x0 must be a 2-D tensor [B, D], got shape " + shape_str(x0->shape()));
  const int64_t batch = x0->shape()[0], D = x0->shape()[1], K = opt.num_classes;
  require_shape(classes, "classes", {batch});
  require_shape(input, "input", {batch, D + K + 2});
  require_shape(target, "target", {batch, D});
  require_shape(row_info, "rowInfo", {batch, 4});
  if (t) require_shape(t, "options.t", {batch});
  if (opt.pairs && batch % 2 != 0)
    throw ArgumentError("options.pairs needs an even batch (rows b and b + B/2 form a pair), got B = " + std::to_string(batch));
  float *px = f32(x0, "x0"), *pc = f32(classes, "classes"), *pi = f32(input, "input"), *pg = f32(target, "target"),
        *pr = f32(row_info, "rowInfo"), *pt = f32(t, "options.t");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_noise_input(dev, px, pc, pt, batch, D, opt, pi, pg, pr); };
  return run_kernel_job(info, std::move(a.job), async);
}

// diffusionDenoiserInput(xt, classState, sigma, input, { numClasses })
Napi::Value denoiser_input(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* xt = a.tensor(0, "xt", DType::F32);
  Tensor* state = a.tensor(1, "classState", DType::F32);
  Tensor* sigma = a.tensor(2, "sigma", DType::F32);
  Tensor* input = a.tensor(3, "input", DType::F32);
  if (!info[4].IsObject()) throw ArgTypeError("options must be an object { numClasses }");
  Napi::Object o = info[4].As<Napi::Object>();
  const int64_t K = int_opt(o, "numClasses", true, 0, 1, kMaxClasses);
  if (xt->shape().size() != 2) throw ArgumentError("xt must be a 2-D tensor [B, D], got shape " + shape_str(xt->shape()));
  const int64_t batch = xt->shape()[0], D = xt->shape()[1];
  require_shape(state, "classState", {batch});
  require_shape(sigma, "sigma", {batch});
  require_shape(input, "input", {batch, D + K + 2});
  float *px = f32(xt, "xt"), *ps = f32(state, "classState"), *pg = f32(sigma, "sigma"), *pi = f32(input, "input");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_denoiser_input(dev, px, ps, pg, batch, D, K, pi); };
  return run_kernel_job(info, std::move(a.job), async);
}

// ---- loss --------------------------------------------------------------------------------

// diffusionLoss(objective, out, target | null, classes, rowInfo | null, gradOut | null, parts, { numFeatures, numClasses, featureWeight? })
Napi::Value loss(const Napi::CallbackInfo& info, bool async) {
  const std::string obj = get_string(info[0], "objective");
  ordo::DiffusionObjective objective;
  if (obj == "pointwise") objective = ordo::DiffusionObjective::Pointwise;
  else if (obj == "pairwise") objective = ordo::DiffusionObjective::Pairwise;
  else throw ArgumentError("objective '" + obj + "' is not one of pointwise, pairwise");
  const bool pointwise = objective == ordo::DiffusionObjective::Pointwise;
  CallArgs a(info, async);
  Tensor* out = a.tensor(1, "out", DType::F32);
  Tensor* target = a.tensor(2, "target", DType::F32, true);
  Tensor* classes = a.tensor(3, "classes", DType::F32, !pointwise);
  Tensor* row_info = a.tensor(4, "rowInfo", DType::F32, true);
  Tensor* grad = a.tensor(5, "gradOut", DType::F32, true);
  Tensor* parts = a.tensor(6, "parts", DType::F32);
  if (!info[7].IsObject()) throw ArgTypeError("options must be an object { numFeatures, numClasses, featureWeight? }");
  Napi::Object o = info[7].As<Napi::Object>();
  ordo::DiffusionLossOptions opt;
  opt.num_features = int_opt(o, "numFeatures", true, 0, 0, int64_t{1} << 30);
  opt.num_classes = int_opt(o, "numClasses", pointwise, 1, 1, kMaxClasses);
  opt.feature_weight = num(o, "featureWeight", 1.0);
  if (out->shape().size() != 2) throw ArgumentError("out must be a 2-D tensor [B, Dout], got shape " + shape_str(out->shape()));
  const int64_t batch = out->shape()[0], D = opt.num_features;
  const int64_t dout = pointwise ? D + opt.num_classes : D + 1;
  require_shape(out, "out", {batch, dout});
  if (target) require_shape(target, "target", {batch, D});
  if (classes) require_shape(classes, "classes", {batch});
  if (row_info) require_shape(row_info, "rowInfo", {batch, 4});
  if (grad) require_shape(grad, "gradOut", {batch, dout});
  require_shape(parts, "parts", {2});
  if (!pointwise && batch % 2 != 0)
    throw ArgumentError("the pairwise objective needs an even batch (rows p and p + B/2 form a pair), got B = " + std::to_string(batch));
  float *po = f32(out, "out"), *pt = f32(target, "target"), *pc = f32(classes, "classes"), *pr = f32(row_info, "rowInfo"),
        *pg = f32(grad, "gradOut"), *pp = f32(parts, "parts");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_loss(dev, objective, po, pt, pc, pr, batch, opt, pg, pp); };
  return run_kernel_job(info, std::move(a.job), async);
}

// ---- pair sampler ------------------------------------------------------------------------

// diffusionSamplePairs(offsets, classes, eligible, rows, { seed, counter? })
Napi::Value sample_pairs(const Napi::CallbackInfo& info, bool async) {
  CallArgs a(info, async);
  Tensor* offsets = a.tensor(0, "offsets", DType::U32);
  Tensor* classes = a.tensor(1, "classes", DType::F32);
  Tensor* eligible = a.tensor(2, "eligible", DType::U32);
  Tensor* rows = a.tensor(3, "rows", DType::U32);
  if (!info[4].IsObject()) throw ArgTypeError("options must be an object { seed, counter? }");
  Napi::Object o = info[4].As<Napi::Object>();
  const uint64_t seed = u64_opt(o, "seed", true), counter = u64_opt(o, "counter", false);
  const int64_t n_off = rows_of_1d(offsets, "offsets");
  if (n_off < 1) throw ArgumentError("offsets must hold numQueries + 1 values (at least one)");
  const int64_t Q = n_off - 1, N = rows_of_1d(classes, "classes"), E = rows_of_1d(eligible, "eligible");
  const int64_t R = rows_of_1d(rows, "rows");
  if (R % 2 != 0) throw ArgumentError("rows must hold 2P values (pair p is rows[p], rows[p + P]), got " + std::to_string(R));
  // CPU: offsets (monotone, ending at N) and eligible ids are checked by the kernel
  // on the host before anything is written. CUDA: nothing is read back per call.
  uint32_t *po = u32(offsets, "offsets"), *pe = u32(eligible, "eligible"), *pr = u32(rows, "rows");
  float* pc = f32(classes, "classes");
  const Backend dev = a.job.device;
  a.job.run = [=] { ordo::diffusion_sample_pairs(dev, po, Q, pc, N, pe, E, R / 2, seed, counter, pr); };
  return run_kernel_job(info, std::move(a.job), async);
}

template <Napi::Value (*F)(const Napi::CallbackInfo&, bool)>
void add(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return F(i, false); }); }, name));
  const std::string async_name = std::string(name) + "Async";
  exports.Set(async_name,
              Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return F(i, true); }); }, async_name));
}

}  // namespace

void register_diffusion(Napi::Env env, Napi::Object kernels) {
  add<schedule_numeric>(env, kernels, "diffusionScheduleNumeric");
  add<schedule_numeric_backward>(env, kernels, "diffusionScheduleNumericBackward");
  add<schedule_categorical>(env, kernels, "diffusionScheduleCategorical");
  add<schedule_categorical_backward>(env, kernels, "diffusionScheduleCategoricalBackward");
  add<noise_input>(env, kernels, "diffusionNoiseInput");
  add<denoiser_input>(env, kernels, "diffusionDenoiserInput");
  add<loss>(env, kernels, "diffusionLoss");
  add<sample_pairs>(env, kernels, "diffusionSamplePairs");
}

}  // namespace ordo_napi
