// Runs a validated kernel call now (sync) or on a worker thread (async,
// returning a Promise). Validation and pointer extraction happen on the JS
// thread before either; the job captures raw pointers and option values only.
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "napi/tensor.h"

namespace ordo_napi {

struct KernelJob {
  std::function<void()> run;
  std::vector<Tensor*> tensors;       // kept alive and marked busy while an async job runs
  std::vector<Napi::Value> handles;   // their JS objects (and those of caches the job uses)
  // Use counters of caches (MLP / transformer) the job uses: a call finding one
  // non-zero is refused; an async job holds them (JS thread only) until it ends.
  std::vector<int*> busy_counters;
  ordo::Backend device = ordo::Backend::Cpu;
};

// Sync: runs the job and returns undefined. Async: queues it and returns a Promise.
Napi::Value run_kernel_job(const Napi::CallbackInfo& info, KernelJob&& job, bool async);

// Host copy of a u32 offsets tensor (copied back from the GPU when needed),
// validated as CSR offsets over num_docs before any kernel indexes with it.
std::vector<uint32_t> checked_offsets(Tensor* offsets, int64_t num_docs, const char* name);

// Counts kernel launches per device (for backend reporting and tests).
void count_kernel_launch(ordo::Backend device);
Napi::Value KernelStats(const Napi::CallbackInfo& info);

}  // namespace ordo_napi
