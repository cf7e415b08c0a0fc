// SVMlight / LETOR / LightGBM text reader.
//
// Format of a data row:  <label> [qid:<id>] <index>:<value> ... [# comment]
//   - indices are 1-based and strictly increasing within a row; missing = 0;
//   - values are decimal or scientific floats, possibly negative;
//   - the comment may carry "docid = X" (LETOR), kept as the row's doc id;
//   - CRLF or LF line ends; blank and comment-only lines are not rows.
// Query groups come from contiguous qid blocks, or from a LightGBM ".query"
// file (one group size per line) when the rows have no qid.
//
// The file is read in 4 MiB chunks; every number goes through std::from_chars
// (libstdc++ >= 12 implements the float overloads with the Eisel-Lemire
// algorithm), so no per-line allocation happens on the hot path.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>

#include "core/dataset.h"
#include "core/error.h"

namespace ordo {
namespace {

inline bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\v' || c == '\f'; }

// Shows a token in an error message, shortened and with control bytes escaped.
std::string quote_token(const char* b, const char* e) {
  std::string out = "'";
  size_t n = static_cast<size_t>(e - b);
  size_t shown = n > 40 ? 40 : n;
  for (size_t i = 0; i < shown; ++i) {
    unsigned char c = static_cast<unsigned char>(b[i]);
    if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (shown < n) out += "...";
  out += "'";
  return out;
}

enum class FloatStatus { Ok, NotANumber, OutOfRange };

// Parses [b, e) entirely as a float. Accepts a leading '+' (from_chars does
// not). Values too small for float32 become 0 (or -0); too large is an error.
FloatStatus parse_float(const char* b, const char* e, float& out) {
  // Fast path (Clinger 1990): a plain decimal whose digits fit in 24 bits and
  // with at most 10 fraction digits is m / 10^k with m and 10^k exact in
  // float, so one correctly rounded division gives the correctly rounded
  // result. LETOR values ("0.007477", "1.000000") all take this path.
  {
    static const float kPow10[] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f};
    const char* p = b;
    bool neg = false;
    if (p < e && *p == '-') {
      neg = true;
      ++p;
    }
    uint32_t m = 0;
    int digits = 0, frac = -1;
    const char* start = p;
    for (; p < e; ++p) {
      char c = *p;
      if (c >= '0' && c <= '9') {
        m = m * 10 + static_cast<uint32_t>(c - '0');
        if (m != 0 || digits != 0) ++digits;  // leading zeros do not count
        if (frac >= 0) ++frac;
        if (digits > 7) break;                 // 10^7 < 2^24: keep m exact
      } else if (c == '.' && frac < 0) {
        frac = 0;
      } else {
        break;
      }
    }
    if (p == e && p != start && !(frac == 0 && p - start == 1) && frac <= 10) {
      float v = static_cast<float>(m);
      if (frac > 0) v /= kPow10[frac];
      out = neg ? -v : v;
      return FloatStatus::Ok;
    }
  }
  if (b < e && *b == '+') {
    ++b;
    if (b < e && (*b == '-' || *b == '+')) return FloatStatus::NotANumber;
  }
  if (b == e) return FloatStatus::NotANumber;
  auto r = std::from_chars(b, e, out);
  if (r.ec == std::errc() && r.ptr == e) return FloatStatus::Ok;
  if (r.ec == std::errc::result_out_of_range && r.ptr == e) {
    double d = 0.0;
    auto rd = std::from_chars(b, e, d);
    if (rd.ptr != e) return FloatStatus::NotANumber;
    if (rd.ec == std::errc() && std::fabs(d) < 1.0) {  // underflow: flush to zero
      out = static_cast<float>(d);
      return FloatStatus::Ok;
    }
    if (rd.ec == std::errc::result_out_of_range && std::fabs(d) < 1.0) {  // double underflow too
      out = std::signbit(d) ? -0.0f : 0.0f;
      return FloatStatus::Ok;
    }
    return FloatStatus::OutOfRange;
  }
  return FloatStatus::NotANumber;
}

class SvmlightBuilder {
 public:
  SvmlightBuilder(std::string source, const ReadOptions& options) : source_(std::move(source)), opt_(options) {
    offsets_.push_back(0);
  }

