// N-API glue helpers: argument checks and conversions, no math.
#pragma once
#include <napi.h>

#include <exception>
#include <string>
#include <vector>

namespace ordo_napi {

// Throws the pending C++ exception as a JS error of the matching kind:
//   ordo::ArgumentError -> RangeError, ordo::ParseError -> Error with code
//   ORDO_PARSE_ERROR and file/line/column, ordo::IoError -> ORDO_IO_ERROR,
//   ordo::BackendError -> ORDO_BACKEND_ERROR, std::bad_alloc -> ORDO_OUT_OF_MEMORY.
Napi::Error to_js_error(Napi::Env env, std::exception_ptr error);

// Thrown (C++) when a JS exception is already pending, e.g. a getter or Proxy
// trap of an argument threw: the call stops and that exception propagates.
struct PendingJsException {};

// o.Get(key), or PendingJsException when reading it threw in JS.
Napi::Value get_property(const Napi::Object& o, const char* key);

// False while the environment is being torn down (a worker_threads Worker
// terminated with async jobs still running): their completions must then not
// create, resolve or throw anything (node-addon-api would abort the process).
bool can_call_js(Napi::Env env);

// Runs body and converts any C++ exception into a thrown JS error. When a JS
// exception is already pending (a throwing getter), that one propagates: a
// second napi_throw would be a fatal error.
template <typename Body>
Napi::Value guarded(const Napi::CallbackInfo& info, Body&& body) {
  try {
    return body();
  } catch (...) {
    if (info.Env().IsExceptionPending()) return info.Env().Undefined();
    to_js_error(info.Env(), std::current_exception()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

// A JS-visible TypeError for argument `name`; the caller returns right after.
class ArgTypeError : public std::exception {
 public:
  explicit ArgTypeError(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

std::string get_string(const Napi::Value& v, const char* name);
bool get_optional_bool(const Napi::Object& o, const char* key, bool fallback, const char* where);
double get_optional_number(const Napi::Object& o, const char* key, double fallback, const char* where);
std::string get_optional_string(const Napi::Object& o, const char* key, const char* where);
Napi::Object get_optional_object(const Napi::CallbackInfo& info, size_t index, const char* name);

// Size limits checked before allocating (so a huge config fails early, naming
// the limit, instead of exhausting memory): a parameter buffer is one
// Float32Array (at most 2^32 - 1 elements), and host memory asked for at once
// must fit in the machine's physical memory.
constexpr double kMaxParams = 4294967295.0;
void check_param_count(double count, const char* what);
void check_host_bytes(double bytes, const std::string& what);

// Moves a vector into a JS typed array without copying (external ArrayBuffer
// that frees the vector when collected).
Napi::Float32Array to_float32_array(Napi::Env env, std::vector<float>&& data);
Napi::Uint32Array to_uint32_array(Napi::Env env, std::vector<uint32_t>&& data);
Napi::Float64Array to_float64_array(Napi::Env env, std::vector<double>&& data);
Napi::Uint8Array to_uint8_array(Napi::Env env, std::string&& bytes);
Napi::Array to_string_array(Napi::Env env, const std::vector<std::string>& items);

}  // namespace ordo_napi
