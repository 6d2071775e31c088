// Error reporting for the whole engine: argument checks throw with the failed condition and where.
// CUDA-side API checks (CUDA_CHECK, CUBLAS_CHECK, CUDNN_CHECK) live in cuda_check.hpp.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace vsae {

// Thrown for bad arguments, shapes and inputs; main() prints what() on one line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void throw_check_failure(const std::string& message, const char* condition,
                                      const char* file, int line);
[[noreturn]] void throw_api_failure(const char* api, const std::string& detail,
                                    const char* statement, const char* file, int line);
}  // namespace detail

}  // namespace vsae

// VSAE_CHECK(cond, "x must be 4-D, got " << x.shape) — the message is a stream expression.
#define VSAE_CHECK(cond, msg)                                                      \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::ostringstream vsae_check_os_;                                           \
      vsae_check_os_ << msg;                                                       \
      ::vsae::detail::throw_check_failure(vsae_check_os_.str(), #cond, __FILE__, __LINE__); \
    }                                                                              \
  } while (0)
