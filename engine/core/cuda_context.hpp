// CudaContext: one device, one stream, the cuBLAS and cuDNN handles bound to it, and the stream's
// scratch pool. Every CUDA op runs on this stream, so a whole training step can be graph-captured.
// The library handles are made on first use, so a process that runs only hand-written kernels
// (the kernel tests, also under a GPU simulator without the libraries) never loads them.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>

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
  cudaStream_t stream() const { return stream_.get(); }
  // Made on first call and bound to stream(); never call cublasSetStream on it, which would also
  // drop its workspace. A first call during graph capture throws: ops ask at plan time
  // (linear_prepare, conv*_prepare), so a captured step never creates a handle.
  cublasHandle_t cublas();
  cudnnHandle_t cudnn();

  // Scratch memory ordered on this stream: valid until the next call. It grows only outside
  // stream capture; ops size their needs at plan time with reserve_scratch so steps never grow it.
  void* scratch(std::size_t bytes);
  void reserve_scratch(std::size_t bytes);
  // Where the pool lives now: a captured graph holds this address, so growth invalidates it.
  const void* scratch_base() const { return scratch_.data(); }

  void synchronize() const;

 private:
  bool capturing() const;  // whether stream() is being captured into a graph

  // Owning handles; their deleters only log. Each handle type is a pointer to an opaque struct.
  struct StreamDeleter {
    void operator()(cudaStream_t stream) const noexcept;
  };
  struct CublasDeleter {
    void operator()(cublasHandle_t handle) const noexcept;
  };
  struct CudnnDeleter {
    void operator()(cudnnHandle_t handle) const noexcept;
  };
  template <class Handle, class Deleter>
  using Owned = std::unique_ptr<std::remove_pointer_t<Handle>, Deleter>;

  // Members are destroyed in reverse order, and a constructor that throws destroys those already
  // made: the handles go before the workspace cuBLAS uses and before the stream they are bound to.
  int device_index_ = 0;
  cudaDeviceProp props_{};
  Owned<cudaStream_t, StreamDeleter> stream_;
  DeviceBuffer<std::byte> cublas_workspace_;
  Owned<cublasHandle_t, CublasDeleter> cublas_;
  Owned<cudnnHandle_t, CudnnDeleter> cudnn_;
  DeviceBuffer<std::byte> scratch_;
};

}  // namespace vsae