  // Sizes the intermediate arrays from a sample of the text (the first
  // chunk) and the total byte count, so they are not regrown (and copied)
  // while a large file is read. Capped: a wrong guess only costs regrowth.
  void reserve_for(uint64_t sample_bytes, uint64_t total_bytes) {
    if (sample_bytes == 0 || num_docs_ == 0) return;
    double scale = static_cast<double>(total_bytes) / static_cast<double>(sample_bytes) * 1.05;
    auto guess = [&](size_t have) { return static_cast<size_t>(std::min(static_cast<double>(have) * scale, 4e9)); };
    cols_.reserve(guess(cols_.size()));
    vals_.reserve(guess(vals_.size()));
    labels_.reserve(guess(labels_.size()));
    row_end_.reserve(guess(row_end_.size()));
    if (any_doc_id_) {
      doc_id_offsets_.reserve(guess(doc_id_offsets_.size()));
      doc_id_bytes_.reserve(guess(doc_id_bytes_.size()));
    }
  }

  void add_line(const char* line, size_t len, uint64_t line_no) {
    const char* b = line;
    const char* e = line + len;
    if (e > b && e[-1] == '\r') --e;
    const char* hash = static_cast<const char*>(std::memchr(b, '#', static_cast<size_t>(e - b)));
    const char* data_end = hash ? hash : e;
    const char* p = b;
    while (p < data_end && is_blank(*p)) ++p;
    if (p == data_end) return;  // blank or comment-only line: not a row
    line_no_ = line_no;
    line_begin_ = b;

    if (num_docs_ >= std::numeric_limits<uint32_t>::max() - 1) {
      fail(p, "more than 4,294,967,294 rows: ordo's query offsets are 32-bit");
    }

    // Label.
    const char* t = token_end(p, data_end);
    float label = 0.0f;
    FloatStatus st = parse_float(p, t, label);
    if (st != FloatStatus::Ok) fail(p, "expected a numeric relevance label, found " + quote_token(p, t));
    if (!std::isfinite(label)) fail(p, "the relevance label must be finite, found " + quote_token(p, t));
    if (label < 0.0f) fail(p, "the relevance label must be >= 0, found " + quote_token(p, t));
    p = skip_blanks(t, data_end);

    // qid.
    bool has_qid = data_end - p >= 4 && std::memcmp(p, "qid:", 4) == 0;
    if (qid_mode_ < 0) {
      qid_mode_ = has_qid ? 1 : 0;
    } else if (has_qid != (qid_mode_ == 1)) {
      if (has_qid) fail(p, "this row has a qid: field but the rows before it (from line " + std::to_string(first_row_line_) + ") have none");
      fail(p, "qid: missing: expected 'qid:<id>' after the label, as on the rows before (from line " + std::to_string(first_row_line_) + ")");
    }
    if (num_docs_ == 0) first_row_line_ = line_no;
    if (has_qid) {
      const char* q = p + 4;
      t = token_end(q, data_end);
      if (q == t) fail(p, "empty qid: expected 'qid:<id>'");
      on_qid(q, t);
      p = skip_blanks(t, data_end);
    }

    // Features.
    uint32_t prev = 0;
    while (p < data_end) {
      const char* q = p;
      uint64_t idx = 0;
      while (q < data_end && *q >= '0' && *q <= '9') {
        idx = idx * 10 + static_cast<uint64_t>(*q - '0');
        if (idx > opt_.max_feature_index) {
          fail(p, "feature index " + quote_token(p, token_end(p, data_end)) + " is above the limit of " +
                      std::to_string(opt_.max_feature_index) + " features");
        }
        ++q;
      }
      t = token_end(p, data_end);
      if (q == p) {
        if (t - p >= 4 && std::memcmp(p, "qid:", 4) == 0) fail(p, "qid: must come right after the label");
        fail(p, "expected a feature 'index:value', found " + quote_token(p, t));
      }
      if (q >= t || *q != ':') fail(q, "expected ':' after the feature index in " + quote_token(p, t));
      if (idx == 0) fail(p, "feature index 0: indices are 1-based and must be >= 1");
      if (opt_.num_features != 0 && idx > opt_.num_features) {
        fail(p, "feature index " + std::to_string(idx) + " exceeds numFeatures = " + std::to_string(opt_.num_features));
      }
      if (idx == prev) fail(p, "feature index " + std::to_string(idx) + " is repeated on this row");
      if (idx < prev) {
        fail(p, "feature index " + std::to_string(idx) + " after " + std::to_string(prev) + ": indices must increase along a row");
      }
      const char* v = q + 1;
      float value = 0.0f;
      st = parse_float(v, t, value);
      if (st == FloatStatus::NotANumber) fail(v, "expected a number after '" + std::to_string(idx) + ":', found " + quote_token(v, t));
      if (st == FloatStatus::OutOfRange) fail(v, "value " + quote_token(v, t) + " is out of float32 range");
      if (!std::isfinite(value) && !opt_.allow_non_finite) {
        fail(v, "non-finite feature value " + quote_token(v, t) + " (NaN/Inf are rejected unless allowNonFinite is set)");
      }
      prev = static_cast<uint32_t>(idx);
      cols_.push_back(prev - 1);
      vals_.push_back(value);
      p = skip_blanks(t, data_end);
    }
    if (prev > max_index_) max_index_ = prev;

    labels_.push_back(label);
    row_end_.push_back(cols_.size());
    if (!opt_.query_file.empty()) row_lines_.push_back(line_no);
    on_doc_id(hash, e);
    ++num_docs_;
  }

