// cuda:: dense-layer primitives (core/dense.h): a tiled SGEMM of our own (no
// cuBLAS) and the elementwise / LayerNorm / dropout / optimiser kernels. All
// launches go to the default stream; each is followed by cudaGetLastError and
// a BackendError naming the CUDA error. Pointers are device pointers.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "core/dense.h"
#include "core/error.h"
#include "core/rng.h"

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

constexpr int kThreads = 256;
unsigned grid_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(blocks, 1 << 20)));  // grid-stride beyond
}

#define ORDO_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)

// ---------------------------------------------------------------------------
// SGEMM. One 256-thread block computes a 128x128 tile of C; the K dimension is
// walked 8 at a time. Each step, the block stages op(A)[128 x 8] and
// op(B)[8 x 128] in shared memory, k-major (As[k][i], Bs[k][j]), so that the
// inner product loop reads both as float4 vectors. Thread (ty, tx) in a 16x16
// grid owns an 8x8 sub-tile made of rows {ty*4 + 0..3, 64 + ty*4 + 0..3} and
// columns {tx*4 + 0..3, 64 + tx*4 + 0..3}: adjacent threads read adjacent
// float4s (no bank conflicts), and the 64 accumulators stay in registers.
// Double buffering: the next K slice is fetched into registers while the
// current one is multiplied, then written to the other shared buffer, so there
// is one __syncthreads per K slice. Transposes only change which global index
// each thread loads (chosen so the loads stay coalesced); edges are zero-filled
// on load and masked on store.
constexpr int BM = 128, BN = 128, BK = 8;

template <bool TA, bool TB>
__global__ void __launch_bounds__(256) sgemm_kernel(int m, int n, int k, float alpha, const float* __restrict__ a,
                                                    int64_t lda, const float* __restrict__ b, int64_t ldb, float beta,
                                                    float* __restrict__ c, int64_t ldc) {
  __shared__ __align__(16) float As[2][BK][BM];
  __shared__ __align__(16) float Bs[2][BK][BN];
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;

  // Load assignment (4 elements per thread per matrix per K slice):
  //   A not transposed (row-major m x k): thread -> row tid/2, k (tid%2)*4 .. +3 (contiguous in memory)
  //   A transposed (stored k x m):       thread -> k tid/32, rows (tid%32)*4 .. +3 (contiguous)
  //   B not transposed (k x n):          thread -> k tid/32, cols (tid%32)*4 .. +3 (contiguous)
  //   B transposed (stored n x k):       thread -> col tid/2, k (tid%2)*4 .. +3 (contiguous)
  float ra[4], rb[4];
  auto load_a = [&](int k0) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      int i, p;
      if (!TA) {
        i = row0 + tid / 2, p = k0 + (tid % 2) * 4 + q;
      } else {
        i = row0 + (tid % 32) * 4 + q, p = k0 + tid / 32;
      }
      ra[q] = (i < m && p < k) ? (TA ? a[(int64_t)p * lda + i] : a[(int64_t)i * lda + p]) : 0.0f;
    }
  };
  auto load_b = [&](int k0) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      int p, j;
      if (!TB) {
        p = k0 + tid / 32, j = col0 + (tid % 32) * 4 + q;
      } else {
        p = k0 + (tid % 2) * 4 + q, j = col0 + tid / 2;
      }
      rb[q] = (p < k && j < n) ? (TB ? b[(int64_t)j * ldb + p] : b[(int64_t)p * ldb + j]) : 0.0f;
    }
  };
  auto store_tiles = [&](int buf) {
#pragma unroll
    for (int q = 0; q < 4; ++q) {
      if (!TA)
        As[buf][(tid % 2) * 4 + q][tid / 2] = ra[q];
      else
        As[buf][tid / 32][(tid % 32) * 4 + q] = ra[q];
      if (!TB)
        Bs[buf][tid / 32][(tid % 32) * 4 + q] = rb[q];
      else
        Bs[buf][(tid % 2) * 4 + q][tid / 2] = rb[q];
    }
  };

  float acc[8][8];
