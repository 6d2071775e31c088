// γ = ‖mean(h)‖ / ‖std(h)‖ of the SAE input (apps/vsae/metrics/input_centering.hpp) against
// hand-computed values and a two-pass reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "apps/vsae/metrics/input_centering.hpp"
#include "engine/core/check.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

TEST(InputCentering, HandComputedGamma) {
  // Two rows, two dimensions: mean (2, 0), population std (1, 0).
  metrics::CenteringAccumulator acc(2);
  const std::vector<float> rows{1.0f, 0.0f, 3.0f, 0.0f};
  acc.add(rows.data(), 2);
  const metrics::CenteringStats s = acc.stats();
  EXPECT_DOUBLE_EQ(s.mean_norm, 2.0);
  EXPECT_DOUBLE_EQ(s.std_norm, 1.0);
  EXPECT_DOUBLE_EQ(s.gamma, 2.0);
  EXPECT_EQ(s.to_json()["gamma"].get<double>(), 2.0);
}

TEST(InputCentering, CentredInputHasZeroGammaAndConstantInputInfinite) {
  metrics::CenteringAccumulator centred(1);
  const std::vector<float> symmetric{-1.0f, 1.0f, -2.0f, 2.0f};
  centred.add(symmetric.data(), 4);
  EXPECT_DOUBLE_EQ(centred.stats().gamma, 0.0);

  metrics::CenteringAccumulator constant(3);
  const std::vector<float> same{0.5f, 0.0f, 1.0f, 0.5f, 0.0f, 1.0f};
  constant.add(same.data(), 2);
  EXPECT_TRUE(std::isinf(constant.stats().gamma));
  EXPECT_TRUE(constant.stats().to_json()["gamma"].is_null());  // JSON has no infinity
}

TEST(InputCentering, BatchesAddUpToTheTwoPassReference) {
  const std::int64_t n = 300, dim = 17;
  std::vector<float> h = test::random_uniform(static_cast<std::size_t>(n * dim), 0.0f, 4.0f, 11);
  metrics::CenteringAccumulator acc(dim);
  for (std::int64_t begin = 0; begin < n; begin += 64) acc.add(h.data() + begin * dim, std::min<std::int64_t>(64, n - begin));
  double mean_sq = 0.0, var = 0.0;
  for (std::int64_t d = 0; d < dim; ++d) {
    double mean = 0.0;
    for (std::int64_t i = 0; i < n; ++i) mean += h[static_cast<std::size_t>(i * dim + d)];
    mean /= static_cast<double>(n);
    double v = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const double e = h[static_cast<std::size_t>(i * dim + d)] - mean;
      v += e * e;
    }
    mean_sq += mean * mean;
    var += v / static_cast<double>(n);
  }
  EXPECT_EQ(acc.rows(), n);
  EXPECT_NEAR(acc.stats().gamma, std::sqrt(mean_sq) / std::sqrt(var), 1e-9);
}

TEST(InputCentering, RejectsEmptyInput) {
  EXPECT_THROW(metrics::CenteringAccumulator(0), Error);
  metrics::CenteringAccumulator acc(4);
  EXPECT_THROW(acc.stats(), Error);
}

}  // namespace
}  // namespace vsae
