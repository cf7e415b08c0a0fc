// ordo/kernels bindings: every kernel validates dtype, device, shape and the
// content of offset arrays on the JS thread, then runs on the tensors' device
// (sync, or async as <name>Async returning a Promise).
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/data_ops.h"
#include "core/dense.h"
#include "core/error.h"
#include "core/losses.h"
#include "core/metrics.h"
#include "core/neuralsort.h"
#include "core/parallel.h"
#include "napi/bindings.h"
#include "napi/convert.h"
#include "napi/kernel_job.h"
#include "napi/tensor.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

namespace ordo_napi {
namespace {

using ordo::ArgumentError;
using ordo::Backend;


float* f32(Tensor* t) { return t ? static_cast<float*>(t->data("tensor")) : nullptr; }
const uint32_t* u32(Tensor* t) { return static_cast<const uint32_t*>(t->data("tensor")); }

void require_shape(Tensor* t, const char* name, std::initializer_list<int64_t> dims) {
  std::vector<int64_t> want(dims);
  if (t->shape() != want) {
    std::string w = "[", g = "[";
    for (size_t i = 0; i < want.size(); ++i) w += (i ? ", " : "") + std::to_string(want[i]);
    for (size_t i = 0; i < t->shape().size(); ++i) g += (i ? ", " : "") + std::to_string(t->shape()[i]);
    throw ArgumentError(std::string(name) + " must have shape " + w + "], got " + g + "]");
  }
}

void require_numel(Tensor* t, const char* name, int64_t n) {
  if (t->numel() != n) {
    throw ArgumentError(std::string(name) + " must hold " + std::to_string(n) + " elements, got " + std::to_string(t->numel()));
  }
}

int64_t dim(Tensor* t, const char* name, size_t rank, size_t i) {
  if (t->shape().size() != rank) {
    throw ArgumentError(std::string(name) + " must be a " + std::to_string(rank) + "-D tensor, got " + std::to_string(t->shape().size()) + "-D");
  }
  return t->shape()[i];
}

double num(const Napi::Object& o, const char* key, double fallback) { return get_optional_number(o, key, fallback, "options"); }

uint64_t seed_of(const Napi::Object& o, const char* key) {
  Napi::Value v = get_property(o, key);
  if (v.IsUndefined()) return 0;
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  double d = get_optional_number(o, key, 0, "options");
  if (d < 0 || d > 9007199254740991.0 || d != std::floor(d)) throw ArgumentError(std::string("options.") + key + " must be an integer in [0, 2^53) or a BigInt");
  return static_cast<uint64_t>(d);
}

uint32_t uint_opt(const Napi::Object& o, const char* key, uint32_t fallback) {
  double d = num(o, key, fallback);
  if (d < 0 || d > 4294967295.0 || d != std::floor(d)) throw ArgumentError(std::string("options.") + key + " must be a non-negative integer");
  return static_cast<uint32_t>(d);
}

ordo::Activation parse_activation(const Napi::Value& v) {
  std::string s = get_string(v, "activation");
  if (s == "identity") return ordo::Activation::Identity;
  if (s == "relu") return ordo::Activation::ReLU;
  if (s == "silu") return ordo::Activation::SiLU;
  if (s == "gelu") return ordo::Activation::GELU;
  if (s == "tanh") return ordo::Activation::Tanh;
  throw ArgumentError("activation '" + s + "' is not one of identity, relu, silu, gelu, tanh");
}

// Runs fn with a device (or host) copy of `values` valid during the call.
template <typename T, typename F>
void with_device_array(Backend device, const std::vector<T>& values, F&& fn) {
#ifdef ORDO_WITH_CUDA
  if (device == Backend::Cuda) {
    size_t bytes = values.size() * sizeof(T);
    void* d = ordo::cuda::device_alloc(bytes);
    std::unique_ptr<void, void (*)(void*)> guard(d, [](void* p) { ordo::cuda::device_free(p); });
    ordo::cuda::copy_to_device(d, values.data(), bytes);
    fn(static_cast<const T*>(d));
    return;
  }
#endif
  (void)device;
  fn(values.data());
}

#ifdef ORDO_WITH_CUDA
#define ORDO_DISPATCH(device, call) \
  do {                              \
    if ((device) == Backend::Cuda) {   \
      ordo::cuda::call;             \
    } else {                        \
      ordo::cpu::call;              \
    }                               \
  } while (0)
#else
#define ORDO_DISPATCH(device, call) ordo::cpu::call
#endif

// ---- dense ------------------------------------------------------------------

Napi::Value sgemm(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* a = args.tensor(0, "a", DType::F32);
  Tensor* b = args.tensor(1, "b", DType::F32);
  Tensor* c = args.tensor(2, "c", DType::F32);
  Napi::Object o = args.options(3);
  bool ta = get_optional_bool(o, "transA", false, "options");
  bool tb = get_optional_bool(o, "transB", false, "options");
  float alpha = static_cast<float>(num(o, "alpha", 1.0));
  float beta = static_cast<float>(num(o, "beta", 0.0));
  int64_t ar = dim(a, "a", 2, 0), ac = dim(a, "a", 2, 1), br = dim(b, "b", 2, 0), bc = dim(b, "b", 2, 1);
  int64_t m = ta ? ac : ar, k = ta ? ar : ac, kb = tb ? bc : br, n = tb ? br : bc;
  if (k != kb) throw ArgumentError("a and b do not multiply: op(a) is " + std::to_string(m) + "x" + std::to_string(k) + ", op(b) is " + std::to_string(kb) + "x" + std::to_string(n));
  require_shape(c, "c", {m, n});
  float *pa = f32(a), *pb = f32(b), *pc = f32(c);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, sgemm(ta, tb, m, n, k, alpha, pa, ac, pb, bc, beta, pc, n)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value add_bias(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* y = args.tensor(0, "y", DType::F32);
  Tensor* bias = args.tensor(1, "bias", DType::F32);
  int64_t rows = dim(y, "y", 2, 0), cols = dim(y, "y", 2, 1);
  require_shape(bias, "bias", {cols});
  float *py = f32(y), *pb = f32(bias);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, add_bias(py, pb, rows, cols)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value bias_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* dy = args.tensor(0, "dy", DType::F32);
  Tensor* db = args.tensor(1, "dbias", DType::F32);
  int64_t rows = dim(dy, "dy", 2, 0), cols = dim(dy, "dy", 2, 1);
  require_shape(db, "dbias", {cols});
  float *pdy = f32(dy), *pdb = f32(db);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, bias_backward(pdy, rows, cols, pdb)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value activation(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* x = args.tensor(0, "x", DType::F32);
  Tensor* y = args.tensor(1, "y", DType::F32);
  ordo::Activation act = parse_activation(info[2]);
  require_numel(y, "y", x->numel());
  float *px = f32(x), *py = f32(y);
  int64_t n = x->numel();
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, activation_forward(act, px, py, n)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value activation_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* x = args.tensor(0, "x", DType::F32);
  Tensor* dy = args.tensor(1, "dy", DType::F32);
  Tensor* dx = args.tensor(2, "dx", DType::F32);
  ordo::Activation act = parse_activation(info[3]);
  require_numel(dy, "dy", x->numel());
  require_numel(dx, "dx", x->numel());
  float *px = f32(x), *pdy = f32(dy), *pdx = f32(dx);
  int64_t n = x->numel();
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, activation_backward(act, px, pdy, pdx, n)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value layer_norm(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* x = args.tensor(0, "x", DType::F32);
  Tensor* gamma = args.tensor(1, "gamma", DType::F32);
  Tensor* beta = args.tensor(2, "beta", DType::F32);
  Tensor* y = args.tensor(3, "y", DType::F32);
  Tensor* mean = args.tensor(4, "mean", DType::F32);
  Tensor* rstd = args.tensor(5, "rstd", DType::F32);
  float eps = static_cast<float>(num(args.options(6), "eps", 1e-5));
  int64_t rows = dim(x, "x", 2, 0), cols = dim(x, "x", 2, 1);
  require_shape(gamma, "gamma", {cols});
  require_shape(beta, "beta", {cols});
  require_shape(y, "y", {rows, cols});
  require_shape(mean, "mean", {rows});
  require_shape(rstd, "rstd", {rows});
  float *px = f32(x), *pg = f32(gamma), *pb = f32(beta), *py = f32(y), *pm = f32(mean), *pr = f32(rstd);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, layernorm_forward(px, pg, pb, py, pm, pr, rows, cols, eps)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value layer_norm_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* dy = args.tensor(0, "dy", DType::F32);
  Tensor* x = args.tensor(1, "x", DType::F32);
  Tensor* gamma = args.tensor(2, "gamma", DType::F32);
  Tensor* mean = args.tensor(3, "mean", DType::F32);
  Tensor* rstd = args.tensor(4, "rstd", DType::F32);
  Tensor* dx = args.tensor(5, "dx", DType::F32);
  Tensor* dgamma = args.tensor(6, "dgamma", DType::F32);
  Tensor* dbeta = args.tensor(7, "dbeta", DType::F32);
  int64_t rows = dim(x, "x", 2, 0), cols = dim(x, "x", 2, 1);
  require_shape(dy, "dy", {rows, cols});
  require_shape(dx, "dx", {rows, cols});
  require_shape(gamma, "gamma", {cols});
  require_shape(dgamma, "dgamma", {cols});
  require_shape(dbeta, "dbeta", {cols});
  require_shape(mean, "mean", {rows});
  require_shape(rstd, "rstd", {rows});
  float *pdy = f32(dy), *px = f32(x), *pg = f32(gamma), *pm = f32(mean), *pr = f32(rstd), *pdx = f32(dx), *pdg = f32(dgamma),
        *pdb = f32(dbeta);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, layernorm_backward(pdy, px, pg, pm, pr, pdx, pdg, pdb, rows, cols)); };
  return run_kernel_job(info, std::move(args.job), async);
}

float dropout_p(const Napi::Object& o) {
  double p = num(o, "p", 0.1);
  if (!(p >= 0 && p < 1)) throw ArgumentError("options.p (dropout probability) must be in [0, 1)");
  return static_cast<float>(p);
}

Napi::Value dropout(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* x = args.tensor(0, "x", DType::F32);
  Tensor* y = args.tensor(1, "y", DType::F32);
  Tensor* mask = args.tensor(2, "mask", DType::U8);
  Napi::Object o = args.options(3);
  float p = dropout_p(o);
  uint64_t seed = seed_of(o, "seed"), offset = seed_of(o, "offset");
  require_numel(y, "y", x->numel());
  require_numel(mask, "mask", x->numel());
  float *px = f32(x), *py = f32(y);
  uint8_t* pm = static_cast<uint8_t*>(mask->data("mask"));
  int64_t n = x->numel();
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, dropout_forward(px, py, pm, n, p, seed, offset)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value dropout_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* dy = args.tensor(0, "dy", DType::F32);
  Tensor* mask = args.tensor(1, "mask", DType::U8);
  Tensor* dx = args.tensor(2, "dx", DType::F32);
  float p = dropout_p(args.options(3));
  require_numel(mask, "mask", dy->numel());
  require_numel(dx, "dx", dy->numel());
  float *pdy = f32(dy), *pdx = f32(dx);
  const uint8_t* pm = static_cast<const uint8_t*>(mask->data("mask"));
  int64_t n = dy->numel();
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, dropout_backward(pdy, pm, pdx, n, p)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value adam_update(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* param = args.tensor(0, "param", DType::F32);
  Tensor* grad = args.tensor(1, "grad", DType::F32);
  Tensor* m = args.tensor(2, "m", DType::F32);
  Tensor* v = args.tensor(3, "v", DType::F32);
  Napi::Object o = args.options(4);
  ordo::AdamParams p;
  p.lr = static_cast<float>(num(o, "lr", p.lr));
  p.beta1 = static_cast<float>(num(o, "beta1", p.beta1));
  p.beta2 = static_cast<float>(num(o, "beta2", p.beta2));
  p.eps = static_cast<float>(num(o, "eps", p.eps));
  p.weight_decay = static_cast<float>(num(o, "weightDecay", p.weight_decay));
  double step = num(o, "step", 1);
  if (!(step >= 1 && step <= 9007199254740991.0 && step == std::floor(step))) throw ArgumentError("options.step must be an integer in [1, 2^53)");
  p.step = static_cast<int64_t>(step);
  p.decoupled = get_optional_bool(o, "decoupled", true, "options");
  if (!(p.beta1 >= 0 && p.beta1 < 1 && p.beta2 >= 0 && p.beta2 < 1)) throw ArgumentError("options.beta1 and options.beta2 must be in [0, 1)");
  int64_t n = param->numel();
  require_numel(grad, "grad", n);
  require_numel(m, "m", n);
  require_numel(v, "v", n);
  float *pp = f32(param), *pg = f32(grad), *pm = f32(m), *pv = f32(v);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, adam_update(pp, pg, pm, pv, n, p)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value sgd_update(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* param = args.tensor(0, "param", DType::F32);
  Tensor* grad = args.tensor(1, "grad", DType::F32);
  Tensor* mom = args.tensor(2, "momentumBuffer", DType::F32, true);
  Napi::Object o = args.options(3);
  ordo::SgdParams p;
  p.lr = static_cast<float>(num(o, "lr", p.lr));
  p.momentum = static_cast<float>(num(o, "momentum", p.momentum));
  p.weight_decay = static_cast<float>(num(o, "weightDecay", p.weight_decay));
  p.nesterov = get_optional_bool(o, "nesterov", false, "options");
  int64_t n = param->numel();
  require_numel(grad, "grad", n);
  if (mom) require_numel(mom, "momentumBuffer", n);
  if (p.momentum != 0 && !mom) throw ArgumentError("momentumBuffer is required when options.momentum != 0");
  float *pp = f32(param), *pg = f32(grad), *pm = f32(mom);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, sgd_update(pp, pg, pm, n, p)); };
  return run_kernel_job(info, std::move(args.job), async);
}

// ---- NeuralSort -----------------------------------------------------------------

ordo::NeuralSortOptions neuralsort_options(const Napi::Object& o) {
  ordo::NeuralSortOptions opt;
  opt.tau = static_cast<float>(num(o, "tau", opt.tau));
  if (!(opt.tau > 0)) throw ArgumentError("options.tau must be > 0");
  opt.gumbel = get_optional_bool(o, "gumbel", false, "options");
  opt.gumbel_beta = static_cast<float>(num(o, "gumbelBeta", opt.gumbel_beta));
  opt.seed = seed_of(o, "seed");
  opt.hard = get_optional_bool(o, "hard", false, "options");
  return opt;
}

std::vector<uint64_t> matrix_offsets(const std::vector<uint32_t>& offsets) {
  std::vector<uint64_t> out(offsets.size(), 0);
  for (size_t q = 0; q + 1 < offsets.size(); ++q) {
    uint64_t n = offsets[q + 1] - offsets[q];
    out[q + 1] = out[q] + n * n;
  }
  return out;
}

Napi::Value neuralsort_matrix(const Napi::CallbackInfo& info, bool async, bool backward) {
  CallArgs args(info, async);
  Tensor* scores = args.tensor(0, "scores", DType::F32);
  Tensor* offsets = args.tensor(1, "offsets", DType::U32);
  Tensor* third = args.tensor(2, backward ? "gradPHat" : "pHat", DType::F32);
  Tensor* grad_scores = backward ? args.tensor(3, "gradScores", DType::F32) : nullptr;
  ordo::NeuralSortOptions opt = neuralsort_options(args.options(backward ? 4 : 3));
  std::vector<uint32_t> host = checked_offsets(offsets, scores->numel(), "offsets");
  std::vector<uint64_t> mat = matrix_offsets(host);
  require_numel(third, backward ? "gradPHat" : "pHat", static_cast<int64_t>(mat.back()));
  if (grad_scores) require_numel(grad_scores, "gradScores", scores->numel());
  float *ps = f32(scores), *pt = f32(third), *pgs = f32(grad_scores);
  const uint32_t* po = u32(offsets);
  int64_t lists = static_cast<int64_t>(host.size()) - 1;
  Backend dev = args.job.device;
  args.job.run = [=] {
    with_device_array(dev, mat, [&](const uint64_t* pmat) {
      if (backward) ORDO_DISPATCH(dev, neuralsort_matrix_backward(ps, po, lists, pmat, opt, pt, pgs));
      else ORDO_DISPATCH(dev, neuralsort_matrix(ps, po, lists, pmat, opt, pt));
    });
  };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value neuralsort_apply(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* scores = args.tensor(0, "scores", DType::F32);
  Tensor* values = args.tensor(1, "values", DType::F32);
  Tensor* offsets = args.tensor(2, "offsets", DType::U32);
  Tensor* out = args.tensor(3, "out", DType::F32);
  Tensor* stats = args.tensor(4, "rowStats", DType::F32);
  ordo::NeuralSortOptions opt = neuralsort_options(args.options(5));
  int64_t n = scores->numel();
  std::vector<uint32_t> host = checked_offsets(offsets, n, "offsets");
  require_numel(values, "values", n);
  require_numel(out, "out", n);
  require_numel(stats, "rowStats", 2 * n);
  float *ps = f32(scores), *pv = f32(values), *pout = f32(out), *pst = f32(stats);
  const uint32_t* po = u32(offsets);
  int64_t lists = static_cast<int64_t>(host.size()) - 1;
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, neuralsort_apply(ps, pv, po, lists, opt, pout, pst)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value neuralsort_apply_backward(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* scores = args.tensor(0, "scores", DType::F32);
  Tensor* values = args.tensor(1, "values", DType::F32);
  Tensor* offsets = args.tensor(2, "offsets", DType::U32);
  Tensor* stats = args.tensor(3, "rowStats", DType::F32);
  Tensor* grad_out = args.tensor(4, "gradOut", DType::F32);
  Tensor* grad_scores = args.tensor(5, "gradScores", DType::F32);
  Tensor* grad_values = args.tensor(6, "gradValues", DType::F32, true);
  ordo::NeuralSortOptions opt = neuralsort_options(args.options(7));
  int64_t n = scores->numel();
  std::vector<uint32_t> host = checked_offsets(offsets, n, "offsets");
  require_numel(values, "values", n);
  require_numel(stats, "rowStats", 2 * n);
  require_numel(grad_out, "gradOut", n);
  require_numel(grad_scores, "gradScores", n);
  if (grad_values) require_numel(grad_values, "gradValues", n);
  float *ps = f32(scores), *pv = f32(values), *pst = f32(stats), *pgo = f32(grad_out), *pgs = f32(grad_scores), *pgv = f32(grad_values);
  const uint32_t* po = u32(offsets);
  int64_t lists = static_cast<int64_t>(host.size()) - 1;
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, neuralsort_apply_backward(ps, pv, po, lists, opt, pst, pgo, pgs, pgv)); };
  return run_kernel_job(info, std::move(args.job), async);
}

// ---- losses -----------------------------------------------------------------------

ordo::LossKind parse_loss(const Napi::Value& v) {
  std::string s = get_string(v, "loss");
  static const std::pair<const char*, ordo::LossKind> kinds[] = {
      {"mse", ordo::LossKind::PointwiseMSE},
      {"sigmoidCrossEntropy", ordo::LossKind::SigmoidCrossEntropy},
      {"softmaxCrossEntropy", ordo::LossKind::SoftmaxCrossEntropy},
      {"rankNet", ordo::LossKind::RankNet},
      {"lambdaRank", ordo::LossKind::LambdaRank},
      {"listNet", ordo::LossKind::ListNet},
      {"listMLE", ordo::LossKind::ListMLE},
      {"approxNDCG", ordo::LossKind::ApproxNDCG},
      {"neuralNDCG", ordo::LossKind::NeuralNDCG},
      {"neuralNDCGTransposed", ordo::LossKind::NeuralNDCGTransposed},
      {"lambdaLoss", ordo::LossKind::LambdaLossNDCG2PP},
  };
  std::string names;
  for (auto& k : kinds) {
    if (s == k.first) return k.second;
    names += std::string(names.empty() ? "" : ", ") + k.first;
  }
  throw ArgumentError("loss '" + s + "' is not one of " + names);
}

Napi::Value ranking_loss(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  ordo::LossKind kind = parse_loss(info[0]);
  Tensor* scores = args.tensor(1, "scores", DType::F32);
  Tensor* labels = args.tensor(2, "labels", DType::F32);
  Tensor* offsets = args.tensor(3, "offsets", DType::U32);
  Tensor* loss = args.tensor(4, "lossPerList", DType::F32);
  Tensor* grad = args.tensor(5, "gradScores", DType::F32, true);
  Napi::Object o = args.options(6);
  ordo::LossOptions opt;
  opt.sigma = static_cast<float>(num(o, "sigma", opt.sigma));
  opt.k = uint_opt(o, "k", opt.k);
  opt.lambdarank_norm = get_optional_bool(o, "lambdarankNorm", opt.lambdarank_norm, "options");
  opt.temperature = static_cast<float>(num(o, "temperature", opt.temperature));
  opt.mu = static_cast<float>(num(o, "mu", opt.mu));
  opt.sinkhorn_max_iter = static_cast<int>(uint_opt(o, "sinkhornMaxIter", static_cast<uint32_t>(opt.sinkhorn_max_iter)));
  opt.sinkhorn_tol = static_cast<float>(num(o, "sinkhornTol", opt.sinkhorn_tol));
  opt.label_max = static_cast<float>(num(o, "labelMax", opt.label_max));
  opt.powered_gains = get_optional_bool(o, "poweredGains", opt.powered_gains, "options");
  opt.seed = seed_of(o, "seed");
  if (!(opt.temperature > 0)) throw ArgumentError("options.temperature must be > 0");
  if (!(opt.sigma > 0)) throw ArgumentError("options.sigma must be > 0");
  int64_t n = scores->numel();
  std::vector<uint32_t> host = checked_offsets(offsets, n, "offsets");
  require_numel(labels, "labels", n);
  require_numel(loss, "lossPerList", static_cast<int64_t>(host.size()) - 1);
  if (grad) require_numel(grad, "gradScores", n);
  if (labels->device() == Backend::Cpu) {
    const float* pl = f32(labels);
    for (int64_t i = 0; i < n; ++i) {
      if (!std::isfinite(pl[i]) || pl[i] < 0) throw ArgumentError("labels[" + std::to_string(i) + "] must be finite and >= 0");
    }
  }
  float *ps = f32(scores), *pl = f32(labels), *ploss = f32(loss), *pg = f32(grad);
  const uint32_t* po = u32(offsets);
  int64_t lists = static_cast<int64_t>(host.size()) - 1;
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, ranking_loss(kind, ps, pl, po, lists, opt, ploss, pg)); };
  return run_kernel_job(info, std::move(args.job), async);
}


// ---- data ops ----------------------------------------------------------------------------

Napi::Value gather_rows(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* src = args.tensor(0, "src", DType::F32);
  Tensor* rows = args.tensor(1, "rows", DType::U32);
  Tensor* dst = args.tensor(2, "dst", DType::F32);
  int64_t n = dim(src, "src", 2, 0), cols = dim(src, "src", 2, 1);
  if (rows->shape().size() != 1) throw ArgumentError("rows must be a 1-D u32 tensor");
  int64_t r = rows->numel();
  require_shape(dst, "dst", {r, cols});
  std::vector<uint32_t> host(static_cast<size_t>(r));
#ifdef ORDO_WITH_CUDA
  if (rows->device() == Backend::Cuda) ordo::cuda::copy_to_host(host.data(), rows->data("rows"), host.size() * 4);
  else
#endif
    if (r > 0) std::memcpy(host.data(), rows->data("rows"), host.size() * 4);
  for (int64_t i = 0; i < r; ++i) {
    if (host[static_cast<size_t>(i)] >= n) throw ArgumentError("rows[" + std::to_string(i) + "] = " + std::to_string(host[static_cast<size_t>(i)]) + " is out of range (src has " + std::to_string(n) + " rows)");
  }
  float *ps = f32(src), *pd = f32(dst);
  const uint32_t* pr = u32(rows);
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, gather_rows(ps, cols, pr, r, pd)); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Value scale_tensor(const Napi::CallbackInfo& info, bool async) {
  CallArgs args(info, async);
  Tensor* x = args.tensor(0, "x", DType::F32);
  if (!info[1].IsNumber()) throw ArgTypeError("alpha must be a number");
  float alpha = static_cast<float>(info[1].As<Napi::Number>().DoubleValue());
  float* px = f32(x);
  int64_t n = x->numel();
  Backend dev = args.job.device;
  args.job.run = [=] { ORDO_DISPATCH(dev, scale(px, n, alpha)); };
  return run_kernel_job(info, std::move(args.job), async);
}

template <bool Squares>
Napi::Value reduce_tensor(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Tensor* x = unwrap_tensor(info[0], "x");
    if (x->dtype() != DType::F32) throw ArgTypeError("x must be a f32 tensor");
    const float* px = static_cast<const float*>(x->data("x"));
    count_kernel_launch(x->device());
    double v;
#ifdef ORDO_WITH_CUDA
    if (x->device() == Backend::Cuda) v = Squares ? ordo::cuda::sum_squares(px, x->numel()) : ordo::cuda::sum(px, x->numel());
    else
#endif
      v = Squares ? ordo::cpu::sum_squares(px, x->numel()) : ordo::cpu::sum(px, x->numel());
    return Napi::Number::New(info.Env(), v);
  });
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (info.Length() > 0 && !info[0].IsUndefined()) {
      double n = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
      if (!(n >= 1 && n <= 256 && n == std::floor(n))) throw ArgumentError("threads must be an integer in [1, 256]");
      ordo::set_num_threads(static_cast<int>(n));
    }
    return Napi::Number::New(info.Env(), ordo::num_threads());
  });
}

