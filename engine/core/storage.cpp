// Storage allocation on the CPU (aligned heap) and on CUDA (DeviceBuffer).
#include "engine/core/storage.hpp"

#include <cstdlib>
#include <cstring>
#include <utility>

#if VSAE_HAVE_CUDA
#include "engine/core/device_buffer.hpp"
#endif

namespace vsae {

namespace {
std::size_t round_up(std::size_t n, std::size_t a) { return (n + a - 1) / a * a; }
}  // namespace

struct Storage::Impl {
  struct FreeDeleter {
    void operator()(void* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<void, FreeDeleter> host;
#if VSAE_HAVE_CUDA
  DeviceBuffer<std::byte> device;
#endif
};

Storage Storage::allocate(Device device, std::size_t bytes) {
  Storage s;
  s.impl_ = std::make_unique<Impl>();
  s.device_ = device;
  s.bytes_ = bytes;
  if (bytes == 0) return s;
  if (device == Device::cpu) {
    void* p = std::aligned_alloc(kAlignment, round_up(bytes, kAlignment));
    VSAE_CHECK(p != nullptr, "out of host memory allocating " << bytes << " bytes");
    std::memset(p, 0, bytes);
    s.impl_->host.reset(p);
    s.data_ = p;
  } else {
#if VSAE_HAVE_CUDA
    s.impl_->device = DeviceBuffer<std::byte>(bytes);
    s.data_ = s.impl_->device.data();
    // This memset runs on the default stream, which the ops' non-blocking stream does not wait
    // for; finish it here (allocation happens at plan time) so no kernel can race it.
    CUDA_CHECK(cudaMemset(s.data_, 0, bytes));
    CUDA_CHECK(cudaStreamSynchronize(nullptr));
#else
    VSAE_CHECK(false, "this build has no CUDA backend (configured with VSAE_CUDA=OFF)");
#endif
  }
  return s;
}

Storage::Storage(Storage&& other) noexcept
    : impl_(std::move(other.impl_)),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      device_(other.device_) {}

Storage& Storage::operator=(Storage&& other) noexcept {
  if (this != &other) {
    impl_ = std::move(other.impl_);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    device_ = other.device_;
  }
  return *this;
}

Storage::Storage() = default;
Storage::~Storage() = default;

Tensor Storage::view(Shape shape, DType dtype, std::size_t offset) const {
  std::size_t need = static_cast<std::size_t>(shape.numel()) * dtype_size(dtype);
  VSAE_CHECK(offset + need <= bytes_, "view " << shape << " " << to_string(dtype) << " at offset "
                                              << offset << " exceeds storage of " << bytes_
                                              << " bytes");
  return Tensor(static_cast<std::byte*>(data_) + offset, shape, dtype, device_);
}

Tensor Storage::flat(DType dtype) const {
  return view(Shape{static_cast<std::int64_t>(bytes_ / dtype_size(dtype))}, dtype, 0);
}

std::size_t ArenaPlan::reserve(Shape shape, DType dtype) {
  std::size_t offset = total_;
  total_ = round_up(total_ + static_cast<std::size_t>(shape.numel()) * dtype_size(dtype),
                    Storage::kAlignment);
  return offset;
}

}  // namespace vsae
