// Storage: owning, aligned memory on either backend, from which Tensor views are cut.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/core/tensor.hpp"

namespace vsae {

class Storage {
 public:
  // Alignment of every allocation and of every view cut by an arena: enough for 16-byte vector
  // loads and for cuBLAS/cuDNN's preferred alignment.
  static constexpr std::size_t kAlignment = 256;

  Storage();
  static Storage allocate(Device device, std::size_t bytes);

  Storage(Storage&&) noexcept;
  Storage& operator=(Storage&&) noexcept;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage();

  void* data() const { return data_; }
  std::size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

  // A view of `shape`/`dtype` starting `offset` bytes in; checks the bounds.
  Tensor view(Shape shape, DType dtype, std::size_t offset = 0) const;
  // The whole buffer as a flat tensor of `dtype`.
  Tensor flat(DType dtype) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  Device device_ = Device::cpu;
};

// Hands out aligned, non-overlapping views of one Storage. Plan with `reserve`, allocate once,
// then `take` views in the same order: memory is fixed before the first training step.
class ArenaPlan {
 public:
  std::size_t reserve(Shape shape, DType dtype);  // returns the byte offset of the new region
  std::size_t total_bytes() const { return total_; }

 private:
  std::size_t total_ = 0;
};

}  // namespace vsae
