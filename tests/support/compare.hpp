// Backend-comparison harness in the style of ggml's test-backend-ops: tensors with guard sentinels
// on either backend, seeded random fills, and abs + rel·|ref| comparison that rejects NaN/Inf.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/core/backend.hpp"

namespace vsae::test {

// A tensor on `backend` with sentinel words before and after it, to catch out-of-bounds writes.
class GuardedTensor {
 public:
  static constexpr std::size_t kGuardBytes = 1024;

  GuardedTensor(Backend& backend, Shape shape, DType dtype = DType::f32);
  const Tensor& tensor() const { return view_; }
  operator const Tensor&() const { return view_; }

  template <class T>
  void upload(const std::vector<T>& host) {
    VSAE_CHECK(host.size() == static_cast<std::size_t>(view_.numel()), "upload size mismatch");
    backend_->upload(view_, host.data());
  }
  template <class T>
  std::vector<T> download() const {
    std::vector<T> host(static_cast<std::size_t>(view_.numel()));
    backend_->download(host.data(), view_);
    return host;
  }
  // True when both guard regions still hold the sentinel pattern.
  bool guards_intact() const;

 private:
  Backend* backend_;
  Storage storage_;
  Tensor view_;
};

struct Tolerance {
  double abs = 1e-5;
  double rel = 1e-4;
};

// gtest assertion helper: every element satisfies |got - ref| <= abs + rel·|ref|, and neither
// side holds NaN/Inf unless `allow_nonfinite` and both agree bit-class (same NaN-ness / same Inf).
::testing::AssertionResult all_close(const std::vector<float>& ref, const std::vector<float>& got,
                                     Tolerance tol, bool allow_nonfinite = false);

// Deterministic random data, identical on every machine.
std::vector<float> random_uniform(std::size_t n, float lo, float hi, std::uint64_t seed);
std::vector<float> random_normal(std::size_t n, float stddev, std::uint64_t seed);

}  // namespace vsae::test