#pragma unroll
  for (int i = 0; i < 8; ++i)
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[i][j] = 0.0f;

  load_a(0);
  load_b(0);
  store_tiles(0);
  __syncthreads();
  int buf = 0;
  for (int k0 = 0; k0 < k; k0 += BK) {
    const bool more = k0 + BK < k;
    if (more) {  // fetch the next slice while this one is multiplied
      load_a(k0 + BK);
      load_b(k0 + BK);
    }
#pragma unroll
    for (int kk = 0; kk < BK; ++kk) {
      float av[8], bv[8];
      const float4 a0 = *reinterpret_cast<const float4*>(&As[buf][kk][ty * 4]);
      const float4 a1 = *reinterpret_cast<const float4*>(&As[buf][kk][64 + ty * 4]);
      const float4 b0 = *reinterpret_cast<const float4*>(&Bs[buf][kk][tx * 4]);
      const float4 b1 = *reinterpret_cast<const float4*>(&Bs[buf][kk][64 + tx * 4]);
      av[0] = a0.x, av[1] = a0.y, av[2] = a0.z, av[3] = a0.w, av[4] = a1.x, av[5] = a1.y, av[6] = a1.z, av[7] = a1.w;
      bv[0] = b0.x, bv[1] = b0.y, bv[2] = b0.z, bv[3] = b0.w, bv[4] = b1.x, bv[5] = b1.y, bv[6] = b1.z, bv[7] = b1.w;
#pragma unroll
      for (int i = 0; i < 8; ++i)
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (more) {
      store_tiles(buf ^ 1);  // the other buffer: nobody reads it during this slice
      __syncthreads();
      buf ^= 1;
    }
  }

#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const int r = row0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + (i - 4));
    if (r >= m) continue;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      const int col = col0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + (j - 4));
      if (col >= n) continue;
      float* cp = c + (int64_t)r * ldc + col;
      *cp = beta == 0.0f ? alpha * acc[i][j] : fmaf(alpha, acc[i][j], beta * *cp);
    }
  }
}

__global__ void scale_kernel(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  ORDO_GRID_STRIDE(t, m * n) {
    float* cp = c + (t / n) * ldc + t % n;
    *cp = beta == 0.0f ? 0.0f : beta * *cp;
  }
}

// ---------------------------------------------------------------------------
__global__ void add_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  ORDO_GRID_STRIDE(i, rows * cols) { y[i] += bias[i % cols]; }
}

// Column sums: block (32, 8) covers 32 columns; the 8 row-groups each sum a
// strided subset of rows (double), then combine in shared memory in a fixed order.
__global__ void column_sums_kernel(const float* dy, int64_t rows, int64_t cols, float* out) {
  __shared__ double part[8][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  double s = 0.0;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += 8) s += dy[r * cols + c];
  part[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double t = 0.0;
    for (int g = 0; g < 8; ++g) t += part[g][threadIdx.x];
    out[c] = static_cast<float>(t);
  }
}

constexpr float kGeluBeta = 0.7978845608028654f;
constexpr float kGeluKappa = 0.044715f;

__global__ void act_fwd_kernel(Activation act, const float* x, float* y, int64_t n) {
  ORDO_GRID_STRIDE(i, n) {
    const float v = x[i];
    float r = v;
    switch (act) {
      case Activation::Identity: r = v; break;
      case Activation::ReLU: r = v > 0.0f ? v : 0.0f; break;
      case Activation::SiLU: r = v / (1.0f + expf(-v)); break;
      case Activation::GELU: r = 0.5f * v * (1.0f + tanhf(kGeluBeta * (v + kGeluKappa * v * v * v))); break;
      case Activation::Tanh: r = tanhf(v); break;
    }
    y[i] = r;
  }
}

