// Rate and ETA from wall time since the run (or resume) started.
#include "apps/vsae/train/progress.hpp"

#include <unistd.h>

namespace vsae {

Progress::Progress(std::int64_t total_epochs, std::int64_t steps_per_epoch, std::int64_t batch, std::FILE* out)
    : total_epochs_(total_epochs),
      steps_per_epoch_(steps_per_epoch),
      batch_(batch),
      out_(out),
      terminal_(::isatty(::fileno(out)) != 0),
      start_(Clock::now()),
      last_print_(start_) {}

void Progress::step(std::int64_t epoch, std::int64_t step_in_epoch, std::int64_t k) {
  ++steps_done_;
  auto now = Clock::now();
  auto interval = terminal_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(10000);
  if (now - last_print_ < interval) return;
  last_print_ = now;
  print(epoch, step_in_epoch, k, false);
}

void Progress::print(std::int64_t epoch, std::int64_t step_in_epoch, std::int64_t k, bool final_line) {
  double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
  double images_per_s = seconds > 0 ? static_cast<double>(steps_done_ * batch_) / seconds : 0.0;
  std::int64_t total_steps = total_epochs_ * steps_per_epoch_;
  std::int64_t global = epoch * steps_per_epoch_ + step_in_epoch + 1;
  double steps_per_s = seconds > 0 ? static_cast<double>(steps_done_) / seconds : 0.0;
  double eta = steps_per_s > 0 ? static_cast<double>(total_steps - global) / steps_per_s : 0.0;
  std::fprintf(out_, "%sepoch %lld/%lld step %lld/%lld  %.0f img/s  ETA %.0fs  k=%lld%s", terminal_ ? "\r" : "",
               static_cast<long long>(epoch + 1), static_cast<long long>(total_epochs_),
               static_cast<long long>(step_in_epoch + 1), static_cast<long long>(steps_per_epoch_), images_per_s, eta,
               static_cast<long long>(k), terminal_ && !final_line ? "\033[K" : "\n");
  std::fflush(out_);
}

void Progress::epoch_done(std::int64_t epoch, const std::string& summary) {
  if (terminal_) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "epoch %lld/%lld  %s\n", static_cast<long long>(epoch + 1), static_cast<long long>(total_epochs_),
               summary.c_str());
  std::fflush(out_);
}

}  // namespace vsae
