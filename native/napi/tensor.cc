#include "napi/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "napi/convert.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif

namespace ordo_napi {
namespace {

struct AddonData {
  Napi::FunctionReference tensor_ctor;
};

// Passed as the constructor's only argument by native factories, so that
// `new Tensor()` from JS can be refused.
int kFactoryToken = 0;

constexpr int64_t kMaxElements = int64_t(1) << 40;

DType parse_dtype(const Napi::Value& v, const char* what) {
  std::string s = get_string(v, what);
  if (s == "f32") return DType::F32;
  if (s == "i32") return DType::I32;
  if (s == "u32") return DType::U32;
  if (s == "u8") return DType::U8;
  throw ordo::ArgumentError(std::string(what) + " = '" + s + "' is not a dtype; use f32, i32, u32 or u8");
}

DType dtype_of_typed_array(const Napi::TypedArray& a) {
  switch (a.TypedArrayType()) {
    case napi_float32_array: return DType::F32;
    case napi_int32_array: return DType::I32;
    case napi_uint32_array: return DType::U32;
    case napi_uint8_array: return DType::U8;
    default: throw ArgTypeError("data must be a Float32Array, Int32Array, Uint32Array or Uint8Array");
  }
}

ordo::Backend parse_device(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return ordo::select_backend();
  std::string s = get_string(v, "options.device");
  if (s == "cpu") return ordo::Backend::Cpu;
  if (s == "auto") return ordo::select_backend();
  if (s == "cuda") {
    const ordo::CudaStatus& st = ordo::cuda_status();
    if (!st.usable) {
      throw ordo::BackendError("device 'cuda' requested but CUDA is not usable here: " +
                               (st.compiled ? st.error_name + ": " + st.error_string : std::string("built without CUDA")));
    }
    return ordo::Backend::Cuda;
  }
  throw ordo::ArgumentError("options.device = '" + s + "' is not a device; use cpu, cuda or auto");
}

std::vector<int64_t> parse_shape(const Napi::Value& v, const char* what) {
  if (!v.IsArray()) throw ArgTypeError(std::string(what) + " must be an array of non-negative integers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > 8) throw ordo::ArgumentError(std::string(what) + " has more than 8 dimensions");
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    double x = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(x >= 0 && x <= static_cast<double>(kMaxElements) && x == static_cast<double>(static_cast<int64_t>(x)))) {
      throw ordo::ArgumentError(std::string(what) + "[" + std::to_string(i) + "] must be an integer >= 0");
    }
    shape.push_back(static_cast<int64_t>(x));
  }
  return shape;
}

int64_t shape_numel(const std::vector<int64_t>& shape, const char* what) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > kMaxElements / d) throw ordo::ArgumentError(std::string(what) + " has more than 2^40 elements");
    n *= d;
  }
  return n;
}

Napi::TypedArray new_typed_array(Napi::Env env, DType d, size_t n) {
  switch (d) {
    case DType::F32: return Napi::Float32Array::New(env, n);
    case DType::I32: return Napi::Int32Array::New(env, n);
    case DType::U32: return Napi::Uint32Array::New(env, n);
    case DType::U8: return Napi::Uint8Array::New(env, n);
  }
  return Napi::Float32Array::New(env, n);
}

void* typed_array_data(const Napi::TypedArray& a) {
  Napi::ArrayBuffer buf = a.ArrayBuffer();
  return static_cast<uint8_t*>(buf.Data()) + a.ByteOffset();
}

bool typed_array_detached(Napi::Env env, const Napi::TypedArray& a) {
  bool detached = false;
  napi_value ab = a.ArrayBuffer();
  napi_is_detached_arraybuffer(env, ab, &detached);
  return detached;
}

// The array's current bytes: a resizable ArrayBuffer can shrink (or move out
// from under a length-tracking array) after a zero-copy view was made of it.
size_t typed_array_bytes(const Napi::TypedArray& a) { return a.ByteLength(); }

}  // namespace

const char* dtype_name(DType d) {
  switch (d) {
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::U32: return "u32";
    case DType::U8: return "u8";
  }
  return "?";
}

size_t dtype_size(DType d) { return d == DType::U8 ? 1 : 4; }

