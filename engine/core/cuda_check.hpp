// The CUDA, cuBLAS and cuDNN check macros: each throws vsae::Error with the statement, file and line.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include "engine/core/check.hpp"

namespace vsae::detail {
const char* cublas_status_name(cublasStatus_t status);
}

#define CUDA_CHECK(stmt)                                                                   \
  do {                                                                                     \
    cudaError_t vsae_err_ = (stmt);                                                        \
    if (vsae_err_ != cudaSuccess)                                                          \
      ::vsae::detail::throw_api_failure("CUDA", cudaGetErrorString(vsae_err_), #stmt,      \
                                        __FILE__, __LINE__);                               \
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
      ::vsae::detail::throw_api_failure("cuDNN", cudnnGetErrorString(vsae_st_), #stmt,     \
                                        __FILE__, __LINE__);                               \
  } while (0)

// Every kernel launcher ends with this: it catches bad launch configurations at the call site.
#define CUDA_CHECK_LAUNCH() CUDA_CHECK(cudaGetLastError())
