// libFuzzer harness: the scores reader (one number per line), in memory and
// from a file. Accepted scores are finite; both paths agree exactly.
#include <cstring>
#include <string>
#include <string_view>
#include <cmath>

#include "core/dataset.h"
#include "core/error.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  bool ok = false;
  std::vector<double> mem;
  std::string mem_error;
  try {
    mem = ordo::parse_scores_text(text, "scores");  // errors: compared by reason, not by file name
    ok = true;
    for (double v : mem) ORDO_FUZZ_CHECK(std::isfinite(v));
    size_t lines = 0;
    for (char c : text) lines += c == '\n';
    ORDO_FUZZ_CHECK(mem.size() <= lines + 1);
  } catch (const ordo::ParseError& e) {
    mem_error = e.reason();
  }
  if (size > 0 && (data[0] & 1)) {
    static const std::string path = ordo_fuzz::scratch_path("scores");
    ordo_fuzz::write_file(path, text.data(), text.size());
    try {
      std::vector<double> file = ordo::read_scores_file(path);
      ORDO_FUZZ_CHECK(ok && file.size() == mem.size());
      ORDO_FUZZ_CHECK(file.empty() || std::memcmp(file.data(), mem.data(), file.size() * sizeof(double)) == 0);
    } catch (const ordo::ParseError& e) {
      ORDO_FUZZ_CHECK(!ok && e.reason() == mem_error);
    }
  }
  return 0;
}
