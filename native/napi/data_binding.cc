// Data readers: readDataset (async, off the JS thread), readDatasetSync,
// parseDatasetText, readScores. Argument checks and conversions only.
#include <memory>

#include "core/dataset.h"
#include "core/error.h"
#include "napi/bindings.h"
#include "napi/convert.h"

namespace ordo_napi {
namespace {

ordo::ReadOptions read_options(const Napi::Object& o) {
  ordo::ReadOptions opt;
  opt.query_file = get_optional_string(o, "queryFile", "options");
  opt.allow_non_finite = get_optional_bool(o, "allowNonFinite", false, "options");
  double nf = get_optional_number(o, "numFeatures", 0, "options");
  if (nf < 0 || nf > opt.max_feature_index || nf != static_cast<double>(static_cast<uint32_t>(nf))) {
    throw ordo::ArgumentError("options.numFeatures must be an integer in [0, " + std::to_string(opt.max_feature_index) + "]");
  }
  opt.num_features = static_cast<uint32_t>(nf);
  return opt;
}

Napi::Object dataset_to_js(Napi::Env env, ordo::Dataset&& ds) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("numDocs", Napi::Number::New(env, static_cast<double>(ds.num_docs)));
  o.Set("numFeatures", Napi::Number::New(env, ds.num_features));
  o.Set("numQueries", Napi::Number::New(env, static_cast<double>(ds.query_offsets.size() - 1)));
  o.Set("qidInRows", Napi::Boolean::New(env, ds.qid_in_rows));
  o.Set("queryIds", to_string_array(env, ds.query_ids));
  if (!ds.doc_id_offsets.empty()) {
    o.Set("docIdBytes", to_uint8_array(env, std::move(ds.doc_id_bytes)));
    o.Set("docIdOffsets", to_uint32_array(env, std::move(ds.doc_id_offsets)));
  }
  o.Set("features", to_float32_array(env, std::move(ds.features)));
  o.Set("labels", to_float32_array(env, std::move(ds.labels)));
  o.Set("queryOffsets", to_uint32_array(env, std::move(ds.query_offsets)));
  return o;
}

class ReadDatasetWorker : public Napi::AsyncWorker {
 public:
  ReadDatasetWorker(Napi::Env env, std::string path, ordo::ReadOptions opt)
      : Napi::AsyncWorker(env, "ordo.readDataset"), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)), opt_(std::move(opt)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  void Execute() override {
    try {
      ds_ = ordo::read_svmlight_file(path_, opt_);
    } catch (...) {
      error_ = std::current_exception();
    }
  }
  // As KernelWorker: when the Worker that started the read is terminating, an N-API
  // failure while settling is swallowed (rethrown, it would abort the process).
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
    try {
      Napi::HandleScope scope(Env());
      if (!can_call_js(Env())) return;
      if (error_) deferred_.Reject(to_js_error(Env(), error_).Value());
      else deferred_.Resolve(dataset_to_js(Env(), std::move(ds_)));
    } catch (const Napi::Error&) {
    }
  }
  void OnError(const Napi::Error& e) override {
    try {
      if (can_call_js(Env())) deferred_.Reject(e.Value());
    } catch (const Napi::Error&) {
    }
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_;
  ordo::ReadOptions opt_;
  ordo::Dataset ds_;
  std::exception_ptr error_;
};

Napi::Value ReadDataset(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string path = get_string(info[0], "path");
    ordo::ReadOptions opt = read_options(get_optional_object(info, 1, "options"));
    auto* worker = new ReadDatasetWorker(info.Env(), path, opt);
    Napi::Promise p = worker->promise();
    worker->Queue();
    return p;
  });
}

Napi::Value ReadDatasetSync(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string path = get_string(info[0], "path");
    ordo::ReadOptions opt = read_options(get_optional_object(info, 1, "options"));
    return dataset_to_js(info.Env(), ordo::read_svmlight_file(path, opt));
  });
}

Napi::Value ParseDatasetText(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string text = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : (throw ArgTypeError("text must be a string"));
    std::string name = info.Length() > 1 && !info[1].IsUndefined() ? get_string(info[1], "sourceName") : std::string("<text>");
    ordo::ReadOptions opt = read_options(get_optional_object(info, 2, "options"));
    return dataset_to_js(info.Env(), ordo::parse_svmlight_text(text, name, opt));
  });
}

Napi::Value ReadScores(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string path = get_string(info[0], "path");
    return to_float64_array(info.Env(), ordo::read_scores_file(path));
  });
}

Napi::Value ParseScoresText(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    std::string text = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : (throw ArgTypeError("text must be a string"));
    std::string name = info.Length() > 1 && !info[1].IsUndefined() ? get_string(info[1], "sourceName") : std::string("<scores>");
    return to_float64_array(info.Env(), ordo::parse_scores_text(text, name));
  });
}

}  // namespace

void register_data(Napi::Env env, Napi::Object exports) {
  exports.Set("readDataset", Napi::Function::New(env, ReadDataset, "readDataset"));
  exports.Set("readDatasetSync", Napi::Function::New(env, ReadDatasetSync, "readDatasetSync"));
  exports.Set("parseDatasetText", Napi::Function::New(env, ParseDatasetText, "parseDatasetText"));
  exports.Set("readScores", Napi::Function::New(env, ReadScores, "readScores"));
  exports.Set("parseScoresText", Napi::Function::New(env, ParseScoresText, "parseScoresText"));
}

}  // namespace ordo_napi
