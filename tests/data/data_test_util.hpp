// Helpers shared by the data tests: scratch directories, a tiny in-memory Dataset, file surgery
// for corruption tests, and an assertion on vsae::Error texts.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "apps/vsae/data/dataset.hpp"
#include "engine/core/check.hpp"

namespace vsae::test {

// A fresh directory for the running test, removed when the fixture object dies.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("vsae_data_" + std::string(info->test_suite_name()) + "_" + info->name() + "_" +
             std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A small dataset with deterministic pixels: the name, channel count and factors are the test's.
class TinyDataset final : public data::Dataset {
 public:
  TinyDataset(std::string name, int channels, std::vector<data::Factor> factors, int max_pixel)
      : name_(std::move(name)),
        channels_(channels),
        factors_(std::move(factors)),
        max_pixel_(max_pixel) {}

  std::string name() const override { return name_; }
  std::int64_t size() const override {
    std::int64_t n = 1;
    for (const auto& f : factors_) n *= f.num_classes();
    return n;
  }
  int channels() const override { return channels_; }
  float pixel_scale() const override { return 1.0f / static_cast<float>(max_pixel_); }
  const std::vector<data::Factor>& factors() const override { return factors_; }
  void get(std::int64_t index, std::uint8_t* image, std::int32_t* classes) const override {
    data::classes_of(factors_, index, classes);
    for (std::int64_t p = 0; p < image_bytes(); ++p)
      image[p] = static_cast<std::uint8_t>((index * 131 + p * 7 + p / 64) % (max_pixel_ + 1));
  }

 private:
  std::string name_;
  int channels_;
  std::vector<data::Factor> factors_;
  int max_pixel_;
};

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

inline void write_bytes(const std::string& path, const std::vector<char>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Passes when `fn` throws a vsae::Error whose text holds every one of `parts`.
inline ::testing::AssertionResult throws_error(const std::function<void()>& fn,
                                               std::initializer_list<std::string> parts) {
  try {
    fn();
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const std::string& part : parts)
      if (what.find(part) == std::string::npos)
        return ::testing::AssertionFailure() << "error text lacks \"" << part << "\": " << what;
    if (what.find('\n') != std::string::npos)
      return ::testing::AssertionFailure() << "error text spans several lines: " << what;
    return ::testing::AssertionSuccess() << what;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-vsae error: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace vsae::test
