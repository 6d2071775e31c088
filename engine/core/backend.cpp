// Device selection and the memory operations every backend offers.
#include "engine/core/backend.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <utility>

#include "engine/core/cuda_probe.hpp"

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

#if VSAE_HAVE_CUDA
namespace {

// Opens device 0 as CudaContext will use it, so that a GPU another process holds in
// exclusive-process mode or one without free memory shows here and not halfway through make_cuda.
// Fills the device's name, or what failed.
void open_device_zero(CudaProbe& probe) {
  cudaError_t err = cudaSetDevice(0);
  if (err == cudaSuccess) err = cudaFree(nullptr);  // creates the device's primary context
  cudaDeviceProp props{};
  if (err == cudaSuccess) err = cudaGetDeviceProperties(&props, 0);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // not a sticky error: later queries must not see it
    probe.open_error = std::string("creating a context: ") + cudaGetErrorString(err);
    return;
  }
  probe.device_name = props.name;
}

// cuDNN 9 loads its sub-libraries on demand; these checks load the ones the convolutions need, so
// a missing one shows before training starts. Returns what failed, or "".
std::string try_cudnn() {
  const std::pair<const char*, cudnnStatus_t (*)()> sublibraries[] = {
      {"cudnnGraphVersionCheck", cudnnGraphVersionCheck},
      {"cudnnOpsVersionCheck", cudnnOpsVersionCheck},
      {"cudnnCnnVersionCheck", cudnnCnnVersionCheck}};
  for (const auto& [name, check] : sublibraries) {
    const cudnnStatus_t status = check();
    if (status != CUDNN_STATUS_SUCCESS)
      return std::string(name) + ": " + detail::cudnn_error_detail(status);
  }
  cudnnHandle_t handle = nullptr;
  const cudnnStatus_t status = cudnnCreate(&handle);
  if (status != CUDNN_STATUS_SUCCESS) return "cudnnCreate: " + detail::cudnn_error_detail(status);
  if (cudnnDestroy(handle) != CUDNN_STATUS_SUCCESS) return "cudnnDestroy failed";
  return "";
}

CudaProbe probe_cuda() {
  CudaProbe probe;
  cudaDriverGetVersion(&probe.driver_version);
  cudaRuntimeGetVersion(&probe.runtime_version);
  const cudaError_t err = cudaGetDeviceCount(&probe.device_count);
  if (err != cudaSuccess) {
    probe.count_error = cudaGetErrorString(err);
    (void)cudaGetLastError();
    return probe;
  }
  if (probe.device_count == 0) return probe;
  open_device_zero(probe);
  // A simulator has no cuDNN to try (its runtime stands in for the driver cuDNN would call).
  if (probe.open_error.empty() && !is_simulated_device(probe.device_name)) probe.library_error = try_cudnn();
  return probe;
}

// The machine does not change while we run: probe once, and warn once.
const CudaVerdict& cuda_verdict() {
  static const CudaVerdict verdict = [] {
    CudaVerdict v = judge_cuda_probe(probe_cuda());
    if (!v.warning.empty()) std::fprintf(stderr, "vsae_gpu: warning: %s\n", v.warning.c_str());
    return v;
  }();
  return verdict;
}

}  // namespace
#else
namespace {
constexpr const char* kNoCudaBuild = "this build has no CUDA backend (configured with VSAE_CUDA=OFF)";
}  // namespace
#endif

bool cuda_usable(std::string* why_not) {
#if VSAE_HAVE_CUDA
  const CudaVerdict& verdict = cuda_verdict();
  if (!verdict.usable && why_not) *why_not = verdict.reason;
  return verdict.usable;
#else
  if (why_not) *why_not = kNoCudaBuild;
  return false;
#endif
}

bool cuda_kernels_usable(std::string* why_not) {
#if VSAE_HAVE_CUDA
  const CudaVerdict& verdict = cuda_verdict();
  if (!verdict.kernels_usable && why_not) *why_not = verdict.reason;
  return verdict.kernels_usable;
#else
  if (why_not) *why_not = kNoCudaBuild;
  return false;
#endif
}

bool cuda_simulated() {
#if VSAE_HAVE_CUDA
  return cuda_verdict().simulated;
#else
  return false;
#endif
}

Backend::Backend(Device device) : device_(device) {}
Backend::~Backend() = default;

std::unique_ptr<Backend> Backend::make_cpu() { return std::unique_ptr<Backend>(new Backend(Device::cpu)); }

std::unique_ptr<Backend> Backend::make_cuda(int device_index) {
  std::string why;
  if (!cuda_kernels_usable(&why)) throw Error("device \"cuda\" was requested but " + why);
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
  if (choice == DeviceChoice::cpu) {
    backend = make_cpu();
  } else if (choice == DeviceChoice::cuda) {
    // Training needs the libraries too, so a device that runs only kernels (a simulator) is refused.
    std::string why;
    if (!cuda_usable(&why)) throw Error("device \"cuda\" was requested but " + why);
    backend = make_cuda();
  } else {
    std::string why;
    if (cuda_usable(&why)) {
      // A usable device can still fail to start (memory taken meanwhile, a library error).
      try {
        backend = make_cuda();
      } catch (const Error& e) {
        why = std::string("the CUDA backend failed to start: ") + e.what();
      }
    }
    if (!backend) {
      backend = make_cpu();
      if (log) *log << "vsae_gpu: device auto: " << why << "; using the CPU backend\n";
    }
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
  if (dst.bytes() == 0) return;  // an empty host vector's data() may be null, which memcpy forbids
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
  if (src.bytes() == 0) return;
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
    // In pieces over the OpenMP threads: one core's memset does not saturate memory bandwidth,
    // and the gradient arena is tens of megabytes.
    constexpr std::size_t kPiece = std::size_t{1} << 20;
    const std::size_t bytes = dst.bytes();
    const auto pieces = static_cast<std::int64_t>((bytes + kPiece - 1) / kPiece);
    char* base = static_cast<char*>(dst.data);
#pragma omp parallel for schedule(static) if (pieces > 1)
    for (std::int64_t i = 0; i < pieces; ++i) {
      const std::size_t begin = static_cast<std::size_t>(i) * kPiece;
      std::memset(base + begin, 0, std::min(kPiece, bytes - begin));
    }
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
