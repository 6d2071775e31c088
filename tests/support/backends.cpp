// Lazily created backends shared by every test in one executable.
#include "tests/support/backends.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>

namespace vsae::test {

Backend& cpu() {
  static std::unique_ptr<Backend> backend = Backend::make_cpu();
  return *backend;
}

namespace {
bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}
}  // namespace

const std::string& cuda_unavailable_reason() {
  static const std::string reason = [] {
    std::string why;
    return cuda_kernels_usable(&why) ? std::string() : why;
  }();
  return reason;
}

const std::string& cuda_libraries_unavailable_reason() {
  static const std::string reason = [] {
    std::string why;
    return cuda_usable(&why) ? std::string() : why;
  }();
  return reason;
}

bool cuda_expected() {
  static const bool expected = env_flag("VSAE_EXPECT_CUDA");
  return expected;
}

bool labelled_kernel_only() {
  static const bool labelled = env_flag("VSAE_KERNEL_ONLY_CASE");
  return labelled;
}

Backend& cuda() {
  static std::unique_ptr<Backend> backend = Backend::make_cuda();
  return *backend;
}

}  // namespace vsae::test
