// Registration functions of the binding files (addon.cc calls each once).
#pragma once
#include <napi.h>

namespace ordo_napi {
void register_data(Napi::Env env, Napi::Object exports);
void register_metrics(Napi::Env env, Napi::Object exports);
void register_backend(Napi::Env env, Napi::Object exports);
void register_tensor(Napi::Env env, Napi::Object exports);
void register_kernels(Napi::Env env, Napi::Object exports);
void register_mlp(Napi::Env env, Napi::Object kernels);
void register_transformer(Napi::Env env, Napi::Object kernels);
void register_diffusion(Napi::Env env, Napi::Object kernels);
}  // namespace ordo_napi
