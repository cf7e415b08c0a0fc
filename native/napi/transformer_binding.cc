// Transformer scorer bindings (core/transformer.h): config parsing, the cache
// handle, forward/backward and their async twins. Every tensor is validated
// (dtype, device, shape, offsets content) on the JS thread before a job runs.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "core/transformer.h"
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

ordo::TransformerConfig read_config(const Napi::Value& v) {
  if (!v.IsObject())
    throw ArgTypeError("config must be an object { in, dModel, heads, layers, dFF, inputActivation, dropout, layerNormEps }");
  Napi::Object o = v.As<Napi::Object>();
  ordo::TransformerConfig cfg;
  auto integer = [&](const char* key, double fallback) {
    double d = get_optional_number(o, key, fallback, "config");
    if (!(d >= 0 && d <= 1e9 && d == std::floor(d))) throw ArgumentError(std::string("config.") + key + " must be a non-negative integer");
    return static_cast<int64_t>(d);
  };
  cfg.in = integer("in", 0);
  cfg.d_model = integer("dModel", 0);
  cfg.heads = integer("heads", 1);
  cfg.layers = integer("layers", 1);
  cfg.d_ff = integer("dFF", static_cast<double>(4 * cfg.d_model));
  Napi::Value act = get_property(o, "inputActivation");
  if (!act.IsUndefined()) {
    std::string s = get_string(act, "config.inputActivation");
    if (s == "relu") cfg.input_act = ordo::Activation::ReLU;
    else if (s == "silu") cfg.input_act = ordo::Activation::SiLU;
    else if (s == "gelu") cfg.input_act = ordo::Activation::GELU;
    else if (s == "tanh") cfg.input_act = ordo::Activation::Tanh;
    else if (s == "identity") cfg.input_act = ordo::Activation::Identity;
    else throw ArgumentError("config.inputActivation '" + s + "' is not one of relu, silu, gelu, tanh, identity");
  }
  cfg.dropout = static_cast<float>(get_optional_number(o, "dropout", 0, "config"));
  cfg.ln_eps = static_cast<float>(get_optional_number(o, "layerNormEps", 1e-6, "config"));
  {  // counted in double first: the exact int64 count could overflow for absurd sizes
    const double in = static_cast<double>(cfg.in), d = static_cast<double>(cfg.d_model), f = static_cast<double>(cfg.d_ff);
    const double per_layer = 4 * (d * d + d) + 2 * d * f + f + 5 * d;
    check_param_count(in * d + d + static_cast<double>(cfg.layers) * per_layer + 3 * d + 1, "config (transformer)");
  }
  ordo::transformer_validate(cfg);
  return cfg;
}

bool same_config(const ordo::TransformerConfig& a, const ordo::TransformerConfig& b) {
  return a.in == b.in && a.d_model == b.d_model && a.heads == b.heads && a.layers == b.layers && a.d_ff == b.d_ff &&
         a.input_act == b.input_act && a.dropout == b.dropout && a.ln_eps == b.ln_eps;
}

struct CacheHandle {
  std::shared_ptr<ordo::TransformerCache> cache;  // shared with running jobs (dispose never frees in-use memory)
  int64_t accounted = 0;                          // bytes reported to V8
  ordo::TransformerConfig cfg;
  // The last forward's inputs (the cache remembers their pointers): kept alive
  // here and re-checked (not disposed) by the backward.
  Napi::ObjectReference x_ref, offsets_ref;
  Tensor* x = nullptr;
  Tensor* offsets = nullptr;
  int64_t docs = -1;  // rows of the last forward (set when it was validated)
  int busy = 0;       // running async jobs using the cache (JS thread only)
};

CacheHandle* unwrap_cache(const Napi::Value& v) {
  Napi::Value h = v.IsObject() ? get_property(v.As<Napi::Object>(), "handle") : Napi::Value();
  if (h.IsEmpty() || !h.IsExternal())
    throw ArgTypeError("cache must come from transformerCache(config, maxDocs, maxListLength, device)");
  CacheHandle* c = h.As<Napi::External<CacheHandle>>().Data();
  if (!c->cache) throw ArgumentError("cache was disposed");
  return c;
}

