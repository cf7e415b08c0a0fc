// bench_gpu: ordo's CUDA kernels timed with CUDA events (after warm-up calls),
// against the device's peak, one JSON object per line on stdout (the format of
// bench/suite.mjs, so bench/check.mjs compares both):
//   {"case":"gpu_device", name, cc, sms, clocks, driver, runtime, peak_fp32_gflops, peak_gbps}
//   {"case":"gpu_fma_measured" | "gpu_copy_measured", ...}      measured peaks (the ratios' reference)
//   {"case", "shape", "backend":"cuda", "median_ms", "min_ms", "max_ms", "gflops" | "gbps",
//    "fraction_of_peak" (vs the data-sheet peak from the device's properties),
//    "ratio" (vs the peak measured in this run), "reference"}
// Built only with CUDA (CMake target bench_gpu). No usable GPU: one line says
// why and the exit status is 0. --quick: small shapes, few repetitions.
#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/dense.h"
#include "core/device.h"
#include "core/dispatch.h"
#include "core/losses.h"
#include "core/mlp.h"
#include "core/neuralsort.h"
#include "core/rng.h"

using namespace ordo;

namespace {

// Op models shared with bench/suite.mjs (keep them equal): one (i, j) term of
// an O(n²) ranking kernel counts kPairFlops (difference, scale, exp, multiply-add).
constexpr double kPairFlops = 10;

struct Stats {
  double median = 0, min = 0, max = 0;
};

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorName(e));
}

// Times fn on the default stream with CUDA events: `warm` untimed calls, then
// one event pair per repetition (launch overhead included, host sync excluded).
Stats time_events(int reps, const std::function<void()>& fn, int warm = 3) {
  for (int i = 0; i < warm; ++i) fn();
  check(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t a, b;
  check(cudaEventCreate(&a), "cudaEventCreate");
  check(cudaEventCreate(&b), "cudaEventCreate");
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    check(cudaEventRecord(a, 0), "cudaEventRecord");
    fn();
    check(cudaEventRecord(b, 0), "cudaEventRecord");
    check(cudaEventSynchronize(b), "cudaEventSynchronize");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, a, b), "cudaEventElapsedTime");
    t.push_back(ms);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(t.begin(), t.end());
  return {t[t.size() / 2], t.front(), t.back()};
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.5g", v);
  return buf;
}

struct Peaks {
  double gflops = NAN, gbps = NAN;                    // data sheet (from the properties)
  double measured_gflops = NAN, measured_gbps = NAN;  // this run
};
Peaks peaks;

// rate_kind "gflops" (compute-bound) or "gbps" (memory-bound)
void emit(const std::string& name, const std::string& shape, const Stats& s, const char* rate_kind, double rate,
          const std::string& more = "") {
  const bool flops = std::strcmp(rate_kind, "gflops") == 0;
  const double sheet = flops ? peaks.gflops : peaks.gbps;
  const double measured = flops ? peaks.measured_gflops : peaks.measured_gbps;
  // ratio_best: the rate of the fastest repetition (what bench/check.mjs compares)
  const double best = rate * s.median / s.min;
  std::printf(
      "{\"id\":\"%s|%s|cuda|native/bench_gpu\",\"source\":\"native/bench_gpu\",\"case\":\"%s\",\"shape\":\"%s\","
      "\"backend\":\"cuda\",\"timing\":\"cuda-events\",\"median_ms\":%s,\"min_ms\":%s,\"max_ms\":%s,\"%s\":%s,"
      "\"fraction_of_peak\":%s,\"ratio\":%s,\"ratio_best\":%s,\"reference\":\"%s\"%s}\n",
      name.c_str(), shape.c_str(), name.c_str(), shape.c_str(), num(s.median).c_str(), num(s.min).c_str(),
      num(s.max).c_str(), rate_kind, num(rate).c_str(), num(rate / sheet).c_str(), num(rate / measured).c_str(),
      num(best / measured).c_str(), flops ? "gpu_fma_measured" : "gpu_copy_measured", more.c_str());
  std::fflush(stdout);
}

// FP32 lanes per SM (each does one FMA = 2 flops per clock).
int fp32_lanes_per_sm(int major, int minor) {
  if (major <= 7) return 64;
  if (major == 8 && minor == 0) return 64;  // A100
  return 128;                               // 8.6/8.7/8.9, Hopper 9.0, Blackwell 10.x/12.x
}

