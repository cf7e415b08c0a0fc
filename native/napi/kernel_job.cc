#include "napi/kernel_job.h"

#include <atomic>
#include <exception>

#include "core/error.h"
#include "core/metrics.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif
#include <cstring>
#include "napi/convert.h"

namespace ordo_napi {
namespace {

std::atomic<uint64_t> g_cpu_launches{0}, g_cuda_launches{0};

class KernelWorker : public Napi::AsyncWorker {
 public:
  KernelWorker(Napi::Env env, KernelJob&& job)
      : Napi::AsyncWorker(env, "ordo.kernel"), deferred_(Napi::Promise::Deferred::New(env)), job_(std::move(job)) {
    for (Napi::Value& h : job_.handles) refs_.push_back(Napi::Persistent(h.As<Napi::Object>()));
    for (Tensor* t : job_.tensors) t->acquire();
    for (int* c : job_.busy_counters) ++*c;
  }
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      job_.run();
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  // The Worker that queued the job may be terminating, and termination can start
  // between any check and the settle call: an N-API failure here means nothing can
  // be delivered, so it is swallowed (rethrown, it would abort the process).
  // node-addon-api opens a HandleScope before OnOK/OnError; when the Worker that queued
  // this is terminating that fails, and its Napi::Error would be rethrown as a fatal
  // napi_throw. Nothing can be delivered then, so the failure is swallowed here.
  void OnWorkComplete(Napi::Env env, napi_status status) override {
    try {
      Napi::AsyncWorker::OnWorkComplete(env, status);
    } catch (const Napi::Error&) {
    }
  }
  void OnOK() override {
    finish();
    try {
      Napi::HandleScope scope(Env());
      if (!can_call_js(Env())) return;
      if (error_) deferred_.Reject(to_js_error(Env(), error_).Value());
      else deferred_.Resolve(Env().Undefined());
    } catch (const Napi::Error&) {
    }
  }
  void OnError(const Napi::Error& e) override {
    finish();
    try {
      if (can_call_js(Env())) deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  void finish() {
    for (Tensor* t : job_.tensors) t->release();
    for (int* c : job_.busy_counters) --*c;
    for (auto& r : refs_) r.Reset();
  }
  Napi::Promise::Deferred deferred_;
  KernelJob job_;
  std::vector<Napi::ObjectReference> refs_;
  std::exception_ptr error_;
};

}  // namespace

void count_kernel_launch(ordo::Backend device) {
  if (device == ordo::Backend::Cuda) ++g_cuda_launches;
  else ++g_cpu_launches;
}

Napi::Value run_kernel_job(const Napi::CallbackInfo& info, KernelJob&& job, bool async) {
  for (Tensor* t : job.tensors) {
    if (t->device() != job.device) {
      throw ordo::ArgumentError(std::string("all tensors of a kernel call must be on one device: found ") +
                                ordo::backend_name(t->device()) + " and " + ordo::backend_name(job.device));
    }
    // The bindings name the argument first; this catches any path that did not.
    if (async && t->device() == ordo::Backend::Cpu && t->numel() > 0 && t->zero_copy()) {
      throw ordo::ArgumentError("a tensor argument is a zero-copy view of a TypedArray; async kernels need owned tensors "
                                "(Tensor.from(array, shape, { copy: true }))");
    }
  }
  for (int* counter : job.busy_counters) {
    if (*counter > 0) throw ordo::ArgumentError("the cache is in use by a running async kernel; await its Promise first");
  }
  count_kernel_launch(job.device);
  if (!async) {
    job.run();
    return info.Env().Undefined();
  }
  auto* worker = new KernelWorker(info.Env(), std::move(job));
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

std::vector<uint32_t> checked_offsets(Tensor* offsets, int64_t num_docs, const char* name) {
  if (offsets->shape().size() != 1 || offsets->numel() < 1) {
    throw ordo::ArgumentError(std::string(name) + " must be a 1-D tensor of numLists + 1 offsets");
  }
  std::vector<uint32_t> host(static_cast<size_t>(offsets->numel()));
#ifdef ORDO_WITH_CUDA
  if (offsets->device() == ordo::Backend::Cuda) {
    ordo::cuda::copy_to_host(host.data(), offsets->data(name), host.size() * 4);
  } else
#endif
  {
    std::memcpy(host.data(), offsets->data(name), host.size() * 4);
  }
  ordo::check_query_offsets(host.data(), host.size(), static_cast<uint64_t>(num_docs), name);
  return host;
}

Napi::Value KernelStats(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cpu", static_cast<double>(g_cpu_launches.load()));
  o.Set("cuda", static_cast<double>(g_cuda_launches.load()));
  return o;
}

}  // namespace ordo_napi
