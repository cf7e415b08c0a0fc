// bench_ranking — NeuralSort and ranking-loss kernels, one JSON line per case:
// {"case","shape","backend","threads","median_ms","min_ms","max_ms","extra_memory_bytes",...}
//   NeuralSort apply (fwd) and apply + apply_backward (fwd+bwd) and NeuralNDCG
//   loss+grad at lists×n = 256×32, 256×128, 64×512, 16×2048; every other loss
//   at 256×128. Threads: ordo::num_threads() (ORDO_THREADS).
//   --quick: tiny shapes, 2 repetitions (CI smoke).
// CUDA cases (wall clock around cuda::synchronize(); the target has no CUDA include path for cudaEvent) run when a GPU is usable, else one line says
// why they were skipped. extra_memory_bytes counts the kernel's own buffers
// beyond inputs/outputs (analytic: per-thread scratch for CPU).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/dispatch.h"
#include "core/losses.h"
#include "core/neuralsort.h"
#include "core/parallel.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"  // cuda_runtime.h is not on this target's include path: time with synchronize()
#endif

using namespace ordo;

namespace {

struct Stats {
  double med, lo, hi;
};
Stats summarize(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}
Stats time_cpu(const std::function<void()>& fn, int reps) {
  fn();  // warm-up
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  return summarize(t);
}
void emit(const char* name, int lists, int n, const char* backend, int threads, Stats s, double extra,
          const char* more = "") {
  std::printf(
      "{\"case\":\"%s\",\"shape\":\"%dx%d\",\"backend\":\"%s\",\"threads\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,"
      "\"max_ms\":%.3f,\"extra_memory_bytes\":%.0f%s}\n",
      name, lists, n, backend, threads, s.med, s.lo, s.hi, extra, more);
  std::fflush(stdout);
}

struct Data {
  std::vector<float> s, v, y, go, out, st, gs, gv, loss;
  std::vector<uint32_t> off;
  Data(int lists, int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd;
    std::uniform_int_distribution<int> lab(0, 4);
    const size_t total = static_cast<size_t>(lists) * n;
    s.resize(total);
    v.resize(total);
    y.resize(total);
    go.resize(total);
    for (size_t i = 0; i < total; ++i) s[i] = nd(rng), v[i] = nd(rng), y[i] = lab(rng), go[i] = nd(rng);
    out.resize(total);
    st.resize(2 * total);
    gs.resize(total);
    gv.resize(total);
    loss.resize(lists);
    for (int q = 0; q <= lists; ++q) off.push_back(static_cast<uint32_t>(q) * n);
  }
};

const char* loss_name(LossKind k) {
  switch (k) {
    case LossKind::PointwiseMSE: return "loss_pointwise_mse";
    case LossKind::SigmoidCrossEntropy: return "loss_sigmoid_ce";
    case LossKind::SoftmaxCrossEntropy: return "loss_softmax_ce";
    case LossKind::RankNet: return "loss_ranknet";
    case LossKind::LambdaRank: return "loss_lambdarank";
    case LossKind::ListNet: return "loss_listnet";
    case LossKind::ListMLE: return "loss_listmle";
    case LossKind::ApproxNDCG: return "loss_approx_ndcg";
    case LossKind::NeuralNDCG: return "loss_neural_ndcg";
    case LossKind::NeuralNDCGTransposed: return "loss_neural_ndcg_transposed";
    case LossKind::LambdaLossNDCG2PP: return "loss_lambdaloss_ndcg2pp";
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  const int threads = num_threads();
  const int reps = quick ? 2 : 7;
  std::vector<std::pair<int, int>> shapes = {{256, 32}, {256, 128}, {64, 512}, {16, 2048}};
  if (quick) shapes = {{4, 8}, {2, 33}};
  const std::pair<int, int> loss_shape = quick ? std::make_pair(4, 8) : std::make_pair(256, 128);
  NeuralSortOptions nso;
  LossOptions lo;
  for (auto [L, n] : shapes) {
    Data d(L, n, 1);
    // CPU scratch: ~ (3 doubles + 2 floats + 2 ints + ~4 doubles) per doc per thread, row_stats are an output
    const double ns_extra = static_cast<double>(threads) * n * (7 * 8 + 2 * 4 + 2 * 4);
    emit("neuralsort_fwd", L, n, "cpu", threads, time_cpu([&] {
           cpu::neuralsort_apply(d.s.data(), d.v.data(), d.off.data(), L, nso, d.out.data(), d.st.data());
         }, reps), ns_extra);
    emit("neuralsort_fwd_bwd", L, n, "cpu", threads, time_cpu([&] {
           cpu::neuralsort_apply(d.s.data(), d.v.data(), d.off.data(), L, nso, d.out.data(), d.st.data());
           cpu::neuralsort_apply_backward(d.s.data(), d.v.data(), d.off.data(), L, nso, d.st.data(), d.go.data(),
                                          d.gs.data(), d.gv.data());
         }, reps), ns_extra);
    const double T1 = lo.sinkhorn_max_iter + 1;
    const double nn_extra = static_cast<double>(threads) * (2.0 * n * n * 4 + 4 * T1 * n * 8 + 2 * T1 * n + 12.0 * n * 8);
    emit("loss_neural_ndcg_grad", L, n, "cpu", threads, time_cpu([&] {
           cpu::ranking_loss(LossKind::NeuralNDCG, d.s.data(), d.y.data(), d.off.data(), L, lo, d.loss.data(),
                             d.gs.data());
         }, quick ? 2 : 3), nn_extra);
  }
  {
    auto [L, n] = loss_shape;
    Data d(L, n, 2);
    for (LossKind k : {LossKind::PointwiseMSE, LossKind::SigmoidCrossEntropy, LossKind::SoftmaxCrossEntropy,
                       LossKind::RankNet, LossKind::LambdaRank, LossKind::ListNet, LossKind::ListMLE,
                       LossKind::ApproxNDCG, LossKind::NeuralNDCGTransposed, LossKind::LambdaLossNDCG2PP}) {
      std::string nm = std::string(loss_name(k)) + "_grad";
      emit(nm.c_str(), L, n, "cpu", threads, time_cpu([&] {
             cpu::ranking_loss(k, d.s.data(), d.y.data(), d.off.data(), L, lo, d.loss.data(), d.gs.data());
           }, reps), static_cast<double>(threads) * n * 5 * 8);
    }
  }
#ifdef ORDO_WITH_CUDA
  const CudaStatus& cs = cuda_status();
  if (!cs.usable) {
    std::printf("{\"case\":\"cuda\",\"skipped\":\"no usable CUDA device: %s\"}\n",
                cs.error_name.empty() ? "none found" : cs.error_name.c_str());
    return 0;
  }
  auto time_gpu = [&](const std::function<void()>& fn, int r) {
    fn();
    cuda::synchronize();
    std::vector<double> t;
    for (int i = 0; i < r; ++i) {
      const auto a = std::chrono::steady_clock::now();
      fn();
      cuda::synchronize();
      t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
    }
    return summarize(t);
  };
  auto up = [](const void* h, size_t bytes) {
    void* p = cuda::device_alloc(bytes);
    cuda::copy_to_device(p, h, bytes);
    return p;
  };
  for (auto [L, n] : shapes) {
    Data d(L, n, 1);
    const size_t tot = d.s.size();
    float* ds = static_cast<float*>(up(d.s.data(), tot * 4));
    float* dv = static_cast<float*>(up(d.v.data(), tot * 4));
    float* dy = static_cast<float*>(up(d.y.data(), tot * 4));
    float* dgo = static_cast<float*>(up(d.go.data(), tot * 4));
    uint32_t* doff = static_cast<uint32_t*>(up(d.off.data(), d.off.size() * 4));
    float* dout = static_cast<float*>(cuda::device_alloc(tot * 4));
    float* dst = static_cast<float*>(cuda::device_alloc(tot * 8));
    float* dgs = static_cast<float*>(cuda::device_alloc(tot * 4));
    float* dgv = static_cast<float*>(cuda::device_alloc(tot * 4));
    float* dl = static_cast<float*>(cuda::device_alloc(L * 4));
    const double ns_extra = tot * (3 * 8 + 4 + 4) + tot * 3 * 8.0;
    emit("neuralsort_fwd", L, n, "cuda", 0,
         time_gpu([&] { cuda::neuralsort_apply(ds, dv, doff, L, nso, dout, dst); }, reps), ns_extra);
    emit("neuralsort_fwd_bwd", L, n, "cuda", 0, time_gpu([&] {
           cuda::neuralsort_apply(ds, dv, doff, L, nso, dout, dst);
           cuda::neuralsort_apply_backward(ds, dv, doff, L, nso, dst, dgo, dgs, dgv);
         }, reps), ns_extra);
    emit("loss_neural_ndcg_grad", L, n, "cuda", 0, time_gpu([&] {
           cuda::ranking_loss(LossKind::NeuralNDCG, ds, dy, doff, L, lo, dl, dgs);
         }, quick ? 2 : 3), 2.0 * L * n * n * 4 + 4.0 * (lo.sinkhorn_max_iter + 1) * tot * 8);
    if (L == loss_shape.first && n == loss_shape.second) {
      for (LossKind k : {LossKind::PointwiseMSE, LossKind::SigmoidCrossEntropy, LossKind::SoftmaxCrossEntropy,
                         LossKind::RankNet, LossKind::LambdaRank, LossKind::ListNet, LossKind::ListMLE,
                         LossKind::ApproxNDCG, LossKind::NeuralNDCGTransposed, LossKind::LambdaLossNDCG2PP}) {
        std::string nm = std::string(loss_name(k)) + "_grad";
        emit(nm.c_str(), L, n, "cuda", 0,
             time_gpu([&] { cuda::ranking_loss(k, ds, dy, doff, L, lo, dl, dgs); }, reps), tot * 20.0);
      }
    }
    for (void* p : {static_cast<void*>(ds), static_cast<void*>(dv), static_cast<void*>(dy), static_cast<void*>(dgo),
                    static_cast<void*>(doff), static_cast<void*>(dout), static_cast<void*>(dst),
                    static_cast<void*>(dgs), static_cast<void*>(dgv), static_cast<void*>(dl)})
      cuda::device_free(p);
  }
#else
  std::printf("{\"case\":\"cuda\",\"skipped\":\"built without CUDA\"}\n");
#endif
  return 0;
}
