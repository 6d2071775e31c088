// The branch-free exp and log1p of the CPU loss kernels against libm in double, over their ranges.
// The figures printed on failure are the largest errors in units in the last place.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/vector_math_cpu.hpp"

namespace vsae::cpu_kernels {
namespace {

// |got - exact| in units in the last place of the float nearest exact.
double ulps(float got, double exact) {
  int exponent = 0;
  std::frexp(exact, &exponent);  // exact = m·2^exponent, m in [0.5, 1)
  return std::fabs(got - exact) / std::ldexp(1.0, exponent - 24);
}

TEST(VectorMath, ExpNonpositiveIsWithinTwoUlpsOfDouble) {
  double worst = 0.0;
  for (int i = 0; i <= 2000000; ++i) {
    const float x = -87.0f * static_cast<float>(i) / 2000000.0f;
    const double exact = std::exp(static_cast<double>(x));
    worst = std::max(worst, ulps(exp_nonpositive(x), exact));
  }
  EXPECT_LE(worst, 2.0) << "largest error in ulps";
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_GT(exp_nonpositive(-1000.0f), 0.0f);  // clamped, never 0 or a subnormal
  EXPECT_LT(exp_nonpositive(-1000.0f), 1.3e-38f);
  EXPECT_TRUE(std::isnan(exp_nonpositive(std::numeric_limits<float>::quiet_NaN())));
}

TEST(VectorMath, Log1pUnitIsWithinTwoUlpsOfDouble) {
  double worst = 0.0;
  for (int i = 1; i <= 2000000; ++i) {
    // Both a uniform grid of [0, 1] and tiny arguments, where 1 + x rounds.
    for (const float x : {static_cast<float>(i) / 2000000.0f, std::ldexp(static_cast<float>(i), -40)}) {
      const double exact = std::log1p(static_cast<double>(x));
      worst = std::max(worst, ulps(log1p_unit(x), exact));
    }
  }
  EXPECT_LE(worst, 2.0) << "largest error in ulps";
  EXPECT_EQ(log1p_unit(0.0f), 0.0f);
  EXPECT_TRUE(std::isnan(log1p_unit(std::numeric_limits<float>::quiet_NaN())));
}

}  // namespace
}  // namespace vsae::cpu_kernels
