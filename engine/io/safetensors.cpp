// Reading and writing safetensors with strict validation, so a corrupt checkpoint is a clear error.
#include "engine/io/safetensors.hpp"

#include "engine/core/backend.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace vsae {

namespace {

using nlohmann::json;

const char* dtype_tag(DType d) {
  switch (d) {
    case DType::f32: return "F32";
    case DType::u8: return "U8";
    case DType::i32: return "I32";
  }
  return "?";
}

bool parse_dtype(const std::string& tag, DType* out) {
  if (tag == "F32") *out = DType::f32;
  else if (tag == "U8") *out = DType::u8;
  else if (tag == "I32") *out = DType::i32;
  else return false;
  return true;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error("checkpoint " + path + ": " + what);
}

}  // namespace

std::int64_t HostTensor::numel() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

HostTensor HostTensor::from_floats(const std::vector<float>& values, std::vector<std::int64_t> shape) {
  HostTensor t;
  t.dtype = DType::f32;
  t.shape = std::move(shape);
  VSAE_CHECK(t.numel() == static_cast<std::int64_t>(values.size()), "shape does not match the value count");
  t.bytes.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

HostTensor download_host(const Backend& be, const Tensor& t) {
  HostTensor h;
  h.dtype = t.dtype;
  for (int i = 0; i < t.ndim(); ++i) h.shape.push_back(t.dim(i));
  h.bytes.resize(t.bytes());
  be.download(h.bytes.data(), t);
  return h;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
  json header = json::object();
  std::uint64_t offset = 0;
  for (const auto& [name, t] : file.tensors) {
    VSAE_CHECK(static_cast<std::size_t>(t.numel()) * dtype_size(t.dtype) == t.bytes.size(),
               "tensor " << name << " has " << t.bytes.size() << " bytes for its shape");
    header[name] = {{"dtype", dtype_tag(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned
  std::uint64_t n = text.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail(path, std::string("cannot open for writing: ") + std::strerror(errno));
  bool ok = std::fwrite(len, 1, 8, f) == 8 && std::fwrite(text.data(), 1, text.size(), f) == text.size();
  for (const auto& [name, t] : file.tensors)  // an empty tensor's data() may be null: write nothing
    ok = ok && (t.bytes.empty() || std::fwrite(t.bytes.data(), 1, t.bytes.size(), f) == t.bytes.size());
  ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    fail(path, std::string("write failed: ") + std::strerror(errno));
  }
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open (missing or unreadable)");
  in.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  if (size < 8) fail(path, "truncated: shorter than the 8-byte header length");
  unsigned char len[8];
  in.read(reinterpret_cast<char*>(len), 8);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{len[i]} << (8 * i);
  if (n > size - 8) fail(path, "truncated or not a safetensors file: header length " + std::to_string(n) +
                                   " exceeds the file size " + std::to_string(size));
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception&) {
    fail(path, "header is not valid JSON (not a safetensors file?)");
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");

  const std::uint64_t data_size = size - 8 - n;
  std::vector<std::uint8_t> data(data_size);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data_size));
  if (!in) fail(path, "could not read the data section");

  SafetensorsFile out;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path, "__metadata__ is not an object");
      for (const auto& [k, v] : entry.items())
        if (v.is_string()) out.metadata[k] = v.get<std::string>();
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
      fail(path, where + " lacks dtype, shape or data_offsets");
    HostTensor t;
    if (!entry["dtype"].is_string() || !parse_dtype(entry["dtype"].get<std::string>(), &t.dtype))
      fail(path, where + " has unsupported dtype " + entry["dtype"].dump());
    const json& shape = entry["shape"];
    const json& offs = entry["data_offsets"];
    if (!shape.is_array()) fail(path, where + " shape is not an array");
    std::uint64_t elements = 1;
    for (const json& d : shape) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0) fail(path, where + " has a bad dimension " + d.dump());
      const auto dim = static_cast<std::uint64_t>(d.get<std::int64_t>());
      // Bound the element count by the data section before multiplying, so no shape overflows.
      if (dim != 0 && elements > data_size / dim) fail(path, where + " has a shape larger than the file's data");
      elements *= dim;
      t.shape.push_back(d.get<std::int64_t>());
    }
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
      fail(path, where + " has bad data_offsets");
    const std::uint64_t begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
    if (begin > end || end > data_size) fail(path, where + " data lies outside the file (truncated?)");
    if (end - begin != static_cast<std::uint64_t>(t.numel()) * dtype_size(t.dtype))
      fail(path, where + " byte size does not match its shape and dtype");
    t.bytes.assign(data.begin() + static_cast<std::ptrdiff_t>(begin), data.begin() + static_cast<std::ptrdiff_t>(end));
    out.tensors.emplace(name, std::move(t));
  }
  return out;
}

}  // namespace vsae
