// cuda:: ragged multi-head self-attention for the Transformer scorer
// (core/transformer.h). One 256-thread block per (list, head); each warp walks
// rows of the list, lanes split the list's columns (scores, softmax) or the
// head's dk features (outputs). Probabilities and dS live in global memory
// ([heads x num_docs x max_len]), so lists of any length work. The backward is
// deterministic: dQ row by row, then (after a block barrier) dK and dV column by
// column, no atomics. Every launch is checked (BackendError with the CUDA error).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "core/transformer.h"

namespace ordo {
namespace cuda {
namespace {

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess)
    throw BackendError(std::string("cuda::") + what + ": kernel launch failed: " + cudaGetErrorName(err) + ": " +
                       cudaGetErrorString(err));
}

void need(bool ok, const char* fn, const std::string& what) {
  if (!ok) throw ArgumentError(std::string("cuda::") + fn + ": " + what);
}

void check_dims(const char* fn, int64_t num_lists, int64_t num_docs, int64_t d_model, int64_t heads, int64_t max_len) {
  need(num_lists >= 0 && num_lists <= INT32_MAX && num_docs >= 0 && num_docs <= UINT32_MAX && heads >= 1 &&
           heads <= 65535 && d_model >= heads && d_model % heads == 0 && d_model <= INT32_MAX && max_len >= 1,
       fn, "bad dimensions (need 1 <= heads <= 65535 dividing d_model, max_len >= 1)");
}

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v += __shfl_xor_sync(0xffffffffu, v, s);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int s = 16; s > 0; s >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, s));
  return v;
}

__global__ void __launch_bounds__(kThreads)
    attention_forward_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                             const uint32_t* __restrict__ offsets, int64_t N, int D, int dk, int64_t L, float scale,
                             float* __restrict__ p, float* __restrict__ o) {
  const int64_t list = blockIdx.x;
  const int h = blockIdx.y;
  const int64_t b = offsets[list];
  const int n = static_cast<int>(offsets[list + 1] - offsets[list]);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t hc = static_cast<int64_t>(h) * dk;
  for (int r = warp; r < n; r += kWarps) {
    const float* qr = q + (b + r) * D + hc;
    float* pr = p + (static_cast<int64_t>(h) * N + b + r) * L;
    float mx = -INFINITY;
    for (int c = lane; c < n; c += 32) {
      const float* kc = k + (b + c) * D + hc;
      float s = 0.0f;
      for (int d = 0; d < dk; ++d) s = fmaf(qr[d], kc[d], s);
      s *= scale;
      pr[c] = s;
      mx = fmaxf(mx, s);
    }
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int c = lane; c < n; c += 32) {
      const float e = expf(pr[c] - mx);
      pr[c] = e;
      sum += e;
    }
    const float inv = 1.0f / warp_sum(sum);
    for (int c = lane; c < n; c += 32) pr[c] *= inv;
    __syncwarp();
    float* orow = o + (b + r) * D + hc;
    for (int d = lane; d < dk; d += 32) {
      float acc = 0.0f;
      for (int c = 0; c < n; ++c) acc = fmaf(pr[c], v[(b + c) * D + hc + d], acc);
      orow[d] = acc;
    }
    __syncwarp();
  }
}

