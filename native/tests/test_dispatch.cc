// Backend selection: ORDO_BACKEND handling and the CUDA probe's report.
#include <cstdlib>

#include "core/dispatch.h"
#include "core/error.h"
#include "tests/check.h"

using namespace ordo;

TEST_CASE("probe reports compiled-in state and a reason when unusable") {
  const CudaStatus& s = cuda_status();
#ifdef ORDO_WITH_CUDA
  CHECK(s.compiled);
  CHECK(s.runtime_version > 0);
#else
  CHECK(!s.compiled);
#endif
  if (!s.usable) CHECK(!s.error_name.empty());
  if (s.usable) CHECK(!s.devices.empty());
}

TEST_CASE("ORDO_BACKEND=cpu forces CPU; bad values and impossible cuda throw") {
  setenv("ORDO_BACKEND", "cpu", 1);
  CHECK(select_backend() == Backend::Cpu);
  setenv("ORDO_BACKEND", "tpu", 1);
  CHECK_THROWS(BackendError, select_backend(), "not a backend");
  setenv("ORDO_BACKEND", "cuda", 1);
  if (cuda_status().usable) {
    CHECK(select_backend() == Backend::Cuda);
  } else {
    CHECK_THROWS(BackendError, select_backend(), "ORDO_BACKEND=cuda");
  }
  unsetenv("ORDO_BACKEND");
  CHECK(select_backend() == (cuda_status().usable ? Backend::Cuda : Backend::Cpu));
}

TEST_MAIN("native dispatch")
