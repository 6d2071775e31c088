// Tensor: a non-owning, contiguous, row-major view (data, shape, dtype, device).
// Memory is owned elsewhere (Storage, DeviceBuffer); views are cheap to copy and never allocate.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <string>

#include "engine/core/check.hpp"

namespace vsae {

enum class DType : std::uint8_t { f32, u8, i32 };
enum class Device : std::uint8_t { cpu, cuda };

std::size_t dtype_size(DType dtype);
const char* to_string(DType dtype);
const char* to_string(Device device);

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() { return DType::f32; }
template <>
constexpr DType dtype_of<std::uint8_t>() { return DType::u8; }
template <>
constexpr DType dtype_of<std::int32_t>() { return DType::i32; }

// Fixed-capacity shape so that copying a Tensor in a training step never touches the heap.
class Shape {
 public:
  static constexpr int kMaxDims = 6;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);

  int ndim() const { return ndim_; }
  std::int64_t operator[](int i) const { return dims_[static_cast<std::size_t>(i)]; }
  std::int64_t numel() const;
  bool operator==(const Shape& other) const;
  bool operator!=(const Shape& other) const { return !(*this == other); }
  std::string str() const;  // "(64, 1, 64, 64)"

 private:
  std::array<std::int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& shape);

struct Tensor {
  void* data = nullptr;
  Shape shape;
  DType dtype = DType::f32;
  Device device = Device::cpu;

  Tensor() = default;
  Tensor(void* data_, Shape shape_, DType dtype_, Device device_)
      : data(data_), shape(shape_), dtype(dtype_), device(device_) {}

  std::int64_t numel() const { return shape.numel(); }
  std::size_t bytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  int ndim() const { return shape.ndim(); }
  std::int64_t dim(int i) const { return shape[i]; }
  bool defined() const { return data != nullptr; }

  // Typed access; checks that T matches the dtype.
  template <class T>
  T* ptr() const {
    VSAE_CHECK(dtype == dtype_of<T>(),
               "tensor dtype is " << to_string(dtype) << ", accessed as " << to_string(dtype_of<T>()));
    return static_cast<T*>(data);
  }

  // Same memory, new shape with the same element count.
  Tensor reshaped(Shape new_shape) const;
};

}  // namespace vsae