Napi::Function Tensor::define(Napi::Env env) {
  return DefineClass(env, "Tensor",
                     {
                         InstanceAccessor<&Tensor::get_shape>("shape"),
                         InstanceAccessor<&Tensor::get_dtype>("dtype"),
                         InstanceAccessor<&Tensor::get_device>("device"),
                         InstanceAccessor<&Tensor::get_numel>("numel"),
                         InstanceAccessor<&Tensor::get_disposed>("disposed"),
                         InstanceAccessor<&Tensor::get_is_view>("isView"),
                         InstanceMethod<&Tensor::to_array>("toArray"),
                         InstanceMethod<&Tensor::copy_from>("copyFrom"),
                         InstanceMethod<&Tensor::dispose>("dispose"),
                         InstanceMethod<&Tensor::to_device>("to"),
                         InstanceMethod<&Tensor::view>("view"),
                     });
}

Tensor::Tensor(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tensor>(info) {
  if (info.Length() != 1 || !info[0].IsExternal() || info[0].As<Napi::External<int>>().Data() != &kFactoryToken) {
    Napi::TypeError::New(info.Env(), "use Tensor.from(array, shape, options) or Tensor.zeros(shape, options) to create tensors")
        .ThrowAsJavaScriptException();
  }
}

Tensor::~Tensor() {
  free_storage();
  if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(Env(), -accounted_);
}

Napi::Object Tensor::create(Napi::Env env) {
  AddonData* data = env.GetInstanceData<AddonData>();
  return data->tensor_ctor.New({Napi::External<int>::New(env, &kFactoryToken)});
}

void Tensor::free_storage() {
  if (owned_) {
#ifdef ORDO_WITH_CUDA
    if (device_ == ordo::Backend::Cuda) {
      ordo::cuda::device_free(owned_);
    } else
#endif
    {
      std::free(owned_);
    }
    owned_ = nullptr;
  }
  if (!view_.IsEmpty()) view_.Reset();
  view_data_ = nullptr;
  if (!parent_.IsEmpty()) parent_.Reset();
  parent_tensor_ = nullptr;
}

Tensor* Tensor::make(Napi::Env env, Napi::Object& obj, DType dtype, const std::vector<int64_t>& shape, int64_t numel,
                     ordo::Backend device) {
  obj = create(env);
  Tensor* t = Napi::ObjectWrap<Tensor>::Unwrap(obj);
  t->dtype_ = dtype;
  t->shape_ = shape;
  t->numel_ = numel;
  t->device_ = device;
  return t;
}

void Tensor::own_host(Napi::Env env, bool zeroed) {
  size_t bytes = byte_length();
  owned_ = zeroed ? std::calloc(bytes ? bytes : 1, 1) : std::malloc(bytes ? bytes : 1);
  if (!owned_) throw std::bad_alloc();
  accounted_ = static_cast<int64_t>(bytes);
  Napi::MemoryManagement::AdjustExternalMemory(env, accounted_);
}

void* Tensor::data(const char* what) const {
  if (disposed_) throw ordo::ArgumentError(std::string(what) + " was disposed");
  if (busy()) {
    throw ordo::ArgumentError(std::string(what) + " is in use by a running async kernel; await its Promise before using the tensor again");
  }
  if (parent_tensor_) {
    if (parent_tensor_->disposed()) throw ordo::ArgumentError(std::string(what) + " is a view of a tensor that was disposed");
    return static_cast<uint8_t*>(parent_tensor_->data(what)) + parent_offset_ * static_cast<int64_t>(dtype_size(dtype_));
  }
  if (!view_.IsEmpty()) {
    if (typed_array_detached(Env(), view_.Value())) {
      throw ordo::ArgumentError(std::string(what) + " views a TypedArray whose buffer was detached (transferred)");
    }
    Napi::TypedArray a = view_.Value();
    if (typed_array_bytes(a) < view_bytes_ || typed_array_data(a) != view_data_) {
      throw ordo::ArgumentError(std::string(what) + " views a TypedArray whose (resizable) buffer shrank or moved");
    }
    return view_data_;
  }
  return owned_;
}

Napi::Value Tensor::get_shape(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env(), shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) a.Set(static_cast<uint32_t>(i), static_cast<double>(shape_[i]));
  return a;
}
Napi::Value Tensor::get_dtype(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), dtype_name(dtype_)); }
Napi::Value Tensor::get_device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), ordo::backend_name(device_)); }
Napi::Value Tensor::get_numel(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(numel_)); }
Napi::Value Tensor::get_disposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), disposed_); }
Napi::Value Tensor::get_is_view(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), !view_.IsEmpty() || (parent_tensor_ && parent_tensor_->isViewLike()));
}

