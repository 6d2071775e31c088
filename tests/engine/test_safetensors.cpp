// safetensors round trip and the clear errors for corrupt or foreign files.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "engine/io/safetensors.hpp"

namespace vsae {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("vsae_st_" + std::to_string(::getpid()) + "_" + name)).string();
}

SafetensorsFile sample() {
  SafetensorsFile f;
  f.tensors["encoder.conv1.weight"] = HostTensor::from_floats({1, 2, 3, 4, 5, 6}, {2, 3});
  HostTensor counts;
  counts.dtype = DType::i32;
  counts.shape = {2};
  counts.bytes = {7, 0, 0, 0, 9, 0, 0, 0};
  f.tensors["counts"] = counts;
  f.metadata["format"] = "vsae";
  return f;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string error_of(const std::string& path) {
  try {
    read_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTrip) {
  std::string path = temp_path("rt.safetensors");
  write_safetensors(path, sample());
  SafetensorsFile back = read_safetensors(path);
  ASSERT_EQ(back.tensors.size(), 2u);
  const HostTensor& w = back.tensors.at("encoder.conv1.weight");
  EXPECT_EQ(w.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(w.as<float>()[5], 6.0f);
  EXPECT_EQ(back.tensors.at("counts").as<std::int32_t>()[1], 9);
  EXPECT_EQ(back.metadata.at("format"), "vsae");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  fs::remove(path);
}

TEST(Safetensors, CorruptFilesGiveClearErrors) {
  std::string good = temp_path("good.safetensors");
  write_safetensors(good, sample());
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  std::string path = temp_path("bad.safetensors");
  EXPECT_NE(error_of(path + ".missing").find("cannot open"), std::string::npos);
  write_bytes(path, "abc");
  EXPECT_NE(error_of(path).find("truncated"), std::string::npos);
  write_bytes(path, bytes.substr(0, bytes.size() - 4));
  EXPECT_NE(error_of(path).find("outside the file"), std::string::npos);
  write_bytes(path, std::string("\x10\0\0\0\0\0\0\0", 8) + "not json at all!");
  EXPECT_NE(error_of(path).find("not valid JSON"), std::string::npos);
  write_bytes(path, std::string(8, '\xff') + "x");
  EXPECT_NE(error_of(path).find("exceeds the file size"), std::string::npos);
  std::string bad_dtype = bytes;
  bad_dtype.replace(bad_dtype.find("F32"), 3, "F64");
  write_bytes(path, bad_dtype);
  EXPECT_NE(error_of(path).find("unsupported dtype"), std::string::npos);
  EXPECT_NE(error_of(path).find(path), std::string::npos);  // every error names the file
  const std::string huge = R"({"t":{"dtype":"F32","shape":[4611686018427387904,8],"data_offsets":[0,0]}})";
  std::string prefix(8, '\0');
  prefix[0] = static_cast<char>(huge.size());
  write_bytes(path, prefix + huge);
  EXPECT_NE(error_of(path).find("larger than the file"), std::string::npos);
  fs::remove(path);
  fs::remove(good);
}

}  // namespace
}  // namespace vsae
