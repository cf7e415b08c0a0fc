// cudaStatus() -> the cached CUDA probe; selectBackend() -> 'cpu' | 'cuda'
// (throws ORDO_BACKEND_ERROR when ORDO_BACKEND asks for what cannot run).
#include "core/dispatch.h"
#include "napi/bindings.h"
#include "napi/convert.h"

namespace ordo_napi {
namespace {

Napi::Value CudaStatus(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const ordo::CudaStatus& s = ordo::cuda_status();
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("compiled", s.compiled);
    o.Set("usable", s.usable);
    o.Set("errorCode", s.error_code);
    o.Set("errorName", s.error_name);
    o.Set("errorString", s.error_string);
    o.Set("runtimeVersion", s.runtime_version);
    o.Set("driverVersion", s.driver_version);
    o.Set("architectures", s.architectures);
    Napi::Array devs = Napi::Array::New(env, s.devices.size());
    for (size_t i = 0; i < s.devices.size(); ++i) {
      const ordo::CudaDevice& d = s.devices[i];
      Napi::Object dev = Napi::Object::New(env);
      dev.Set("index", d.index);
      dev.Set("name", d.name);
      dev.Set("computeCapability", std::to_string(d.major) + "." + std::to_string(d.minor));
      dev.Set("totalMemory", static_cast<double>(d.total_memory));
      dev.Set("multiprocessors", d.multiprocessors);
      devs.Set(static_cast<uint32_t>(i), dev);
    }
    o.Set("devices", devs);
    return o;
  });
}

Napi::Value SelectBackend(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value { return Napi::String::New(info.Env(), ordo::backend_name(ordo::select_backend())); });
}

Napi::Value CudaCompiled(const Napi::CallbackInfo& info) {
#ifdef ORDO_WITH_CUDA
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}

}  // namespace

void register_backend(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaStatus", Napi::Function::New(env, CudaStatus, "cudaStatus"));
  exports.Set("selectBackend", Napi::Function::New(env, SelectBackend, "selectBackend"));
  exports.Set("cudaCompiled", Napi::Function::New(env, CudaCompiled, "cudaCompiled"));
}

}  // namespace ordo_napi
