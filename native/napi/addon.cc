// The ordo addon's entry point. Loading it registers functions only: no GPU
// or driver call happens here (the CUDA probe runs on first use).
#include <napi.h>

#include "napi/bindings.h"

namespace {
Napi::Object init(Napi::Env env, Napi::Object exports) {
  ordo_napi::register_data(env, exports);
  ordo_napi::register_metrics(env, exports);
  ordo_napi::register_backend(env, exports);
  ordo_napi::register_tensor(env, exports);
  ordo_napi::register_kernels(env, exports);
  exports.Set("abiVersion", Napi::Number::New(env, 2));
  return exports;
}
}  // namespace

NODE_API_MODULE(ordo, init)
