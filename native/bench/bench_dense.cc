// bench_dense: dense-layer kernels, one JSON object per line on stdout.
//   {"case","shape","backend","threads","median_ms","min_ms","max_ms","gflops",
//    "fraction_of_peak","ratio","reference"}
// ratio = reference_ms / ours_ms (> 1: we are faster), measured in the same run.
// Threads: ordo::num_threads() (ORDO_THREADS). --quick: small shapes, 2 reps (CI smoke).
// --mlp: only the MLP train-step cases (no FMA peak, no GEMMs); --reps N: timed repetitions per case;
// --only S: only the MLP cases whose shape name contains S (implies --mlp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/dense.h"
#include "core/dispatch.h"
#include "core/mlp.h"
#include "bench/bench_timing.h"
#include "core/parallel.h"
#include "core/rng.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif
#ifdef ORDO_BENCH_OPENBLAS
#include <cblas.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define ORDO_BENCH_X86 1
#endif

using namespace ordo;

namespace {

using ordo_bench::Stats;
using ordo_bench::time_it;

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

void emit(const std::string& name, const std::string& shape, const char* backend, int threads, const Stats& s,
          double gflops, double frac, double ratio, const char* reference) {
  std::printf(
      "{\"case\":\"%s\",\"shape\":\"%s\",\"backend\":\"%s\",\"threads\":%d,\"median_ms\":%s,\"min_ms\":%s,\"max_ms\":%s,"
      "\"gflops\":%s,\"fraction_of_peak\":%s,\"ratio\":%s,\"reference\":%s}\n",
      name.c_str(), shape.c_str(), backend, threads, num(s.median).c_str(), num(s.min).c_str(), num(s.max).c_str(),
      num(gflops).c_str(), num(frac).c_str(), num(ratio).c_str(),
      reference ? (std::string("\"") + reference + "\"").c_str() : "null");
  std::fflush(stdout);
}

std::vector<float> randv(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = 2.0f * rng_uniform(seed, i) - 1.0f;
  return v;
}

#ifdef ORDO_BENCH_X86
// 12 independent FMA chains of 8 floats, register-only (inline asm so the
// compiler cannot spill or fold them): the FMA throughput bound. 12 chains
// cover 2 pipes x 4-cycle latency with room to spare.
float fma_loop(int64_t iters) {
  __asm__ volatile(
      "vxorps %%ymm0, %%ymm0, %%ymm0\n\t"
      "vmovaps %%ymm0, %%ymm1\n\t vmovaps %%ymm0, %%ymm2\n\t vmovaps %%ymm0, %%ymm3\n\t"
      "vmovaps %%ymm0, %%ymm4\n\t vmovaps %%ymm0, %%ymm5\n\t vmovaps %%ymm0, %%ymm6\n\t"
      "vmovaps %%ymm0, %%ymm7\n\t vmovaps %%ymm0, %%ymm8\n\t vmovaps %%ymm0, %%ymm9\n\t"
      "vmovaps %%ymm0, %%ymm10\n\t vmovaps %%ymm0, %%ymm11\n\t vmovaps %%ymm0, %%ymm12\n\t"
      "vmovaps %%ymm0, %%ymm13\n\t"
      "1:\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm0\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm1\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm2\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm3\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm4\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm5\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm6\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm7\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm8\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm9\n\t"
      "vfmadd231ps %%ymm12, %%ymm13, %%ymm10\n\t vfmadd231ps %%ymm12, %%ymm13, %%ymm11\n\t"
      "dec %0\n\t"
      "jnz 1b\n\t"
      "vzeroupper\n\t"
      : "+r"(iters)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
        "xmm13", "cc");
  return 0.0f;
}

// Measured FMA peak with `threads` threads (GFLOP/s), emits a line.
double fma_peak(int threads, bool quick) {
  const int64_t iters = quick ? 2000000 : 20000000;
  const int saved = num_threads();
  set_num_threads(threads);
  volatile float sink = 0;
  Stats s = time_it(quick ? 2 : 5, [&] {
    parallel_for(threads, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sink = sink + fma_loop(iters);
    });
  });
  set_num_threads(saved);
  const double gf = threads * iters * 12.0 * 16.0 / (s.min * 1e6);  // best run: the peak
  emit("fma_peak", "12x8 fma chains", "cpu", threads, s, gf, 1.0, NAN, nullptr);
  return gf;
}
#endif

struct Shape {
  int64_t m, n, k;
};

// OpenBLAS worker threads busy-wait for a while after each call; let them go
// to sleep before timing anything else, or they steal the cores.
void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(300)); }

