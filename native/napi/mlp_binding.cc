// MLP scorer bindings: config parsing, the cache handle, forward/backward.
#include <algorithm>
#include <cmath>
#include <memory>

#include "core/error.h"
#include "core/mlp.h"
#include "napi/bindings.h"
#include "napi/convert.h"
#include "napi/kernel_job.h"
#include "napi/tensor.h"

namespace ordo_napi {
namespace {

using ordo::ArgumentError;

ordo::MlpConfig read_config(const Napi::Value& v) {
  if (!v.IsObject()) throw ArgTypeError("config must be an object { in, hidden, out, activation, layerNorm, dropout }");
  Napi::Object o = v.As<Napi::Object>();
  ordo::MlpConfig cfg;
  auto integer = [&](const char* key, double fallback) {
    double d = get_optional_number(o, key, fallback, "config");
    if (!(d >= 0 && d <= 1e9 && d == std::floor(d))) throw ArgumentError(std::string("config.") + key + " must be a non-negative integer");
    return static_cast<int64_t>(d);
  };
  cfg.in = integer("in", 0);
  cfg.out = integer("out", 1);
  Napi::Value h = get_property(o, "hidden");
  if (!h.IsUndefined()) {
    if (!h.IsArray()) throw ArgTypeError("config.hidden must be an array of widths");
    Napi::Array a = h.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value w = a.Get(i);
      double d = w.IsNumber() ? w.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 1 && d <= 1e7 && d == std::floor(d))) throw ArgumentError("config.hidden[" + std::to_string(i) + "] must be an integer >= 1");
      cfg.hidden.push_back(static_cast<int64_t>(d));
    }
  }
  Napi::Value act = get_property(o, "activation");
  if (!act.IsUndefined()) {
    std::string s = get_string(act, "config.activation");
    if (s == "relu") cfg.act = ordo::Activation::ReLU;
    else if (s == "silu") cfg.act = ordo::Activation::SiLU;
    else if (s == "gelu") cfg.act = ordo::Activation::GELU;
    else if (s == "tanh") cfg.act = ordo::Activation::Tanh;
    else if (s == "identity") cfg.act = ordo::Activation::Identity;
    else throw ArgumentError("config.activation '" + s + "' is not one of relu, silu, gelu, tanh, identity");
  }
  cfg.layernorm = get_optional_bool(o, "layerNorm", false, "config");
  cfg.dropout = static_cast<float>(get_optional_number(o, "dropout", 0, "config"));
  cfg.layernorm_eps = static_cast<float>(get_optional_number(o, "layerNormEps", 1e-5, "config"));
  // Counted in double first: the exact int64 count could overflow for absurd widths.
  double count = 0, prev = static_cast<double>(cfg.in);
  for (int64_t h : cfg.hidden) {
    count += prev * static_cast<double>(h) + static_cast<double>(h) * (cfg.layernorm ? 3 : 1);
    prev = static_cast<double>(h);
  }
  count += prev * static_cast<double>(cfg.out) + static_cast<double>(cfg.out);
  check_param_count(count, "config (MLP)");
  ordo::mlp_validate(cfg);
  return cfg;
}

// A cache handle: shared with running jobs, so dispose() (or the GC) never
// frees memory a worker thread is using. Its bytes are reported to V8.
struct CacheHandle {
  std::shared_ptr<ordo::MlpCache> cache;
  ordo::MlpConfig cfg;
  int64_t accounted = 0;
  // The last forward's input: the cache remembers its pointer (mlp_backward
  // reads it), so it is kept alive here and re-checked by the backward.
  Napi::ObjectReference x_ref;
  Tensor* x = nullptr;
  int busy = 0;  // running async jobs using the cache (JS thread only)
};

// Seeds are integers in [0, 2^53) (a double outside that range cannot be converted).
uint64_t checked_seed(double seed, const char* name) {
  if (!(seed >= 0 && seed <= 9007199254740991.0 && seed == std::floor(seed))) {
    throw ArgumentError(std::string(name) + " must be an integer in [0, 2^53)");
  }
  return static_cast<uint64_t>(seed);
}

