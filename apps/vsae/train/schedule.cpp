// Linear, exponential (geometric), cosine and step schedules for the sparsity target.
#include "apps/vsae/train/schedule.hpp"

#include <algorithm>
#include <cmath>

namespace vsae {

SparsitySchedule::SparsitySchedule(const config::ScheduleConfig& config, std::int64_t steps_per_epoch)
    : config_(config), steps_per_epoch_(std::max<std::int64_t>(steps_per_epoch, 1)) {}

std::int64_t SparsitySchedule::k_at(std::int64_t epoch, std::int64_t step_in_epoch) const {
  if (config_.epochs <= 1 || epoch >= config_.epochs) return epoch >= config_.epochs - 1 ? config_.end : config_.start;
  double p;
  if (config_.granularity == "step") {
    double last = static_cast<double>(config_.epochs * steps_per_epoch_ - 1);
    p = static_cast<double>(epoch * steps_per_epoch_ + step_in_epoch) / last;
  } else {
    p = static_cast<double>(epoch) / static_cast<double>(config_.epochs - 1);
  }
  return k_of_progress(std::min(p, 1.0));
}

std::int64_t SparsitySchedule::k_of_progress(double p) const {
  const double s = static_cast<double>(config_.start), e = static_cast<double>(config_.end);
  double k;
  if (config_.type == "exponential") {
    k = s * std::pow(e / s, p);
  } else if (config_.type == "cosine") {
    k = e + (s - e) * 0.5 * (1.0 + std::cos(M_PI * p));
  } else if (config_.type == "step") {
    // Equal drops every step_every epochs, landing on `end` in the schedule's last epoch.
    double drops = std::ceil(static_cast<double>(config_.epochs - 1) / static_cast<double>(config_.step_every));
    double taken = p >= 1.0 ? drops
                            : std::floor(p * static_cast<double>(config_.epochs - 1) / static_cast<double>(config_.step_every));
    k = drops > 0 ? s + (e - s) * std::min(taken / drops, 1.0) : e;
  } else {
    k = s + (e - s) * p;
  }
  return std::clamp<std::int64_t>(std::llround(k), config_.end, config_.start);
}

}  // namespace vsae
