// The SAE decoder-bias initialisations (apps/vsae/model/decoder_bias_init.hpp) on point sets whose
// mean and geometric median are known.
#include <gtest/gtest.h>

#include <vector>

#include "apps/vsae/model/decoder_bias_init.hpp"
#include "engine/core/check.hpp"

namespace vsae {
namespace {

TEST(DecoderBiasInit, MeanOfColumns) {
  const std::vector<float> rows{1, 10, 3, 20, 5, 60};
  EXPECT_EQ(column_mean(rows, 2), (std::vector<float>{3, 30}));
}

TEST(DecoderBiasInit, GeometricMedianOfCollinearPointsIsTheirMedian) {
  // On a line, Σ|x_i − y| is smallest at the median, whatever the outlier.
  const std::vector<float> rows{0, 0, 1, 0, 2, 0, 3, 0, 1000, 0};
  const std::vector<float> y = geometric_median(rows, 2);
  EXPECT_NEAR(y[0], 2.0f, 1e-4f);
  EXPECT_NEAR(y[1], 0.0f, 1e-6f);
}

TEST(DecoderBiasInit, GeometricMedianOfASquareIsItsCentreAndResistsAnOutlier) {
  const std::vector<float> square{0, 0, 2, 0, 0, 2, 2, 2};
  const std::vector<float> centre = geometric_median(square, 2);
  EXPECT_NEAR(centre[0], 1.0f, 1e-5f);
  EXPECT_NEAR(centre[1], 1.0f, 1e-5f);
  // Three points at (0,0) and one far away: the median stays at the cluster (a point holding more
  // than half the weight is the geometric median); the mean moves a quarter of the way.
  const std::vector<float> cluster{0, 0, 0, 0, 0, 0, 100, 100};
  const std::vector<float> median = geometric_median(cluster, 2);
  EXPECT_NEAR(median[0], 0.0f, 1e-3f);
  EXPECT_NEAR(median[1], 0.0f, 1e-3f);
  EXPECT_EQ(column_mean(cluster, 2), (std::vector<float>{25, 25}));
}

TEST(DecoderBiasInit, RejectsRaggedInput) {
  EXPECT_THROW(column_mean({1, 2, 3}, 2), Error);
  EXPECT_THROW(geometric_median({}, 2), Error);
}

}  // namespace
}  // namespace vsae