__global__ void act_bwd_kernel(Activation act, const float* x, const float* dy, float* dx, int64_t n) {
  ORDO_GRID_STRIDE(i, n) {
    const float v = x[i], g = dy[i];
    float r = g;
    switch (act) {
      case Activation::Identity: r = g; break;
      case Activation::ReLU: r = v > 0.0f ? g : 0.0f; break;
      case Activation::SiLU: {
        const float s = 1.0f / (1.0f + expf(-v));
        r = g * s * (1.0f + v * (1.0f - s));
        break;
      }
      case Activation::GELU: {
        const float v2 = v * v;
        const float t = tanhf(kGeluBeta * (v + kGeluKappa * v2 * v));
        const float dleft = 0.5f * (1.0f + t);
        const float dright = 0.5f * v * (1.0f - t * t) * kGeluBeta * (1.0f + 3.0f * kGeluKappa * v2);
        r = g * (dleft + dright);
        break;
      }
      case Activation::Tanh: {
        const float t = tanhf(v);
        r = g * (1.0f - t * t);
        break;
      }
    }
    dx[i] = r;
  }
}

__device__ __forceinline__ float act_value(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return v;
    case Activation::ReLU: return v > 0.0f ? v : 0.0f;
    case Activation::SiLU: return v / (1.0f + expf(-v));
    case Activation::GELU: return 0.5f * v * (1.0f + tanhf(kGeluBeta * (v + kGeluKappa * v * v * v)));
    case Activation::Tanh: return tanhf(v);
  }
  return v;
}

// f'(v) as in act_bwd_kernel (r = g * f'(v) there, with the same operation order for g = 1).
__device__ __forceinline__ float act_slope(Activation act, float v) {
  switch (act) {
    case Activation::Identity: return 1.0f;
    case Activation::ReLU: return v > 0.0f ? 1.0f : 0.0f;
    case Activation::SiLU: {
      const float s = 1.0f / (1.0f + expf(-v));
      return s * (1.0f + v * (1.0f - s));
    }
    case Activation::GELU: {
      const float v2 = v * v;
      const float t = tanhf(kGeluBeta * (v + kGeluKappa * v2 * v));
      return 0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * kGeluBeta * (1.0f + 3.0f * kGeluKappa * v2);
    }
    case Activation::Tanh: {
      const float t = tanhf(v);
      return 1.0f - t * t;
    }
  }
  return 1.0f;
}

// sgemm_fused's write-back (core/dense.h, GemmEpilogue), one pass over C after the plain SGEMM.
__global__ void gemm_epilogue_kernel(int64_t m, int64_t n, float* c, int64_t ldc, const float* bias, float* pre,
                                     Activation act, const uint8_t* keep, float keep_scale, const float* grad_x,
                                     Activation grad_act) {
  ORDO_GRID_STRIDE(t, m * n) {
    const int64_t at = (t / n) * ldc + t % n;
    float v = c[at];
    if (bias) v += bias[t % n];
    if (pre) pre[at] = v;
    v = act_value(act, v);
    if (keep) v = keep[at] ? v * keep_scale : 0.0f;
    if (grad_x) v *= act_slope(grad_act, grad_x[at]);
    c[at] = v;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// One warp per row (8 rows per 256-thread block); two-pass mean / biased variance.
__global__ void layernorm_fwd_kernel(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                                     float* rstd, int64_t rows, int64_t cols, float eps) {
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  const float* xr = x + r * cols;
  float s = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) s += xr[c];
  const float mu = warp_sum(s) / static_cast<float>(cols);
  float ss = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) {
    const float d = xr[c] - mu;
    ss += d * d;
  }
  const float rs = rsqrtf(warp_sum(ss) / static_cast<float>(cols) + eps);
  if (lane == 0) {
    if (mean) mean[r] = mu;
    if (rstd) rstd[r] = rs;
  }
  float* yr = y + r * cols;
  for (int64_t c = lane; c < cols; c += 32)
    yr[c] = (xr[c] - mu) * rs * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
}

