// How far from centred the SAE's input is (DESIGN §10): γ = ‖mean(h)‖ / ‖std(h)‖ over a set of
// rows of h, with mean and std per dimension. Simon, Adams and Zou (2026) link a large γ to dead
// SAE latents; h = ReLU(fc1(·)) is never negative, so γ is large unless something centres it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

namespace vsae::metrics {

struct CenteringStats {
  double mean_norm = 0.0;  // ‖mean(h)‖₂ over dimensions
  double std_norm = 0.0;   // ‖std(h)‖₂ = sqrt(Σ_d var_d), the population variance of each dimension
  double gamma = 0.0;      // mean_norm / std_norm; +Inf when every dimension is constant and the mean is not 0
  nlohmann::json to_json() const;
};

// Accumulates rows of h (row-major, `dim` columns) in double, in the order they are added.
class CenteringAccumulator {
 public:
  explicit CenteringAccumulator(std::int64_t dim);
  void add(const float* rows, std::int64_t count);
  std::int64_t rows() const { return rows_; }
  CenteringStats stats() const;

 private:
  std::int64_t dim_;
  std::int64_t rows_ = 0;
  std::vector<double> sum_, sum_sq_;
};

}  // namespace vsae::metrics
