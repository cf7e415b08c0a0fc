// ordo/core/metrics.h — ranking metrics under explicit, named conventions.
//
// One pass over the queries of a ragged batch (labels + CSR offsets + scores)
// computes every requested metric per query; means follow the convention's
// rule for queries with no relevant document. Definitions are in README.md,
// "Evaluation conventions"; the references are
//   DCG/NDCG: Jarvelin & Kekalainen 2002, gain 2^l-1 as Burges et al. 2005;
//   LETOR rules: Eval-Score-4.0.pl / Eval-Score-3.0.pl (Xu & Liu, 2009);
//   tie-averaged DCG: McSherry & Najork 2008 (as sklearn.metrics.ndcg_score);
//   ERR: Chapelle et al. 2009.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ordo {

enum class Gain { Exp2, Linear };                 // 2^l - 1, or l
enum class Discount { Log2, Letor };              // 1/log2(i+1), or 1 for i<=2 then 1/log2(i)
enum class NoRelevant { Zero, One, Skip };        // value of an undefined metric, or leave out of the mean
enum class ShortList { Truncate, Zero };          // fewer than k docs: cut at n, or LETOR 4.0's 0
enum class Ties { Stable, Average, Pessimistic }; // input order, tie-averaged, relevant last

struct Convention {
  Gain gain = Gain::Exp2;
  Discount discount = Discount::Log2;
  NoRelevant no_relevant = NoRelevant::Zero;
  ShortList short_list = ShortList::Truncate;
  Ties ties = Ties::Stable;
  double relevance_threshold = 1.0;  // label >= this counts as relevant (MAP, P@k, MRR)
  double err_max_label = -1.0;       // ERR's g_max; < 0: the largest label in the batch
};

enum class MetricKind { NDCG, DCG, AP, Precision, MRR, ERR };

struct MetricSpec {
  MetricKind kind;
  uint32_t k;  // cut-off; 0 = the whole list
};

struct MetricResult {
  std::vector<double> per_query;  // NaN where the convention leaves the query out
  double mean = 0.0;              // over queries that are not left out (NaN if none)
  uint32_t count = 0;             // queries in the mean
};

// labels/scores: num_docs values; offsets: num_queries + 1 (CSR).
// Throws ArgumentError on inconsistent shapes, NaN scores or labels, or a
// convention / metric combination that is not defined (e.g. tie-averaged MAP).
std::vector<MetricResult> evaluate_rankings(const float* labels, const double* scores, uint64_t num_docs,
                                            const uint32_t* offsets, uint64_t num_offsets,
                                            const std::vector<MetricSpec>& metrics, const Convention& convention);

// Checks CSR offsets: length >= 1, offsets[0] == 0, non-decreasing, last == num_docs.
void check_query_offsets(const uint32_t* offsets, uint64_t num_offsets, uint64_t num_docs, const char* what);

}  // namespace ordo
