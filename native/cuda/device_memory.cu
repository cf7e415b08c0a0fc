// Device memory for CUDA tensors.
#include <cuda_runtime.h>

#include <string>

#include "core/device.h"
#include "core/error.h"

namespace ordo {
namespace cuda {
namespace {
void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw BackendError(std::string("CUDA ") + what + " failed: " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}
}  // namespace

void* device_alloc(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  check(cudaMalloc(&p, bytes), "cudaMalloc");
  return p;
}
void device_free(void* p) noexcept {
  if (p) cudaFree(p);
}
void copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "copy to device");
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "copy to host");
}
void copy_device_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "device copy");
}
void device_memset_zero(void* p, size_t bytes) {
  if (bytes) check(cudaMemset(p, 0, bytes), "cudaMemset");
}
void synchronize() { check(cudaDeviceSynchronize(), "kernel execution"); }

}  // namespace cuda
}  // namespace ordo