  Dataset finish() {
    Dataset ds;
    if (num_docs_ == 0) throw ParseError(source_, 1, 1, "no data rows (the file is empty or holds only comments)");
    ds.num_docs = num_docs_;
    ds.qid_in_rows = qid_mode_ == 1;

    if (!opt_.query_file.empty()) {
      build_groups_from_query_file(ds);
    } else if (qid_mode_ == 1) {
      offsets_.push_back(static_cast<uint32_t>(num_docs_));
      ds.query_offsets = std::move(offsets_);
      ds.query_ids = std::move(qids_);
    } else {
      throw ParseError(source_, first_row_line_, 1,
                       "rows carry no qid: field and no query group file was given: add qid:<id> to the rows, or pass the "
                       "LightGBM group file (queryFile; CLI --query, or FILE.query next to the data)");
    }

    uint32_t nf = opt_.num_features != 0 ? opt_.num_features : max_index_;
    ds.num_features = nf;
    if (static_cast<double>(num_docs_) * nf > static_cast<double>(opt_.max_dense_elements)) {
      throw ParseError(source_, 1, 1,
                       std::to_string(num_docs_) + " rows x " + std::to_string(nf) + " features exceed the dense-matrix limit of " +
                           std::to_string(opt_.max_dense_elements) + " elements");
    }
    ds.features.assign(static_cast<size_t>(num_docs_) * nf, 0.0f);
    uint64_t k = 0;
    for (uint64_t r = 0; r < num_docs_; ++r) {
      float* row = ds.features.data() + r * nf;
      for (; k < row_end_[r]; ++k) row[cols_[k]] = vals_[k];
    }
    ds.labels = std::move(labels_);
    if (any_doc_id_) {
      ds.doc_id_bytes = std::move(doc_id_bytes_);
      ds.doc_id_offsets = std::move(doc_id_offsets_);
    }
    return ds;
  }

 private:
  [[noreturn]] void fail(const char* at, const std::string& why) const {
    throw ParseError(source_, line_no_, static_cast<uint64_t>(at - line_begin_) + 1, why);
  }

  static const char* token_end(const char* p, const char* e) {
    while (p < e && !is_blank(*p)) ++p;
    return p;
  }
  static const char* skip_blanks(const char* p, const char* e) {
    while (p < e && is_blank(*p)) ++p;
    return p;
  }

  void on_qid(const char* b, const char* e) {
    std::string_view qid(b, static_cast<size_t>(e - b));
    if (!qids_.empty() && qid == qids_.back()) return;  // same query continues
    std::string key(qid);
    auto it = first_line_of_qid_.find(key);
    if (it != first_line_of_qid_.end()) {
      fail(b - 4, "query qid:" + key + " is not contiguous: its rows began at line " + std::to_string(it->second) +
                      ", then other queries came between (a query's rows must be consecutive)");
    }
    first_line_of_qid_.emplace(key, line_no_);
    if (!qids_.empty()) offsets_.push_back(static_cast<uint32_t>(num_docs_));
    qids_.push_back(std::move(key));
  }

  // The token after "docid =" in the comment, or empty.
  static std::string_view find_doc_id(const char* hash, const char* e) {
    if (!hash) return {};
    std::string_view comment(hash + 1, static_cast<size_t>(e - hash - 1));
    size_t pos = comment.find("docid");
    if (pos == std::string_view::npos) return {};
    size_t i = pos + 5;
    while (i < comment.size() && is_blank(comment[i])) ++i;
    if (i >= comment.size() || comment[i] != '=') return {};
    ++i;
    while (i < comment.size() && is_blank(comment[i])) ++i;
    size_t j = i;
    while (j < comment.size() && !is_blank(comment[j])) ++j;
    return comment.substr(i, j - i);
  }

  void on_doc_id(const char* hash, const char* e) {
    std::string_view id = find_doc_id(hash, e);
    if (!any_doc_id_) {
      if (id.empty()) return;
      any_doc_id_ = true;
      doc_id_offsets_.assign(num_docs_ + 1, 0);  // the rows before had none
    }
    doc_id_bytes_.append(id);
    if (doc_id_bytes_.size() > std::numeric_limits<uint32_t>::max()) fail(hash, "doc ids exceed 4 GiB in total");
    doc_id_offsets_.push_back(static_cast<uint32_t>(doc_id_bytes_.size()));
  }