Napi::Value UsesAvx2(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ordo::cpu::sgemm_uses_avx2()); }

template <Napi::Value (*F)(const Napi::CallbackInfo&, bool)>
void add(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return guarded(info, [&] { return F(info, false); }); }, name));
  std::string async_name = std::string(name) + "Async";
  exports.Set(async_name, Napi::Function::New(env, [](const Napi::CallbackInfo& info) { return guarded(info, [&] { return F(info, true); }); }, async_name));
}

Napi::Value neuralsort_matrix_fwd(const Napi::CallbackInfo& info, bool async) { return neuralsort_matrix(info, async, false); }
Napi::Value neuralsort_matrix_bwd(const Napi::CallbackInfo& info, bool async) { return neuralsort_matrix(info, async, true); }

}  // namespace

void register_kernels(Napi::Env env, Napi::Object exports) {
  Napi::Object k = Napi::Object::New(env);
  add<sgemm>(env, k, "sgemm");
  add<add_bias>(env, k, "addBias");
  add<bias_backward>(env, k, "biasBackward");
  add<activation>(env, k, "activation");
  add<activation_backward>(env, k, "activationBackward");
  add<layer_norm>(env, k, "layerNorm");
  add<layer_norm_backward>(env, k, "layerNormBackward");
  add<dropout>(env, k, "dropout");
  add<dropout_backward>(env, k, "dropoutBackward");
  add<adam_update>(env, k, "adamUpdate");
  add<sgd_update>(env, k, "sgdUpdate");
  add<neuralsort_matrix_fwd>(env, k, "neuralSort");
  add<neuralsort_matrix_bwd>(env, k, "neuralSortBackward");
  add<neuralsort_apply>(env, k, "neuralSortApply");
  add<neuralsort_apply_backward>(env, k, "neuralSortApplyBackward");
  add<ranking_loss>(env, k, "rankingLoss");
  add<gather_rows>(env, k, "gatherRows");
  add<scale_tensor>(env, k, "scale");
  k.Set("sumSquares", Napi::Function::New(env, reduce_tensor<true>, "sumSquares"));
  k.Set("sum", Napi::Function::New(env, reduce_tensor<false>, "sum"));
  k.Set("stats", Napi::Function::New(env, KernelStats, "stats"));
  k.Set("threads", Napi::Function::New(env, SetThreads, "threads"));
  k.Set("usesAvx2", Napi::Function::New(env, UsesAvx2, "usesAvx2"));
  register_mlp(env, k);
  register_transformer(env, k);
  register_diffusion(env, k);
  exports.Set("kernels", k);
}

}  // namespace ordo_napi
