// bench_peak: the machine's own CPU references for the regression suite
// (bench/suite.mjs), one JSON object per line on stdout:
//   {"case":"fma_peak","backend":"cpu","threads","isa","median_ms","min_ms","max_ms","gflops"}
//   {"case":"mem_copy"|"mem_triad","backend":"cpu","threads","bytes","median_ms","min_ms","max_ms","gbps"}
// gflops / gbps come from the best run (the peak the machine can reach now);
// the suite divides each kernel's achieved rate by them, so its ratios do not
// depend on how fast (or how loaded) the machine is.
// Threads: 1 and ordo::num_threads() (ORDO_THREADS). --quick: shorter loops (CI smoke).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "bench/bench_timing.h"
#include "core/parallel.h"
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ORDO_PEAK_X86 1
#endif

using namespace ordo;

namespace {

using ordo_bench::Stats;
using ordo_bench::time_it;

#ifdef ORDO_PEAK_X86
// 12 independent chains of 8-wide FMAs: covers 2 FMA pipes x 4-cycle latency,
// so the loop runs at the FMA throughput bound (16 flops per instruction).
__attribute__((target("avx2,fma"))) float fma_chains(int64_t iters, float seed) {
  __m256 acc[12];
  for (auto& a : acc) a = _mm256_set1_ps(seed);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm256_fmadd_ps(a, m, c);
  __m256 s = acc[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, acc[j]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}
bool have_avx2_fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif

// Portable fallback: 8 chains of scalar multiply-add (2 flops each).
float scalar_chains(int64_t iters, float seed) {
  float acc[8];
  for (auto& a : acc) a = seed;
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = a * 0.999999f + 1e-7f;
  float s = 0;
  for (float a : acc) s += a;
  return s;
}

void fma_peak(int threads, bool quick) {
  const int64_t iters = quick ? 2500000 : 20000000;
  bool wide = false;
#ifdef ORDO_PEAK_X86
  wide = have_avx2_fma();
#endif
  const double flops_per_iter = wide ? 12.0 * 16.0 : 8.0 * 2.0;
  const int64_t n = wide ? iters : iters * 4;
  set_num_threads(threads);
  std::vector<float> sink(threads);
  Stats s = time_it(quick ? 9 : 7, [&] {
    parallel_for(threads, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t t = b; t < e; ++t) {
#ifdef ORDO_PEAK_X86
        if (wide) {
          sink[t] += fma_chains(n, 1.0f + t);
          continue;
        }
#endif
        sink[t] += scalar_chains(n, 1.0f + t);
      }
    });
  });
  const double gf = threads * n * flops_per_iter / (s.min * 1e6);
  std::printf(
      "{\"case\":\"fma_peak\",\"backend\":\"cpu\",\"threads\":%d,\"isa\":\"%s\",\"median_ms\":%.4g,\"min_ms\":%.4g,"
      "\"max_ms\":%.4g,\"gflops\":%.4g,\"sink\":%.3g}\n",
      threads, wide ? "avx2-fma" : "scalar", s.median, s.min, s.max, gf, static_cast<double>(sink[0]));
  std::fflush(stdout);
}

// Streaming bandwidth over buffers much larger than the last-level cache,
// split in contiguous chunks over the threads. Bytes counted: reads + writes.
void bandwidth(int threads, bool quick) {
  const int64_t n = (quick ? 8 : 32) * (int64_t{1} << 20);  // floats per array (32 or 128 MiB)
  std::vector<float> a(n, 1.0f), b(n, 2.0f), c(n, 0.0f);
  set_num_threads(threads);
  const int reps = quick ? 3 : 7;
  auto report = [&](const char* name, double bytes, const Stats& s) {
    std::printf(
        "{\"case\":\"%s\",\"backend\":\"cpu\",\"threads\":%d,\"bytes\":%.0f,\"median_ms\":%.4g,\"min_ms\":%.4g,"
        "\"max_ms\":%.4g,\"gbps\":%.4g}\n",
        name, threads, bytes, s.median, s.min, s.max, bytes / (s.min * 1e6));
    std::fflush(stdout);
  };
  const int64_t grain = 1 << 16;
  Stats copy = time_it(reps, [&] {
    parallel_for(n, grain, [&](int64_t lo, int64_t hi, int) { std::memcpy(&c[lo], &a[lo], (hi - lo) * sizeof(float)); });
  });
  report("mem_copy", 2.0 * n * sizeof(float), copy);
  Stats triad = time_it(reps, [&] {
    parallel_for(n, grain, [&](int64_t lo, int64_t hi, int) {
      for (int64_t i = lo; i < hi; ++i) c[i] = a[i] + 0.5f * b[i];
    });
  });
  report("mem_triad", 3.0 * n * sizeof(float), triad);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  const int threads = num_threads();
  std::vector<int> counts = {1};
  if (threads > 1) counts.push_back(threads);
  for (int t : counts) fma_peak(t, quick);
  for (int t : counts) bandwidth(t, quick);
  set_num_threads(threads);
  return 0;
}
