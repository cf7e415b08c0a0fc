// ordo/core/parallel.h — the CPU thread pool.
//
// One persistent pool per process (threads start on first use). The thread
// count comes from ORDO_THREADS (default: hardware concurrency), or
// set_num_threads(). parallel_for splits [0, n) into contiguous chunks, one per
// thread, by a rule that depends only on n, the grain and the thread count, so
// a kernel that reduces per chunk and then combines chunks in order gives
// bit-identical results for a given thread count.
#pragma once
#include <cstdint>
#include <functional>

namespace ordo {

int num_threads();
void set_num_threads(int n);  // n >= 1; takes effect for the next parallel_for

// Calls body(begin, end, chunk) for chunks covering [0, n), chunk = 0..chunks-1,
// in parallel; returns when all are done. At most one chunk per `grain` items.
// Nested calls (from inside a body) run serially in the caller.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int chunk)>& body);

// How parallel_for will split n items (for per-chunk scratch buffers).
int parallel_chunks(int64_t n, int64_t grain);

}  // namespace ordo