CacheHandle* unwrap_cache(const Napi::Value& v) {
  Napi::Value h = v.IsObject() ? get_property(v.As<Napi::Object>(), "handle") : Napi::Value();
  if (h.IsEmpty() || !h.IsExternal()) throw ArgTypeError("cache must come from mlpCache(config, maxBatch, device)");
  CacheHandle* c = h.As<Napi::External<CacheHandle>>().Data();
  if (!c->cache) throw ArgumentError("cache was disposed");
  return c;
}

Napi::Value DisposeCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Value h = info[0].IsObject() ? get_property(info[0].As<Napi::Object>(), "handle") : Napi::Value();
    if (h.IsEmpty() || !h.IsExternal()) throw ArgTypeError("cache must come from mlpCache(config, maxBatch, device)");
    CacheHandle* c = h.As<Napi::External<CacheHandle>>().Data();
    if (c->cache) {
      c->cache.reset();  // a running async job keeps its own reference until it finishes
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -c->accounted);
      c->accounted = 0;
    }
    return info.Env().Undefined();
  });
}

bool same_config(const ordo::MlpConfig& a, const ordo::MlpConfig& b) {
  return a.in == b.in && a.hidden == b.hidden && a.out == b.out && a.act == b.act && a.layernorm == b.layernorm &&
         a.dropout == b.dropout && a.layernorm_eps == b.layernorm_eps;
}

Napi::Value ParamCount(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value { return Napi::Number::New(info.Env(), static_cast<double>(ordo::mlp_param_count(read_config(info[0])))); });
}

Napi::Value InitParams(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    ordo::MlpConfig cfg = read_config(info[0]);
    double seed = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
    uint64_t s = checked_seed(seed, "seed");
    std::vector<float> params(static_cast<size_t>(ordo::mlp_param_count(cfg)));
    ordo::mlp_init_params(cfg, params.data(), s);
    return to_float32_array(info.Env(), std::move(params));
  });
}

Napi::Value Layout(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::vector<ordo::MlpLayerLayout> layout = ordo::mlp_layout(read_config(info[0]));
    Napi::Array out = Napi::Array::New(info.Env(), layout.size());
    for (size_t i = 0; i < layout.size(); ++i) {
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("in", static_cast<double>(layout[i].in));
      o.Set("out", static_cast<double>(layout[i].out));
      o.Set("w", static_cast<double>(layout[i].w));
      o.Set("b", static_cast<double>(layout[i].b));
      o.Set("gamma", static_cast<double>(layout[i].gamma));
      o.Set("beta", static_cast<double>(layout[i].beta));
      out.Set(static_cast<uint32_t>(i), o);
    }
    return out;
  });
}