  void build_groups_from_query_file(Dataset& ds) {
    std::string text = read_whole_file(opt_.query_file);
    std::vector<uint64_t> sizes = parse_group_sizes_text(text, opt_.query_file);
    uint64_t total = 0;
    for (uint64_t s : sizes) total += s;
    if (total != num_docs_) {
      throw ParseError(opt_.query_file, 1, 1,
                       "group sizes add up to " + std::to_string(total) + " rows, but " + source_ + " has " +
                           std::to_string(num_docs_) + " data rows");
    }
    std::vector<uint32_t> offsets;
    offsets.reserve(sizes.size() + 1);
    offsets.push_back(0);
    for (uint64_t s : sizes) offsets.push_back(offsets.back() + static_cast<uint32_t>(s));
    std::vector<std::string> ids;
    ids.reserve(sizes.size());
    if (qid_mode_ == 1) {
      // Rows carry qids too: every group must hold exactly one qid block.
      std::vector<uint32_t> qid_starts(offsets_.begin(), offsets_.end());  // block starts
      size_t block = 0;
      for (size_t g = 0; g < sizes.size(); ++g) {
        uint32_t a = offsets[g], b = offsets[g + 1];
        while (block + 1 < qid_starts.size() && qid_starts[block + 1] <= a) ++block;
        bool starts_block = qid_starts[block] == a;
        bool one_block = block + 1 >= qid_starts.size() || qid_starts[block + 1] >= b;
        bool ends_block = block + 1 >= qid_starts.size() || qid_starts[block + 1] == b;
        if (!starts_block || !one_block || !ends_block) {
          throw ParseError(source_, row_lines_[a], 1,
                           "group " + std::to_string(g + 1) + " of " + opt_.query_file + " (rows " + std::to_string(a + 1) + "-" +
                               std::to_string(b) + ") does not match the qid blocks of the rows");
        }
        ids.push_back(qids_[block]);
      }
    } else {
      for (size_t g = 0; g < sizes.size(); ++g) ids.push_back(std::to_string(g));
    }
    ds.query_offsets = std::move(offsets);
    ds.query_ids = std::move(ids);
  }

  std::string source_;
  const ReadOptions& opt_;
  uint64_t line_no_ = 0;
  const char* line_begin_ = nullptr;
  uint64_t num_docs_ = 0;
  uint64_t first_row_line_ = 0;
  int qid_mode_ = -1;  // -1: no row yet; 0: rows have no qid; 1: rows have qid
  uint32_t max_index_ = 0;
  std::vector<float> labels_;
  std::vector<uint32_t> cols_;
  std::vector<float> vals_;
  std::vector<uint64_t> row_end_;
  std::vector<uint64_t> row_lines_;
  std::vector<uint32_t> offsets_;  // starts of qid blocks (row indices)
  std::vector<std::string> qids_;
  std::unordered_map<std::string, uint64_t> first_line_of_qid_;
  bool any_doc_id_ = false;
  std::string doc_id_bytes_;
  std::vector<uint32_t> doc_id_offsets_;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_reading(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError(path + ": cannot open: " + std::strerror(errno));
  return FilePtr(f);
}

// Calls on_line(begin, length, line_no) for each line of a text in memory.
template <typename F>
void for_each_line(std::string_view text, F&& on_line) {
  uint64_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    const void* nl = std::memchr(text.data() + start, '\n', text.size() - start);
    size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
    on_line(text.data() + start, end - start, ++line_no);
    start = end + 1;
  }
}

}  // namespace

std::string read_whole_file(const std::string& path) {
  FilePtr f = open_for_reading(path);
  std::string out;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) out.append(buf, n);
  if (std::ferror(f.get())) throw IoError(path + ": read error: " + std::strerror(errno));
  return out;
}

