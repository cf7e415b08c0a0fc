#include "napi/convert.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <new>

#include "core/error.h"

namespace ordo_napi {

Napi::Error to_js_error(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const ArgTypeError& e) {
    return Napi::TypeError::New(env, e.what());
  } catch (const ordo::ArgumentError& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (const ordo::ParseError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    Napi::Object o = err.Value();
    o.Set("code", "ORDO_PARSE_ERROR");
    o.Set("file", e.file());
    o.Set("line", static_cast<double>(e.line()));
    o.Set("column", static_cast<double>(e.column()));
    o.Set("reason", e.reason());
    return err;
  } catch (const ordo::IoError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Value().Set("code", "ORDO_IO_ERROR");
    return err;
  } catch (const ordo::BackendError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Value().Set("code", "ORDO_BACKEND_ERROR");
    return err;
  } catch (const std::bad_alloc&) {
    Napi::Error err = Napi::Error::New(env, "ordo: out of memory");
    err.Value().Set("code", "ORDO_OUT_OF_MEMORY");
    return err;
  } catch (const PendingJsException&) {
    return Napi::Error::New(env, "ordo: a JS exception was thrown while reading an argument");
  } catch (const std::exception& e) {
    return Napi::Error::New(env, std::string("ordo: ") + e.what());
  } catch (...) {
    return Napi::Error::New(env, "ordo: unknown native error");
  }
}

std::string get_string(const Napi::Value& v, const char* name) {
  if (!v.IsString()) throw ArgTypeError(std::string(name) + " must be a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) throw ArgTypeError(std::string(name) + " must not contain NUL characters");
  return s;
}

bool can_call_js(Napi::Env env) {
  // Setting a property may run JS (setters), so N-API refuses it, without a
  // pending exception, once the environment can no longer run JS.
  napi_value probe = nullptr, value = nullptr;
  if (napi_create_object(env, &probe) != napi_ok || napi_get_boolean(env, true, &value) != napi_ok) return false;
  return napi_set_named_property(env, probe, "probe", value) == napi_ok;
}

Napi::Value get_property(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsEmpty() || o.Env().IsExceptionPending()) throw PendingJsException();
  return v;
}

bool get_optional_bool(const Napi::Object& o, const char* key, bool fallback, const char* where) {
  Napi::Value v = get_property(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw ArgTypeError(std::string(where) + "." + key + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

double get_optional_number(const Napi::Object& o, const char* key, double fallback, const char* where) {
  Napi::Value v = get_property(o, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw ArgTypeError(std::string(where) + "." + key + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) throw ordo::ArgumentError(std::string(where) + "." + key + " must be finite");
  return d;
}

std::string get_optional_string(const Napi::Object& o, const char* key, const char* where) {
  Napi::Value v = get_property(o, key);
  if (v.IsUndefined() || v.IsNull()) return std::string();
  return get_string(v, (std::string(where) + "." + key).c_str());
}

Napi::Object get_optional_object(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (info.Length() <= index || info[index].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[index].IsObject()) throw ArgTypeError(std::string(name) + " must be an object");
  return info[index].As<Napi::Object>();
}

void check_param_count(double count, const char* what) {
  if (count > kMaxParams) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", count);
    throw ordo::ArgumentError(std::string(what) + " has " + buf +
                              " parameters, more than ordo's limit of 4294967295 (one Float32Array); use smaller sizes");
  }
}

void check_host_bytes(double bytes, const std::string& what) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
  double physical = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
  if (physical > 0 && bytes > physical) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " needs %.1f GiB, more than this machine's %.1f GiB of physical memory", bytes / 1073741824.0,
                  physical / 1073741824.0);
    throw ordo::ArgumentError(what + buf);
  }
}

namespace {
template <typename T, typename ArrayT>
ArrayT to_typed_array(Napi::Env env, std::vector<T>&& data, napi_typedarray_type type) {
  size_t n = data.size();
  Napi::ArrayBuffer buffer;
  if (n == 0) {
    buffer = Napi::ArrayBuffer::New(env, 0);
  } else {
    auto* holder = new std::vector<T>(std::move(data));
    buffer = Napi::ArrayBuffer::New(env, holder->data(), n * sizeof(T),
                                    [](Napi::Env, void*, std::vector<T>* h) { delete h; }, holder);
  }
  return ArrayT::New(env, n, buffer, 0, type);
}
}  // namespace

Napi::Float32Array to_float32_array(Napi::Env env, std::vector<float>&& data) {
  return to_typed_array<float, Napi::Float32Array>(env, std::move(data), napi_float32_array);
}
Napi::Uint32Array to_uint32_array(Napi::Env env, std::vector<uint32_t>&& data) {
  return to_typed_array<uint32_t, Napi::Uint32Array>(env, std::move(data), napi_uint32_array);
}
Napi::Float64Array to_float64_array(Napi::Env env, std::vector<double>&& data) {
  return to_typed_array<double, Napi::Float64Array>(env, std::move(data), napi_float64_array);
}

Napi::Uint8Array to_uint8_array(Napi::Env env, std::string&& bytes) {
  size_t n = bytes.size();
  if (n == 0) return Napi::Uint8Array::New(env, 0);
  auto* holder = new std::string(std::move(bytes));
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, holder->data(), n, [](Napi::Env, void*, std::string* h) { delete h; }, holder);
  return Napi::Uint8Array::New(env, n, buffer, 0);
}

Napi::Array to_string_array(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array out = Napi::Array::New(env, items.size());
  for (size_t i = 0; i < items.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, items[i]));
  return out;
}

}  // namespace ordo_napi
