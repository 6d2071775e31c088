// Mean and geometric median of a set of rows, for the SAE decoder-bias initialisation.
#include "apps/vsae/model/decoder_bias_init.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/check.hpp"

namespace vsae {

namespace {

std::int64_t row_count(const std::vector<float>& rows, std::int64_t dim) {
  VSAE_CHECK(dim >= 1 && !rows.empty() && static_cast<std::int64_t>(rows.size()) % dim == 0,
             "decoder bias init: " << rows.size() << " values do not form rows of " << dim);
  return static_cast<std::int64_t>(rows.size()) / dim;
}

std::vector<double> mean_in_double(const std::vector<float>& rows, std::int64_t dim) {
  const std::int64_t n = row_count(rows, dim);
  std::vector<double> mean(static_cast<std::size_t>(dim), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t d = 0; d < dim; ++d) mean[static_cast<std::size_t>(d)] += rows[static_cast<std::size_t>(i * dim + d)];
  for (double& m : mean) m /= static_cast<double>(n);
  return mean;
}

std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

}  // namespace

std::vector<float> column_mean(const std::vector<float>& rows, std::int64_t dim) {
  return to_float(mean_in_double(rows, dim));
}

std::vector<float> geometric_median(const std::vector<float>& rows, std::int64_t dim, int max_iterations,
                                    double tolerance) {
  const std::int64_t n = row_count(rows, dim);
  std::vector<double> y = mean_in_double(rows, dim), next(static_cast<std::size_t>(dim));
  for (int it = 0; it < max_iterations; ++it) {
    std::fill(next.begin(), next.end(), 0.0);
    double weights = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const float* row = rows.data() + i * dim;
      double dist_sq = 0.0;
      for (std::int64_t d = 0; d < dim; ++d) {
        const double e = row[d] - y[static_cast<std::size_t>(d)];
        dist_sq += e * e;
      }
      // A row at y would get an infinite weight; the floor keeps y there instead.
      const double w = 1.0 / std::max(std::sqrt(dist_sq), 1e-12);
      weights += w;
      for (std::int64_t d = 0; d < dim; ++d) next[static_cast<std::size_t>(d)] += w * row[d];
    }
    double moved_sq = 0.0, norm_sq = 0.0;
    for (std::size_t d = 0; d < next.size(); ++d) {
      next[d] /= weights;
      moved_sq += (next[d] - y[d]) * (next[d] - y[d]);
      norm_sq += next[d] * next[d];
    }
    y.swap(next);
    if (std::sqrt(moved_sq) <= tolerance * (1.0 + std::sqrt(norm_sq))) break;
  }
  return to_float(y);
}

}  // namespace vsae
