// ordo/core/dispatch.h — which backend runs the kernels.
//
// Nothing here touches the NVIDIA driver until select_backend() or
// cuda_status() is first called: loading the addon never probes the GPU.
// The probe runs once (std::call_once) and its result is cached.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace ordo {

enum class Backend { Cpu, Cuda };

struct CudaDevice {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;        // compute capability
  unsigned long long total_memory = 0;
  int multiprocessors = 0;
};

struct CudaStatus {
  bool compiled = false;       // CUDA kernels are in this binary
  bool usable = false;         // a device answered and ran the self-test kernel
  int error_code = 0;          // cudaError_t of the first failing call (0: none)
  std::string error_name;      // e.g. "cudaErrorInsufficientDriver"
  std::string error_string;    // the runtime's description
  int runtime_version = 0;     // e.g. 13000
  int driver_version = 0;      // 0 when there is no driver
  std::string architectures;   // the SASS/PTX targets compiled in, e.g. "80-real;90"
  std::vector<CudaDevice> devices;
};

// Cached probe result (runs the probe on first call).
const CudaStatus& cuda_status();

// The backend kernels run on: ORDO_BACKEND=cpu|cuda forces it (cuda without a
// usable GPU throws BackendError saying why); unset or "auto" picks CUDA when
// usable, else CPU. An unknown value throws BackendError.
Backend select_backend();
const char* backend_name(Backend b);

// Memory on a backend (host malloc, or cudaMalloc when ORDO_WITH_CUDA). `who`
// names the caller in the error thrown when the build has no CUDA backend.
void* backend_alloc(Backend b, size_t bytes, const char* who);
void backend_free(Backend b, void* p) noexcept;

// Implemented in cuda/device_probe.cu, or cpu/device_probe_stub.cc when the
// build has no CUDA. Not cached; call cuda_status() instead.
CudaStatus probe_cuda_device();

}  // namespace ordo
