// placeholder: context-aware transformer scorer bindings (in progress)
#include "napi/bindings.h"
namespace ordo_napi {
void register_transformer(Napi::Env, Napi::Object) {}
}  // namespace ordo_napi
