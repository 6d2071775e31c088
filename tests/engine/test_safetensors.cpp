// safetensors round trip and the clear errors for corrupt or foreign files.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
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

// Interoperability with the real safetensors library (PyPI's `safetensors`, which tools/setup.sh
// installs into .venv where the registry offers it): it reads our file, checked against the values
// we wrote, and writes it back in its own layout, which our reader must read to the same tensors.
TEST(SafetensorsLibrary, ReadsOurFilesAndWeReadItsFiles) {
  const std::string python = std::string(VSAE_SOURCE_DIR) + "/.venv/bin/python";
  if (!fs::exists(python)) GTEST_SKIP() << python << " is missing (tools/setup.sh creates it)";
  if (std::system((python + " -c 'import safetensors.numpy' 2>/dev/null").c_str()) != 0)
    GTEST_SKIP() << "the safetensors package is not installed for " << python
                 << " (tools/setup.sh installs it from PyPI; the registry did not offer it)";
  SafetensorsFile ours = sample();
  HostTensor pixels;
  pixels.dtype = DType::u8;
  pixels.shape = {3, 1, 2};
  pixels.bytes = {0, 1, 2, 253, 254, 255};
  ours.tensors["pixels"] = pixels;
  ours.metadata["epochs_done"] = "3";
  const std::string mine = temp_path("ours.safetensors"), theirs = temp_path("theirs.safetensors");
  const std::string script = temp_path("interop.py");
  write_safetensors(mine, ours);
  write_bytes(script,
              "import sys\n"
              "import numpy as np\n"
              "from safetensors import safe_open\n"
              "from safetensors.numpy import load_file, save_file\n"
              "t = load_file(sys.argv[1])\n"
              "want = {'encoder.conv1.weight': np.arange(1, 7, dtype=np.float32).reshape(2, 3),\n"
              "        'counts': np.array([7, 9], dtype=np.int32),\n"
              "        'pixels': np.array([0, 1, 2, 253, 254, 255], dtype=np.uint8).reshape(3, 1, 2)}\n"
              "assert sorted(t) == sorted(want), sorted(t)\n"
              "for k, v in want.items():\n"
              "    assert t[k].dtype == v.dtype and t[k].shape == v.shape and (t[k] == v).all(), k\n"
              "with safe_open(sys.argv[1], 'np') as f:\n"
              "    meta = f.metadata()\n"
              "assert meta == {'format': 'vsae', 'epochs_done': '3'}, meta\n"
              "save_file(t, sys.argv[2], metadata=meta)\n");
  const std::string cmd = python + " " + script + " " + mine + " " + theirs;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const SafetensorsFile back = read_safetensors(theirs);
  EXPECT_EQ(back.metadata, ours.metadata);
  ASSERT_EQ(back.tensors.size(), ours.tensors.size());
  for (const auto& [name, t] : ours.tensors) {
    ASSERT_TRUE(back.tensors.count(name)) << name;
    const HostTensor& b = back.tensors.at(name);
    EXPECT_EQ(b.dtype, t.dtype) << name;
    EXPECT_EQ(b.shape, t.shape) << name;
    EXPECT_EQ(b.bytes, t.bytes) << name;
  }
  for (const std::string& p : {mine, theirs, script}) fs::remove(p);
}

}  // namespace
}  // namespace vsae