__global__ void fma_kernel(float* out, int iters, float seed) {
  float acc[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) acc[j] = seed + threadIdx.x + j;
  for (int i = 0; i < iters; ++i) {
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[j] = fmaf(acc[j], 0.999999f, 1e-7f);
  }
  float s = 0;
#pragma unroll
  for (int j = 0; j < 8; ++j) s += acc[j];
  if (s == 12345.678f) out[0] = s;  // keeps the loop alive; practically never written
}

void device_and_peaks(bool quick) {
  int dev = 0;
  cudaDeviceProp p{};
  check(cudaGetDeviceProperties(&p, dev), "cudaGetDeviceProperties");
  int clock_khz = 0, mem_khz = 0, bus_bits = p.memoryBusWidth, driver = 0, runtime = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, dev);
  cudaDeviceGetAttribute(&mem_khz, cudaDevAttrMemoryClockRate, dev);
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  const int lanes = fp32_lanes_per_sm(p.major, p.minor);
  peaks.gflops = 2.0 * lanes * p.multiProcessorCount * clock_khz * 1e3 / 1e9;
  peaks.gbps = 2.0 * mem_khz * 1e3 * (bus_bits / 8.0) / 1e9;  // double data rate
  std::printf(
      "{\"case\":\"gpu_device\",\"backend\":\"cuda\",\"name\":\"%s\",\"cc\":\"%d.%d\",\"sms\":%d,\"fp32_lanes_per_sm\":%d,"
      "\"clock_mhz\":%d,\"mem_clock_mhz\":%d,\"bus_bits\":%d,\"memory_bytes\":%zu,\"driver\":%d,\"runtime\":%d,"
      "\"peak_fp32_gflops\":%s,\"peak_gbps\":%s}\n",
      p.name, p.major, p.minor, p.multiProcessorCount, lanes, clock_khz / 1000, mem_khz / 1000, bus_bits,
      p.totalGlobalMem, driver, runtime, num(peaks.gflops).c_str(), num(peaks.gbps).c_str());

  // Measured FMA rate: 8 independent chains per thread, 8 blocks of 256 per SM.
  float* sink = static_cast<float*>(cuda::device_alloc(4));
  const int iters = quick ? 4096 : 65536;
  const int blocks = p.multiProcessorCount * 8;
  Stats f = time_events(quick ? 3 : 10, [&] { fma_kernel<<<blocks, 256>>>(sink, iters, 1.0f); });
  check(cudaGetLastError(), "fma_kernel");
  peaks.measured_gflops = 2.0 * 8 * iters * static_cast<double>(blocks) * 256 / (f.min * 1e6);
  std::printf(
      "{\"case\":\"gpu_fma_measured\",\"backend\":\"cuda\",\"timing\":\"cuda-events\",\"median_ms\":%s,\"min_ms\":%s,"
      "\"max_ms\":%s,\"gflops\":%s,\"fraction_of_peak\":%s}\n",
      num(f.median).c_str(), num(f.min).c_str(), num(f.max).c_str(), num(peaks.measured_gflops).c_str(),
      num(peaks.measured_gflops / peaks.gflops).c_str());
  cuda::device_free(sink);

  // Measured device-to-device copy bandwidth (read + write counted).
  const size_t bytes = (quick ? 64 : 512) * (size_t{1} << 20);
  void* a = cuda::device_alloc(bytes);
  void* b = cuda::device_alloc(bytes);
  cuda::device_memset_zero(a, bytes);
  Stats c = time_events(quick ? 3 : 10, [&] { check(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0), "copy"); });
  peaks.measured_gbps = 2.0 * bytes / (c.min * 1e6);
  std::printf(
      "{\"case\":\"gpu_copy_measured\",\"backend\":\"cuda\",\"timing\":\"cuda-events\",\"bytes\":%zu,\"median_ms\":%s,"
      "\"min_ms\":%s,\"max_ms\":%s,\"gbps\":%s,\"fraction_of_peak\":%s}\n",
      bytes, num(c.median).c_str(), num(c.min).c_str(), num(c.max).c_str(), num(peaks.measured_gbps).c_str(),
      num(peaks.measured_gbps / peaks.gbps).c_str());
  std::fflush(stdout);
  cuda::device_free(a);
  cuda::device_free(b);
}