Napi::Value DisposeTransformerCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    Napi::Value h = info[0].IsObject() ? get_property(info[0].As<Napi::Object>(), "handle") : Napi::Value();
    if (h.IsEmpty() || !h.IsExternal()) throw ArgTypeError("cache must come from transformerCache(...)");
    CacheHandle* c = h.As<Napi::External<CacheHandle>>().Data();
    if (c->cache) {
      c->cache.reset();
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -c->accounted);
      c->accounted = 0;
    }
    return info.Env().Undefined();
  });
}


void check_cache_device(const CacheHandle* cache, const ordo::TransformerConfig& cfg, Backend device) {
  if (!same_config(cache->cfg, cfg)) throw ArgumentError("cache was made for a different config");
  if (cache->cache->backend() != device)
    throw ArgumentError(std::string("cache is on ") + ordo::backend_name(cache->cache->backend()) +
                        " but the tensors are on " + ordo::backend_name(device));
}

Napi::Value ParamCount(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    return Napi::Number::New(info.Env(), static_cast<double>(ordo::transformer_param_count(read_config(info[0]))));
  });
}

Napi::Value InitParams(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    ordo::TransformerConfig cfg = read_config(info[0]);
    double seed = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
    if (!(seed >= 0 && seed <= 9007199254740991.0 && seed == std::floor(seed)))
      throw ArgumentError("seed must be an integer in [0, 2^53)");
    std::vector<float> params(static_cast<size_t>(ordo::transformer_param_count(cfg)));
    ordo::transformer_init_params(cfg, params.data(), static_cast<uint64_t>(seed));
    return to_float32_array(info.Env(), std::move(params));
  });
}

Napi::Value Layout(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    ordo::TransformerLayout t = ordo::transformer_layout(read_config(info[0]));
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto set = [](Napi::Object& obj, const char* k, int64_t v) { obj.Set(k, static_cast<double>(v)); };
    set(o, "wIn", t.w_in), set(o, "bIn", t.b_in);
    Napi::Array layers = Napi::Array::New(env, t.layers.size());
    for (size_t i = 0; i < t.layers.size(); ++i) {
      const ordo::TransformerLayerLayout& L = t.layers[i];
      Napi::Object l = Napi::Object::New(env);
      set(l, "ln1Gamma", L.ln1_gamma), set(l, "ln1Beta", L.ln1_beta);
      set(l, "wq", L.wq), set(l, "bq", L.bq), set(l, "wk", L.wk), set(l, "bk", L.bk);
      set(l, "wv", L.wv), set(l, "bv", L.bv), set(l, "wo", L.wo), set(l, "bo", L.bo);
      set(l, "ln2Gamma", L.ln2_gamma), set(l, "ln2Beta", L.ln2_beta);
      set(l, "w1", L.w1), set(l, "b1", L.b1), set(l, "w2", L.w2), set(l, "b2", L.b2);
      layers.Set(static_cast<uint32_t>(i), l);
    }
    o.Set("layers", layers);
    set(o, "lnfGamma", t.lnf_gamma), set(o, "lnfBeta", t.lnf_beta), set(o, "wOut", t.w_out), set(o, "bOut", t.b_out);
    set(o, "count", t.count);
    return o;
  });
}

Napi::Value MakeCache(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    ordo::TransformerConfig cfg = read_config(info[0]);
    auto positive = [&](size_t i, const char* name) {
      double d = info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 1 && d <= 4294967295.0 && d == std::floor(d))) throw ArgumentError(std::string(name) + " must be an integer >= 1");
      return static_cast<int64_t>(d);
    };
    const int64_t max_docs = positive(1, "maxDocs"), max_len = positive(2, "maxListLength");
    std::string dev = info.Length() > 3 && !info[3].IsUndefined() ? get_string(info[3], "device") : std::string("cpu");
    Backend backend;
    if (dev == "cpu") backend = Backend::Cpu;
    else if (dev == "cuda") {
      if (!ordo::cuda_status().usable) throw ordo::BackendError("device 'cuda' requested but CUDA is not usable here");
      backend = Backend::Cuda;
    } else throw ArgumentError("device must be 'cpu' or 'cuda'");
    auto* h = new CacheHandle();
    try {
      h->cache = std::make_shared<ordo::TransformerCache>(backend, cfg, max_docs, max_len);
    } catch (...) {
      delete h;
      throw;
    }
    h->cfg = cfg;
    Napi::Object o = Napi::Object::New(info.Env());
    h->accounted = static_cast<int64_t>(h->cache->bytes());
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), h->accounted);
    o.Set("handle", Napi::External<CacheHandle>::New(info.Env(), h, [](Napi::Env env, CacheHandle* p) {
      if (p->accounted) Napi::MemoryManagement::AdjustExternalMemory(env, -p->accounted);
      delete p;
    }));
    o.Set("device", ordo::backend_name(backend));
    o.Set("maxDocs", static_cast<double>(max_docs));
    o.Set("maxListLength", static_cast<double>(h->cache->max_list_length()));
    o.Set("bytes", static_cast<double>(h->cache->bytes()));
    o.Freeze();
    return o;
  });
}

