// Backend: the device an op runs on (cpu or cuda) and its resources. Every op takes a Backend& and
// tensors on that backend's device; ops dispatch on backend.device() to the CPU twin or CUDA code.
#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>

#include "engine/core/storage.hpp"
#include "engine/core/tensor.hpp"

namespace vsae {

class CudaContext;  // engine/core/cuda_context.hpp; exists only in CUDA builds

enum class DeviceChoice { automatic, cpu, cuda };
DeviceChoice parse_device_choice(const std::string& text);  // "auto" | "cpu" | "cuda"

// Whether this build and this machine can run the whole CUDA backend (the hand-written kernels,
// cuBLAS, cuDNN and graph capture); `why_not` explains a "no".
bool cuda_usable(std::string* why_not = nullptr);
// Whether device 0 runs the hand-written kernels: true on a GPU that cuda_usable() accepts, and
// also on a simulator (GPGPU-Sim) or without a working cuDNN.
bool cuda_kernels_usable(std::string* why_not = nullptr);
// Device 0 is a GPU simulator (GPGPU-Sim): kernels run, the libraries do not.
bool cuda_simulated();

class Backend {
 public:
  // "auto" picks CUDA when usable and says which on `log`; "cuda" throws when it is not usable.
  static std::unique_ptr<Backend> create(DeviceChoice choice, std::ostream* log = nullptr);
  static std::unique_ptr<Backend> make_cpu();
  // Needs only cuda_kernels_usable(): the cuBLAS and cuDNN handles are made on first use.
  static std::unique_ptr<Backend> make_cuda(int device_index = 0);

  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  Device device() const { return device_; }
  bool is_cuda() const { return device_ == Device::cuda; }
  std::string name() const;  // "cpu (2 threads)", "cuda:0 NVIDIA H100 80GB HBM3"
  CudaContext& cuda() const;  // throws on the CPU backend

  // TF32 tensor-core math for GEMMs and convolutions (ignored on the CPU).
  bool tf32() const { return tf32_; }
  void set_tf32(bool on) { tf32_ = on; }

  Storage allocate(std::size_t bytes) const { return Storage::allocate(device_, bytes); }

  // Whole-tensor copies. upload and download wait for the stream (the host buffer is free to reuse
  // on return), so they are not for captured steps; copy and zero are queued on the stream.
  void upload(const Tensor& dst, const void* host_src) const;
  void download(void* host_dst, const Tensor& src) const;
  void copy(const Tensor& dst, const Tensor& src) const;  // both on this backend
  void zero(const Tensor& dst) const;
  void synchronize() const;

 private:
  explicit Backend(Device device);
  Device device_;
  bool tf32_ = false;
  std::unique_ptr<CudaContext> cuda_;
};

// Checks that `t` lives on `backend`'s device and has `dtype`; `what` names it in the error.
void check_on(const Backend& backend, const Tensor& t, DType dtype, const char* what);
// check_on for an op's f32 argument, with the op's name in front of the message.
void check_f32(const Backend& backend, const char* op, const char* what, const Tensor& t);

}  // namespace vsae
