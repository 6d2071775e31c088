#include "engine/graph/op_profile.hpp"

#include <chrono>

namespace vsae {

void OpProfile::time(const Backend& be, const std::string& name, const std::function<void()>& f) {
  be.synchronize();
  const auto start = std::chrono::steady_clock::now();
  f();
  be.synchronize();
  seconds_[name] += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace vsae