void bench_sgemm(const Shape& sh, int threads, double peak, bool quick) {
  const auto a = randv(sh.m * sh.k, 1), b = randv(sh.k * sh.n, 2);
  std::vector<float> c(sh.m * sh.n);
  const int reps = quick ? 2 : 9;
  const double flop = 2.0 * sh.m * sh.n * sh.k;
  const std::string shape = std::to_string(sh.m) + "x" + std::to_string(sh.n) + "x" + std::to_string(sh.k);
  Stats ours = time_it(reps, [&] {
    cpu::sgemm(false, false, sh.m, sh.n, sh.k, 1.0f, a.data(), sh.k, b.data(), sh.n, 0.0f, c.data(), sh.n);
  });
  double ratio = NAN;
  const char* ref = nullptr;
#ifdef ORDO_BENCH_OPENBLAS
  openblas_set_num_threads(threads);
  Stats ob = time_it(reps, [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, sh.m, sh.n, sh.k, 1.0f, a.data(), sh.k, b.data(), sh.n,
                0.0f, c.data(), sh.n);
  });
  ratio = ob.median / ours.median;
  settle();
  ref = "openblas";
  emit("sgemm", shape, "openblas", threads, ob, flop / (ob.median * 1e6), flop / (ob.median * 1e6) / peak, NAN,
       nullptr);
#endif
  const double gf = flop / (ours.median * 1e6);
  emit("sgemm", shape, cpu::sgemm_uses_avx2() ? "cpu-avx2" : "cpu-scalar", threads, ours, gf, gf / peak, ratio, ref);
}

// Nominal flops of one train step: 3 × the forward GEMMs (forward + two backward GEMMs per layer, the
// PyTorch peers' convention); the first layer's input gradient is counted though mlp_backward skips it.
double mlp_step_flops(const MlpConfig& cfg, int64_t batch) {
  double f = 0;
  for (const auto& l : mlp_layout(cfg)) f += 2.0 * batch * l.in * l.out;
  return 3.0 * f;
}

// "batch4096:136-512-512-1", plus "+silu+ln+drop0.1" style suffixes for the
// non-default layer options (the PyTorch peer prints the same names).
std::string mlp_shape(const MlpConfig& cfg, int64_t batch) {
  std::string s = "batch" + std::to_string(batch) + ":" + std::to_string(cfg.in);
  for (int64_t h : cfg.hidden) s += "-" + std::to_string(h);
  s += "-" + std::to_string(cfg.out);
  if (cfg.act == Activation::SiLU) s += "+silu";
  if (cfg.layernorm) s += "+ln";
  if (cfg.dropout > 0.0f) {
    char b[32];
    std::snprintf(b, sizeof b, "+drop%g", cfg.dropout);
    s += b;
  }
  return s;
}

// One train step: forward (training), dy = y (loss 0.5*sum y^2), backward,
// Adam (weight_decay == 0) or AdamW (decoupled weight decay) on all parameters.
const char* g_only = nullptr;  // --only

void bench_mlp(Backend be, const MlpConfig& cfg, int64_t batch, int threads, bool quick, int reps,
               float weight_decay = 0.0f) {
  if (g_only && mlp_shape(cfg, batch).find(g_only) == std::string::npos) return;
  const int64_t np = mlp_param_count(cfg);
  std::vector<float> hp(np);
  mlp_init_params(cfg, hp.data(), 7);
  const auto hx = randv(batch * cfg.in, 3);
  std::vector<float*> bufs;
  auto alloc = [&](size_t n, const float* init) -> float* {
    float* p;
    if (be == Backend::Cpu) {
      p = new float[n]();
      if (init) std::memcpy(p, init, n * sizeof(float));
    } else {
#ifdef ORDO_WITH_CUDA
      p = static_cast<float*>(cuda::device_alloc(n * sizeof(float)));
      if (init)
        cuda::copy_to_device(p, init, n * sizeof(float));
      else
        cuda::device_memset_zero(p, n * sizeof(float));
#else
      p = nullptr;
#endif
    }
    bufs.push_back(p);
    return p;
  };
  float* params = alloc(np, hp.data());
  float* grads = alloc(np, nullptr);
  float* m = alloc(np, nullptr);
  float* v = alloc(np, nullptr);
  float* x = alloc(batch * cfg.in, hx.data());
  float* y = alloc(batch * cfg.out, nullptr);
  float* dy = alloc(batch * cfg.out, nullptr);
  MlpCache cache(be, cfg, batch);
  AdamParams ap;
  ap.lr = 1e-4f;
  ap.weight_decay = weight_decay;
  auto step = [&] {
    mlp_forward(be, cfg, params, x, batch, true, 11, cache, y);
    if (be == Backend::Cpu) {
      cpu::activation_forward(Activation::Identity, y, dy, batch * cfg.out);
      mlp_backward(be, cfg, params, cache, dy, batch, grads, nullptr);
      cpu::adam_update(params, grads, m, v, np, ap);
    } else {
#ifdef ORDO_WITH_CUDA
      cuda::activation_forward(Activation::Identity, y, dy, batch * cfg.out);
      mlp_backward(be, cfg, params, cache, dy, batch, grads, nullptr);
      cuda::adam_update(params, grads, m, v, np, ap);
#endif
    }
    ++ap.step;
  };
  std::function<void()> sync = [] {};
#ifdef ORDO_WITH_CUDA
  if (be == Backend::Cuda) sync = [] { cuda::synchronize(); };
#endif
  Stats s = time_it(quick ? 2 : reps, step, sync);
  const double gf = mlp_step_flops(cfg, batch) / (s.median * 1e6);
  emit(weight_decay != 0.0f ? "mlp_train_step_adamw" : "mlp_train_step_adam", mlp_shape(cfg, batch), be == Backend::Cpu ? "cpu" : "cuda", threads, s, gf, NAN, NAN,
       nullptr);
  for (float* p : bufs) {
    if (be == Backend::Cpu) {
      delete[] p;
    } else {
#ifdef ORDO_WITH_CUDA
      cuda::device_free(p);
#endif
    }
  }
}

