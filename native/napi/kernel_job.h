// Runs a validated kernel call now (sync) or on a worker thread (async,
// returning a Promise). Validation and pointer extraction happen on the JS
// thread before either; the job captures raw pointers and option values only.
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "core/error.h"
#include "napi/convert.h"
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

// Collects the tensor arguments of one kernel call into a KernelJob, checking on
// the JS thread, before any native memory is touched: dtype, one device for all
// tensors, liveness (disposed / detached), and that async calls get no
// zero-copy views of TypedArrays (the caller could detach them mid-job).
class CallArgs {
 public:
  CallArgs(const Napi::CallbackInfo& info, bool async) : info_(info), async_(async) {}

  // The tensor at argument `index` (null when optional and null/undefined).
  Tensor* tensor(size_t index, const char* name, DType dtype, bool optional = false) {
    return tensor(info_[index], name, dtype, optional);
  }
  // A tensor passed as a value (e.g. an options field).
  Tensor* tensor(const Napi::Value& v, const char* name, DType dtype, bool optional = false) {
    Tensor* t = optional ? unwrap_optional_tensor(v, name) : unwrap_tensor(v, name);
    if (t) add(t, v, name, dtype);
    return t;
  }
  // A tensor the binding holds itself (e.g. remembered by a cache), with its JS handle.
  void add(Tensor* t, const Napi::Value& handle, const char* name, DType dtype) {
    if (t->dtype() != dtype)
      throw ArgTypeError(std::string(name) + " must be a " + dtype_name(dtype) + " tensor, got " + dtype_name(t->dtype()));
    if (!device_set_) {
      job.device = t->device();
      device_set_ = true;
    } else if (t->device() != job.device) {
      throw ordo::ArgumentError(std::string(name) + " is on " + ordo::backend_name(t->device()) +
                                " but the other tensors are on " + ordo::backend_name(job.device));
    }
    if (async_ && t->device() == ordo::Backend::Cpu && t->numel() > 0 && t->zero_copy())
      throw ordo::ArgumentError(std::string(name) + " is a zero-copy view of a TypedArray; async kernels need owned tensors "
                                "(Tensor.from(array, shape, { copy: true }))");
    t->data(name);  // disposed / detached checks
    job.tensors.push_back(t);
    job.handles.push_back(handle);
  }
  Napi::Object options(size_t index) { return get_optional_object(info_, index, "options"); }

  KernelJob job;

 private:
  const Napi::CallbackInfo& info_;
  bool async_;
  bool device_set_ = false;
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
