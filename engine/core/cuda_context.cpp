// Creates and tears down the stream and library handles of one CUDA device.
#include "engine/core/cuda_context.hpp"

#include <cstdio>
#include <string>
#include <utility>

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
}

bool CudaContext::capturing() const {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream_.get(), &capture));
  return capture != cudaStreamCaptureStatusNone;
}

cublasHandle_t CudaContext::cublas() {
  if (cublas_) return cublas_.get();
  VSAE_CHECK(!capturing(), "the cuBLAS handle would be created during graph capture; create it at plan time");
  cublasHandle_t created = nullptr;
  CUBLAS_CHECK(cublasCreate(&created));
  Owned<cublasHandle_t, CublasDeleter> handle(created);  // kept only once fully set up
  CUBLAS_CHECK(cublasSetStream(created, stream_.get()));
  // A fixed workspace of our own (set after cublasSetStream, which resets it): otherwise cuBLAS
  // manages one itself and may allocate it inside the graph when a step is captured. A fixed size
  // also keeps its GEMM kernel choice, which depends on the workspace, the same on every call.
  // 32 MiB is NVIDIA's recommendation for Hopper and newer.
  cublas_workspace_ = DeviceBuffer<std::byte>(std::size_t{32} << 20);
  CUBLAS_CHECK(cublasSetWorkspace(created, cublas_workspace_.data(), cublas_workspace_.bytes()));
  // Results must not depend on cuBLAS's choice of split-K reduction order between runs.
  CUBLAS_CHECK(cublasSetAtomicsMode(created, CUBLAS_ATOMICS_NOT_ALLOWED));
  cublas_ = std::move(handle);
  return created;
}

cudnnHandle_t CudaContext::cudnn() {
  if (cudnn_) return cudnn_.get();
  VSAE_CHECK(!capturing(), "the cuDNN handle would be created during graph capture; create it at plan time");
  cudnnHandle_t created = nullptr;
  CUDNN_CHECK(cudnnCreate(&created));
  Owned<cudnnHandle_t, CudnnDeleter> handle(created);
  CUDNN_CHECK(cudnnSetStream(created, stream_.get()));
  cudnn_ = std::move(handle);
  return created;
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
  VSAE_CHECK(!capturing(), "scratch pool must grow to " << bytes << " bytes during graph capture; reserve it at plan time");
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