// transformerForward(config, params, x, offsets, scores, cache, { training, seed })
Napi::Value forward_impl(const Napi::CallbackInfo& info, bool async) {
  ordo::TransformerConfig cfg = read_config(info[0]);
  CallArgs args(info, async);
  Tensor* params = args.tensor(1, "params", DType::F32);
  Tensor* x = args.tensor(2, "x", DType::F32);
  Tensor* offsets = args.tensor(3, "offsets", DType::U32);
  Tensor* scores = args.tensor(4, "scores", DType::F32);
  CacheHandle* cache = unwrap_cache(info[5]);
  Napi::Object o = get_optional_object(info, 6, "options");
  const bool training = get_optional_bool(o, "training", false, "options");
  const double seed = get_optional_number(o, "seed", 0, "options");
  if (!(seed >= 0 && seed <= 9007199254740991.0 && seed == std::floor(seed)))
    throw ArgumentError("options.seed must be an integer in [0, 2^53)");
  check_cache_device(cache, cfg, args.job.device);
  const int64_t count = ordo::transformer_param_count(cfg);
  if (params->numel() != count) throw ArgumentError("params must hold " + std::to_string(count) + " floats, got " + std::to_string(params->numel()));
  if (x->shape().size() != 2 || x->shape()[1] != cfg.in)
    throw ArgumentError("x must have shape [numDocs, " + std::to_string(cfg.in) + "]");
  const int64_t docs = x->shape()[0];
  if (docs > cache->cache->max_docs())
    throw ArgumentError("x has " + std::to_string(docs) + " docs, more than the cache's maxDocs " + std::to_string(cache->cache->max_docs()));
  if (scores->numel() != docs) throw ArgumentError("scores must hold numDocs = " + std::to_string(docs) + " floats, got " + std::to_string(scores->numel()));
  std::vector<uint32_t> host = checked_offsets(offsets, docs, "offsets");
  for (size_t i = 0; i + 1 < host.size(); ++i)
    if (static_cast<int64_t>(host[i + 1] - host[i]) > cache->cache->max_list_length())
      throw ArgumentError("offsets: list " + std::to_string(i) + " has " + std::to_string(host[i + 1] - host[i]) +
                          " docs, more than the cache's maxListLength " + std::to_string(cache->cache->max_list_length()));
  const int64_t lists = static_cast<int64_t>(host.size()) - 1;
  const float* pp = static_cast<const float*>(params->data("params"));
  const float* px = static_cast<const float*>(x->data("x"));
  const uint32_t* po = static_cast<const uint32_t*>(offsets->data("offsets"));
  float* ps = static_cast<float*>(scores->data("scores"));
  const Backend dev = args.job.device;
  std::shared_ptr<ordo::TransformerCache> c = cache->cache;
  if (cache->busy > 0) throw ArgumentError("cache is in use by a running async kernel; await its Promise first");
  args.job.busy_counters.push_back(&cache->busy);
  cache->x_ref = Napi::Persistent(info[2].As<Napi::Object>());
  cache->offsets_ref = Napi::Persistent(info[3].As<Napi::Object>());
  cache->x = x, cache->offsets = offsets, cache->docs = docs;
  args.job.handles.push_back(info[5]);
  args.job.run = [=] {
    ordo::transformer_forward(dev, cfg, pp, px, po, lists, docs, training, static_cast<uint64_t>(seed), *c, ps);
  };
  return run_kernel_job(info, std::move(args.job), async);
}

