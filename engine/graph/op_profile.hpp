// Per-op wall time of training steps (tools/bench_train --profile): each timed call runs with the
// backend synchronised before and after it, so the times add up to a slower, serialised step, and
// each op's share of it is what the breakdown reports.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "engine/core/backend.hpp"

namespace vsae {

class OpProfile {
 public:
  // Runs `f` and adds its wall time to `name`.
  void time(const Backend& be, const std::string& name, const std::function<void()>& f);
  const std::map<std::string, double>& seconds() const { return seconds_; }
  void clear() { seconds_.clear(); }

 private:
  std::map<std::string, double> seconds_;
};

// Runs `f`, timed under `name` when `profile` is set; without one nothing is wrapped, so a
// training step stays free of allocations.
template <class F>
void profiled(OpProfile* profile, const Backend& be, const char* name, F&& f) {
  if (profile)
    profile->time(be, name, f);
  else
    f();
}

}  // namespace vsae
