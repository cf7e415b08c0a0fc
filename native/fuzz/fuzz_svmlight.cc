// libFuzzer harness: the SVMlight / LETOR reader (core/dataset.h), in memory
// and through the chunked file reader, with and without a LightGBM .query file.
//
// Input layout: byte 0 selects options (bit 0 allowNonFinite, bit 1 a fixed
// numFeatures, bit 2 a .query file, bit 3 the file reader); when a .query file
// is used the rest is "<data>\x00<group sizes>" (split at the first NUL).
// Checked beyond "no crash": every accepted dataset is well formed (CSR
// offsets, sizes, finite non-negative labels, finite features unless allowed,
// doc-id offsets), and the in-memory and file readers agree exactly.
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "core/dataset.h"
#include "core/error.h"
#include "fuzz/fuzz_common.h"

namespace {

void check_dataset(const ordo::Dataset& ds, const ordo::ReadOptions& opt) {
  ORDO_FUZZ_CHECK(ds.num_docs >= 1);
  ORDO_FUZZ_CHECK(ds.labels.size() == ds.num_docs);
  ORDO_FUZZ_CHECK(ds.features.size() == ds.num_docs * ds.num_features);
  ORDO_FUZZ_CHECK(ds.query_offsets.size() >= 2);
  ORDO_FUZZ_CHECK(ds.query_ids.size() + 1 == ds.query_offsets.size());
  ORDO_FUZZ_CHECK(ds.query_offsets.front() == 0 && ds.query_offsets.back() == ds.num_docs);
  for (size_t q = 0; q + 1 < ds.query_offsets.size(); ++q) ORDO_FUZZ_CHECK(ds.query_offsets[q] < ds.query_offsets[q + 1]);
  if (opt.num_features) ORDO_FUZZ_CHECK(ds.num_features == opt.num_features);
  for (float l : ds.labels) ORDO_FUZZ_CHECK(std::isfinite(l) && l >= 0.0f);
  if (!opt.allow_non_finite) {
    for (float v : ds.features) ORDO_FUZZ_CHECK(std::isfinite(v));
  }
  if (!ds.doc_id_offsets.empty()) {
    ORDO_FUZZ_CHECK(ds.doc_id_offsets.size() == ds.num_docs + 1);
    ORDO_FUZZ_CHECK(ds.doc_id_offsets.front() == 0 && ds.doc_id_offsets.back() == ds.doc_id_bytes.size());
    for (size_t i = 0; i < ds.num_docs; ++i) {
      ORDO_FUZZ_CHECK(ds.doc_id_offsets[i] <= ds.doc_id_offsets[i + 1]);
      (void)ds.doc_id(i);
    }
  }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  ordo::ReadOptions opt;
  opt.allow_non_finite = mode & 1;
  if (mode & 2) opt.num_features = 1 + (mode >> 4);  // 1..16
  // Small bounds keep each input fast; the limit checks themselves are tested in test_parse.
  opt.max_feature_index = 1u << 12;
  opt.max_dense_elements = uint64_t(1) << 16;
  std::string_view text = body;
  static const std::string query_path = ordo_fuzz::scratch_path("query");
  static const std::string data_path = ordo_fuzz::scratch_path("data");
  if (mode & 4) {
    size_t nul = body.find('\0');
    std::string_view groups = nul == std::string_view::npos ? std::string_view() : body.substr(nul + 1);
    text = body.substr(0, nul);
    ordo_fuzz::write_file(query_path, groups.data(), groups.size());
    opt.query_file = query_path;
    // The group-size parser on its own.
    try {
      std::vector<uint64_t> sizes = ordo::parse_group_sizes_text(groups, "groups");
      ORDO_FUZZ_CHECK(!sizes.empty());
      for (uint64_t s : sizes) ORDO_FUZZ_CHECK(s >= 1 && s < 4294967295ull);
    } catch (const ordo::ParseError&) {
    }
  }

  bool mem_ok = false;
  ordo::Dataset mem;
  std::string mem_error;
  try {
    mem = ordo::parse_svmlight_text(text, data_path, opt);  // same name: messages can be compared
    mem_ok = true;
    check_dataset(mem, opt);
  } catch (const ordo::ParseError& e) {
    mem_error = e.reason();
  } catch (const ordo::IoError& e) {
    mem_error = e.what();
  }

  if (mode & 8) {
    // The chunked file reader must agree with the in-memory parser.
    ordo_fuzz::write_file(data_path, text.data(), text.size());
    try {
      ordo::Dataset file = ordo::read_svmlight_file(data_path, opt);
      ORDO_FUZZ_CHECK(mem_ok);
      ORDO_FUZZ_CHECK(file.num_docs == mem.num_docs && file.num_features == mem.num_features);
      ORDO_FUZZ_CHECK(same_bits(file.features, mem.features) && same_bits(file.labels, mem.labels));
      ORDO_FUZZ_CHECK(file.query_offsets == mem.query_offsets && file.query_ids == mem.query_ids);
      ORDO_FUZZ_CHECK(file.doc_id_bytes == mem.doc_id_bytes && file.doc_id_offsets == mem.doc_id_offsets);
    } catch (const ordo::ParseError& e) {
      ORDO_FUZZ_CHECK(!mem_ok);
      ORDO_FUZZ_CHECK(e.reason() == mem_error);
    } catch (const ordo::IoError&) {
      ORDO_FUZZ_CHECK(!mem_ok);
    }
  }
  return 0;
}
