// Shared CPU and CUDA backends for the test suites, and the macros that skip CUDA cases without a
// GPU (or fail them, under VSAE_EXPECT_CUDA=1). A case that needs cuBLAS, cuDNN or graph capture
// says so, so that under a GPU simulator (which runs only the hand-written kernels) it skips
// naming the simulator instead of failing.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/core/backend.hpp"

namespace vsae::test {

Backend& cpu();
// The CUDA backend; call only after VSAE_REQUIRE_CUDA().
Backend& cuda();
// Empty when device 0 runs the hand-written kernels (a GPU or a simulator), otherwise why not.
const std::string& cuda_unavailable_reason();
// Empty when the whole CUDA backend (with cuBLAS, cuDNN and graph capture) is usable.
const std::string& cuda_libraries_unavailable_reason();
// ctest runs this case under the label cuda_kernels (tests/cuda_kernels_label.cmake sets
// VSAE_KERNEL_ONLY_CASE): it promised to need nothing but the hand-written kernels.
bool labelled_kernel_only();
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

// VSAE_REQUIRE_CUDA for a case that also needs `what` ("cuBLAS", "cuDNN", "graph capture"): it
// skips under a simulator, and fails when ctest labelled it cuda_kernels.
#define VSAE_REQUIRE_CUDA_LIBRARIES(what)                                                        \
  do {                                                                                           \
    VSAE_REQUIRE_CUDA();                                                                         \
    if (::vsae::test::labelled_kernel_only())                                                    \
      GTEST_FAIL() << "this case needs " << (what)                                               \
                   << ", so it must not carry the label cuda_kernels (tests/cuda_kernels_label.cmake)"; \
    const std::string& why_not = ::vsae::test::cuda_libraries_unavailable_reason();             \
    if (!why_not.empty()) {                                                                      \
      if (::vsae::test::cuda_expected() && !::vsae::cuda_simulated())                      \
        GTEST_FAIL() << "VSAE_EXPECT_CUDA is set but this case needs " << (what) << ": " << why_not; \
      GTEST_SKIP() << "needs " << (what) << ": " << why_not;                                    \
    }                                                                                            \
  } while (0)
