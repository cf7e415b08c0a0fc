// ordo/core/dataset.h — the in-memory LTR dataset and the readers' contract.
//
// Layout: features are dense, row-major (num_docs x num_features, float32);
// feature index j in the file (1-based) is column j-1. Queries are contiguous
// row ranges: rows [query_offsets[q], query_offsets[q+1]) belong to query q.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ordo {

struct Dataset {
  uint64_t num_docs = 0;
  uint32_t num_features = 0;
  std::vector<float> features;          // num_docs * num_features
  std::vector<float> labels;            // num_docs
  std::vector<uint32_t> query_offsets;  // num_queries + 1, starts at 0, ends at num_docs
  std::vector<std::string> query_ids;   // num_queries: the qid text, or the group's ordinal when
                                        // groups come from a .query file and rows carry no qid
  // Doc ids from "#docid = X" comments, packed: id i is
  // doc_id_bytes[doc_id_offsets[i] .. doc_id_offsets[i+1]) (empty when a row has
  // none). doc_id_offsets is empty when no row carries a doc id.
  std::string doc_id_bytes;
  std::vector<uint32_t> doc_id_offsets;
  std::string_view doc_id(size_t row) const {
    return std::string_view(doc_id_bytes).substr(doc_id_offsets[row], doc_id_offsets[row + 1] - doc_id_offsets[row]);
  }
  bool qid_in_rows = false;             // rows carried "qid:" fields
};

struct ReadOptions {
  // LightGBM-style group file: one positive group size per line. Empty: none.
  std::string query_file;
  // Accept NaN / Inf feature values (they are an error by default).
  bool allow_non_finite = false;
  // Fix the feature count (0: the largest index seen). An index above it is an error.
  uint32_t num_features = 0;
  // Guard against absurd indices read from a file (no unbounded allocation).
  uint32_t max_feature_index = 1u << 22;  // 4,194,304 features
  // Dense matrix bound in elements (num_docs * num_features).
  uint64_t max_dense_elements = uint64_t(1) << 32;
};

// Reads an SVMlight / LETOR text file ("label qid:ID idx:val ... # comment").
// Reads in chunks; throws IoError or ParseError (file, line, column, reason).
Dataset read_svmlight_file(const std::string& path, const ReadOptions& options);

// Same format from memory. source_name is used in error messages; the query
// file, when given in options, is read from disk.
Dataset parse_svmlight_text(std::string_view text, const std::string& source_name, const ReadOptions& options);

// Group sizes of a LightGBM .query file (text form); errors name source and line.
std::vector<uint64_t> parse_group_sizes_text(std::string_view text, const std::string& source_name);

// A scores file: one number per line, blank lines not allowed (row order matters).
std::vector<double> read_scores_file(const std::string& path);
std::vector<double> parse_scores_text(std::string_view text, const std::string& source_name);

// Reads a whole file (used for the .query and scores files).
std::string read_whole_file(const std::string& path);

}  // namespace ordo
