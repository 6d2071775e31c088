// When the CPU twins fork OpenMP threads: below this much work, waking (and, on a busy machine,
// spin-waiting for) the thread team costs more than the loop itself.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

inline bool worth_threads(std::int64_t elements) {
  return elements >= (std::int64_t{1} << 15);
}

}  // namespace vsae::cpu_kernels