// t.view(shape, offset = 0): a tensor of `shape` over elements [offset, offset + numel)
// of t, sharing its memory (no copy). The view keeps t alive; disposing t makes
// the view unusable (checked on use).
Napi::Value Tensor::view(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    data("tensor");
    std::vector<int64_t> shape = parse_shape(info[0], "shape");
    int64_t numel = shape_numel(shape, "shape");
    double off = info.Length() > 1 && !info[1].IsUndefined() ? (info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1) : 0;
    if (!(off >= 0 && off <= static_cast<double>(kMaxElements) && off == std::floor(off))) {
      throw ordo::ArgumentError("view offset must be an integer >= 0");
    }
    int64_t offset = static_cast<int64_t>(off);
    if (offset > numel_ || numel > numel_ - offset) {
      throw ordo::ArgumentError("view of " + std::to_string(numel) + " elements at offset " + std::to_string(offset) + " exceeds the tensor's " +
                                std::to_string(numel_) + " elements");
    }
    Napi::Object obj;
    Tensor* t = make(info.Env(), obj, dtype_, shape, numel, device_);
    Tensor* root = parent_tensor_ ? parent_tensor_ : this;
    t->parent_tensor_ = root;
    t->parent_offset_ = (parent_tensor_ ? parent_offset_ : 0) + offset;
    t->parent_ = Napi::Persistent(parent_tensor_ ? parent_.Value() : info.This().As<Napi::Object>());
    return obj;
  });
}

Napi::Value Tensor::to_array(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const void* src = data("tensor");
    Napi::TypedArray out = new_typed_array(info.Env(), dtype_, static_cast<size_t>(numel_));
    if (numel_ == 0) return out;
#ifdef ORDO_WITH_CUDA
    if (device_ == ordo::Backend::Cuda) {
      ordo::cuda::copy_to_host(typed_array_data(out), src, byte_length());
      return out;
    }
#endif
    std::memcpy(typed_array_data(out), src, byte_length());
    return out;
  });
}

Napi::Value Tensor::copy_from(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    void* dst = data("tensor");
    if (!info[0].IsTypedArray()) throw ArgTypeError("copyFrom(array): array must be a TypedArray");
    Napi::TypedArray a = info[0].As<Napi::TypedArray>();
    if (dtype_of_typed_array(a) != dtype_) {
      throw ArgTypeError(std::string("copyFrom(array): array's element type does not match the tensor dtype ") + dtype_name(dtype_));
    }
    if (static_cast<int64_t>(a.ElementLength()) != numel_) {
      throw ordo::ArgumentError("copyFrom(array): array has " + std::to_string(a.ElementLength()) + " elements, the tensor " +
                                std::to_string(numel_));
    }
    if (numel_ == 0) return info.This();
#ifdef ORDO_WITH_CUDA
    if (device_ == ordo::Backend::Cuda) {
      ordo::cuda::copy_to_device(dst, typed_array_data(a), byte_length());
      return info.This();
    }
#endif
    std::memmove(dst, typed_array_data(a), byte_length());
    return info.This();
  });
}

Napi::Value Tensor::dispose(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (busy_.load() > 0) throw ordo::ArgumentError("cannot dispose a tensor while an async kernel uses it");
    if (!disposed_) {
      free_storage();
      if (accounted_) Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -accounted_);
      accounted_ = 0;
      disposed_ = true;
    }
    return info.Env().Undefined();
  });
}

Napi::Value Tensor::to_device(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    const void* src = data("tensor");
    ordo::Backend target = parse_device(info[0]);
    Napi::Object obj;
    Tensor* t = make(info.Env(), obj, dtype_, shape_, numel_, target);
    size_t bytes = byte_length();
#ifdef ORDO_WITH_CUDA
    if (target == ordo::Backend::Cuda) {
      t->owned_ = ordo::cuda::device_alloc(bytes);
      if (device_ == ordo::Backend::Cuda) ordo::cuda::copy_device_to_device(t->owned_, src, bytes);
      else ordo::cuda::copy_to_device(t->owned_, src, bytes);
      return obj;
    }
    if (device_ == ordo::Backend::Cuda) {
      t->own_host(info.Env(), false);
      ordo::cuda::copy_to_host(t->owned_, src, bytes);
      return obj;
    }
#endif
    t->own_host(info.Env(), false);
    std::memcpy(t->owned_, src, bytes);
    return obj;
  });
}

