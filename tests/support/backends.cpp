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

const std::string& cuda_unavailable_reason() {
  static const std::string reason = [] {
    std::string why;
    return cuda_usable(&why) ? std::string() : why;
  }();
  return reason;
}

bool cuda_expected() {
  static const bool expected = [] {
    const char* v = std::getenv("VSAE_EXPECT_CUDA");
    return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
  }();
  return expected;
}

Backend& cuda() {
  static std::unique_ptr<Backend> backend = Backend::make_cuda();
  return *backend;
}

}  // namespace vsae::test
