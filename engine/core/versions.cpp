// Queries the CUDA runtime, driver, cuDNN, cuBLAS and OpenBLAS for their versions.
#include "engine/core/versions.hpp"

#include <cblas.h>

#if VSAE_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>
#endif

namespace vsae {

nlohmann::json library_versions() {
  nlohmann::json v;
  v["openblas"] = openblas_get_config();
#if VSAE_HAVE_CUDA
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  v["cuda_runtime"] = runtime;
  v["cuda_driver"] = driver;
  v["cudnn"] = cudnnGetVersion();
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  v["cublas"] = std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
#else
  v["cuda"] = "not built";
#endif
  return v;
}

}  // namespace vsae