// Device buffers freed at scope exit.
struct Buffers {
  std::vector<void*> ptrs;
  float* f(size_t n, uint64_t seed = 0, float lo = -1, float hi = 1) {
    std::vector<float> h(n);
    for (size_t i = 0; i < n; ++i) h[i] = seed ? lo + (hi - lo) * rng_uniform(seed, i) : 0.0f;
    void* p = cuda::device_alloc(std::max<size_t>(n, 1) * 4);
    cuda::copy_to_device(p, h.data(), n * 4);
    ptrs.push_back(p);
    return static_cast<float*>(p);
  }
  uint32_t* u(const std::vector<uint32_t>& h) {
    void* p = cuda::device_alloc(h.size() * 4);
    cuda::copy_to_device(p, h.data(), h.size() * 4);
    ptrs.push_back(p);
    return static_cast<uint32_t*>(p);
  }
  ~Buffers() {
    for (void* p : ptrs) cuda::device_free(p);
  }
};

void bench_sgemm(int64_t m, int64_t n, int64_t k, int reps) {
  Buffers buf;
  float *a = buf.f(m * k, 1), *b = buf.f(k * n, 2), *c = buf.f(m * n);
  Stats s = time_events(reps, [&] { cuda::sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n); });
  emit("sgemm", std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k), s, "gflops",
       2.0 * m * n * k / (s.median * 1e6));
}

// One train step: forward (training), dy = y, backward, Adam over all parameters.
void bench_mlp(const char* label, const MlpConfig& cfg, int64_t batch, int reps) {
  Buffers buf;
  const int64_t np = mlp_param_count(cfg);
  std::vector<float> hp(np);
  mlp_init_params(cfg, hp.data(), 7);
  float* params = buf.f(np);
  cuda::copy_to_device(params, hp.data(), np * 4);
  float *grads = buf.f(np), *m = buf.f(np), *v = buf.f(np);
  float *x = buf.f(batch * cfg.in, 3), *y = buf.f(batch * cfg.out), *dy = buf.f(batch * cfg.out);
  MlpCache cache(Backend::Cuda, cfg, batch);
  AdamParams ap;
  ap.lr = 1e-4f;
  uint64_t seed = 11;
  Stats s = time_events(reps, [&] {
    mlp_forward(Backend::Cuda, cfg, params, x, batch, true, seed++, cache, y);
    cuda::activation_forward(Activation::Identity, y, dy, batch * cfg.out);
    mlp_backward(Backend::Cuda, cfg, params, cache, dy, batch, grads, nullptr);
    cuda::adam_update(params, grads, m, v, np, ap);
    ++ap.step;
  });
  double flops = 0;
  for (const auto& l : mlp_layout(cfg)) flops += 2.0 * batch * l.in * l.out;
  std::string shape = "batch" + std::to_string(batch) + ":" + std::to_string(cfg.in);
  for (int64_t h : cfg.hidden) shape += "-" + std::to_string(h);
  shape += "-" + std::to_string(cfg.out);
  emit(label, shape, s, "gflops", 3.0 * flops / (s.median * 1e6));
}

struct Lists {
  int lists, n;
  std::vector<uint32_t> offsets;
  Lists(int l, int n_) : lists(l), n(n_) {
    for (int q = 0; q <= l; ++q) offsets.push_back(static_cast<uint32_t>(q) * n_);
  }
  size_t total() const { return static_cast<size_t>(lists) * n; }
  double pairs() const { return static_cast<double>(lists) * n * n; }
  std::string shape() const { return std::to_string(lists) + "x" + std::to_string(n); }
};

void bench_neuralsort(const Lists& L, int reps) {
  Buffers buf;
  const size_t t = L.total();
  float *s = buf.f(t, 5), *v = buf.f(t, 6), *go = buf.f(t, 7), *out = buf.f(t), *st = buf.f(2 * t), *gs = buf.f(t),
        *gv = buf.f(t);
  uint32_t* off = buf.u(L.offsets);
  NeuralSortOptions o;
  Stats f = time_events(reps, [&] { cuda::neuralsort_apply(s, v, off, L.lists, o, out, st); });
  emit("neuralsort_fwd", L.shape(), f, "gflops", kPairFlops * L.pairs() / (f.median * 1e6));
  Stats fb = time_events(reps, [&] {
    cuda::neuralsort_apply(s, v, off, L.lists, o, out, st);
    cuda::neuralsort_apply_backward(s, v, off, L.lists, o, st, go, gs, gv);
  });
  emit("neuralsort_fwd_bwd", L.shape(), fb, "gflops", 3 * kPairFlops * L.pairs() / (fb.median * 1e6));
}

