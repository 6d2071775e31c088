// The .npz container on its own: writer -> reader round trips (stored and deflate, data in
// odd-sized pieces), numpy's own files (with a pickled entry that must be skipped), and damaged
// archives.
#include <gtest/gtest.h>

#include <cstdlib>
#include <numeric>

#include "apps/vsae/data/npz.hpp"
#include "tests/data/data_test_util.hpp"

namespace vsae::data {
namespace {

using test::ScratchDir;
using test::throws_error;

// Writes a (rows, 3) int64 array "a" and a (rows,) float64 array "b", feeding "a" in uneven pieces.
void write_sample(const std::string& path, bool compress, std::int64_t rows) {
  std::vector<std::int64_t> a(static_cast<std::size_t>(rows * 3));
  std::iota(a.begin(), a.end(), -7);
  std::vector<double> b(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = 0.25 * static_cast<double>(i);
  NpzWriter w(path, compress);
  w.begin("a", {"<i8", {rows, 3}});
  const std::size_t bytes = a.size() * sizeof(std::int64_t);
  const std::size_t cut = bytes / 3 + 5;
  w.write(a.data(), cut);
  w.write(reinterpret_cast<const char*>(a.data()) + cut, bytes - cut);
  w.end();
  w.begin("b", {"<f8", {rows}});
  w.write(b.data(), b.size() * sizeof(double));
  w.end();
  w.close();
}

void expect_sample(const std::string& path, std::int64_t rows) {
  NpzReader r(path);
  EXPECT_TRUE(r.contains("a"));
  EXPECT_TRUE(r.contains("b"));
  EXPECT_FALSE(r.contains("c"));
  NpzReader::Array a = r.open("a");
  EXPECT_EQ(a.header().descr, "<i8");
  EXPECT_EQ(a.header().shape, (std::vector<std::int64_t>{rows, 3}));
  std::vector<std::int64_t> values(static_cast<std::size_t>(rows * 3));
  a.read(values.data(), 8);  // odd pieces on the way out too
  a.read(values.data() + 1, (values.size() - 1) * sizeof(std::int64_t));
  a.finish();
  for (std::size_t i = 0; i < values.size(); ++i)
    ASSERT_EQ(values[i], static_cast<std::int64_t>(i) - 7);
  NpzReader::Array b = r.open("b");
  EXPECT_EQ(b.header().shape_str(), "(" + std::to_string(rows) + ",)");
  std::vector<double> bv(static_cast<std::size_t>(rows));
  b.read(bv.data(), bv.size() * sizeof(double));
  b.finish();
  EXPECT_DOUBLE_EQ(bv.back(), 0.25 * static_cast<double>(rows - 1));
}

TEST(Npz, StoredRoundTrip) {
  ScratchDir dir;
  write_sample(dir.file("s.npz"), false, 1000);
  expect_sample(dir.file("s.npz"), 1000);
}

TEST(Npz, DeflateRoundTripIsSmaller) {
  ScratchDir dir;
  write_sample(dir.file("s.npz"), false, 100000);
  write_sample(dir.file("d.npz"), true, 100000);
  expect_sample(dir.file("d.npz"), 100000);
  EXPECT_LT(std::filesystem::file_size(dir.file("d.npz")) * 4,
            std::filesystem::file_size(dir.file("s.npz")));
}

TEST(Npz, ReadingMoreThanTheArrayHoldsIsAnError) {
  ScratchDir dir;
  write_sample(dir.file("s.npz"), true, 10);
  NpzReader r(dir.file("s.npz"));
  NpzReader::Array b = r.open("b");
  std::vector<double> v(11);
  EXPECT_TRUE(throws_error([&] { b.read(v.data(), v.size() * sizeof(double)); },
                           {dir.file("s.npz"), "array 'b'"}));
}

TEST(Npz, DamagedArchivesNameTheFileAndTheProblem) {
  ScratchDir dir;
  const std::string path = dir.file("x.npz");
  EXPECT_TRUE(throws_error([&] { NpzReader r(path); }, {path, "file not found"}));
  test::write_bytes(path, {});
  EXPECT_TRUE(throws_error([&] { NpzReader r(path); }, {path, "empty"}));
  test::write_bytes(path, std::vector<char>(4000, 'x'));
  EXPECT_TRUE(throws_error([&] { NpzReader r(path); }, {path, "not an .npz file"}));

  write_sample(path, false, 1000);
  std::vector<char> bytes = test::read_bytes(path);
  test::write_bytes(
      path, std::vector<char>(bytes.begin(), bytes.begin() + static_cast<long>(bytes.size() / 2)));
  EXPECT_TRUE(throws_error([&] { NpzReader r(path); }, {path, "truncated"}));

  bytes[500] ^= 0x5A;  // inside the stored data of "a": only the CRC can tell
  test::write_bytes(path, bytes);
  NpzReader r(path);
  NpzReader::Array a = r.open("a");
  std::vector<std::int64_t> values(3000);
  a.read(values.data(), values.size() * sizeof(std::int64_t));
  EXPECT_TRUE(throws_error([&] { a.finish(); }, {path, "array 'a'", "CRC-32"}));
  EXPECT_TRUE(throws_error([&] { r.open("c"); }, {path, "missing array 'c'", "a.npy, b.npy"}));
}

TEST(Npz, CorruptDeflateDataIsReported) {
  ScratchDir dir;
  const std::string path = dir.file("d.npz");
  write_sample(path, true, 100000);
  std::vector<char> bytes = test::read_bytes(path);
  for (std::size_t i = 200; i < 400; ++i) bytes[i] = static_cast<char>(i * 37);
  test::write_bytes(path, bytes);
  EXPECT_TRUE(throws_error(
      [&] {
        NpzReader r(path);
        NpzReader::Array a = r.open("a");
        std::vector<std::int64_t> values(300000);
        a.read(values.data(), values.size() * sizeof(std::int64_t));
        a.finish();
      },
      {path, "array 'a'"}));
}

// numpy.savez and savez_compressed files, with an object array that only pickle could read.
TEST(Npz, ReadsNumpyFilesAndNeverTouchesPickledEntries) {
  ScratchDir dir;
  const std::string script =
      "import sys\n"
      "try:\n    import numpy as np\nexcept ImportError:\n    sys.exit(77)\n"
      "a = np.arange(-7, 3 * 1000 - 7, dtype=np.int64).reshape(1000, 3)\n"
      "b = 0.25 * np.arange(1000, dtype=np.float64)\n"
      "meta = np.array({'danger': 'never unpickled'}, dtype=object)\n"
      "np.savez(sys.argv[1], a=a, b=b, metadata=meta)\n"
      "np.savez_compressed(sys.argv[2], a=a, b=b, metadata=meta)\n";
  test::write_bytes(dir.file("make.py"), std::vector<char>(script.begin(), script.end()));
  const std::string cmd = std::string(VSAE_TEST_PYTHON) + " " + dir.file("make.py") + " " +
                          dir.file("s.npz") + " " + dir.file("d.npz");
  const int rc = std::system(cmd.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77)
    GTEST_SKIP() << "numpy is not installed for " << VSAE_TEST_PYTHON;
  ASSERT_EQ(rc, 0) << cmd;
  for (const char* name : {"s.npz", "d.npz"}) {
    expect_sample(dir.file(name), 1000);
    NpzReader r(dir.file(name));
    EXPECT_TRUE(r.contains("metadata"));
    EXPECT_EQ(r.open("metadata").header().descr,
              "|O");  // its header is readable, its data never read
  }
}

}  // namespace
}  // namespace vsae::data
