// C++ tests of the SVMlight/LETOR/LightGBM reader.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/dataset.h"
#include "core/error.h"
#include "tests/check.h"

using namespace ordo;

static Dataset parse(const std::string& text, ReadOptions opt = {}) { return parse_svmlight_text(text, "t.txt", opt); }

TEST_CASE("dense LETOR rows with CRLF and docid comments") {
  Dataset d = parse("2 qid:10 1:0.5 2:-1.5 3:6.5e-08 #docid = GX-1 inc = 1\r\n0 qid:10 1:1 2:2 3:3 #docid = GX-2\r\n1 qid:11 1:0 2:0 3:1\r\n");
  CHECK(d.num_docs == 3);
  CHECK(d.num_features == 3);
  CHECK(d.query_offsets.size() == 3 && d.query_offsets[1] == 2 && d.query_offsets[2] == 3);
  CHECK(d.query_ids[0] == "10" && d.query_ids[1] == "11");
  CHECK(d.labels[0] == 2.0f && d.labels[2] == 1.0f);
  CHECK(d.features[1] == -1.5f);
  CHECK(d.features[2] == 6.5e-08f);
  CHECK(d.doc_id_offsets.size() == 4 && d.doc_id(0) == "GX-1" && d.doc_id(1) == "GX-2" && d.doc_id(2).empty());
}

TEST_CASE("sparse rows: missing features are zero, width is the max index") {
  Dataset d = parse("1 qid:a 2:5 7:1\n0 qid:a 1:3\n");
  CHECK(d.num_features == 7);
  CHECK(d.features[0] == 0.0f && d.features[1] == 5.0f && d.features[6] == 1.0f);
  CHECK(d.features[7] == 3.0f && d.features[8] == 0.0f);
}

TEST_CASE("no trailing newline, blank and comment-only lines are not rows") {
  Dataset d = parse("# header\n\n1 qid:1 1:1\n   \n0 qid:1 1:2");
  CHECK(d.num_docs == 2);
  CHECK(d.features[1] == 2.0f);
}

TEST_CASE("errors name line, column and reason") {
  CHECK_THROWS(ParseError, parse("1 qid:1 1:1\nx qid:1 1:1\n"), "t.txt:2:1: expected a numeric relevance label");
  CHECK_THROWS(ParseError, parse("1 qid:1 1:1\n1 1:1\n"), "t.txt:2:3: qid: missing");
  CHECK_THROWS(ParseError, parse("1 qid:1 0:1\n"), "t.txt:1:9: feature index 0");
  CHECK_THROWS(ParseError, parse("1 qid:1 2:1 2:3\n"), "t.txt:1:13: feature index 2 is repeated");
  CHECK_THROWS(ParseError, parse("1 qid:1 3:1 2:3\n"), "indices must increase");
  CHECK_THROWS(ParseError, parse("1 qid:1 1:abc\n"), "t.txt:1:11: expected a number after '1:'");
  CHECK_THROWS(ParseError, parse("1 qid:1 1:nan\n"), "non-finite feature value");
  CHECK_THROWS(ParseError, parse("1 qid:1 1:1e40\n"), "out of float32 range");
  CHECK_THROWS(ParseError, parse("1 qid:1 1:1\n1 qid:2 1:1\n1 qid:1 1:1\n"), "t.txt:3:3: query qid:1 is not contiguous");
  CHECK_THROWS(ParseError, parse("1 qid:1 1 \n"), "expected ':'");
  CHECK_THROWS(ParseError, parse("-1 qid:1 1:1\n"), "must be >= 0");
  CHECK_THROWS(ParseError, parse("1 1:1\n"), "no query group file");
  CHECK_THROWS(ParseError, parse(""), "no data rows");
  CHECK_THROWS(ParseError, parse("1 qid:1 99999999999:1\n"), "above the limit");
  CHECK_THROWS(ParseError, parse("1 1:1 qid:3\n1 1:1\n"), "qid: must come right after the label");
}

TEST_CASE("allowNonFinite accepts NaN and Inf; tiny values flush to zero") {
  ReadOptions opt;
  opt.allow_non_finite = true;
  Dataset d = parse("1 qid:1 1:nan 2:inf 3:1e-50\n", opt);
  CHECK(std::isnan(d.features[0]) && std::isinf(d.features[1]) && d.features[2] == 0.0f);
}

