// Lazily created backends shared by every test in one executable.
#include "tests/support/backends.hpp"

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

Backend& cuda() {
  static std::unique_ptr<Backend> backend = Backend::make_cuda();
  return *backend;
}

}  // namespace vsae::test
