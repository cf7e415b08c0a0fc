// ordo/bench/bench_timing.h — private to the C++ benches: wall-clock timing of a
// callable, one warm-up call then `reps` timed calls (ms): median, min, max.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace ordo_bench {

struct Stats {
  double median = 0, min = 0, max = 0;
};

// sync: called after each fn() inside the timed span (e.g. a device synchronise).
inline Stats time_it(int reps, const std::function<void()>& fn, const std::function<void()>& sync = [] {}) {
  fn();  // warm-up (page faults, pack buffers, thread start)
  sync();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    sync();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

}  // namespace ordo_bench