#ifdef ORDO_WITH_CUDA
void bench_sgemm_cuda(const Shape& sh, bool quick) {
  const auto a = randv(sh.m * sh.k, 1), b = randv(sh.k * sh.n, 2);
  float* da = static_cast<float*>(cuda::device_alloc(a.size() * 4));
  float* db = static_cast<float*>(cuda::device_alloc(b.size() * 4));
  float* dc = static_cast<float*>(cuda::device_alloc(sh.m * sh.n * 4));
  cuda::copy_to_device(da, a.data(), a.size() * 4);
  cuda::copy_to_device(db, b.data(), b.size() * 4);
  const int reps = quick ? 2 : 20;
  // Wall clock around synchronize: includes one launch latency (~5 us).
  Stats s = time_it(
      reps,
      [&] { cuda::sgemm(false, false, sh.m, sh.n, sh.k, 1.0f, da, sh.k, db, sh.n, 0.0f, dc, sh.n); },
      [] { cuda::synchronize(); });
  const double flop = 2.0 * sh.m * sh.n * sh.k;
  emit("sgemm", std::to_string(sh.m) + "x" + std::to_string(sh.n) + "x" + std::to_string(sh.k), "cuda", 0, s,
       flop / (s.median * 1e6), NAN, NAN, nullptr);
  cuda::device_free(da);
  cuda::device_free(db);
  cuda::device_free(dc);
}
#endif

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, mlp_only = false;
  int reps = 9;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--mlp") == 0) mlp_only = true;
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) g_only = argv[++i], mlp_only = true;
  }
  const int threads = num_threads();

  std::vector<Shape> shapes = {{4096, 136, 512}, {4096, 512, 512}, {1024, 1024, 1024}, {4096, 46, 256}};
  if (quick) shapes = {{256, 136, 128}, {200, 46, 64}};
  if (!mlp_only) {
    double peak = NAN;
#ifdef ORDO_BENCH_X86
    const double peak1 = fma_peak(1, quick);
    peak = threads == 1 ? peak1 : fma_peak(threads, quick);
#endif
    for (const Shape& sh : shapes) bench_sgemm(sh, threads, peak, quick);
  }

  const int64_t batch = quick ? 256 : 4096;
  MlpConfig c1;
  c1.in = 136, c1.hidden = {512, 512}, c1.out = 1, c1.act = Activation::ReLU;
  MlpConfig c2;
  c2.in = 46, c2.hidden = {256, 256, 256, 256}, c2.out = 1, c2.act = Activation::ReLU;
  // The DiffusionRank denoiser (issue #6) on MQ2008: input D + K + 2 = 50, output D + K = 48,
  // 4 x [Linear -> SiLU -> LayerNorm -> Dropout 0.1], AdamW (PyTorch's default weight decay 0.01).
  MlpConfig c3;
  c3.in = 50, c3.hidden = {256, 256, 256, 256}, c3.out = 48, c3.act = Activation::SiLU;
  c3.layernorm = true, c3.dropout = 0.1f;
  bench_mlp(Backend::Cpu, c1, batch, threads, quick, reps);
  bench_mlp(Backend::Cpu, c2, batch, threads, quick, reps);
  bench_mlp(Backend::Cpu, c3, batch, threads, quick, reps, 0.01f);

#ifdef ORDO_WITH_CUDA
  const CudaStatus& st = cuda_status();
  if (st.usable) {
    if (!mlp_only)
      for (const Shape& sh : shapes) bench_sgemm_cuda(sh, quick);
    bench_mlp(Backend::Cuda, c1, batch, 0, quick, reps);
    bench_mlp(Backend::Cuda, c2, batch, 0, quick, reps);
    bench_mlp(Backend::Cuda, c3, batch, 0, quick, reps, 0.01f);
  } else {
    std::printf("{\"case\":\"cuda\",\"skipped\":true,\"reason\":\"no usable CUDA device: %s\"}\n",
                st.error_name.empty() ? "none found" : st.error_name.c_str());
  }
#else
  std::printf("{\"case\":\"cuda\",\"skipped\":true,\"reason\":\"built without CUDA\"}\n");
#endif
  return 0;
}
