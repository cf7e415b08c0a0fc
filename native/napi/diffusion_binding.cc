// placeholder: DiffusionRank kernel bindings
#include <napi.h>
#include "bindings.h"
namespace ordo_napi {
void register_diffusion(Napi::Env, Napi::Object) {}
}  // namespace ordo_napi
