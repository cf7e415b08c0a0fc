// Ranking metrics, one pass over the queries. See core/metrics.h and the
// README's "Evaluation conventions" for the exact definitions.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "core/error.h"
#include "core/metrics.h"

namespace ordo {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

const char* metric_name(MetricKind k) {
  switch (k) {
    case MetricKind::NDCG: return "ndcg";
    case MetricKind::DCG: return "dcg";
    case MetricKind::AP: return "map";
    case MetricKind::Precision: return "p";
    case MetricKind::MRR: return "mrr";
    case MetricKind::ERR: return "err";
  }
  return "?";
}

class QueryEvaluator {
 public:
  QueryEvaluator(const Convention& c, double err_gmax) : conv_(c), err_scale_(std::exp2(-err_gmax)) {}

  // Ranks one query: fills ranked_ (labels in rank order), group_end_ (for
  // tie-averaging: the end of each position's tie group) and ideal_.
  void rank(const float* labels, const double* scores, uint32_t n) {
    n_ = n;
    order_.resize(n);
    std::iota(order_.begin(), order_.end(), 0u);
    if (conv_.ties == Ties::Pessimistic) {
      std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) {
        if (scores[a] != scores[b]) return scores[a] > scores[b];
        return labels[a] < labels[b];
      });
    } else {
      std::stable_sort(order_.begin(), order_.end(), [&](uint32_t a, uint32_t b) { return scores[a] > scores[b]; });
    }
    ranked_.resize(n);
    for (uint32_t i = 0; i < n; ++i) ranked_[i] = labels[order_[i]];
    if (conv_.ties == Ties::Average) {
      group_end_.resize(n);
      uint32_t i = 0;
      while (i < n) {
        uint32_t j = i + 1;
        while (j < n && scores[order_[j]] == scores[order_[i]]) ++j;
        for (uint32_t t = i; t < j; ++t) group_end_[t] = j;
        i = j;
      }
    }
    ideal_.assign(ranked_.begin(), ranked_.end());
    std::sort(ideal_.begin(), ideal_.end(), std::greater<float>());
    num_relevant_ = 0;
    for (float l : ranked_) num_relevant_ += is_relevant(l) ? 1 : 0;
    ensure_discounts(n);
  }

  double compute(const MetricSpec& m) {
    uint32_t kk = m.k == 0 ? n_ : m.k;       // the cut-off
    uint32_t top = std::min(kk, n_);          // positions that exist
    switch (m.kind) {
      case MetricKind::DCG: return dcg(top);
      case MetricKind::NDCG: {
        double ideal = 0.0;
        for (uint32_t i = 0; i < top; ++i) ideal += gain(ideal_[i]) * discount_[i];
        if (!(ideal > 0.0)) return undefined_value();
        if (conv_.short_list == ShortList::Zero && n_ < kk) return 0.0;  // LETOR 4.0: holes never filled
        return dcg(top) / ideal;
      }
      case MetricKind::Precision: {
        double hits = conv_.ties == Ties::Average ? averaged_sum(top, [&](float l) { return is_relevant(l) ? 1.0 : 0.0; }, false)
                                                  : plain_hits(top);
        uint32_t denom = conv_.short_list == ShortList::Zero ? kk : top;
        return denom == 0 ? 0.0 : hits / denom;
      }
      case MetricKind::AP: {
        if (num_relevant_ == 0) return undefined_value();
        double sum = 0.0;
        uint32_t hits = 0;
        for (uint32_t i = 0; i < top; ++i) {
          if (is_relevant(ranked_[i])) {
            ++hits;
            sum += static_cast<double>(hits) / (i + 1);
          }
        }
        return sum / std::min<uint32_t>(num_relevant_, kk);
      }
      case MetricKind::MRR: {
        if (num_relevant_ == 0) return undefined_value();
        for (uint32_t i = 0; i < top; ++i) {
          if (is_relevant(ranked_[i])) return 1.0 / (i + 1);
        }
        return 0.0;
      }
      case MetricKind::ERR: {
        double not_stopped = 1.0, err = 0.0;
        for (uint32_t i = 0; i < top; ++i) {
          double r = (std::exp2(static_cast<double>(ranked_[i])) - 1.0) * err_scale_;
          err += not_stopped * r / (i + 1);
          not_stopped *= 1.0 - r;
        }
        return err;
      }
    }
    return kNaN;
  }

 private:
  bool is_relevant(float l) const { return l >= conv_.relevance_threshold; }
  double gain(float l) const { return conv_.gain == Gain::Exp2 ? std::exp2(static_cast<double>(l)) - 1.0 : static_cast<double>(l); }
  double undefined_value() const {
    switch (conv_.no_relevant) {
      case NoRelevant::Zero: return 0.0;
      case NoRelevant::One: return 1.0;
      case NoRelevant::Skip: return kNaN;
    }
    return kNaN;
  }

  void ensure_discounts(uint32_t n) {
    if (discount_.size() >= n) return;
    size_t old = discount_.size();
    discount_.resize(n);
    for (size_t i = old; i < n; ++i) {
      double rank = static_cast<double>(i + 1);
      if (conv_.discount == Discount::Log2) {
        discount_[i] = 1.0 / std::log2(rank + 1.0);
      } else {  // LETOR scripts: ranks 1 and 2 undiscounted, rank i >= 3 weighted 1/log2(i)
        discount_[i] = rank <= 2.0 ? 1.0 : 1.0 / std::log2(rank);
      }
    }
  }

  double dcg(uint32_t top) const {
    if (conv_.ties == Ties::Average) return averaged_sum(top, [&](float l) { return gain(l); }, true);
    double s = 0.0;
    for (uint32_t i = 0; i < top; ++i) s += gain(ranked_[i]) * discount_[i];
    return s;
  }

  double plain_hits(uint32_t top) const {
    double h = 0.0;
    for (uint32_t i = 0; i < top; ++i) h += is_relevant(ranked_[i]) ? 1.0 : 0.0;
    return h;
  }

  // Tie-averaged sum over the top positions: each tie group contributes the
  // mean of value(label) over the group times the sum of the position weights
  // it occupies within the cut-off (McSherry & Najork 2008): the expectation
  // over all orders of the tied documents.
  template <typename Value>
  double averaged_sum(uint32_t top, Value value, bool discounted) const {
    double total = 0.0;
    uint32_t i = 0;
    while (i < top) {
      uint32_t end = group_end_[i];
      double mean = 0.0;
      for (uint32_t t = i; t < end; ++t) mean += value(ranked_[t]);
      mean /= (end - i);
      double weight = 0.0;
      for (uint32_t t = i; t < std::min(end, top); ++t) weight += discounted ? discount_[t] : 1.0;
      total += mean * weight;
      i = end;
    }
    return total;
  }

  const Convention& conv_;
  double err_scale_;
  uint32_t n_ = 0;
  uint32_t num_relevant_ = 0;
  std::vector<uint32_t> order_;
  std::vector<float> ranked_;
  std::vector<float> ideal_;
  std::vector<uint32_t> group_end_;
  std::vector<double> discount_;
};

}  // namespace

