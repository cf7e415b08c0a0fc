#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace ordo {
namespace {

int default_threads() {
  if (const char* env = std::getenv("ORDO_THREADS")) {
    int n = std::atoi(env);
    if (n >= 1) return std::min(n, 256);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(std::min(hw, 256u));
}

// Workers wait for a generation counter; each job is a list of chunks claimed
// by index. The calling thread works too.
class Pool {
 public:
  static Pool& get() {
    static Pool* pool = new Pool();  // never destroyed: threads may outlive static destruction
    return *pool;
  }

  int threads() const { return threads_.load(); }
  void set_threads(int n) { threads_.store(std::max(1, std::min(n, 256))); }

  void run(int chunks, const std::function<void(int)>& task) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);  // one parallel region at a time
    ensure_workers(chunks - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      task_.store(&task);
      chunks_.store(chunks);
      next_.store(0);
      pending_.store(chunks);
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(m_);
    done_cv_.wait(lk, [&] { return pending_.load() == 0; });
    if (error_) std::rethrow_exception(error_);
  }

  static thread_local bool in_worker;

 private:
  Pool() : threads_(default_threads()) {}

  void ensure_workers(int wanted) {
    while (static_cast<int>(workers_.size()) < wanted) {
      workers_.emplace_back([this] { loop(); });
      workers_.back().detach();
    }
  }

  void work() {
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= chunks_.load()) return;
      try {
        (*task_.load())(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m_);
        if (!error_) error_ = std::current_exception();
      }
      if (pending_.fetch_sub(1) == 1) {
        std::lock_guard<std::mutex> lk(m_);
        done_cv_.notify_all();
      }
    }
  }

  void loop() {
    in_worker = true;
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(m_);
        cv_.wait(lk, [&] { return generation_ != seen; });
        seen = generation_;
      }
      work();
    }
  }

  std::atomic<int> threads_;
  std::mutex run_mutex_;
  std::mutex m_;
  std::condition_variable cv_, done_cv_;
  std::vector<std::thread> workers_;
  std::atomic<const std::function<void(int)>*> task_{nullptr};
  std::atomic<int> chunks_{0};
  std::atomic<int> next_{0};
  std::atomic<int> pending_{0};
  uint64_t generation_ = 0;
  std::exception_ptr error_;
};

thread_local bool Pool::in_worker = false;
thread_local bool in_parallel_region = false;

}  // namespace

int num_threads() { return Pool::get().threads(); }
void set_num_threads(int n) { Pool::get().set_threads(n); }

int parallel_chunks(int64_t n, int64_t grain) {
  if (n <= 0) return 0;
  grain = std::max<int64_t>(grain, 1);
  int64_t by_grain = (n + grain - 1) / grain;
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), by_grain)));
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& body) {
  int chunks = parallel_chunks(n, grain);
  if (chunks == 0) return;
  auto range = [&](int c, int64_t& b, int64_t& e) {
    b = n * c / chunks;
    e = n * (c + 1) / chunks;
  };
  if (chunks == 1 || Pool::in_worker || in_parallel_region) {
    for (int c = 0; c < chunks; ++c) {
      int64_t b, e;
      range(c, b, e);
      body(b, e, c);
    }
    return;
  }
  in_parallel_region = true;
  try {
    Pool::get().run(chunks, [&](int c) {
      int64_t b, e;
      range(c, b, e);
      body(b, e, c);
    });
  } catch (...) {
    in_parallel_region = false;
    throw;
  }
  in_parallel_region = false;
}

}  // namespace ordo
