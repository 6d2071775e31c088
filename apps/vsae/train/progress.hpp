// Progress on stderr for long runs: epoch, step, images/s, ETA and the current k. On a terminal
// one line is redrawn in place; otherwise plain lines are printed every few seconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace vsae {

class Progress {
 public:
  Progress(std::int64_t total_epochs, std::int64_t steps_per_epoch, std::int64_t batch, std::FILE* out = stderr);

  // Call every step; prints only when the last print is old enough.
  void step(std::int64_t epoch, std::int64_t step_in_epoch, std::int64_t k);
  // One line at the end of an epoch, with a summary of its metrics.
  void epoch_done(std::int64_t epoch, const std::string& summary);

 private:
  void print(std::int64_t epoch, std::int64_t step_in_epoch, std::int64_t k, bool final_line);

  using Clock = std::chrono::steady_clock;
  std::int64_t total_epochs_, steps_per_epoch_, batch_;
  std::FILE* out_;
  bool terminal_;
  Clock::time_point start_, last_print_;
  std::int64_t steps_done_ = 0;
};

}  // namespace vsae