TEST_CASE("group sizes: parse and reject") {
  auto s = parse_group_sizes_text("3\r\n2\n\n", "g.query");
  CHECK(s.size() == 2 && s[0] == 3 && s[1] == 2);
  CHECK_THROWS(ParseError, parse_group_sizes_text("3\n0\n", "g.query"), "g.query:2:1: group size 0");
  CHECK_THROWS(ParseError, parse_group_sizes_text("3\nx\n", "g.query"), "g.query:2:1: expected a group size");
  CHECK_THROWS(ParseError, parse_group_sizes_text("", "g.query"), "empty");
}

TEST_CASE("scores text") {
  auto s = parse_scores_text("1.5\r\n-2\n3e2\n", "s.txt");
  CHECK(s.size() == 3 && s[2] == 300.0);
  CHECK_THROWS(ParseError, parse_scores_text("1\n\n2\n", "s.txt"), "s.txt:2:1: blank line");
  CHECK_THROWS(ParseError, parse_scores_text("1\nfoo\n", "s.txt"), "s.txt:2:1: expected a score");
  CHECK_THROWS(ParseError, parse_scores_text("1\nnan\n", "s.txt"), "not finite");
}

TEST_CASE("float parsing is correctly rounded: fast path and fallback agree with strtof") {
  // Random decimals of 1-12 digits, with and without exponents and signs.
  uint64_t state = 88172645463325252ull;
  auto next = [&]() { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state; };
  std::string text;
  std::vector<std::string> values;
  for (int i = 0; i < 20000; ++i) {
    std::string v;
    if (next() % 4 == 0) v += '-';
    int int_digits = static_cast<int>(next() % 4), frac_digits = static_cast<int>(next() % 11);
    for (int d = 0; d < int_digits; ++d) v += static_cast<char>('0' + next() % 10);
    if (int_digits == 0 || frac_digits > 0) {
      if (int_digits == 0) v += '0';
      v += '.';
      for (int d = 0; d < frac_digits; ++d) v += static_cast<char>('0' + next() % 10);
      if (frac_digits == 0) v += '0';
    }
    if (next() % 8 == 0) v += "e" + std::to_string(static_cast<int>(next() % 20) - 10);
    values.push_back(v);
    text += "1 qid:1 1:" + v + "\n";
  }
  Dataset d = parse(text);
  for (size_t i = 0; i < values.size(); ++i) {
    float want = std::strtof(values[i].c_str(), nullptr);
    if (!(d.features[i] == want && std::signbit(d.features[i]) == std::signbit(want))) {
      throw ordo_test::Failure{"value '" + values[i] + "' parsed as " + std::to_string(d.features[i]) + ", strtof gives " + std::to_string(want)};
    }
  }
}

static std::string shared_dir() {
  const char* d = std::getenv("ORDO_SHARED_DIR");
  return d ? d : "../shared";
}

TEST_CASE("shared data: MQ2008 Fold1 train counts (skipped without ../shared)") {
  std::string path = shared_dir() + "/data/MQ2008/Fold1/train.txt";
  if (!std::ifstream(path)) SKIP("no " + path);
  Dataset d = read_svmlight_file(path, {});
  CHECK(d.num_docs == 9630);
  CHECK(d.query_offsets.size() - 1 == 471);
  CHECK(d.num_features == 46);
  CHECK(d.doc_id_offsets.size() == 9631 && d.doc_id(0).substr(0, 2) == "GX");
}

TEST_CASE("shared data: LightGBM rank.train with .query") {
  std::string path = shared_dir() + "/data/lightgbm-lambdarank/examples/lambdarank/rank.train";
  if (!std::ifstream(path)) SKIP("no " + path);
  ReadOptions opt;
  opt.query_file = path + ".query";
  Dataset d = read_svmlight_file(path, opt);
  CHECK(d.num_docs == 3005);
  CHECK(d.query_offsets.size() - 1 == 201);
  CHECK(d.num_features == 300);
  ReadOptions bad;
  bad.query_file = shared_dir() + "/data/lightgbm-lambdarank/examples/lambdarank/rank.test.query";
  CHECK_THROWS(ParseError, read_svmlight_file(path, bad), "add up to");
}

TEST_CASE("a missing file is an IoError naming the path") {
  CHECK_THROWS(IoError, read_svmlight_file("/nonexistent/x.txt", {}), "/nonexistent/x.txt: cannot open");
}

TEST_MAIN("native parse")
