// safetensors files (the Hugging Face format PyTorch loads with safetensors.torch.load_file):
// an 8-byte header length, a JSON header of names, dtypes, shapes and offsets, then raw data.
// Used for checkpoints and golden-step dumps. Writes are atomic: a temp file, then rename.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/core/tensor.hpp"

namespace vsae {

struct HostTensor {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> bytes;

  std::int64_t numel() const;
  template <class T>
  const T* as() const {
    VSAE_CHECK(dtype == dtype_of<T>(), "tensor dtype is " << to_string(dtype));
    return reinterpret_cast<const T*>(bytes.data());
  }
  static HostTensor from_floats(const std::vector<float>& values, std::vector<std::int64_t> shape);
};

class Backend;
// A host copy of a backend tensor (synchronises with the device).
HostTensor download_host(const Backend& be, const Tensor& t);

struct SafetensorsFile {
  std::map<std::string, HostTensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Writes `path` atomically (path.tmp, fsync, rename); throws vsae::Error naming the file on failure.
void write_safetensors(const std::string& path, const SafetensorsFile& file);
// Reads and validates the whole file: header size, JSON, dtypes, shapes, offsets within the data.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace vsae
