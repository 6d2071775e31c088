// Backend-comparison helpers: one host array mirrored on the CPU and CUDA backends (each copy with
// guard sentinels), compared across backends in one assertion; and plain views of host vectors.
#pragma once

#include <gtest/gtest.h>

#include <vector>

#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae::test {

// The same data on both backends. Create only after VSAE_REQUIRE_CUDA().
class TwinTensor {
 public:
  template <class T>
  TwinTensor(Shape shape, const std::vector<T>& host)
      : on_cpu_(::vsae::test::cpu(), shape, dtype_of<T>()),
        on_cuda_(::vsae::test::cuda(), shape, dtype_of<T>()) {
    on_cpu_.upload(host);
    on_cuda_.upload(host);
  }

  // The copy that lives on `be`'s device.
  const Tensor& on(const Backend& be) const {
    return be.is_cuda() ? on_cuda_.tensor() : on_cpu_.tensor();
  }
  const GuardedTensor& cpu_copy() const { return on_cpu_; }
  const GuardedTensor& cuda_copy() const { return on_cuda_; }

 private:
  GuardedTensor on_cpu_;
  GuardedTensor on_cuda_;
};

// The CUDA copy equals the CPU copy within `tol`, and neither copy wrote outside its bounds.
inline ::testing::AssertionResult twins_match(const TwinTensor& t, Tolerance tol,
                                              bool allow_nonfinite = false) {
  if (!t.cpu_copy().guards_intact())
    return ::testing::AssertionFailure() << "CPU guard sentinels overwritten";
  if (!t.cuda_copy().guards_intact())
    return ::testing::AssertionFailure() << "CUDA guard sentinels overwritten";
  return all_close(t.cpu_copy().download<float>(), t.cuda_copy().download<float>(), tol,
                   allow_nonfinite);
}

// A CPU-backend tensor over a host vector, for the CPU oracles and gradient checks.
template <class T>
Tensor host_view(std::vector<T>& host, Shape shape) {
  VSAE_CHECK(static_cast<std::int64_t>(host.size()) == shape.numel(),
             "host_view: " << host.size() << " elements for shape " << shape);
  return Tensor(host.data(), shape, dtype_of<T>(), Device::cpu);
}

}  // namespace vsae::test
