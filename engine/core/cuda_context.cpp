// Creates and tears down the stream and library handles of one CUDA device.
#include "engine/core/cuda_context.hpp"

#include <cstdio>

namespace vsae {

namespace detail {
const char* cublas_status_name(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "unknown cuBLAS status";
}
}  // namespace detail

CudaContext::CudaContext(int device_index) : device_index_(device_index) {
  CUDA_CHECK(cudaSetDevice(device_index_));
  CUDA_CHECK(cudaGetDeviceProperties(&props_, device_index_));
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasCreate(&cublas_));
  CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
  // A fixed workspace of our own (set after cublasSetStream, which resets it): otherwise cuBLAS
  // manages one itself and may allocate it inside the graph when a step is captured. A fixed size
  // also keeps its GEMM kernel choice, which depends on the workspace, the same on every call.
  // 32 MiB is NVIDIA's recommendation for Hopper and newer.
  cublas_workspace_ = DeviceBuffer<std::byte>(std::size_t{32} << 20);
  CUBLAS_CHECK(cublasSetWorkspace(cublas_, cublas_workspace_.data(), cublas_workspace_.bytes()));
  // Results must not depend on cuBLAS's choice of split-K reduction order between runs.
  CUBLAS_CHECK(cublasSetAtomicsMode(cublas_, CUBLAS_ATOMICS_NOT_ALLOWED));
  CUDNN_CHECK(cudnnCreate(&cudnn_));
  CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
}

CudaContext::~CudaContext() {
  // Destructors only log: throwing here would terminate a program that is already unwinding.
  if (cudnn_ && cudnnDestroy(cudnn_) != CUDNN_STATUS_SUCCESS)
    std::fprintf(stderr, "vsae: cudnnDestroy failed\n");
  if (cublas_ && cublasDestroy(cublas_) != CUBLAS_STATUS_SUCCESS)
    std::fprintf(stderr, "vsae: cublasDestroy failed\n");
  if (stream_) {
    cudaError_t err = cudaStreamDestroy(stream_);
    if (err != cudaSuccess)
      std::fprintf(stderr, "vsae: cudaStreamDestroy failed: %s\n", cudaGetErrorString(err));
  }
}

void CudaContext::reserve_scratch(std::size_t bytes) {
  if (bytes <= scratch_.bytes()) return;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream_, &capture));
  VSAE_CHECK(capture == cudaStreamCaptureStatusNone,
             "scratch pool must grow to " << bytes << " bytes during graph capture; reserve it at plan time");
  // Work queued on the stream may still read the old buffer.
  CUDA_CHECK(cudaStreamSynchronize(stream_));
  scratch_ = DeviceBuffer<std::byte>(bytes);
}

void* CudaContext::scratch(std::size_t bytes) {
  reserve_scratch(bytes);
  return scratch_.data();
}

void CudaContext::synchronize() const { CUDA_CHECK(cudaStreamSynchronize(stream_)); }

}  // namespace vsae
