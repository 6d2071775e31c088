// Device selection and the memory operations every backend offers.
#include "engine/core/backend.hpp"

#include <cstring>
#include <sstream>
#include <thread>

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#else
namespace vsae {
class CudaContext {};  // never created without CUDA; complete so unique_ptr can destroy it
}  // namespace vsae
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace vsae {

DeviceChoice parse_device_choice(const std::string& text) {
  if (text == "auto") return DeviceChoice::automatic;
  if (text == "cpu") return DeviceChoice::cpu;
  if (text == "cuda") return DeviceChoice::cuda;
  throw Error("device must be one of auto, cpu, cuda; got '" + text + "'");
}

bool cuda_usable(std::string* why_not) {
#if VSAE_HAVE_CUDA
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    if (why_not)
      *why_not = err == cudaSuccess ? "no CUDA device found"
                                    : std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    (void)cudaGetLastError();  // clear the sticky error for later queries
    return false;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  if (driver < runtime) {
    if (why_not) {
      std::ostringstream os;
      os << "the CUDA driver (version " << driver << ") is older than the runtime this build uses ("
         << runtime << "); update the NVIDIA driver";
      *why_not = os.str();
    }
    return false;
  }
  return true;
#else
  if (why_not) *why_not = "this build has no CUDA backend (configured with VSAE_CUDA=OFF)";
  return false;
#endif
}

Backend::Backend(Device device) : device_(device) {}
Backend::~Backend() = default;

std::unique_ptr<Backend> Backend::make_cpu() { return std::unique_ptr<Backend>(new Backend(Device::cpu)); }

std::unique_ptr<Backend> Backend::make_cuda(int device_index) {
  std::string why;
  if (!cuda_usable(&why)) throw Error("device \"cuda\" was requested but " + why);
#if VSAE_HAVE_CUDA
  auto backend = std::unique_ptr<Backend>(new Backend(Device::cuda));
  backend->cuda_ = std::make_unique<CudaContext>(device_index);
  return backend;
#else
  (void)device_index;
  return nullptr;
#endif
}

std::unique_ptr<Backend> Backend::create(DeviceChoice choice, std::ostream* log) {
  std::unique_ptr<Backend> backend;
  std::string why;
  if (choice == DeviceChoice::cpu) {
    backend = make_cpu();
  } else if (choice == DeviceChoice::cuda || cuda_usable(&why)) {
    backend = make_cuda();
  } else {
    backend = make_cpu();
    if (log) *log << "vsae_gpu: device auto: " << why << "; using the CPU backend\n";
  }
  if (log) *log << "vsae_gpu: backend " << backend->name() << "\n";
  return backend;
}

std::string Backend::name() const {
  std::ostringstream os;
  if (device_ == Device::cpu) {
#ifdef _OPENMP
    os << "cpu (" << omp_get_max_threads() << " threads)";
#else
    os << "cpu (1 thread)";
#endif
  } else {
#if VSAE_HAVE_CUDA
    os << "cuda:" << cuda_->device_index() << " " << cuda_->props().name;
#endif
  }
  return os.str();
}

CudaContext& Backend::cuda() const {
  VSAE_CHECK(cuda_ != nullptr, "CUDA context requested from the CPU backend");
  return *cuda_;
}

void check_on(const Backend& backend, const Tensor& t, DType dtype, const char* what) {
  VSAE_CHECK(t.defined(), what << " is not allocated");
  VSAE_CHECK(t.device == backend.device(),
             what << " is on " << to_string(t.device) << " but the op runs on " << to_string(backend.device()));
  VSAE_CHECK(t.dtype == dtype, what << " has dtype " << to_string(t.dtype) << ", expected " << to_string(dtype));
}

void check_f32(const Backend& backend, const char* op, const char* what, const Tensor& t) {
  try {
    check_on(backend, t, DType::f32, what);
  } catch (const Error& e) {
    throw Error(std::string(op) + ": " + e.what());
  }
}

void Backend::upload(const Tensor& dst, const void* host_src) const {
  VSAE_CHECK(dst.device == device_, "upload target is not on this backend");
  if (device_ == Device::cpu) {
    std::memcpy(dst.data, host_src, dst.bytes());
    return;
  }
#if VSAE_HAVE_CUDA
  CUDA_CHECK(cudaMemcpyAsync(dst.data, host_src, dst.bytes(), cudaMemcpyHostToDevice, cuda_->stream()));
  // The host buffer may be freed right after we return.
  CUDA_CHECK(cudaStreamSynchronize(cuda_->stream()));
#endif
}

void Backend::download(void* host_dst, const Tensor& src) const {
  VSAE_CHECK(src.device == device_, "download source is not on this backend");
  if (device_ == Device::cpu) {
    std::memcpy(host_dst, src.data, src.bytes());
    return;
  }
#if VSAE_HAVE_CUDA
  CUDA_CHECK(cudaMemcpyAsync(host_dst, src.data, src.bytes(), cudaMemcpyDeviceToHost, cuda_->stream()));
  CUDA_CHECK(cudaStreamSynchronize(cuda_->stream()));
#endif
}

void Backend::copy(const Tensor& dst, const Tensor& src) const {
  VSAE_CHECK(dst.device == device_ && src.device == device_, "copy operands must be on this backend");
  VSAE_CHECK(dst.bytes() == src.bytes(), "copy of " << src.bytes() << " bytes into " << dst.bytes());
  if (device_ == Device::cpu) {
    std::memmove(dst.data, src.data, src.bytes());
    return;
  }
#if VSAE_HAVE_CUDA
  CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, src.bytes(), cudaMemcpyDeviceToDevice, cuda_->stream()));
#endif
}

void Backend::zero(const Tensor& dst) const {
  VSAE_CHECK(dst.device == device_, "zero target is not on this backend");
  if (device_ == Device::cpu) {
    std::memset(dst.data, 0, dst.bytes());
    return;
  }
#if VSAE_HAVE_CUDA
  CUDA_CHECK(cudaMemsetAsync(dst.data, 0, dst.bytes(), cuda_->stream()));
#endif
}

void Backend::synchronize() const {
#if VSAE_HAVE_CUDA
  if (cuda_) cuda_->synchronize();
#endif
}

}  // namespace vsae
