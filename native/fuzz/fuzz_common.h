// Shared helpers of ordo's fuzz harnesses (libFuzzer entry points, also built
// with g++ through standalone_driver.cc when clang is missing).
//
// A harness may only see clean ordo errors (ParseError / IoError /
// ArgumentError); anything else escaping, a crash, a hang or a sanitizer
// report is a finding. ORDO_FUZZ_CHECK aborts (libFuzzer saves the input).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#define ORDO_FUZZ_CHECK(cond)                                                            \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace ordo_fuzz {

// A per-process scratch file (tmpfs when available), rewritten for each input:
// the readers' file paths (chunked reader, .query file) need real files.
inline std::string scratch_path(const char* tag) {
  const char* dir = std::getenv("ORDO_FUZZ_TMP");
  std::string base = dir ? dir : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  return base + "/ordo-fuzz-" + std::to_string(static_cast<long>(getpid())) + "-" + tag;
}

inline void write_file(const std::string& path, const char* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ORDO_FUZZ_CHECK(f != nullptr);
  if (size) ORDO_FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
  ORDO_FUZZ_CHECK(std::fclose(f) == 0);
}

}  // namespace ordo_fuzz