struct LossCase {
  const char* name;  // the TS name (rankingLoss), so Node and C++ lines share case names
  LossKind kind;
  double pair_flops;  // 0: a linear-time loss, rated in GB/s (score, label, grad: 12 bytes a doc)
};
const LossCase kLosses[] = {
    {"mse", LossKind::PointwiseMSE, 0},
    {"sigmoidCrossEntropy", LossKind::SigmoidCrossEntropy, 0},
    {"softmaxCrossEntropy", LossKind::SoftmaxCrossEntropy, 0},
    {"rankNet", LossKind::RankNet, kPairFlops},
    {"lambdaRank", LossKind::LambdaRank, kPairFlops},
    {"listNet", LossKind::ListNet, 0},
    {"listMLE", LossKind::ListMLE, 0},
    {"approxNDCG", LossKind::ApproxNDCG, kPairFlops},
    {"neuralNDCG", LossKind::NeuralNDCG, 3 * kPairFlops},
    {"neuralNDCGTransposed", LossKind::NeuralNDCGTransposed, 3 * kPairFlops},
    {"lambdaLoss", LossKind::LambdaLossNDCG2PP, kPairFlops},
};

void bench_losses(const Lists& L, int reps) {
  Buffers buf;
  const size_t t = L.total();
  std::vector<float> labels(t);
  for (size_t i = 0; i < t; ++i) labels[i] = static_cast<float>((i * 7919) % 3);
  float *s = buf.f(t, 5), *y = buf.f(t), *loss = buf.f(L.lists), *gs = buf.f(t);
  cuda::copy_to_device(y, labels.data(), t * 4);
  uint32_t* off = buf.u(L.offsets);
  LossOptions o;
  for (const LossCase& c : kLosses) {
    Stats st = time_events(reps, [&] { cuda::ranking_loss(c.kind, s, y, off, L.lists, o, loss, gs); });
    const std::string name = std::string("loss_") + c.name;
    if (c.pair_flops > 0)
      emit(name, L.shape(), st, "gflops", c.pair_flops * L.pairs() / (st.median * 1e6));
    else
      emit(name, L.shape(), st, "gbps", 12.0 * t / (st.median * 1e6));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
  const CudaStatus& st = cuda_status();
  if (!st.usable) {
    std::printf("{\"case\":\"cuda\",\"skipped\":\"no usable CUDA device: %s\"}\n",
                st.error_name.empty() ? "none found" : st.error_name.c_str());
    return 0;
  }
  try {
    device_and_peaks(quick);
    const int reps = quick ? 3 : 20;
    std::vector<std::array<int64_t, 3>> gemms = {{4096, 136, 512}, {4096, 512, 512}, {1024, 1024, 1024}, {4096, 46, 256},
                                                 {8192, 8192, 8192}};
    if (quick) gemms = {{256, 136, 128}, {1024, 1024, 1024}};
    for (auto [m, n, k] : gemms) bench_sgemm(m, n, k, reps);

    const int64_t batch = quick ? 256 : 4096;
    MlpConfig c1;
    c1.in = 136, c1.hidden = {512, 512}, c1.out = 1, c1.act = Activation::ReLU;
    MlpConfig c2;
    c2.in = 46, c2.hidden = {256, 256, 256, 256}, c2.out = 1, c2.act = Activation::ReLU;
    // The DiffusionRank denoiser: [c_in·x_t, one-hot(K+1), c_noise] in, features + label head out.
    MlpConfig dr;
    dr.in = 50, dr.hidden = {256, 256, 256, 256}, dr.out = 48, dr.act = Activation::SiLU, dr.layernorm = true,
    dr.dropout = 0.1f;
    bench_mlp("mlp_train_step", c1, batch, reps);
    bench_mlp("mlp_train_step", c2, batch, reps);
    bench_mlp("mlp_train_step_denoiser", dr, batch, reps);

    std::vector<Lists> sorts = {{256, 32}, {256, 128}, {64, 512}, {16, 2048}};
    if (quick) sorts = {{8, 32}};
    for (const Lists& L : sorts) bench_neuralsort(L, reps);
    bench_losses(quick ? Lists(32, 32) : Lists(256, 128), reps);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    std::replace(msg.begin(), msg.end(), '"', '\'');
    std::printf("{\"case\":\"error\",\"backend\":\"cuda\",\"error\":\"%s\"}\n", msg.c_str());
    return 1;
  }
  return 0;
}
