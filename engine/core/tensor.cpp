// Shape arithmetic and names for dtypes and devices.
#include "engine/core/tensor.hpp"

#include <sstream>

namespace vsae {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::f32: return 4;
    case DType::u8: return 1;
    case DType::i32: return 4;
  }
  return 0;
}

const char* to_string(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::u8: return "u8";
    case DType::i32: return "i32";
  }
  return "?";
}

const char* to_string(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  VSAE_CHECK(dims.size() <= kMaxDims, "shape has " << dims.size() << " dims, at most " << kMaxDims);
  for (std::int64_t d : dims) {
    VSAE_CHECK(d >= 0, "negative dimension " << d);
    dims_[static_cast<std::size_t>(ndim_++)] = d;
  }
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < ndim_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  if (ndim_ != other.ndim_) return false;
  for (int i = 0; i < ndim_; ++i)
    if (dims_[static_cast<std::size_t>(i)] != other.dims_[static_cast<std::size_t>(i)]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '(';
  for (int i = 0; i < ndim_; ++i) os << (i ? ", " : "") << dims_[static_cast<std::size_t>(i)];
  os << ')';
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Shape& shape) { return os << shape.str(); }

Tensor Tensor::reshaped(Shape new_shape) const {
  VSAE_CHECK(new_shape.numel() == numel(),
             "cannot reshape " << shape << " to " << new_shape << ": element counts differ");
  return Tensor(data, new_shape, dtype, device);
}

}  // namespace vsae
