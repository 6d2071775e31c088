// The CUDA, cuBLAS and cuDNN check macros: each throws vsae::Error with the statement, file and line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "engine/core/check.hpp"

namespace vsae::detail {
const char* cublas_status_name(cublasStatus_t status);
// The status's name, then what cuDNN said about this thread's last failure, when it said anything.
std::string cudnn_error_detail(cudnnStatus_t status);
}  // namespace vsae::detail

// The runtime also keeps a failed call's error as the thread's "last error": clear it (unless it
// is sticky, which nothing clears) before throwing, or the next unrelated CUDA_CHECK_LAUNCH
// would report it again.
#define CUDA_CHECK(stmt)                                                                   \
  do {                                                                                     \
    cudaError_t vsae_err_ = (stmt);                                                        \
    if (vsae_err_ != cudaSuccess) {                                                        \
      (void)cudaGetLastError();                                                            \
      ::vsae::detail::throw_api_failure("CUDA", cudaGetErrorString(vsae_err_), #stmt,      \
                                        __FILE__, __LINE__);                               \
    }                                                                                      \
  } while (0)

#define CUBLAS_CHECK(stmt)                                                                 \
  do {                                                                                     \
    cublasStatus_t vsae_st_ = (stmt);                                                      \
    if (vsae_st_ != CUBLAS_STATUS_SUCCESS)                                                 \
      ::vsae::detail::throw_api_failure("cuBLAS", ::vsae::detail::cublas_status_name(vsae_st_), \
                                        #stmt, __FILE__, __LINE__);                        \
  } while (0)

#define CUDNN_CHECK(stmt)                                                                  \
  do {                                                                                     \
    cudnnStatus_t vsae_st_ = (stmt);                                                       \
    if (vsae_st_ != CUDNN_STATUS_SUCCESS)                                                  \
      ::vsae::detail::throw_api_failure("cuDNN", ::vsae::detail::cudnn_error_detail(vsae_st_), \
                                        #stmt, __FILE__, __LINE__);                        \
  } while (0)

// Every kernel launcher ends with this: it catches bad launch configurations at the call site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