__global__ void __launch_bounds__(kThreads)
    attention_backward_kernel(const float* __restrict__ q, const float* __restrict__ k, const float* __restrict__ v,
                              const float* __restrict__ p, const float* __restrict__ d_o,
                              const uint32_t* __restrict__ offsets, int64_t N, int D, int dk, int64_t L, float scale,
                              float* __restrict__ ds, float* __restrict__ dq, float* __restrict__ dkk,
                              float* __restrict__ dv) {
  const int64_t list = blockIdx.x;
  const int h = blockIdx.y;
  const int64_t b = offsets[list];
  const int n = static_cast<int>(offsets[list + 1] - offsets[list]);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t hc = static_cast<int64_t>(h) * dk;
  const int64_t prow0 = static_cast<int64_t>(h) * N + b;
  for (int r = warp; r < n; r += kWarps) {
    const float* pr = p + (prow0 + r) * L;
    float* sr = ds + (prow0 + r) * L;
    const float* gr = d_o + (b + r) * D + hc;
    float dot = 0.0f;
    for (int c = lane; c < n; c += 32) {
      const float* vc = v + (b + c) * D + hc;
      float s = 0.0f;
      for (int d = 0; d < dk; ++d) s = fmaf(gr[d], vc[d], s);
      sr[c] = s;  // dP
      dot = fmaf(s, pr[c], dot);
    }
    dot = warp_sum(dot);
    for (int c = lane; c < n; c += 32) sr[c] = pr[c] * (sr[c] - dot);  // dS
    __syncwarp();
    float* dqr = dq + (b + r) * D + hc;
    for (int d = lane; d < dk; d += 32) {
      float acc = 0.0f;
      for (int c = 0; c < n; ++c) acc = fmaf(sr[c], k[(b + c) * D + hc + d], acc);
      dqr[d] = acc * scale;
    }
    __syncwarp();
  }
  __syncthreads();  // every dS row of this (list, head) is written
  for (int c = warp; c < n; c += kWarps) {
    for (int d = lane; d < dk; d += 32) {
      float ak = 0.0f, av = 0.0f;
      for (int r = 0; r < n; ++r) {
        const int64_t at = (prow0 + r) * L + c;
        const int64_t row = (b + r) * D + hc + d;
        ak = fmaf(ds[at], q[row], ak);
        av = fmaf(p[at], d_o[row], av);
      }
      dkk[(b + c) * D + hc + d] = ak * scale;
      dv[(b + c) * D + hc + d] = av;
    }
  }
}

__global__ void add_kernel(const float* a, const float* b, float* y, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)blockDim.x * gridDim.x)
    y[i] = a[i] + b[i];
}

}  // namespace

void attention_forward(const float* q, const float* k, const float* v, const uint32_t* offsets, int64_t num_lists,
                       int64_t num_docs, int64_t d_model, int64_t heads, int64_t max_len, float* p, float* o) {
  check_dims("attention_forward", num_lists, num_docs, d_model, heads, max_len);
  if (num_lists == 0 || num_docs == 0) return;
  const int dk = static_cast<int>(d_model / heads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dk));
  attention_forward_kernel<<<dim3(static_cast<unsigned>(num_lists), static_cast<unsigned>(heads)), kThreads>>>(
      q, k, v, offsets, num_docs, static_cast<int>(d_model), dk, max_len, scale, p, o);
  check_launch("attention_forward");
}

void attention_backward(const float* q, const float* k, const float* v, const float* p, const float* d_o,
                        const uint32_t* offsets, int64_t num_lists, int64_t num_docs, int64_t d_model, int64_t heads,
                        int64_t max_len, float* ds, float* dq, float* dk, float* dv) {
  check_dims("attention_backward", num_lists, num_docs, d_model, heads, max_len);
  if (num_lists == 0 || num_docs == 0) return;
  const int dkh = static_cast<int>(d_model / heads);
  const float scale = 1.0f / std::sqrt(static_cast<float>(dkh));
  attention_backward_kernel<<<dim3(static_cast<unsigned>(num_lists), static_cast<unsigned>(heads)), kThreads>>>(
      q, k, v, p, d_o, offsets, num_docs, static_cast<int>(d_model), dkh, max_len, scale, ds, dq, dk, dv);
  check_launch("attention_backward");
}

void add(const float* a, const float* b, float* y, int64_t n) {
  need(n >= 0, "add", "negative length");
  if (n == 0) return;
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, 1 << 20);
  add_kernel<<<static_cast<unsigned>(blocks), kThreads>>>(a, b, y, n);
  check_launch("add");
}

}  // namespace cuda
}  // namespace ordo
