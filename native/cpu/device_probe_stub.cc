// Built instead of cuda/device_probe.cu when the build has no CUDA compiler.
#include "core/dispatch.h"

namespace ordo {

CudaStatus probe_cuda_device() {
  CudaStatus s;
  s.compiled = false;
  s.usable = false;
  s.error_name = "notCompiled";
  s.error_string = "this ordo binary was built without CUDA";
  return s;
}

}  // namespace ordo
