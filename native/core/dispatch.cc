#include "core/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "core/error.h"
#ifdef ORDO_WITH_CUDA
#include "core/device.h"
#endif
#include <new>

namespace ordo {

const CudaStatus& cuda_status() {
  static std::once_flag once;
  static CudaStatus status;
  std::call_once(once, [] { status = probe_cuda_device(); });
  return status;
}

const char* backend_name(Backend b) { return b == Backend::Cuda ? "cuda" : "cpu"; }

Backend select_backend() {
  const char* env = std::getenv("ORDO_BACKEND");
  std::string want = env ? env : "";
  if (want.empty() || want == "auto") {
    return cuda_status().usable ? Backend::Cuda : Backend::Cpu;
  }
  if (want == "cpu") return Backend::Cpu;
  if (want == "cuda") {
    const CudaStatus& s = cuda_status();
    if (s.usable) return Backend::Cuda;
    if (!s.compiled) {
      throw BackendError("ORDO_BACKEND=cuda, but this ordo binary was built without CUDA (no nvcc at build time, or ORDO_CUDA=OFF)");
    }
    std::string why = s.error_name.empty() ? std::string("no CUDA device found") : s.error_name + ": " + s.error_string;
    throw BackendError("ORDO_BACKEND=cuda, but CUDA is not usable here: " + why);
  }
  throw BackendError("ORDO_BACKEND='" + want + "' is not a backend; use cpu, cuda or auto");
}

void* backend_alloc(Backend b, size_t bytes, const char* who) {
  if (bytes == 0) return nullptr;
  if (b == Backend::Cpu) {
    void* p = std::malloc(bytes);
    if (!p) throw std::bad_alloc();
    return p;
  }
#ifdef ORDO_WITH_CUDA
  return cuda::device_alloc(bytes);
#else
  throw BackendError(std::string(who) + ": this build has no CUDA backend");
#endif
}

void backend_free(Backend b, void* p) noexcept {
  if (!p) return;
  if (b == Backend::Cpu) {
    std::free(p);
    return;
  }
#ifdef ORDO_WITH_CUDA
  cuda::device_free(p);
#endif
}

}  // namespace ordo