__global__ void layernorm_bwd_dx_kernel(const float* dy, const float* x, const float* gamma, const float* mean,
                                        const float* rstd, float* dx, int64_t rows, int64_t cols) {
  const int lane = threadIdx.x % 32;
  const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  if (r >= rows) return;
  const float* xr = x + r * cols;
  const float* dyr = dy + r * cols;
  const float m = mean[r], rs = rstd[r];
  float sg = 0.0f, sgx = 0.0f;
  for (int64_t c = lane; c < cols; c += 32) {
    const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
    sg += g;
    sgx += g * ((xr[c] - m) * rs);
  }
  const float mg = warp_sum(sg) / static_cast<float>(cols);
  const float mgx = warp_sum(sgx) / static_cast<float>(cols);
  float* dxr = dx + r * cols;
  for (int64_t c = lane; c < cols; c += 32) {
    const float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
    dxr[c] = rs * (g - mg - ((xr[c] - m) * rs) * mgx);
  }
}

__global__ void layernorm_bwd_params_kernel(const float* dy, const float* x, const float* mean, const float* rstd,
                                            float* dgamma, float* dbeta, int64_t rows, int64_t cols) {
  __shared__ double pg[8][33], pb[8][33];
  const int64_t c = blockIdx.x * 32 + threadIdx.x;
  double sg = 0.0, sb = 0.0;
  if (c < cols)
    for (int64_t r = threadIdx.y; r < rows; r += 8) {
      const float d = dy[r * cols + c];
      sg += static_cast<double>(d) * ((x[r * cols + c] - mean[r]) * rstd[r]);
      sb += d;
    }
  pg[threadIdx.y][threadIdx.x] = sg;
  pb[threadIdx.y][threadIdx.x] = sb;
  __syncthreads();
  if (threadIdx.y == 0 && c < cols) {
    double tg = 0.0, tb = 0.0;
    for (int g = 0; g < 8; ++g) tg += pg[g][threadIdx.x], tb += pb[g][threadIdx.x];
    if (dgamma) dgamma[c] = static_cast<float>(tg);
    if (dbeta) dbeta[c] = static_cast<float>(tb);
  }
}

__global__ void dropout_fwd_kernel(const float* x, float* y, uint8_t* mask, int64_t n, uint32_t threshold,
                                   float scale, uint64_t seed, uint64_t offset) {
  ORDO_GRID_STRIDE(i, n) {
    const bool keep = dropout_keep(seed, offset + static_cast<uint64_t>(i), threshold);
    if (mask) mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

__global__ void dropout_bwd_kernel(const float* dy, const uint8_t* mask, float* dx, int64_t n, float scale) {
  ORDO_GRID_STRIDE(i, n) { dx[i] = mask[i] ? dy[i] * scale : 0.0f; }
}

__global__ void adam_kernel(float* param, const float* grad, float* m, float* v, int64_t n, float beta1, float beta2,
                            float eps, float step_size, float bc2_sqrt, float decay, float l2, bool decoupled) {
  ORDO_GRID_STRIDE(i, n) {
    float w = param[i];
    const float g = grad[i] + l2 * w;
    if (decoupled) w *= decay;
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] = w - step_size * mi / (sqrtf(vi) / bc2_sqrt + eps);
  }
}

__global__ void sgd_kernel(float* param, const float* grad, float* buf, int64_t n, float lr, float momentum, float wd,
                           bool nesterov) {
  ORDO_GRID_STRIDE(i, n) {
    float d = grad[i];
    if (wd != 0.0f) d += wd * param[i];
    if (momentum != 0.0f) {
      const float b = momentum * buf[i] + d;
      buf[i] = b;
      d = nesterov ? d + momentum * b : b;
    }
    param[i] -= lr * d;
  }
}

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  need(m >= 0 && n >= 0 && k >= 0, "sgemm", "negative size");
  need(lda >= std::max<int64_t>(1, trans_a ? m : k), "sgemm", "lda too small");
  need(ldb >= std::max<int64_t>(1, trans_b ? k : n), "sgemm", "ldb too small");
  need(ldc >= std::max<int64_t>(1, n), "sgemm", "ldc too small");
  need(m < (int64_t(1) << 31) && n < (int64_t(1) << 31) && k < (int64_t(1) << 31), "sgemm", "dimension >= 2^31");
  if (m == 0 || n == 0) return;
  if (k == 0 || alpha == 0.0f) {
    scale_kernel<<<grid_for(m * n), kThreads>>>(m, n, beta, c, ldc);
    check_launch("sgemm(scale)");
    return;
  }
  need((m + BM - 1) / BM <= 65535, "sgemm", "m too large for the grid (> 8388480 rows)");
  const dim3 grid(static_cast<unsigned>((n + BN - 1) / BN), static_cast<unsigned>((m + BM - 1) / BM));
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k);
  if (!trans_a && !trans_b)
    sgemm_kernel<false, false><<<grid, 256>>>(mi, ni, ki, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (!trans_a && trans_b)
    sgemm_kernel<false, true><<<grid, 256>>>(mi, ni, ki, alpha, a, lda, b, ldb, beta, c, ldc);
  else if (trans_a && !trans_b)
    sgemm_kernel<true, false><<<grid, 256>>>(mi, ni, ki, alpha, a, lda, b, ldb, beta, c, ldc);
  else
    sgemm_kernel<true, true><<<grid, 256>>>(mi, ni, ki, alpha, a, lda, b, ldb, beta, c, ldc);
  check_launch("sgemm");
}