void check_query_offsets(const uint32_t* offsets, uint64_t num_offsets, uint64_t num_docs, const char* what) {
  std::string name = what;
  if (num_offsets < 1 || offsets == nullptr) throw ArgumentError(name + " must hold at least one offset (numQueries + 1 values)");
  if (offsets[0] != 0) throw ArgumentError(name + "[0] must be 0, got " + std::to_string(offsets[0]));
  for (uint64_t q = 1; q < num_offsets; ++q) {
    if (offsets[q] < offsets[q - 1]) {
      throw ArgumentError(name + " must be non-decreasing: " + name + "[" + std::to_string(q) + "] = " + std::to_string(offsets[q]) +
                          " < " + name + "[" + std::to_string(q - 1) + "] = " + std::to_string(offsets[q - 1]));
    }
  }
  if (offsets[num_offsets - 1] != num_docs) {
    throw ArgumentError(name + " must end at the number of documents (" + std::to_string(num_docs) + "), but ends at " +
                        std::to_string(offsets[num_offsets - 1]));
  }
}

std::vector<MetricResult> evaluate_rankings(const float* labels, const double* scores, uint64_t num_docs, const uint32_t* offsets,
                                            uint64_t num_offsets, const std::vector<MetricSpec>& metrics, const Convention& conv) {
  check_query_offsets(offsets, num_offsets, num_docs, "queryOffsets");
  if (metrics.empty()) throw ArgumentError("no metrics requested");
  if (!std::isfinite(conv.relevance_threshold)) throw ArgumentError("relevanceThreshold must be finite");
  for (const MetricSpec& m : metrics) {
    if (conv.ties == Ties::Average &&
        (m.kind == MetricKind::AP || m.kind == MetricKind::MRR || m.kind == MetricKind::ERR)) {
      throw ArgumentError(std::string("ties 'average' (tie-averaged, as sklearn) is defined for ndcg, dcg and p; ") + metric_name(m.kind) +
                          " needs ties 'stable' or 'pessimistic'");
    }
  }
  float max_label = 0.0f;
  for (uint64_t i = 0; i < num_docs; ++i) {
    if (!std::isfinite(labels[i]) || labels[i] < 0.0f) {
      throw ArgumentError("labels[" + std::to_string(i) + "] = " + std::to_string(labels[i]) + ": labels must be finite and >= 0");
    }
    if (std::isnan(scores[i])) throw ArgumentError("scores[" + std::to_string(i) + "] is NaN: every document needs a score");
    max_label = std::max(max_label, labels[i]);
  }
  double gmax = conv.err_max_label >= 0.0 ? conv.err_max_label : static_cast<double>(max_label);
  if (conv.err_max_label >= 0.0 && max_label > conv.err_max_label) {
    for (const MetricSpec& m : metrics) {
      if (m.kind == MetricKind::ERR) {
        throw ArgumentError("errMaxLabel = " + std::to_string(conv.err_max_label) + " is below the largest label " + std::to_string(max_label));
      }
    }
  }

  uint64_t num_queries = num_offsets - 1;
  std::vector<MetricResult> results(metrics.size());
  for (MetricResult& r : results) r.per_query.assign(num_queries, kNaN);
  QueryEvaluator ev(conv, gmax);
  for (uint64_t q = 0; q < num_queries; ++q) {
    uint32_t a = offsets[q], n = offsets[q + 1] - offsets[q];
    ev.rank(labels + a, scores + a, n);
    for (size_t m = 0; m < metrics.size(); ++m) results[m].per_query[q] = ev.compute(metrics[m]);
  }
  for (MetricResult& r : results) {
    double sum = 0.0;
    uint32_t count = 0;
    for (double v : r.per_query) {
      if (!std::isnan(v)) {
        sum += v;
        ++count;
      }
    }
    r.count = count;
    r.mean = count ? sum / count : kNaN;
  }
  return results;
}

}  // namespace ordo
