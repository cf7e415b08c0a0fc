// Parse throughput of the SVMlight reader, without Node.
// usage: bench_parse FILE [--query Q] [--repeat N]   -> one JSON line
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "core/dataset.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_parse FILE [--query Q] [--repeat N]\n");
    return 2;
  }
  std::string path = argv[1];
  ordo::ReadOptions opt;
  int repeat = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--query")) opt.query_file = argv[i + 1];
    if (!std::strcmp(argv[i], "--repeat")) repeat = std::max(1, std::atoi(argv[i + 1]));
  }
  struct stat st{};
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "cannot stat %s\n", path.c_str());
    return 1;
  }
  std::vector<double> secs;
  uint64_t docs = 0;
  for (int r = 0; r < repeat; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    ordo::Dataset d = ordo::read_svmlight_file(path, opt);
    auto t1 = std::chrono::steady_clock::now();
    docs = d.num_docs;
    secs.push_back(std::chrono::duration<double>(t1 - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  double mb = st.st_size / 1e6;
  std::printf("{\"case\":\"parse\",\"file\":\"%s\",\"bytes\":%lld,\"docs\":%llu,\"repeat\":%d,\"median_s\":%.6f,\"min_s\":%.6f,"
              "\"max_s\":%.6f,\"median_MBps\":%.1f,\"best_MBps\":%.1f}\n",
              path.c_str(), static_cast<long long>(st.st_size), static_cast<unsigned long long>(docs), repeat, secs[secs.size() / 2],
              secs.front(), secs.back(), mb / secs[secs.size() / 2], mb / secs.front());
  return 0;
}
