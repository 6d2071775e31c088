// CudaContext: one device, one stream, the cuBLAS and cuDNN handles bound to it, and the stream's
// scratch pool. Every CUDA op runs on this stream, so a whole training step can be graph-captured.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <string>

#include "engine/core/device_buffer.hpp"

namespace vsae {

class CudaContext {
 public:
  explicit CudaContext(int device_index);
  ~CudaContext();
  CudaContext(const CudaContext&) = delete;
  CudaContext& operator=(const CudaContext&) = delete;

  int device_index() const { return device_index_; }
  const cudaDeviceProp& props() const { return props_; }
  cudaStream_t stream() const { return stream_; }
  // Bound to stream(); never call cublasSetStream on it, which would also drop its workspace.
  cublasHandle_t cublas() const { return cublas_; }
  cudnnHandle_t cudnn() const { return cudnn_; }

  // Scratch memory ordered on this stream: valid until the next call. It grows only outside
  // stream capture; ops size their needs at plan time with reserve_scratch so steps never grow it.
  void* scratch(std::size_t bytes);
  void reserve_scratch(std::size_t bytes);
  // Where the pool lives now: a captured graph holds this address, so growth invalidates it.
  const void* scratch_base() const { return scratch_.data(); }

  void synchronize() const;

 private:
  int device_index_ = 0;
  cudaDeviceProp props_{};
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
  DeviceBuffer<std::byte> cublas_workspace_;
  DeviceBuffer<std::byte> scratch_;
};

}  // namespace vsae
