#include <cstring>
#include <vector>

#include "core/data_ops.h"
#include "core/parallel.h"

namespace ordo {
namespace cpu {

void gather_rows(const float* src, int64_t cols, const uint32_t* rows, int64_t num_rows, float* dst) {
  parallel_for(num_rows, 256, [&](int64_t b, int64_t e, int) {
    for (int64_t r = b; r < e; ++r) std::memcpy(dst + r * cols, src + static_cast<int64_t>(rows[r]) * cols, sizeof(float) * cols);
  });
}

void scale(float* x, int64_t n, float alpha) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) x[i] *= alpha;
  });
}

namespace {
template <typename F>
double reduce(int64_t n, F term) {
  // Per-chunk partial sums combined in chunk order: deterministic for a thread count.
  std::vector<double> partial(static_cast<size_t>(parallel_chunks(n, 1 << 16)) + 1, 0.0);
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e, int c) {
    double s = 0.0;
    for (int64_t i = b; i < e; ++i) s += term(i);
    partial[static_cast<size_t>(c)] = s;
  });
  double total = 0.0;
  for (double p : partial) total += p;
  return total;
}
}  // namespace

double sum_squares(const float* x, int64_t n) {
  return reduce(n, [&](int64_t i) { return static_cast<double>(x[i]) * x[i]; });
}

double sum(const float* x, int64_t n) {
  return reduce(n, [&](int64_t i) { return static_cast<double>(x[i]); });
}

}  // namespace cpu
}  // namespace ordo
