// Shared CPU and CUDA backends for the test suites, and the macro that skips CUDA cases without a
// GPU (or fails them, under VSAE_EXPECT_CUDA=1).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/core/backend.hpp"

namespace vsae::test {

Backend& cpu();
// The CUDA backend; call only after VSAE_REQUIRE_CUDA().
Backend& cuda();
// Empty when CUDA is usable, otherwise why not.
const std::string& cuda_unavailable_reason();
// VSAE_EXPECT_CUDA is set (to anything but "" or "0"): a GPU run, where a CUDA case that cannot
// run is a failure rather than a skip, so a green run proves that every CUDA case ran.
bool cuda_expected();

// Sets a backend's TF32 switch for one scope; the backends are shared by every test.
class Tf32Scope {
 public:
  Tf32Scope(Backend& be, bool on) : be_(be), saved_(be.tf32()) { be.set_tf32(on); }
  ~Tf32Scope() { be_.set_tf32(saved_); }
  Tf32Scope(const Tf32Scope&) = delete;
  Tf32Scope& operator=(const Tf32Scope&) = delete;

 private:
  Backend& be_;
  bool saved_;
};

}  // namespace vsae::test

// Skips (never passes) a CUDA case on machines without a usable GPU; ctest reports it as skipped.
// Under VSAE_EXPECT_CUDA=1 the case fails instead (GTEST_FAIL returns from the test body).
#define VSAE_REQUIRE_CUDA()                                                                    \
  do {                                                                                         \
    if (!::vsae::test::cuda_unavailable_reason().empty()) {                                    \
      if (::vsae::test::cuda_expected())                                                       \
        GTEST_FAIL() << "VSAE_EXPECT_CUDA is set but the CUDA backend is unavailable: "        \
                     << ::vsae::test::cuda_unavailable_reason();                               \
      GTEST_SKIP() << "CUDA backend unavailable: " << ::vsae::test::cuda_unavailable_reason(); \
    }                                                                                          \
  } while (0)