Dataset read_svmlight_file(const std::string& path, const ReadOptions& options) {
  FilePtr f = open_for_reading(path);
  uint64_t total_bytes = 0;
  if (std::fseek(f.get(), 0, SEEK_END) == 0) {
    long end = std::ftell(f.get());
    total_bytes = end > 0 ? static_cast<uint64_t>(end) : 0;
    std::fseek(f.get(), 0, SEEK_SET);
  }
  uint64_t consumed = 0;
  bool reserved = false;
  SvmlightBuilder builder(path, options);
  constexpr size_t kChunk = size_t(1) << 22;      // 4 MiB
  constexpr size_t kMaxLine = size_t(1) << 30;    // 1 GiB: a longer line is not a data row
  // A small file gets a buffer of its size (+1 so that the end-of-file read
  // happens without a regrow), not a whole chunk.
  std::vector<char> buf(total_bytes > 0 && total_bytes < kChunk ? static_cast<size_t>(total_bytes) + 1 : kChunk);
  size_t have = 0;
  uint64_t line_no = 0;
  for (;;) {
    size_t n = std::fread(buf.data() + have, 1, buf.size() - have, f.get());
    if (n == 0 && std::ferror(f.get())) throw IoError(path + ": read error: " + std::strerror(errno));
    have += n;
    size_t start = 0;
    for (;;) {
      const void* nl = std::memchr(buf.data() + start, '\n', have - start);
      if (!nl) break;
      size_t end = static_cast<size_t>(static_cast<const char*>(nl) - buf.data());
      builder.add_line(buf.data() + start, end - start, ++line_no);
      start = end + 1;
    }
    if (n == 0) {  // end of file: the last line may lack its '\n'
      if (start < have) builder.add_line(buf.data() + start, have - start, ++line_no);
      break;
    }
    consumed += start;
    if (!reserved && total_bytes > 2 * consumed) {
      builder.reserve_for(consumed, total_bytes);
      reserved = true;
    }
    std::memmove(buf.data(), buf.data() + start, have - start);
    have -= start;
    if (have == buf.size()) {
      if (buf.size() >= kMaxLine) {
        throw ParseError(path, line_no + 1, 1, "line longer than 1 GiB: this is not an SVMlight text file");
      }
      buf.resize(buf.size() * 2);
    }
  }
  return builder.finish();
}

Dataset parse_svmlight_text(std::string_view text, const std::string& source_name, const ReadOptions& options) {
  SvmlightBuilder builder(source_name, options);
  for_each_line(text, [&](const char* b, size_t n, uint64_t line_no) { builder.add_line(b, n, line_no); });
  return builder.finish();
}

std::vector<uint64_t> parse_group_sizes_text(std::string_view text, const std::string& source_name) {
  std::vector<uint64_t> sizes;
  for_each_line(text, [&](const char* b, size_t n, uint64_t line_no) {
    const char* e = b + n;
    const char* p = b;
    while (p < e && (is_blank(*p) || *p == '\r')) ++p;
    while (e > p && (is_blank(e[-1]) || e[-1] == '\r')) --e;
    if (p == e) return;  // blank line
    uint64_t v = 0;
    auto r = std::from_chars(p, e, v);
    if (r.ec != std::errc() || r.ptr != e) {
      throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1,
                       "expected a group size (a positive integer), found " + quote_token(p, e));
    }
    if (v == 0) throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1, "group size 0: a query group needs at least one row");
    if (v >= std::numeric_limits<uint32_t>::max()) {
      throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1, "group size " + std::to_string(v) + " is too large");
    }
    sizes.push_back(v);
  });
  if (sizes.empty()) throw ParseError(source_name, 1, 1, "no group sizes (the query file is empty)");
  return sizes;
}

std::vector<double> parse_scores_text(std::string_view text, const std::string& source_name) {
  std::vector<double> scores;
  bool pending_blank = false;
  uint64_t blank_line = 0;
  for_each_line(text, [&](const char* b, size_t n, uint64_t line_no) {
    const char* e = b + n;
    const char* p = b;
    while (p < e && (is_blank(*p) || *p == '\r')) ++p;
    while (e > p && (is_blank(e[-1]) || e[-1] == '\r')) --e;
    if (p == e) {
      if (!pending_blank) blank_line = line_no;
      pending_blank = true;
      return;
    }
    if (pending_blank) {
      throw ParseError(source_name, blank_line, 1, "blank line: expected one score per line, in the data file's row order");
    }
    if (*p == '+') ++p;
    double v = 0.0;
    auto r = std::from_chars(p, e, v);
    if (r.ptr != e || p == e || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) {
      throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1, "expected a score (a number), found " + quote_token(p, e));
    }
    if (r.ec == std::errc::result_out_of_range) {
      throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1, "score " + quote_token(p, e) + " is out of range for a double");
    }
    if (!std::isfinite(v)) {
      throw ParseError(source_name, line_no, static_cast<uint64_t>(p - b) + 1, "score " + quote_token(p, e) + " is not finite");
    }
    scores.push_back(v);
  });
  return scores;
}

std::vector<double> read_scores_file(const std::string& path) { return parse_scores_text(read_whole_file(path), path); }

}  // namespace ordo
