// evaluate(labels: Float32Array, queryOffsets: Uint32Array, scores: Float64Array|Float32Array,
//          metrics: Array<[kind: string, k: number]>, convention: object)
//   -> Array<{ perQuery: Float64Array, mean: number, count: number }>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "napi/bindings.h"
#include "napi/convert.h"

namespace ordo_napi {
namespace {

template <typename E>
E parse_enum(const Napi::Object& o, const char* key, E fallback, std::initializer_list<std::pair<const char*, E>> choices) {
  Napi::Value v = get_property(o, key);
  if (v.IsUndefined()) return fallback;
  std::string allowed;
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    for (auto& c : choices) {
      if (s == c.first) return c.second;
    }
  }
  for (auto& c : choices) allowed += std::string(allowed.empty() ? "" : ", ") + "'" + c.first + "'";
  throw ordo::ArgumentError(std::string("convention.") + key + " must be one of " + allowed);
}

ordo::Convention read_convention(const Napi::Object& o) {
  ordo::Convention c;
  c.gain = parse_enum(o, "gain", c.gain, {{"exp2", ordo::Gain::Exp2}, {"linear", ordo::Gain::Linear}});
  c.discount = parse_enum(o, "discount", c.discount, {{"log2", ordo::Discount::Log2}, {"letor", ordo::Discount::Letor}});
  c.no_relevant = parse_enum(o, "noRelevant", c.no_relevant,
                             {{"zero", ordo::NoRelevant::Zero}, {"one", ordo::NoRelevant::One}, {"skip", ordo::NoRelevant::Skip}});
  c.short_list = parse_enum(o, "shortList", c.short_list, {{"truncate", ordo::ShortList::Truncate}, {"zero", ordo::ShortList::Zero}});
  c.ties = parse_enum(o, "ties", c.ties,
                      {{"stable", ordo::Ties::Stable}, {"average", ordo::Ties::Average}, {"pessimistic", ordo::Ties::Pessimistic}});
  c.relevance_threshold = get_optional_number(o, "relevanceThreshold", c.relevance_threshold, "convention");
  Napi::Value em = get_property(o, "errMaxLabel");
  if (!em.IsUndefined() && !em.IsNull()) {
    c.err_max_label = get_optional_number(o, "errMaxLabel", -1, "convention");
    if (c.err_max_label < 0) throw ordo::ArgumentError("convention.errMaxLabel must be >= 0");
  }
  return c;
}

std::vector<ordo::MetricSpec> read_metrics(const Napi::Value& v) {
  if (!v.IsArray()) throw ArgTypeError("metrics must be an array of [kind, k] pairs");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<ordo::MetricSpec> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value item = a.Get(i);
    std::string where = "metrics[" + std::to_string(i) + "]";
    if (!item.IsArray() || item.As<Napi::Array>().Length() != 2) throw ArgTypeError(where + " must be a [kind, k] pair");
    Napi::Array pair = item.As<Napi::Array>();
    std::string kind = get_string(pair.Get(0u), (where + "[0]").c_str());
    Napi::Value kv = pair.Get(1u);
    if (!kv.IsNumber()) throw ArgTypeError(where + "[1] (k) must be a number");
    double k = kv.As<Napi::Number>().DoubleValue();
    if (!(k >= 0 && k <= 4294967295.0 && k == std::floor(k))) throw ordo::ArgumentError(where + "[1] (k) must be an integer >= 0 (0: whole list)");
    ordo::MetricKind mk;
    if (kind == "ndcg") mk = ordo::MetricKind::NDCG;
    else if (kind == "dcg") mk = ordo::MetricKind::DCG;
    else if (kind == "map" || kind == "ap") mk = ordo::MetricKind::AP;
    else if (kind == "p" || kind == "precision") mk = ordo::MetricKind::Precision;
    else if (kind == "mrr") mk = ordo::MetricKind::MRR;
    else if (kind == "err") mk = ordo::MetricKind::ERR;
    else throw ordo::ArgumentError(where + "[0] = '" + kind + "' is not a metric; use ndcg, dcg, map, p, mrr or err");
    out.push_back({mk, static_cast<uint32_t>(k)});
  }
  return out;
}

Napi::Value Evaluate(const Napi::CallbackInfo& info) {
  return guarded(info, [&]() -> Napi::Value {
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      throw ArgTypeError("labels must be a Float32Array");
    }
    if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
      throw ArgTypeError("queryOffsets must be a Uint32Array");
    }
    if (!info[2].IsTypedArray()) throw ArgTypeError("scores must be a Float64Array or Float32Array");
    Napi::Float32Array labels = info[0].As<Napi::Float32Array>();
    Napi::Uint32Array offsets = info[1].As<Napi::Uint32Array>();
    Napi::TypedArray scores_any = info[2].As<Napi::TypedArray>();
    std::vector<double> scores;
    if (scores_any.TypedArrayType() == napi_float64_array) {
      Napi::Float64Array s = scores_any.As<Napi::Float64Array>();
      scores.assign(s.Data(), s.Data() + s.ElementLength());
    } else if (scores_any.TypedArrayType() == napi_float32_array) {
      Napi::Float32Array s = scores_any.As<Napi::Float32Array>();
      scores.assign(s.Data(), s.Data() + s.ElementLength());
    } else {
      throw ArgTypeError("scores must be a Float64Array or Float32Array");
    }
    if (scores.size() != labels.ElementLength()) {
      throw ordo::ArgumentError("scores has " + std::to_string(scores.size()) + " values but labels has " +
                                std::to_string(labels.ElementLength()) + ": one score per document, in row order");
    }
    std::vector<ordo::MetricSpec> metrics = read_metrics(info[3]);
    ordo::Convention conv = read_convention(get_optional_object(info, 4, "convention"));
    std::vector<ordo::MetricResult> results = ordo::evaluate_rankings(
        labels.Data(), scores.data(), labels.ElementLength(), offsets.Data(), offsets.ElementLength(), metrics, conv);
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env, results.size());
    for (size_t i = 0; i < results.size(); ++i) {
      Napi::Object r = Napi::Object::New(env);
      r.Set("mean", Napi::Number::New(env, results[i].mean));
      r.Set("count", Napi::Number::New(env, results[i].count));
      r.Set("perQuery", to_float64_array(env, std::move(results[i].per_query)));
      out.Set(static_cast<uint32_t>(i), r);
    }
    return out;
  });
}

}  // namespace

void register_metrics(Napi::Env env, Napi::Object exports) {
  exports.Set("evaluate", Napi::Function::New(env, Evaluate, "evaluate"));
}

}  // namespace ordo_napi
