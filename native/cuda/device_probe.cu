// CUDA device probe: asks the runtime for devices and runs a tiny self-test
// kernel on device 0, so a binary without code for the GPU's architecture
// (cudaErrorNoKernelImageForDevice) is reported as unusable instead of failing
// later inside a real kernel. Called lazily through cuda_status(), never at load.
#include <cuda_runtime.h>

#include "core/dispatch.h"

#ifndef ORDO_CUDA_ARCHS
#define ORDO_CUDA_ARCHS ""
#endif

namespace ordo {
namespace {

__global__ void self_test_kernel(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = 2.0f * static_cast<float>(i) + 1.0f;
}

bool record_failure(CudaStatus& s, cudaError_t err) {
  if (err == cudaSuccess) return false;
  s.error_code = static_cast<int>(err);
  s.error_name = cudaGetErrorName(err);
  s.error_string = cudaGetErrorString(err);
  cudaGetLastError();  // clear the sticky-free error state
  return true;
}

}  // namespace

CudaStatus probe_cuda_device() {
  CudaStatus s;
  s.compiled = true;
  s.architectures = ORDO_CUDA_ARCHS;
  cudaRuntimeGetVersion(&s.runtime_version);
  cudaDriverGetVersion(&s.driver_version);  // 0 when no driver is installed
  int count = 0;
  if (record_failure(s, cudaGetDeviceCount(&count))) return s;
  if (count == 0) {
    s.error_name = "cudaErrorNoDevice";
    s.error_string = "no CUDA-capable device is detected";
    return s;
  }
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp prop{};
    if (record_failure(s, cudaGetDeviceProperties(&prop, d))) return s;
    CudaDevice dev;
    dev.index = d;
    dev.name = prop.name;
    dev.major = prop.major;
    dev.minor = prop.minor;
    dev.total_memory = prop.totalGlobalMem;
    dev.multiprocessors = prop.multiProcessorCount;
    s.devices.push_back(dev);
  }
  // Self-test on device 0: launch, copy back, check.
  constexpr int n = 256;
  float* d_out = nullptr;
  if (record_failure(s, cudaSetDevice(0))) return s;
  if (record_failure(s, cudaMalloc(&d_out, n * sizeof(float)))) return s;
  self_test_kernel<<<(n + 127) / 128, 128>>>(d_out, n);
  cudaError_t err = cudaGetLastError();
  float host[n];
  if (err == cudaSuccess) err = cudaMemcpy(host, d_out, sizeof(host), cudaMemcpyDeviceToHost);
  cudaFree(d_out);
  if (record_failure(s, err)) return s;
  for (int i = 0; i < n; ++i) {
    if (host[i] != 2.0f * i + 1.0f) {
      s.error_name = "ordoSelfTestMismatch";
      s.error_string = "the CUDA self-test kernel returned wrong values";
      return s;
    }
  }
  s.usable = true;
  return s;
}

}  // namespace ordo
