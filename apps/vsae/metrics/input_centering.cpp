// γ of the SAE input from running sums (sums of h and h² per dimension, in double).
#include "apps/vsae/metrics/input_centering.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/core/check.hpp"

namespace vsae::metrics {

nlohmann::json CenteringStats::to_json() const {
  // JSON has no infinity: a constant, non-zero input (γ = +Inf) is written as null.
  nlohmann::json g = std::isfinite(gamma) ? nlohmann::json(gamma) : nlohmann::json(nullptr);
  return {{"gamma", g}, {"mean_norm", mean_norm}, {"std_norm", std_norm}};
}

CenteringAccumulator::CenteringAccumulator(std::int64_t dim)
    : dim_(dim), sum_(static_cast<std::size_t>(dim), 0.0), sum_sq_(static_cast<std::size_t>(dim), 0.0) {
  VSAE_CHECK(dim >= 1, "CenteringAccumulator: dim must be >= 1, got " << dim);
}

void CenteringAccumulator::add(const float* rows, std::int64_t count) {
  for (std::int64_t n = 0; n < count; ++n) {
    const float* row = rows + n * dim_;
    for (std::int64_t d = 0; d < dim_; ++d) {
      const double v = row[d];
      sum_[static_cast<std::size_t>(d)] += v;
      sum_sq_[static_cast<std::size_t>(d)] += v * v;
    }
  }
  rows_ += count;
}

CenteringStats CenteringAccumulator::stats() const {
  VSAE_CHECK(rows_ >= 1, "CenteringAccumulator: no rows added");
  const double n = static_cast<double>(rows_);
  double mean_sq = 0.0, var = 0.0;
  for (std::size_t d = 0; d < sum_.size(); ++d) {
    const double mean = sum_[d] / n;
    mean_sq += mean * mean;
    // E[h²] − E[h]² can come out a rounding error below 0 for a constant dimension.
    var += std::max(0.0, sum_sq_[d] / n - mean * mean);
  }
  CenteringStats s;
  s.mean_norm = std::sqrt(mean_sq);
  s.std_norm = std::sqrt(var);
  s.gamma = s.std_norm > 0.0 ? s.mean_norm / s.std_norm
                             : (s.mean_norm > 0.0 ? std::numeric_limits<double>::infinity() : 0.0);
  return s;
}

}  // namespace vsae::metrics