// transformerBackward(config, params, cache, dscores, grads, dx | null)
Napi::Value backward_impl(const Napi::CallbackInfo& info, bool async) {
  ordo::TransformerConfig cfg = read_config(info[0]);
  CallArgs args(info, async);
  Tensor* params = args.tensor(1, "params", DType::F32);
  CacheHandle* cache = unwrap_cache(info[2]);
  Tensor* dscores = args.tensor(3, "dscores", DType::F32);
  Tensor* grads = args.tensor(4, "grads", DType::F32);
  Tensor* dx = args.tensor(5, "dx", DType::F32, true);
  check_cache_device(cache, cfg, args.job.device);
  if (cache->busy > 0) throw ArgumentError("cache is in use by a running async kernel; await its Promise first");
  args.job.busy_counters.push_back(&cache->busy);
  if (cache->docs < 0 || !cache->x || !cache->offsets) throw ArgumentError("cache holds no transformerForward yet");
  if (cache->x->disposed() || cache->offsets->disposed())
    throw ArgumentError("the x or offsets tensor of the last transformerForward was disposed");
  // keep the last forward's inputs alive and busy while the job runs
  args.add(cache->x, cache->x_ref.Value(), "x (of the last transformerForward)", DType::F32);
  args.add(cache->offsets, cache->offsets_ref.Value(), "offsets (of the last transformerForward)", DType::U32);
  const int64_t count = ordo::transformer_param_count(cfg);
  if (params->numel() != count || grads->numel() != count)
    throw ArgumentError("params and grads must hold " + std::to_string(count) + " floats");
  const int64_t docs = cache->docs;
  if (dscores->numel() != docs)
    throw ArgumentError("dscores must hold the last forward's numDocs = " + std::to_string(docs) + " floats, got " + std::to_string(dscores->numel()));
  if (dx && dx->numel() != docs * cfg.in)
    throw ArgumentError("dx must hold numDocs x in = " + std::to_string(docs * cfg.in) + " floats");
  const float* pp = static_cast<const float*>(params->data("params"));
  const float* pds = static_cast<const float*>(dscores->data("dscores"));
  float* pg = static_cast<float*>(grads->data("grads"));
  float* pdx = dx ? static_cast<float*>(dx->data("dx")) : nullptr;
  const Backend dev = args.job.device;
  std::shared_ptr<ordo::TransformerCache> c = cache->cache;
  args.job.handles.push_back(info[2]);
  args.job.run = [=] { ordo::transformer_backward(dev, cfg, pp, *c, pds, pg, pdx); };
  return run_kernel_job(info, std::move(args.job), async);
}

Napi::Function fn(Napi::Env env, const char* name, Napi::Value (*impl)(const Napi::CallbackInfo&, bool), bool async) {
  if (impl == forward_impl) {
    return async ? Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return forward_impl(i, true); }); }, name)
                 : Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return forward_impl(i, false); }); }, name);
  }
  return async ? Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return backward_impl(i, true); }); }, name)
               : Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return guarded(i, [&] { return backward_impl(i, false); }); }, name);
}

}  // namespace

void register_transformer(Napi::Env env, Napi::Object kernels) {
  kernels.Set("transformerParamCount", Napi::Function::New(env, ParamCount, "transformerParamCount"));
  kernels.Set("transformerInitParams", Napi::Function::New(env, InitParams, "transformerInitParams"));
  kernels.Set("transformerLayout", Napi::Function::New(env, Layout, "transformerLayout"));
  kernels.Set("transformerCache", Napi::Function::New(env, MakeCache, "transformerCache"));
  kernels.Set("transformerCacheDispose", Napi::Function::New(env, DisposeTransformerCache, "transformerCacheDispose"));
  kernels.Set("transformerForward", fn(env, "transformerForward", forward_impl, false));
  kernels.Set("transformerForwardAsync", fn(env, "transformerForwardAsync", forward_impl, true));
  kernels.Set("transformerBackward", fn(env, "transformerBackward", backward_impl, false));
  kernels.Set("transformerBackwardAsync", fn(env, "transformerBackwardAsync", backward_impl, true));
}

}  // namespace ordo_napi
