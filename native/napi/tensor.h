// The JS Tensor handle (N-API ObjectWrap): shape, dtype, device and a data
// buffer on the CPU (owned, or a zero-copy view of a caller's TypedArray) or
// on the GPU (cudaMalloc). Glue only: kernels receive raw pointers.
#pragma once
#include <napi.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dispatch.h"

namespace ordo_napi {

enum class DType { F32, I32, U32, U8 };
const char* dtype_name(DType d);
size_t dtype_size(DType d);

class Tensor : public Napi::ObjectWrap<Tensor> {
 public:
  static Napi::Function define(Napi::Env env);
  explicit Tensor(const Napi::CallbackInfo& info);
  ~Tensor() override;

  // Checked access for kernels (JS thread only): throws ordo::ArgumentError
  // naming `what` when the tensor is disposed, its TypedArray detached or
  // shrunk, or it is in use by a running async kernel (a second call on it
  // would race with the worker thread).
  void* data(const char* what) const;
  DType dtype() const { return dtype_; }
  ordo::Backend device() const { return device_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  size_t byte_length() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool disposed() const { return disposed_; }
  bool isViewLike() const { return !view_.IsEmpty(); }
  // A zero-copy view of a JS TypedArray (directly or through a tensor view):
  // its memory can be detached or shrunk by JS, so async kernels refuse it.
  bool zero_copy() const { return isViewLike() || (parent_tensor_ && parent_tensor_->isViewLike()); }
  // In use by a running async kernel (itself, or the tensor it is a view of).
  bool busy() const { return busy_.load() > 0 || (parent_tensor_ && parent_tensor_->busy_.load() > 0); }

  // Marks the tensor as used by an async kernel (dispose() refuses meanwhile).
  void acquire() {
    ++busy_;
    if (parent_tensor_) parent_tensor_->acquire();
  }
  void release() {
    --busy_;
    if (parent_tensor_) parent_tensor_->release();
  }

  // Creates a tensor object from native code (used by the factory functions).
  static Napi::Object create(Napi::Env env);

 private:
  friend Napi::Value TensorFrom(const Napi::CallbackInfo& info);
  friend Napi::Value TensorZeros(const Napi::CallbackInfo& info);

  Napi::Value get_shape(const Napi::CallbackInfo& info);
  Napi::Value get_dtype(const Napi::CallbackInfo& info);
  Napi::Value get_device(const Napi::CallbackInfo& info);
  Napi::Value get_numel(const Napi::CallbackInfo& info);
  Napi::Value get_disposed(const Napi::CallbackInfo& info);
  Napi::Value get_is_view(const Napi::CallbackInfo& info);
  Napi::Value to_array(const Napi::CallbackInfo& info);
  Napi::Value copy_from(const Napi::CallbackInfo& info);
  Napi::Value dispose(const Napi::CallbackInfo& info);
  Napi::Value to_device(const Napi::CallbackInfo& info);
  Napi::Value view(const Napi::CallbackInfo& info);

  void free_storage();
  // A new tensor object with these fields and no storage yet (obj receives the JS object).
  static Tensor* make(Napi::Env env, Napi::Object& obj, DType dtype, const std::vector<int64_t>& shape, int64_t numel,
                      ordo::Backend device);
  // Allocates owned host memory for byte_length() bytes (zeroed when asked) and reports it to V8.
  void own_host(Napi::Env env, bool zeroed);

  DType dtype_ = DType::F32;
  ordo::Backend device_ = ordo::Backend::Cpu;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  void* owned_ = nullptr;            // CPU malloc or CUDA device memory we own
  Napi::Reference<Napi::TypedArray> view_;  // zero-copy CPU view of a JS TypedArray
  void* view_data_ = nullptr;
  size_t view_bytes_ = 0;            // byte length of the viewed TypedArray when the view was made
  Napi::ObjectReference parent_;     // for views of another tensor: keeps it alive
  Tensor* parent_tensor_ = nullptr;
  int64_t parent_offset_ = 0;        // in elements
  int64_t accounted_ = 0;            // bytes reported to V8 as external memory
  bool disposed_ = false;
  std::atomic<int> busy_{0};
};

// Unwraps args[index] as a Tensor, or throws ArgTypeError naming `what`.
Tensor* unwrap_tensor(const Napi::Value& v, const char* what);
// Same, but null/undefined gives nullptr.
Tensor* unwrap_optional_tensor(const Napi::Value& v, const char* what);

void register_tensor(Napi::Env env, Napi::Object exports);

}  // namespace ordo_napi
