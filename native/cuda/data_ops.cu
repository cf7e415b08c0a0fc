// CUDA data ops. Reductions: one block-level pass into per-block partials in
// double, then a single-block pass over the partials (fixed order:
// deterministic for a given launch configuration).
#include <cuda_runtime.h>

#include <string>

#include "core/data_ops.h"
#include "core/device.h"
#include "core/error.h"

namespace ordo {
namespace cuda {
namespace {

void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw BackendError(std::string("CUDA ") + what + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
}

__global__ void gather_kernel(const float* src, int64_t cols, const uint32_t* rows, int64_t num_rows, float* dst) {
  int64_t total = num_rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    int64_t r = i / cols, c = i - r * cols;
    dst[i] = src[static_cast<int64_t>(rows[r]) * cols + c];
  }
}

__global__ void scale_kernel(float* x, int64_t n, float alpha) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) x[i] *= alpha;
}

template <bool Square>
__global__ void partial_sums(const float* x, int64_t n, double* partial) {
  __shared__ double buf[256];
  double s = 0.0;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    double v = x[i];
    s += Square ? v * v : v;
  }
  buf[threadIdx.x] = s;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) buf[threadIdx.x] += buf[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[blockIdx.x] = buf[0];
}

int blocks_for(int64_t n) {
  int64_t b = (n + 255) / 256;
  return static_cast<int>(b < 1 ? 1 : (b > 1024 ? 1024 : b));
}

template <bool Square>
double reduce(const float* x, int64_t n) {
  if (n <= 0) return 0.0;
  int blocks = blocks_for(n);
  double* partial = static_cast<double*>(device_alloc(sizeof(double) * blocks));
  partial_sums<Square><<<blocks, 256>>>(x, n, partial);
  try {
    check_launch("reduction");
  } catch (...) {
    device_free(partial);
    throw;
  }
  double host[1024];
  copy_to_host(host, partial, sizeof(double) * blocks);
  device_free(partial);
  double total = 0.0;
  for (int i = 0; i < blocks; ++i) total += host[i];
  return total;
}

}  // namespace

void gather_rows(const float* src, int64_t cols, const uint32_t* rows, int64_t num_rows, float* dst) {
  if (num_rows <= 0 || cols <= 0) return;
  gather_kernel<<<blocks_for(num_rows * cols), 256>>>(src, cols, rows, num_rows, dst);
  check_launch("gather_rows");
}

void scale(float* x, int64_t n, float alpha) {
  if (n <= 0) return;
  scale_kernel<<<blocks_for(n), 256>>>(x, n, alpha);
  check_launch("scale");
}

double sum_squares(const float* x, int64_t n) { return reduce<true>(x, n); }
double sum(const float* x, int64_t n) { return reduce<false>(x, n); }

}  // namespace cuda
}  // namespace ordo
