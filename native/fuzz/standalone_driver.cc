// A stand-in for libFuzzer's main() so the harnesses also build with g++
// (e.g. -fsanitize=address,undefined) where clang is missing: replays every
// corpus file given (files or directories), then runs simple random mutations
// of them (bit flips, byte edits, inserted tokens, splices, truncation) for
// -runs=N inputs or -max_total_time=S seconds. Deterministic for a -seed.
// Flags it does not know (libFuzzer's) are ignored, so scripts/fuzz.sh can
// pass the same command line to both.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::vector<std::string> g_inputs;

void collect(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path.c_str());
    if (!d) return;
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] != '.') names.push_back(path + "/" + e->d_name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) collect(n);
    return;
  }
  std::ifstream f(path, std::ios::binary);
  g_inputs.emplace_back(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

// Tokens that matter to the readers: separators, numbers at the edges of float
// and integer ranges, and the format's keywords.
const char* const kTokens[] = {" ", "\t", "\n", "\r\n", ":", "#", "qid:", "docid = ", "1:", "0", "-0", "1e38", "3.5e38",
                               "1e-46", "nan", "inf", "-inf", "+", "-", ".", "4294967295", "18446744073709551616",
                               "4096:", "0x1p3", "\x00", "\xff", "1.000000", "0.5"};

std::string mutate(std::string s, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n ? static_cast<size_t>(rng() % n) : 0; };
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    switch (rng() % 7) {
      case 0:
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:
        if (!s.empty()) s[pick(s.size())] = static_cast<char>(rng());
        break;
      case 2:
        s.insert(pick(s.size() + 1), 1, static_cast<char>(rng()));
        break;
      case 3:
        if (!s.empty()) s.erase(pick(s.size()), 1 + pick(8));
        break;
      case 4: {
        const char* t = kTokens[pick(sizeof kTokens / sizeof kTokens[0])];
        s.insert(pick(s.size() + 1), t, std::max<size_t>(1, std::strlen(t)));
        break;
      }
      case 5: {  // splice a piece of another input
        const std::string& o = g_inputs[pick(g_inputs.size())];
        if (!o.empty()) {
          size_t a = pick(o.size()), n = 1 + pick(o.size() - a);
          s.insert(pick(s.size() + 1), o, a, n);
        }
        break;
      }
      default:
        if (!s.empty()) s.resize(pick(s.size() + 1));
        break;
    }
  }
  if (s.size() > 4096) s.resize(4096);
  return s;
}

long flag_value(const char* arg, const char* name, long fallback) {
  size_t n = std::strlen(name);
  return std::strncmp(arg, name, n) == 0 ? std::atol(arg + n) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = -1, max_time = 0, seed = 1;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (a[0] == '-') {
      runs = flag_value(a, "-runs=", runs);
      max_time = flag_value(a, "-max_total_time=", max_time);
      seed = flag_value(a, "-seed=", seed);
      continue;
    }
    collect(a);
  }
  if (g_inputs.empty()) g_inputs.emplace_back();
  for (const std::string& in : g_inputs) LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  std::printf("standalone driver: replayed %zu corpus inputs\n", g_inputs.size());
  if (runs < 0 && max_time == 0) return 0;
  std::mt19937_64 rng(static_cast<uint64_t>(seed));
  auto start = std::chrono::steady_clock::now();
  long done = 0;
  std::vector<std::string> pool = g_inputs;
  for (; runs < 0 || done < runs; ++done) {
    if (max_time > 0 && (done & 255) == 0 &&
        std::chrono::steady_clock::now() - start > std::chrono::seconds(max_time)) {
      break;
    }
    std::string in = mutate(pool[static_cast<size_t>(rng() % pool.size())], rng);
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(in.data()), in.size());
    if (pool.size() < 4096 && rng() % 64 == 0) pool.push_back(std::move(in));  // keep some mutants as new seeds
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("standalone driver: %ld mutated inputs in %.1f s (%.0f exec/s), no failure\n", done, secs,
              secs > 0 ? static_cast<double>(done) / secs : 0.0);
  return 0;
}