Napi::Value MakeCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    ordo::MlpConfig cfg = read_config(info[0]);
    double max_batch = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(max_batch >= 1 && max_batch <= 1e8 && max_batch == std::floor(max_batch))) throw ArgumentError("maxBatch must be an integer >= 1");
    std::string dev = info.Length() > 2 && !info[2].IsUndefined() ? get_string(info[2], "device") : std::string("cpu");
    ordo::Backend backend;
    if (dev == "cpu") backend = ordo::Backend::Cpu;
    else if (dev == "cuda") {
      if (!ordo::cuda_status().usable) throw ordo::BackendError("device 'cuda' requested but CUDA is not usable here");
      backend = ordo::Backend::Cuda;
    } else throw ArgumentError("device must be 'cpu' or 'cuda'");
    if (backend == ordo::Backend::Cpu) {
      // MlpCache's floats (core/mlp.h): per hidden layer 2-5 x batch x h (+ a byte mask), plus 2 x batch x max width.
      double per_row = 0, widest = static_cast<double>(cfg.out);
      for (int64_t w : cfg.hidden) {
        double h = static_cast<double>(w);
        per_row += 4 * h * (2 + (cfg.layernorm ? 1 : 0) + (cfg.dropout > 0 ? 1 : 0)) + (cfg.layernorm ? 8 : 0) + (cfg.dropout > 0 ? h : 0);
        widest = std::max(widest, h);
      }
      per_row += 8 * widest;
      check_host_bytes(per_row * max_batch, "mlpCache(config, maxBatch = " + std::to_string(static_cast<int64_t>(max_batch)) + ")");
    }
    auto* h = new CacheHandle{std::make_shared<ordo::MlpCache>(backend, cfg, static_cast<int64_t>(max_batch)), cfg, 0};
    h->accounted = static_cast<int64_t>(h->cache->bytes());
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), h->accounted);
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("handle", Napi::External<CacheHandle>::New(info.Env(), h, [](Napi::Env env, CacheHandle* p) {
      if (p->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, -p->accounted);
      delete p;
    }));
    o.Set("device", ordo::backend_name(backend));
    o.Set("maxBatch", max_batch);
    o.Set("bytes", static_cast<double>(h->cache->bytes()));
    o.Freeze();
    return o;
  });
}

// mlpForward(config, params, x, y, cache, { training, seed })
Napi::Value forward_impl(const Napi::CallbackInfo& info, bool async) {
  ordo::MlpConfig cfg = read_config(info[0]);
  KernelJob job;
  auto take = [&](size_t i, const char* name) {
    Tensor* t = unwrap_tensor(info[i], name);
    if (t->dtype() != DType::F32) throw ArgTypeError(std::string(name) + " must be a f32 tensor");
    if (job.tensors.empty()) job.device = t->device();
    t->data(name);
    job.tensors.push_back(t);
    job.handles.push_back(info[i]);
    return t;
  };
  Tensor* params = take(1, "params");
  Tensor* x = take(2, "x");
  Tensor* y = take(3, "y");
  CacheHandle* cache = unwrap_cache(info[4]);
  Napi::Object o = get_optional_object(info, 5, "options");
  bool training = get_optional_bool(o, "training", false, "options");
  uint64_t seed = checked_seed(get_optional_number(o, "seed", 0, "options"), "options.seed");
  if (!same_config(cache->cfg, cfg)) throw ArgumentError("cache was made for a different config");
  if (cache->cache->backend() != job.device) throw ArgumentError("cache is on another device than the tensors");
  if (params->numel() != ordo::mlp_param_count(cfg)) throw ArgumentError("params must hold " + std::to_string(ordo::mlp_param_count(cfg)) + " floats");
  if (x->shape().size() != 2 || x->shape()[1] != cfg.in) throw ArgumentError("x must have shape [batch, " + std::to_string(cfg.in) + "]");
  int64_t batch = x->shape()[0];
  if (batch > cache->cache->max_batch()) throw ArgumentError("batch " + std::to_string(batch) + " exceeds the cache's maxBatch " + std::to_string(cache->cache->max_batch()));
  if (y->numel() != batch * cfg.out) throw ArgumentError("y must hold batch x out = " + std::to_string(batch * cfg.out) + " floats");
  float *pp = static_cast<float*>(params->data("params")), *px = static_cast<float*>(x->data("x")), *py = static_cast<float*>(y->data("y"));
  ordo::Backend dev = job.device;
  std::shared_ptr<ordo::MlpCache> c = cache->cache;
  job.handles.push_back(info[4]);
  job.busy_counters.push_back(&cache->busy);
  if (cache->busy > 0) throw ArgumentError("cache is in use by a running async kernel; await its Promise first");
  cache->x_ref = Napi::Persistent(info[2].As<Napi::Object>());
  cache->x = x;
  job.run = [=] { ordo::mlp_forward(dev, cfg, pp, px, batch, training, seed, *c, py); };
  return run_kernel_job(info, std::move(job), async);
}