// The plain SGEMM, the column sums of B and one elementwise pass for the rest.
void sgemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float* c, int64_t ldc, const GemmEpilogue& e) {
  need(!e.b_col_sums || (!trans_b && ldb == n), "sgemm_fused", "b_col_sums needs trans_b == false and ldb == n");
  need(e.dropout_p >= 0.0f && e.dropout_p < 1.0f, "sgemm_fused", "dropout_p must be in [0, 1)");
  sgemm(trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
  if (e.b_col_sums) bias_backward(b, k, n, e.b_col_sums);
  const bool any = e.bias || e.pre || e.act != Activation::Identity || e.keep || e.grad_x;
  if (m * n == 0 || !any) return;
  gemm_epilogue_kernel<<<grid_for(m * n), kThreads>>>(m, n, c, ldc, e.bias, e.pre, e.act, e.keep,
                                                      1.0f / (1.0f - e.dropout_p), e.grad_x, e.grad_act);
  check_launch("sgemm_fused(epilogue)");
}

void add_bias(float* y, const float* bias, int64_t rows, int64_t cols) {
  need(rows >= 0 && cols >= 0, "add_bias", "negative shape");
  if (rows * cols == 0) return;
  add_bias_kernel<<<grid_for(rows * cols), kThreads>>>(y, bias, rows, cols);
  check_launch("add_bias");
}

void bias_backward(const float* dy, int64_t rows, int64_t cols, float* dbias) {
  need(rows >= 0 && cols >= 0, "bias_backward", "negative shape");
  if (cols == 0) return;
  column_sums_kernel<<<static_cast<unsigned>((cols + 31) / 32), dim3(32, 8)>>>(dy, rows, cols, dbias);
  check_launch("bias_backward");
}

void activation_forward(Activation act, const float* x, float* y, int64_t n) {
  need(n >= 0, "activation_forward", "negative length");
  if (n == 0) return;
  act_fwd_kernel<<<grid_for(n), kThreads>>>(act, x, y, n);
  check_launch("activation_forward");
}

void activation_backward(Activation act, const float* x, const float* dy, float* dx, int64_t n) {
  need(n >= 0, "activation_backward", "negative length");
  if (n == 0) return;
  act_bwd_kernel<<<grid_for(n), kThreads>>>(act, x, dy, dx, n);
  check_launch("activation_backward");
}

void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps) {
  need(rows >= 0 && cols >= 1, "layernorm_forward", "need rows >= 0 and cols >= 1");
  if (rows == 0) return;
  layernorm_fwd_kernel<<<static_cast<unsigned>((rows + 7) / 8), 256>>>(x, gamma, beta, y, mean, rstd, rows, cols, eps);
  check_launch("layernorm_forward");
}

void layernorm_backward(const float* dy, const float* x, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols) {
  need(rows >= 0 && cols >= 1, "layernorm_backward", "need rows >= 0 and cols >= 1");
  if (rows > 0) {
    layernorm_bwd_dx_kernel<<<static_cast<unsigned>((rows + 7) / 8), 256>>>(dy, x, gamma, mean, rstd, dx, rows, cols);
    check_launch("layernorm_backward(dx)");
  }
  if (dgamma || dbeta) {
    layernorm_bwd_params_kernel<<<static_cast<unsigned>((cols + 31) / 32), dim3(32, 8)>>>(dy, x, mean, rstd, dgamma,
                                                                                         dbeta, rows, cols);
    check_launch("layernorm_backward(params)");
  }
}

