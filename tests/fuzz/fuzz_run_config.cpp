// The run config as the CLI reads it: the JSON file, then either a sweep's grid expansion or a single
// run's validation. A config that parses must resolve to a fixed point: its resolved form (what
// config.json records) parses back to itself. vsae::Error is the one allowed way to refuse.
#include <cstdlib>

#include "apps/vsae/config/run_config.hpp"
#include "apps/vsae/sweep/grid.hpp"
#include "engine/core/check.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const nlohmann::json root = vsae::sweep::read_json_file(vsae::fuzz::as_file(data, size));
    if (vsae::sweep::is_sweep(root)) {
      vsae::sweep::expand(root);
      return 0;
    }
    const nlohmann::json resolved = vsae::config::parse_run_config(root).to_json();
    if (vsae::config::parse_run_config(resolved).to_json() != resolved) std::abort();
  } catch (const vsae::Error& e) {
    vsae::fuzz::refused(e);
  }
  return 0;
}