// Tensor.from(array, shape?, {device, copy})
Napi::Value TensorFrom(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray()) throw ArgTypeError("Tensor.from(array, shape, options): array must be a TypedArray");
    Napi::TypedArray a = info[0].As<Napi::TypedArray>();
    DType dtype = dtype_of_typed_array(a);
    if (typed_array_detached(info.Env(), a)) throw ordo::ArgumentError("Tensor.from: array's buffer is detached");
    std::vector<int64_t> shape;
    if (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull()) {
      shape = parse_shape(info[1], "shape");
    } else {
      shape = {static_cast<int64_t>(a.ElementLength())};
    }
    int64_t numel = shape_numel(shape, "shape");
    if (numel != static_cast<int64_t>(a.ElementLength())) {
      throw ordo::ArgumentError("shape holds " + std::to_string(numel) + " elements but the array has " + std::to_string(a.ElementLength()));
    }
    Napi::Object opts = get_optional_object(info, 2, "options");
    ordo::Backend device = parse_device(get_property(opts, "device"));
    bool copy = get_optional_bool(opts, "copy", device != ordo::Backend::Cpu, "options");
    Napi::Object obj;
    Tensor* t = Tensor::make(info.Env(), obj, dtype, shape, numel, device);
    size_t bytes = t->byte_length();
#ifdef ORDO_WITH_CUDA
    if (device == ordo::Backend::Cuda) {
      t->owned_ = ordo::cuda::device_alloc(bytes);
      ordo::cuda::copy_to_device(t->owned_, typed_array_data(a), bytes);
      return obj;
    }
#endif
    if (!copy) {  // zero-copy view: the tensor keeps the array alive and checks for detachment on each use
      t->view_ = Napi::Reference<Napi::TypedArray>::New(a, 1);
      t->view_data_ = typed_array_data(a);
      t->view_bytes_ = bytes;
      return obj;
    }
    t->own_host(info.Env(), false);
    std::memcpy(t->owned_, typed_array_data(a), bytes);
    return obj;
  });
}

// Tensor.zeros(shape, {dtype, device})
Napi::Value TensorZeros(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::vector<int64_t> shape = parse_shape(info[0], "shape");
    int64_t numel = shape_numel(shape, "shape");
    Napi::Object opts = get_optional_object(info, 1, "options");
    DType dtype = get_property(opts, "dtype").IsUndefined() ? DType::F32 : parse_dtype(get_property(opts, "dtype"), "options.dtype");
    ordo::Backend device = parse_device(get_property(opts, "device"));
    Napi::Object obj;
    Tensor* t = Tensor::make(info.Env(), obj, dtype, shape, numel, device);
#ifdef ORDO_WITH_CUDA
    if (device == ordo::Backend::Cuda) {
      size_t bytes = t->byte_length();
      t->owned_ = ordo::cuda::device_alloc(bytes);
      ordo::cuda::device_memset_zero(t->owned_, bytes);
      return obj;
    }
#endif
    t->own_host(info.Env(), true);
    return obj;
  });
}

Tensor* unwrap_tensor(const Napi::Value& v, const char* what) {
  Napi::Env env = v.Env();
  AddonData* data = env.GetInstanceData<AddonData>();
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(data->tensor_ctor.Value())) {
    throw ArgTypeError(std::string(what) + " must be a Tensor");
  }
  Tensor* t = Napi::ObjectWrap<Tensor>::Unwrap(v.As<Napi::Object>());
  if (t->disposed()) throw ordo::ArgumentError(std::string(what) + " was disposed");
  return t;
}

Tensor* unwrap_optional_tensor(const Napi::Value& v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return unwrap_tensor(v, what);
}

void register_tensor(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Tensor::define(env);
  auto* data = new AddonData();
  data->tensor_ctor = Napi::Persistent(ctor);
  env.SetInstanceData<AddonData>(data);
  ctor.Set("from", Napi::Function::New(env, TensorFrom, "from"));
  ctor.Set("zeros", Napi::Function::New(env, TensorZeros, "zeros"));
  exports.Set("Tensor", ctor);
}

}  // namespace ordo_napi