void dropout_forward(const float* x, float* y, uint8_t* mask, int64_t n, float p, uint64_t seed, uint64_t offset) {
  need(n >= 0, "dropout_forward", "negative length");
  need(p >= 0.0f && p <= 1.0f, "dropout_forward", "p must be in [0, 1]");
  if (n == 0) return;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  dropout_fwd_kernel<<<grid_for(n), kThreads>>>(x, y, mask, n, dropout_threshold(p), scale, seed, offset);
  check_launch("dropout_forward");
}

void dropout_backward(const float* dy, const uint8_t* mask, float* dx, int64_t n, float p) {
  need(n >= 0, "dropout_backward", "negative length");
  need(p >= 0.0f && p <= 1.0f, "dropout_backward", "p must be in [0, 1]");
  if (n == 0) return;
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  dropout_bwd_kernel<<<grid_for(n), kThreads>>>(dy, mask, dx, n, scale);
  check_launch("dropout_backward");
}

// The unfused kernels in sequence (y is LayerNorm's output, then dropped out in place).
void layernorm_dropout_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
                               float* rstd, uint8_t* mask, int64_t rows, int64_t cols, float eps, float p,
                               uint64_t seed, uint64_t offset) {
  need(p >= 0.0f && p < 1.0f, "layernorm_dropout_forward", "p must be in [0, 1)");
  need(p == 0.0f || mask, "layernorm_dropout_forward", "p > 0 needs a mask");
  layernorm_forward(x, gamma, beta, y, mean, rstd, rows, cols, eps);
  if (p > 0.0f) dropout_forward(y, y, mask, rows * cols, p, seed, offset);
}

void layernorm_act_backward(Activation act, const float* dy, const float* x, const float* z, const float* gamma,
                            const float* mean, const float* rstd, float* dz, float* dgamma, float* dbeta,
                            int64_t rows, int64_t cols) {
  need(z || act == Activation::Identity || act == Activation::ReLU, "layernorm_act_backward",
       "z (the activation's input) is needed for this activation");
  layernorm_backward(dy, x, gamma, mean, rstd, dz, dgamma, dbeta, rows, cols);
  activation_backward(act, z ? z : x, dz, dz, rows * cols);
}

void adam_update(float* param, const float* grad, float* m, float* v, int64_t n, const AdamParams& p) {
  need(n >= 0, "adam_update", "negative length");
  need(p.step >= 1, "adam_update", "step must be >= 1 (1-based)");
  if (n == 0) return;
  // Same host-side scalars as cpu::adam_update.
  const float bc1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(p.step)));
  const float bc2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(p.step)));
  const float step_size = p.lr / bc1;
  const float bc2_sqrt = std::sqrt(bc2);
  const float decay = 1.0f - p.lr * p.weight_decay;
  const float l2 = p.decoupled ? 0.0f : p.weight_decay;
  const bool decoupled = p.decoupled && p.weight_decay != 0.0f;
  adam_kernel<<<grid_for(n), kThreads>>>(param, grad, m, v, n, p.beta1, p.beta2, p.eps, step_size, bc2_sqrt,
                                         decay, l2, decoupled);
  check_launch("adam_update");
}

void sgd_update(float* param, const float* grad, float* momentum_buf, int64_t n, const SgdParams& p) {
  need(n >= 0, "sgd_update", "negative length");
  need(p.momentum == 0.0f || momentum_buf != nullptr, "sgd_update", "momentum != 0 needs a momentum buffer");
  if (n == 0) return;
  sgd_kernel<<<grid_for(n), kThreads>>>(param, grad, momentum_buf, n, p.lr, p.momentum, p.weight_decay, p.nesterov);
  check_launch("sgd_update");
}

}  // namespace cuda
}  // namespace ordo
