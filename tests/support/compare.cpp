// Guarded allocations and tolerant comparison for the backend-comparison suites.
#include "tests/support/compare.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <sstream>

#include "engine/core/philox.hpp"

namespace vsae::test {

namespace {
constexpr std::uint8_t kSentinel = 0xA5;

std::size_t padded(std::size_t bytes) {
  return (bytes + Storage::kAlignment - 1) / Storage::kAlignment * Storage::kAlignment;
}
}  // namespace

GuardedTensor::GuardedTensor(Backend& backend, Shape shape, DType dtype) : backend_(&backend) {
  std::size_t body = padded(static_cast<std::size_t>(shape.numel()) * dtype_size(dtype));
  storage_ = backend.allocate(kGuardBytes + body + kGuardBytes);
  std::vector<std::uint8_t> pattern(storage_.bytes(), kSentinel);
  backend.upload(storage_.view(Shape{static_cast<std::int64_t>(storage_.bytes())}, DType::u8), pattern.data());
  view_ = storage_.view(shape, dtype, kGuardBytes);
  // The body starts zeroed, like every fresh allocation; the sentinels stay around it.
  backend.zero(view_);
}

bool GuardedTensor::guards_intact() const {
  std::vector<std::uint8_t> all(storage_.bytes());
  backend_->download(all.data(), storage_.view(Shape{static_cast<std::int64_t>(all.size())}, DType::u8));
  std::size_t tail_begin = kGuardBytes + view_.bytes();
  for (std::size_t i = 0; i < kGuardBytes; ++i)
    if (all[i] != kSentinel) return false;
  // Bytes between the body's end and the padded end also belong to no one.
  for (std::size_t i = tail_begin; i < all.size(); ++i)
    if (all[i] != kSentinel) return false;
  return true;
}

::testing::AssertionResult all_close(const std::vector<float>& ref, const std::vector<float>& got,
                                     Tolerance tol, bool allow_nonfinite) {
  if (ref.size() != got.size())
    return ::testing::AssertionFailure() << "size mismatch: ref " << ref.size() << ", got " << got.size();
  std::size_t bad = 0;
  std::ostringstream first;
  double worst = 0.0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    float r = ref[i], g = got[i];
    bool ok;
    if (!std::isfinite(r) || !std::isfinite(g)) {
      ok = allow_nonfinite && ((std::isnan(r) && std::isnan(g)) || r == g);
    } else {
      double err = std::fabs(static_cast<double>(g) - r);
      double limit = tol.abs + tol.rel * std::fabs(r);
      ok = err <= limit;
      worst = std::max(worst, err / limit);
    }
    if (!ok && bad++ < 5) first << "\n  [" << i << "] ref " << r << " got " << g;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << ref.size() << " elements differ (abs " << tol.abs
                                       << ", rel " << tol.rel << "; worst finite error/limit " << worst
                                       << "):" << first.str();
}

std::vector<float> random_uniform(std::size_t n, float lo, float hi, std::uint64_t seed) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    PhiloxBlock r = philox_draw(seed, RngStream::test, static_cast<std::uint32_t>(i), 0);
    out[i] = lo + (hi - lo) * philox_uniform(r.v[0]);
  }
  return out;
}

std::vector<float> random_normal(std::size_t n, float stddev, std::uint64_t seed) {
  std::vector<float> out(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = stddev * philox_normal(seed, RngStream::test, static_cast<std::uint32_t>(i), 0);
  return out;
}

}  // namespace vsae::test
