// ordo/core/device.h — device memory for CUDA tensors (only with ORDO_WITH_CUDA).
#pragma once
#include <cstddef>

namespace ordo {
namespace cuda {
void* device_alloc(size_t bytes);                          // throws BackendError (with the CUDA error) on failure
void device_free(void* p) noexcept;
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);   // synchronises
void copy_device_to_device(void* dst, const void* src, size_t bytes);
void device_memset_zero(void* p, size_t bytes);
void synchronize();                                          // waits for all queued kernels; throws on a kernel error
}  // namespace cuda
}  // namespace ordo