// mlpBackward(config, params, cache, dy, grads, dx | null)
Napi::Value backward_impl(const Napi::CallbackInfo& info, bool async) {
  ordo::MlpConfig cfg = read_config(info[0]);
  KernelJob job;
  auto take = [&](size_t i, const char* name, bool optional) -> Tensor* {
    Tensor* t = optional ? unwrap_optional_tensor(info[i], name) : unwrap_tensor(info[i], name);
    if (!t) return nullptr;
    if (t->dtype() != DType::F32) throw ArgTypeError(std::string(name) + " must be a f32 tensor");
    if (job.tensors.empty()) job.device = t->device();
    t->data(name);
    job.tensors.push_back(t);
    job.handles.push_back(info[i]);
    return t;
  };
  Tensor* params = take(1, "params", false);
  CacheHandle* cache = unwrap_cache(info[2]);
  Tensor* dy = take(3, "dy", false);
  Tensor* grads = take(4, "grads", false);
  Tensor* dx = take(5, "dx", true);
  if (cache->busy > 0) throw ArgumentError("cache is in use by a running async kernel; await its Promise first");
  if (!cache->x) throw ArgumentError("cache holds no mlpForward yet");
  if (cache->x->disposed()) throw ArgumentError("the x tensor of the last mlpForward was disposed");
  // keep the last forward's input alive and busy while the job runs
  cache->x->data("x (of the last mlpForward)");
  job.tensors.push_back(cache->x);
  job.handles.push_back(cache->x_ref.Value());
  if (!same_config(cache->cfg, cfg)) throw ArgumentError("cache was made for a different config");
  if (cache->cache->backend() != job.device) throw ArgumentError("cache is on another device than the tensors");
  int64_t count = ordo::mlp_param_count(cfg);
  if (params->numel() != count || grads->numel() != count) throw ArgumentError("params and grads must hold " + std::to_string(count) + " floats");
  if (dy->numel() % cfg.out != 0) throw ArgumentError("dy must hold batch x out floats");
  int64_t batch = dy->numel() / cfg.out;
  if (batch > cache->cache->max_batch()) throw ArgumentError("dy's batch exceeds the cache's maxBatch");
  if (dx && dx->numel() != batch * cfg.in) throw ArgumentError("dx must hold batch x in floats");
  float *pp = static_cast<float*>(params->data("params")), *pdy = static_cast<float*>(dy->data("dy")),
        *pg = static_cast<float*>(grads->data("grads")), *pdx = dx ? static_cast<float*>(dx->data("dx")) : nullptr;
  ordo::Backend dev = job.device;
  std::shared_ptr<ordo::MlpCache> c = cache->cache;
  job.handles.push_back(info[2]);
  job.busy_counters.push_back(&cache->busy);
  job.run = [=] { ordo::mlp_backward(dev, cfg, pp, *c, pdy, batch, pg, pdx); };
  return run_kernel_job(info, std::move(job), async);
}

}  // namespace

void register_mlp(Napi::Env env, Napi::Object kernels) {
  kernels.Set("mlpParamCount", Napi::Function::New(env, ParamCount, "mlpParamCount"));
  kernels.Set("mlpInitParams", Napi::Function::New(env, InitParams, "mlpInitParams"));
  kernels.Set("mlpLayout", Napi::Function::New(env, Layout, "mlpLayout"));
  kernels.Set("mlpCache", Napi::Function::New(env, MakeCache, "mlpCache"));
  kernels.Set("mlpCacheDispose", Napi::Function::New(env, DisposeCache, "mlpCacheDispose"));
  kernels.Set("mlpForward", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return forward_impl(i, false); }); }, "mlpForward"));
  kernels.Set("mlpForwardAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return forward_impl(i, true); }); }, "mlpForwardAsync"));
  kernels.Set("mlpBackward", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return backward_impl(i, false); }); }, "mlpBackward"));
  kernels.Set("mlpBackwardAsync", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return backward_impl(i, true); }); }, "mlpBackwardAsync"));
}

}  // namespace ordo_napi
