// NeuralSort on CUDA (same semantics as cpu/neuralsort.cc; see that file and
// core/neuralsort.h for the formulas and the numerical choices).
//
// Layout of the work:
//  1. prep (grid: lists × doc tiles): s' = s (+ β·Gumbel), then per doc j
//     b_j = Σ_k |s'_j − s'_k| (loop in k order: tied docs get identical b),
//     its descending rank (ties → lower index first) and σ_j = #below − #above.
//     order[rank] = j gives the analytic row max m_i = z_{i, order[i]}.
//  2. row kernels (grid: lists × row tiles, one warp per row, lanes stride over
//     the columns, warp-shuffle reductions): P̂ rows are recomputed, never
//     stored (except by neuralsort_matrix, whose output is P̂).
//  3. backward: per-row H_ij = p_ij (G_ij − r_i) is accumulated into per-list
//     column sums u_j and W_j = Σ_i (c_i − σ_j) H_ij with double atomics, then
//     grad_m = (W_m − Σ_j sign(s_m − s_j) u_j)/τ (one thread per doc, O(n)).
// Scratch (device_alloc, freed before return): ~52 bytes per doc.
#include <cuda_runtime.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/error.h"
#include "core/neuralsort.h"
#include "core/rng.h"

namespace ordo {
namespace cuda {
namespace {

constexpr int kWarps = 8;          // warps per block in the row kernels
constexpr int kRowsPerWarp = 4;    // rows per warp per block
constexpr int kRowsPerBlock = kWarps * kRowsPerWarp;
constexpr int kPrepThreads = 256;

void check_launch(const char* what) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess)
    throw BackendError(std::string("CUDA ") + what + " launch failed: " + cudaGetErrorName(e) + ": " +
                       cudaGetErrorString(e));
}

void check_options(const NeuralSortOptions& opt, const char* fn) {
  if (!(opt.tau > 0.0f) || !std::isfinite(opt.tau))
    throw ArgumentError(std::string(fn) + ": option tau must be a finite number > 0, got " + std::to_string(opt.tau));
  if (opt.gumbel && (!(opt.gumbel_beta >= 0.0f) || !std::isfinite(opt.gumbel_beta)))
    throw ArgumentError(std::string(fn) + ": option gumbel_beta must be finite and >= 0, got " +
                        std::to_string(opt.gumbel_beta));
}

struct Scratch {
  std::vector<void*> ptrs;
  void* get(size_t bytes) {
    void* p = device_alloc(bytes < 8 ? 8 : bytes);
    ptrs.push_back(p);
    return p;
  }
  ~Scratch() {
    for (void* p : ptrs) device_free(p);
  }
};

// Host view of the offsets (copied once per call) and the shared prep state.
struct Prep {
  std::vector<uint32_t> off;
  uint32_t max_n = 0, total = 0;
  double* sp = nullptr;  // s' then reused: s'/τ
  double* bd = nullptr;  // b/τ
  float* sigma = nullptr;
  int* order = nullptr;  // per list, order[off + rank] = local doc index
};

__global__ void k_perturb(const float* scores, uint32_t total, uint32_t base, bool gumbel, float beta, uint64_t seed,
                          double* sp) {
  const uint32_t d = blockIdx.x * blockDim.x + threadIdx.x;
  if (d >= total) return;
  double v = scores[base + d];
  if (gumbel) {
    const double u = rng_uniform(seed, base + d);
    v += static_cast<double>(beta) * (-log(-log(u)));
  }
  sp[d] = v;
}

// One thread per doc j of list blockIdx.x.
__global__ void k_prep(const uint32_t* offsets, uint32_t base, const double* sp, double inv_tau, double* sd, double* bd,
                       float* sigma, int* order) {
  const uint32_t o0 = offsets[blockIdx.x] - base, o1 = offsets[blockIdx.x + 1] - base;
  const int n = static_cast<int>(o1 - o0);
  const int j = blockIdx.y * blockDim.x + threadIdx.x;
  if (j >= n) return;
  const double a = sp[o0 + j];
  double b = 0.0;
  int above = 0, below = 0, rank = 0;
  for (int k = 0; k < n; ++k) {
    const double x = sp[o0 + k];
    b += fabs(a - x);
    above += x > a;
    below += x < a;
    rank += (x > a) || (x == a && k < j);
  }
  bd[o0 + j] = b * inv_tau;
  sd[o0 + j] = a * inv_tau;
  sigma[o0 + j] = static_cast<float>(below - above);
  order[o0 + rank] = j;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct RowCtx {
  const double* sd;
  const double* bd;
  int n;
  double ci, m;
  __device__ float t(int j) const {  // min(z_ij − m_i, 0)
    const double z = ci * sd[j] - bd[j] - m;
    return static_cast<float>(z < 0.0 ? z : 0.0);
  }
};

__device__ __forceinline__ RowCtx make_row(const double* sd, const double* bd, const int* order, int n, int i) {
  RowCtx r;
  r.sd = sd;
  r.bd = bd;
  r.n = n;
  r.ci = static_cast<double>(n - 1 - 2 * i);
  const int jm = order[i];
  r.m = r.ci * sd[jm] - bd[jm];
  return r;
}

// Hard argmax of row i (ties → lowest j), warp-wide.
__device__ int warp_argmax(const RowCtx& r) {
  const int lane = threadIdx.x & 31;
  double best = -INFINITY;
  int bj = 0x7fffffff;
  for (int j = lane; j < r.n; j += 32) {
    const double z = r.ci * r.sd[j] - r.bd[j];
    if (z > best) {
      best = z;
      bj = j;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    const double ob = __shfl_xor_sync(0xffffffffu, best, o);
    const int oj = __shfl_xor_sync(0xffffffffu, bj, o);
    if (ob > best || (ob == best && oj < bj)) {
      best = ob;
      bj = oj;
    }
  }
  return bj;
}

#define ORDO_ROW_LOOP_BEGIN                                                      \
  const uint32_t o0 = offsets[blockIdx.x] - base, o1 = offsets[blockIdx.x + 1] - base; \
  const int n = static_cast<int>(o1 - o0);                                       \
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;                    \
  const double* sdl = sd + o0;                                                   \
  const double* bdl = bd + o0;                                                   \
  const int* ordl = order + o0;                                                  \
  for (int rr = 0; rr < kRowsPerWarp; ++rr) {                                    \
    const int i = blockIdx.y * kRowsPerBlock + warp * kRowsPerWarp + rr;         \
    if (i >= n) break;                                                           \
    const RowCtx row = make_row(sdl, bdl, ordl, n, i);

#define ORDO_ROW_LOOP_END }

__global__ void k_matrix(const uint32_t* offsets, uint32_t base, const uint64_t* mat_offsets, const double* sd,
                         const double* bd, const int* order, bool hard, float* p_hat) {
  ORDO_ROW_LOOP_BEGIN
  float* prow = p_hat + mat_offsets[blockIdx.x] + static_cast<size_t>(i) * n;
  if (hard) {
    const int am = warp_argmax(row);
    for (int j = lane; j < n; j += 32) prow[j] = j == am ? 1.0f : 0.0f;
  } else {
    double s = 0.0;
    for (int j = lane; j < n; j += 32) s += expf(row.t(j));
    s = warp_sum(s);
    const float lse = static_cast<float>(log(s));
    for (int j = lane; j < n; j += 32) prow[j] = expf(row.t(j) - lse);
  }
  ORDO_ROW_LOOP_END
}

__global__ void k_apply(const uint32_t* offsets, uint32_t base, const double* sd, const double* bd, const int* order,
                        const float* values, bool hard, float* out, float* row_stats) {
  ORDO_ROW_LOOP_BEGIN
  const float* v = values + base + o0;
  double s = 0.0, sv = 0.0;
  for (int j = lane; j < n; j += 32) {
    const float e = expf(row.t(j));
    s += e;
    sv += static_cast<double>(e) * v[j];
  }
  s = warp_sum(s);
  sv = warp_sum(sv);
  int am = 0;
  if (hard) am = warp_argmax(row);
  if (lane == 0) {
    const size_t d = static_cast<size_t>(base) + o0 + i;
    out[d] = hard ? v[am] : static_cast<float>(sv / s);
    if (row_stats) {
      row_stats[2 * d] = static_cast<float>(row.m);
      row_stats[2 * d + 1] = static_cast<float>(log(s));
    }
  }
  ORDO_ROW_LOOP_END
}

__global__ void k_matrix_backward(const uint32_t* offsets, uint32_t base, const uint64_t* mat_offsets,
                                  const double* sd, const double* bd, const int* order, const float* sigma,
                                  const float* grad_p_hat, double* acc_u, double* acc_w) {
  ORDO_ROW_LOOP_BEGIN
  const float* grow = grad_p_hat + mat_offsets[blockIdx.x] + static_cast<size_t>(i) * n;
  double s = 0.0;
  for (int j = lane; j < n; j += 32) s += expf(row.t(j));
  s = warp_sum(s);
  const float lse = static_cast<float>(log(s));
  double r = 0.0;
  for (int j = lane; j < n; j += 32) r += static_cast<double>(expf(row.t(j) - lse)) * grow[j];
  r = warp_sum(r);
  const float rf = static_cast<float>(r);
  for (int j = lane; j < n; j += 32) {
    const double h = static_cast<double>(expf(row.t(j) - lse)) * (grow[j] - rf);
    if (h != 0.0) {
      atomicAdd(acc_u + o0 + j, h);
      atomicAdd(acc_w + o0 + j, (row.ci - sigma[o0 + j]) * h);
    }
  }
  ORDO_ROW_LOOP_END
}

__global__ void k_apply_backward(const uint32_t* offsets, uint32_t base, const double* sd, const double* bd,
                                 const int* order, const float* sigma, const float* values, const float* row_stats,
                                 const float* grad_out, double* acc_u, double* acc_w, double* acc_v) {
  ORDO_ROW_LOOP_BEGIN
  const size_t d = static_cast<size_t>(base) + o0 + i;
  const float gi = grad_out[d];
  if (gi == 0.0f) continue;
  const float lse = row_stats[2 * d + 1];
  const float* v = values + base + o0;
  double y = 0.0;
  for (int j = lane; j < n; j += 32) y += static_cast<double>(expf(row.t(j) - lse)) * v[j];
  y = warp_sum(y);
  const float gy = static_cast<float>(static_cast<double>(gi) * y);
  for (int j = lane; j < n; j += 32) {
    const float p = expf(row.t(j) - lse);
    if (p == 0.0f) continue;
    const double h = static_cast<double>(p) * (gi * v[j] - gy);
    atomicAdd(acc_u + o0 + j, h);
    atomicAdd(acc_w + o0 + j, (row.ci - sigma[o0 + j]) * h);
    if (acc_v) atomicAdd(acc_v + o0 + j, static_cast<double>(gi) * p);
  }
  ORDO_ROW_LOOP_END
}

// grad_m = (W_m − Σ_j sign(s'_m − s'_j) u_j)/τ; grad_values from acc_v.
__global__ void k_finish(const uint32_t* offsets, uint32_t base, const double* sd, const double* acc_u,
                         const double* acc_w, const double* acc_v, float inv_tau, float* grad_scores,
                         float* grad_values) {
  const uint32_t o0 = offsets[blockIdx.x] - base, o1 = offsets[blockIdx.x + 1] - base;
  const int n = static_cast<int>(o1 - o0);
  const int m = blockIdx.y * blockDim.x + threadIdx.x;
  if (m >= n) return;
  const double a = sd[o0 + m];
  double su = 0.0;
  for (int j = 0; j < n; ++j) {
    const double x = sd[o0 + j];
    if (x < a) su += acc_u[o0 + j];
    else if (x > a) su -= acc_u[o0 + j];
  }
  grad_scores[base + o0 + m] = static_cast<float>(static_cast<double>(inv_tau) * (acc_w[o0 + m] - su));
  if (grad_values) grad_values[base + o0 + m] = static_cast<float>(acc_v[o0 + m]);
}

// Copies offsets to the host, allocates the scratch and runs the prep kernels.
void prepare(const float* scores, const uint32_t* offsets, int64_t num_lists, const NeuralSortOptions& opt, Prep& p,
             Scratch& sc) {
  p.off.resize(num_lists + 1);
  copy_to_host(p.off.data(), offsets, (num_lists + 1) * sizeof(uint32_t));
  for (int64_t q = 0; q < num_lists; ++q) {
    if (p.off[q + 1] < p.off[q]) throw ArgumentError("neuralsort (cuda): offsets must be non-decreasing");
    p.max_n = std::max(p.max_n, p.off[q + 1] - p.off[q]);
  }
  p.total = p.off[num_lists] - p.off[0];
  const size_t nd = p.total;
  p.sp = static_cast<double*>(sc.get(nd * sizeof(double)));
  double* sd = static_cast<double*>(sc.get(nd * sizeof(double)));
  p.bd = static_cast<double*>(sc.get(nd * sizeof(double)));
  p.sigma = static_cast<float*>(sc.get(nd * sizeof(float)));
  p.order = static_cast<int*>(sc.get(nd * sizeof(int)));
  if (nd == 0) return;
  k_perturb<<<(p.total + 255) / 256, 256>>>(scores, p.total, p.off[0], opt.gumbel, opt.gumbel_beta, opt.seed, p.sp);
  check_launch("neuralsort perturb");
  dim3 grid(static_cast<unsigned>(num_lists), (p.max_n + kPrepThreads - 1) / kPrepThreads);
  k_prep<<<grid, kPrepThreads>>>(offsets, p.off[0], p.sp, 1.0 / static_cast<double>(opt.tau), sd, p.bd, p.sigma,
                                 p.order);
  check_launch("neuralsort prep");
  p.sp = sd;  // from here on: s'/τ
}

dim3 row_grid(int64_t num_lists, const Prep& p) {
  return dim3(static_cast<unsigned>(num_lists), (p.max_n + kRowsPerBlock - 1) / kRowsPerBlock);
}

}  // namespace

void neuralsort_matrix(const float* scores, const uint32_t* offsets, int64_t num_lists, const uint64_t* mat_offsets,
                       const NeuralSortOptions& opt, float* p_hat) {
  check_options(opt, "neuralsort_matrix");
  if (num_lists <= 0) return;
  Scratch sc;
  Prep p;
  prepare(scores, offsets, num_lists, opt, p, sc);
  if (p.max_n == 0) return;
  k_matrix<<<row_grid(num_lists, p), kWarps * 32>>>(offsets, p.off[0], mat_offsets, p.sp, p.bd, p.order, opt.hard,
                                                   p_hat);
  check_launch("neuralsort_matrix");
  synchronize();
}

void neuralsort_matrix_backward(const float* scores, const uint32_t* offsets, int64_t num_lists,
                                const uint64_t* mat_offsets, const NeuralSortOptions& opt, const float* grad_p_hat,
                                float* grad_scores) {
  check_options(opt, "neuralsort_matrix_backward");
  if (num_lists <= 0) return;
  Scratch sc;
  Prep p;
  prepare(scores, offsets, num_lists, opt, p, sc);
  if (p.max_n == 0) return;
  double* au = static_cast<double*>(sc.get(p.total * sizeof(double)));
  double* aw = static_cast<double*>(sc.get(p.total * sizeof(double)));
  device_memset_zero(au, p.total * sizeof(double));
  device_memset_zero(aw, p.total * sizeof(double));
  k_matrix_backward<<<row_grid(num_lists, p), kWarps * 32>>>(offsets, p.off[0], mat_offsets, p.sp, p.bd, p.order,
                                                            p.sigma, grad_p_hat, au, aw);
  check_launch("neuralsort_matrix_backward");
  dim3 g2(static_cast<unsigned>(num_lists), (p.max_n + 255) / 256);
  k_finish<<<g2, 256>>>(offsets, p.off[0], p.sp, au, aw, nullptr, 1.0f / opt.tau, grad_scores, nullptr);
  check_launch("neuralsort_matrix_backward finish");
  synchronize();
}

void neuralsort_apply(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,
                      const NeuralSortOptions& opt, float* out, float* row_stats) {
  check_options(opt, "neuralsort_apply");
  if (num_lists <= 0) return;
  Scratch sc;
  Prep p;
  prepare(scores, offsets, num_lists, opt, p, sc);
  if (p.max_n == 0) return;
  k_apply<<<row_grid(num_lists, p), kWarps * 32>>>(offsets, p.off[0], p.sp, p.bd, p.order, values, opt.hard, out,
                                                  row_stats);
  check_launch("neuralsort_apply");
  synchronize();
}

void neuralsort_apply_backward(const float* scores, const float* values, const uint32_t* offsets, int64_t num_lists,
                               const NeuralSortOptions& opt, const float* row_stats, const float* grad_out,
                               float* grad_scores, float* grad_values) {
  check_options(opt, "neuralsort_apply_backward");
  if (row_stats == nullptr) throw ArgumentError("neuralsort_apply_backward: row_stats is null");
  if (num_lists <= 0) return;
  Scratch sc;
  Prep p;
  prepare(scores, offsets, num_lists, opt, p, sc);
  if (p.max_n == 0) return;
  double* au = static_cast<double*>(sc.get(p.total * sizeof(double)));
  double* aw = static_cast<double*>(sc.get(p.total * sizeof(double)));
  double* av = grad_values ? static_cast<double*>(sc.get(p.total * sizeof(double))) : nullptr;
  device_memset_zero(au, p.total * sizeof(double));
  device_memset_zero(aw, p.total * sizeof(double));
  if (av) device_memset_zero(av, p.total * sizeof(double));
  k_apply_backward<<<row_grid(num_lists, p), kWarps * 32>>>(offsets, p.off[0], p.sp, p.bd, p.order, p.sigma, values,
                                                           row_stats, grad_out, au, aw, av);
  check_launch("neuralsort_apply_backward");
  dim3 g2(static_cast<unsigned>(num_lists), (p.max_n + 255) / 256);
  k_finish<<<g2, 256>>>(offsets, p.off[0], p.sp, au, aw, av, 1.0f / opt.tau, grad_scores, grad_values);
  check_launch("neuralsort_apply_backward finish");
  synchronize();
}

}  // namespace cuda
}  // namespace ordo
