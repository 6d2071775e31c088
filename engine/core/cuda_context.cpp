// Creates and tears down the stream and library handles of one CUDA device.
#include "engine/core/cuda_context.hpp"

#include <cstdio>
#include <string>

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

std::string cudnn_error_detail(cudnnStatus_t status) {
  std::string detail = cudnnGetErrorString(status);
  char message[512] = "";  // cuDNN 9 clears its record once read
  cudnnGetLastErrorString(message, sizeof message);
  if (message[0] != '\0') {
    // main prints errors on one line.
    std::string last(message);
    for (char& c : last)
      if (c == '\n') c = ' ';
    detail += " (" + last + ")";
  }
  return detail;
}
}  // namespace detail

CudaContext::CudaContext(int device_index) : device_index_(device_index) {
  CUDA_CHECK(cudaSetDevice(device_index_));
  CUDA_CHECK(cudaGetDeviceProperties(&props_, device_index_));
  cudaStream_t stream = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  stream_.reset(stream);
  cublasHandle_t cublas = nullptr;
  CUBLAS_CHECK(cublasCreate(&cublas));
  cublas_.reset(cublas);
  CUBLAS_CHECK(cublasSetStream(cublas, stream));
  // A fixed workspace of our own (set after cublasSetStream, which resets it): otherwise cuBLAS
  // manages one itself and may allocate it inside the graph when a step is captured. A fixed size
  // also keeps its GEMM kernel choice, which depends on the workspace, the same on every call.
  // 32 MiB is NVIDIA's recommendation for Hopper and newer.
  cublas_workspace_ = DeviceBuffer<std::byte>(std::size_t{32} << 20);
  CUBLAS_CHECK(cublasSetWorkspace(cublas, cublas_workspace_.data(), cublas_workspace_.bytes()));
  // Results must not depend on cuBLAS's choice of split-K reduction order between runs.
  CUBLAS_CHECK(cublasSetAtomicsMode(cublas, CUBLAS_ATOMICS_NOT_ALLOWED));
  cudnnHandle_t cudnn = nullptr;
  CUDNN_CHECK(cudnnCreate(&cudnn));
  cudnn_.reset(cudnn);
  CUDNN_CHECK(cudnnSetStream(cudnn, stream));
}

// Destructors only log: throwing here would terminate a program that is already unwinding.
CudaContext::~CudaContext() {
  // Queued work may still use the handles, the workspace and the scratch pool.
  if (stream_) {
    const cudaError_t err = cudaStreamSynchronize(stream_.get());
    if (err != cudaSuccess)
      std::fprintf(stderr, "vsae: cudaStreamSynchronize at teardown failed: %s\n",
                   cudaGetErrorString(err));
  }
}

void CudaContext::StreamDeleter::operator()(cudaStream_t stream) const noexcept {
  const cudaError_t err = cudaStreamDestroy(stream);
  if (err != cudaSuccess)
    std::fprintf(stderr, "vsae: cudaStreamDestroy failed: %s\n", cudaGetErrorString(err));
}

void CudaContext::CublasDeleter::operator()(cublasHandle_t handle) const noexcept {
  if (cublasDestroy(handle) != CUBLAS_STATUS_SUCCESS)
    std::fprintf(stderr, "vsae: cublasDestroy failed\n");
}

void CudaContext::CudnnDeleter::operator()(cudnnHandle_t handle) const noexcept {
  if (cudnnDestroy(handle) != CUDNN_STATUS_SUCCESS)
    std::fprintf(stderr, "vsae: cudnnDestroy failed\n");
}

void CudaContext::reserve_scratch(std::size_t bytes) {
  if (bytes <= scratch_.bytes()) return;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream_.get(), &capture));
  VSAE_CHECK(capture == cudaStreamCaptureStatusNone,
             "scratch pool must grow to " << bytes << " bytes during graph capture; reserve it at plan time");
  // Work queued on the stream may still read the old buffer.
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
  scratch_ = DeviceBuffer<std::byte>(bytes);
}

void* CudaContext::scratch(std::size_t bytes) {
  reserve_scratch(bytes);
  return scratch_.data();
}

void CudaContext::synchronize() const {
  CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
}

}  // namespace vsae
