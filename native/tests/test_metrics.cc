// C++ tests of the ranking metrics against hand-computed values.
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/metrics.h"
#include "tests/check.h"

using namespace ordo;

namespace {
double one(const std::vector<float>& labels, const std::vector<double>& scores, MetricSpec m, Convention c = {}) {
  std::vector<uint32_t> off = {0, static_cast<uint32_t>(labels.size())};
  return evaluate_rankings(labels.data(), scores.data(), labels.size(), off.data(), off.size(), {m}, c)[0].per_query[0];
}
const double L3 = 1.0 / std::log2(3.0);  // 0.6309...
}  // namespace

// Query: labels [2,0,1], scores [0.1,0.9,0.5] -> ranked labels [0,1,2].
const std::vector<float> kLabels = {2, 0, 1};
const std::vector<double> kScores = {0.1, 0.9, 0.5};

TEST_CASE("DCG/NDCG with 2^l-1 gain and 1/log2(i+1)") {
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::DCG, 3}), L3 + 1.5, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 3}), (L3 + 1.5) / (3 + L3), 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 0}), (L3 + 1.5) / (3 + L3), 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 1}), 0.0, 1e-12);
}

TEST_CASE("LETOR discount: ranks 1,2 undiscounted, then 1/log2(i)") {
  Convention c;
  c.discount = Discount::Letor;
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 3}, c), (1 + 3 * L3) / 4.0, 1e-12);
}

TEST_CASE("linear gain") {
  Convention c;
  c.gain = Gain::Linear;
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 3}, c), (L3 + 1.0) / (2 + L3), 1e-12);
}

TEST_CASE("short lists: truncate vs LETOR 4.0 zero") {
  Convention c;
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 5}, c), (L3 + 1.5) / (3 + L3), 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::Precision, 5}, c), 2.0 / 3.0, 1e-12);
  c.short_list = ShortList::Zero;
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 5}, c), 0.0, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::NDCG, 3}, c), (L3 + 1.5) / (3 + L3), 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::Precision, 5}, c), 2.0 / 5.0, 1e-12);
}

TEST_CASE("MAP, AP@k, P@k, MRR, ERR") {
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::AP, 0}), (0.5 + 2.0 / 3.0) / 2.0, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::AP, 2}), 0.5 / 2.0, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::Precision, 2}), 0.5, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::MRR, 0}), 0.5, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::MRR, 1}), 0.0, 1e-12);
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::ERR, 0}), 0.25 / 2 + 0.75 * 0.75 / 3, 1e-12);
  Convention c;
  c.relevance_threshold = 2;
  CHECK_NEAR(one(kLabels, kScores, {MetricKind::AP, 0}, c), 1.0 / 3.0, 1e-12);
}

TEST_CASE("ties: stable, pessimistic, tie-averaged") {
  std::vector<float> l = {1, 0, 2};
  std::vector<double> s = {1, 1, 0};
  double ideal = 3 + L3;
  Convention c;
  CHECK_NEAR(one(l, s, {MetricKind::NDCG, 0}, c), (1 + 3 * 0.5) / ideal, 1e-12);
  c.ties = Ties::Pessimistic;
  CHECK_NEAR(one(l, s, {MetricKind::NDCG, 0}, c), (L3 + 1.5) / ideal, 1e-12);
  c.ties = Ties::Average;
  CHECK_NEAR(one(l, s, {MetricKind::NDCG, 0}, c), (0.5 * (1 + L3) + 1.5) / ideal, 1e-12);
  CHECK_NEAR(one(l, s, {MetricKind::NDCG, 1}, c), 0.5 / 3.0, 1e-12);
  CHECK_NEAR(one(l, s, {MetricKind::Precision, 1}, c), 0.5, 1e-12);
  c.gain = Gain::Linear;
  CHECK_NEAR(one(l, s, {MetricKind::NDCG, 0}, c), (0.5 * (1 + L3) + 1.0) / (2 + L3), 1e-12);
  CHECK_THROWS(ArgumentError, one(l, s, {MetricKind::AP, 0}, c), "ties 'average'");
}

TEST_CASE("queries with no relevant document: zero, one, skip") {
  std::vector<float> labels = {0, 0, 1, 0};
  std::vector<double> scores = {1, 2, 3, 4};
  std::vector<uint32_t> off = {0, 2, 4};
  Convention c;
  auto r = evaluate_rankings(labels.data(), scores.data(), 4, off.data(), 3, {{MetricKind::NDCG, 10}, {MetricKind::DCG, 10}}, c);
  CHECK(r[0].per_query[0] == 0.0 && r[0].count == 2);
  CHECK_NEAR(r[0].mean, (0.0 + L3) / 2, 1e-12);
  c.no_relevant = NoRelevant::One;
  r = evaluate_rankings(labels.data(), scores.data(), 4, off.data(), 3, {{MetricKind::NDCG, 10}}, c);
  CHECK_NEAR(r[0].mean, (1.0 + L3) / 2, 1e-12);
  c.no_relevant = NoRelevant::Skip;
  r = evaluate_rankings(labels.data(), scores.data(), 4, off.data(), 3, {{MetricKind::NDCG, 10}, {MetricKind::DCG, 10}}, c);
  CHECK(std::isnan(r[0].per_query[0]) && r[0].count == 1);
  CHECK_NEAR(r[0].mean, L3, 1e-12);
  CHECK(r[1].count == 2);  // DCG is always defined
}

TEST_CASE("bad shapes and values are ArgumentErrors") {
  std::vector<float> labels = {0, 1};
  std::vector<double> scores = {1, 2};
  std::vector<uint32_t> bad_end = {0, 3};
  CHECK_THROWS(ArgumentError, evaluate_rankings(labels.data(), scores.data(), 2, bad_end.data(), 2, {{MetricKind::NDCG, 1}}, {}),
               "must end at the number of documents");
  std::vector<uint32_t> dec = {0, 2, 1, 2};
  CHECK_THROWS(ArgumentError, evaluate_rankings(labels.data(), scores.data(), 2, dec.data(), 4, {{MetricKind::NDCG, 1}}, {}), "non-decreasing");
  std::vector<uint32_t> ok = {0, 2};
  std::vector<double> nan_scores = {1, std::nan("")};
  CHECK_THROWS(ArgumentError, evaluate_rankings(labels.data(), nan_scores.data(), 2, ok.data(), 2, {{MetricKind::NDCG, 1}}, {}), "scores[1] is NaN");
  std::vector<float> neg = {0, -1};
  CHECK_THROWS(ArgumentError, evaluate_rankings(neg.data(), scores.data(), 2, ok.data(), 2, {{MetricKind::NDCG, 1}}, {}), "labels[1]");
}

TEST_MAIN("native metrics")
