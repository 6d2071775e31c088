// fill_normal and the reparameterisation trick: CUDA against the CPU twin, the CPU twin against
// Philox and direct formulas, and finite-difference checks of dmu and dlogvar.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "engine/core/philox.hpp"
#include "engine/ops/reparam.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

constexpr std::uint64_t kSeed = 0x5eed1234abcdULL;

struct ReparamCase {
  std::int64_t n, l;
  std::string name() const { return "N" + std::to_string(n) + "_L" + std::to_string(l); }
};

// gtest prints parameters with this (the ctest names stay readable).
void PrintTo(const ReparamCase& c, std::ostream* os) {
  *os << c.name();
}

class ReparamBackends : public ::testing::TestWithParam<ReparamCase> {};

TEST_P(ReparamBackends, NoiseForwardAndBackwardMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const ReparamCase tc = GetParam();
  SCOPED_TRACE(tc.name());
  const Shape shape{tc.n, tc.l};
  const auto numel = static_cast<std::size_t>(shape.numel());
  test::TwinTensor step(Shape{1}, std::vector<std::int32_t>{17});
  test::TwinTensor mu(shape, test::random_normal(numel, 1.0f, 1));
  test::TwinTensor logvar(shape, test::random_uniform(numel, -4.0f, 2.0f, 2));
  test::TwinTensor eps(shape, std::vector<float>(numel, 0.0f));
  test::TwinTensor z(shape, std::vector<float>(numel, 0.0f));
  test::TwinTensor dz(shape, test::random_normal(numel, 1.0f, 3));
  test::TwinTensor dmu(shape, test::random_normal(numel, 1.0f, 4));
  test::TwinTensor dlogvar(shape, test::random_normal(numel, 1.0f, 5));

  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    fill_normal(*be, kSeed, step.on(*be), eps.on(*be));
    reparam_forward(*be, mu.on(*be), logvar.on(*be), eps.on(*be), z.on(*be));
    reparam_backward(*be, logvar.on(*be), eps.on(*be), dz.on(*be), dmu.on(*be), dlogvar.on(*be));
  }
  // Same Philox words on both sides; only logf/cosf/expf rounding may differ.
  EXPECT_TRUE(test::twins_match(eps, {1e-5, 1e-5})) << "eps";
  EXPECT_TRUE(test::twins_match(z, {1e-5, 1e-5})) << "z";
  EXPECT_TRUE(test::twins_match(dmu, {0.0, 0.0})) << "dmu";
  EXPECT_TRUE(test::twins_match(dlogvar, {1e-5, 1e-5})) << "dlogvar";
}

INSTANTIATE_TEST_SUITE_P(Shapes, ReparamBackends,
                         ::testing::Values(ReparamCase{1, 1}, ReparamCase{1, 10}, ReparamCase{3, 7},
                                           ReparamCase{64, 10}, ReparamCase{64, 500},
                                           ReparamCase{3, 33337}),
                         [](const ::testing::TestParamInfo<ReparamCase>& tp) {
                           return tp.param.name();
                         });

TEST(ReparamBackends, UndefinedGradientsAreSkipped) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{3, 10};
  test::TwinTensor logvar(shape, test::random_uniform(30, -2.0f, 2.0f, 6));
  test::TwinTensor eps(shape, test::random_normal(30, 1.0f, 7));
  test::TwinTensor dz(shape, test::random_normal(30, 1.0f, 8));
  test::TwinTensor dmu(shape, test::random_normal(30, 1.0f, 9));
  test::TwinTensor dlogvar(shape, test::random_normal(30, 1.0f, 10));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    reparam_backward(*be, logvar.on(*be), eps.on(*be), dz.on(*be), Tensor{}, dlogvar.on(*be));
    reparam_backward(*be, logvar.on(*be), eps.on(*be), dz.on(*be), dmu.on(*be), Tensor{});
  }
  EXPECT_TRUE(test::twins_match(dmu, {0.0, 0.0}));
  EXPECT_TRUE(test::twins_match(dlogvar, {1e-5, 1e-5}));
}

// ---- CPU twin against Philox and direct formulas ----------------------------------------------

std::vector<float> cpu_noise(std::uint64_t seed, std::int32_t step_value, std::size_t count) {
  std::vector<std::int32_t> step{step_value};
  std::vector<float> eps(count);
  fill_normal(test::cpu(), seed, test::host_view(step, {1}),
              test::host_view(eps, {static_cast<std::int64_t>(count)}));
  return eps;
}

TEST(ReparamCpu, NoiseIsPhiloxNormalPerIndexAndStep) {
  std::vector<float> eps = cpu_noise(kSeed, 42, 1000);
  for (std::uint32_t i = 0; i < eps.size(); ++i)
    ASSERT_EQ(eps[i], philox_normal(kSeed, RngStream::reparam_noise, i, 42)) << i;
}

TEST(ReparamCpu, NoiseIsDeterministicAndFreshPerStepAndSeed) {
  std::vector<float> a = cpu_noise(kSeed, 3, 4096);
  EXPECT_EQ(a, cpu_noise(kSeed, 3, 4096));
  std::vector<float> next_step = cpu_noise(kSeed, 4, 4096),
                     other_seed = cpu_noise(kSeed + 1, 3, 4096);
  std::size_t same_step = 0, same_seed = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    same_step += a[i] == next_step[i];
    same_seed += a[i] == other_seed[i];
  }
  EXPECT_LT(same_step, 4u);
  EXPECT_LT(same_seed, 4u);
}

TEST(ReparamCpu, NoiseMoments) {
  std::vector<float> eps = cpu_noise(kSeed, 1, 400000);
  double mean = 0.0, m2 = 0.0, m4 = 0.0;
  for (float e : eps) mean += e;
  mean /= static_cast<double>(eps.size());
  for (float e : eps) {
    double d = e - mean;
    m2 += d * d;
    m4 += d * d * d * d;
  }
  m2 /= static_cast<double>(eps.size());
  m4 /= static_cast<double>(eps.size());
  EXPECT_NEAR(mean, 0.0, 0.006);
  EXPECT_NEAR(m2, 1.0, 0.01);
  EXPECT_NEAR(m4 / (m2 * m2), 3.0, 0.05);  // normal kurtosis
}

TEST(ReparamCpu, ForwardAndBackwardMatchFormulas) {
  const std::int64_t n = 4, l = 5, count = n * l;
  std::vector<float> mu = test::random_normal(count, 1.0f, 20),
                     logvar = test::random_uniform(count, -3.0f, 3.0f, 21);
  std::vector<float> eps = test::random_normal(count, 1.0f, 22), z(count),
                     dz = test::random_normal(count, 1.0f, 23);
  std::vector<float> dmu0 = test::random_normal(count, 1.0f, 24),
                     dlv0 = test::random_normal(count, 1.0f, 25);
  std::vector<float> dmu = dmu0, dlogvar = dlv0;
  const Shape shape{n, l};
  reparam_forward(test::cpu(), test::host_view(mu, shape), test::host_view(logvar, shape),
                  test::host_view(eps, shape), test::host_view(z, shape));
  reparam_backward(test::cpu(), test::host_view(logvar, shape), test::host_view(eps, shape),
                   test::host_view(dz, shape), test::host_view(dmu, shape),
                   test::host_view(dlogvar, shape));
  for (std::int64_t i = 0; i < count; ++i) {
    double sigma = std::exp(0.5 * logvar[i]);
    EXPECT_NEAR(z[i], mu[i] + sigma * eps[i], 1e-6 * (1.0 + std::fabs(sigma * eps[i]))) << i;
    EXPECT_FLOAT_EQ(dmu[i], dmu0[i] + dz[i]) << i;
    double dlv = dlv0[i] + static_cast<double>(dz[i]) * eps[i] * 0.5 * sigma;
    EXPECT_NEAR(dlogvar[i], dlv, 1e-6 * (1.0 + std::fabs(dlv))) << i;
  }
}

TEST(ReparamCpu, RejectsBadShapes) {
  std::vector<float> a(6), b(6), c(6), z(5);
  EXPECT_THROW(reparam_forward(test::cpu(), test::host_view(a, {2, 3}), test::host_view(b, {2, 3}),
                               test::host_view(c, {3, 2}), test::host_view(a, {2, 3})),
               Error);
  std::vector<float> step_f{1.0f};
  EXPECT_THROW(fill_normal(test::cpu(), 1, test::host_view(step_f, {1}), test::host_view(z, {5})),
               Error);
}

// ---- finite differences -----------------------------------------------------------------------

TEST(ReparamGradCheck, MuAndLogvar) {
  const Shape shape{3, 4};
  const std::int64_t count = shape.numel();
  std::vector<float> mu = test::random_normal(count, 1.0f, 30),
                     logvar = test::random_uniform(count, -2.0f, 2.0f, 31);
  std::vector<float> eps = test::random_normal(count, 1.0f, 32), z(count);
  const std::vector<float> w = test::random_normal(count, 1.0f, 33);  // L = Σ w·z
  auto loss = [&] {
    reparam_forward(test::cpu(), test::host_view(mu, shape), test::host_view(logvar, shape),
                    test::host_view(eps, shape), test::host_view(z, shape));
    return test::weighted_sum(z, w);
  };
  std::vector<float> dz = w, dmu(count, 0.0f), dlogvar(count, 0.0f);
  reparam_backward(test::cpu(), test::host_view(logvar, shape), test::host_view(eps, shape),
                   test::host_view(dz, shape), test::host_view(dmu, shape),
                   test::host_view(dlogvar, shape));
  EXPECT_TRUE(test::check_gradient(loss, mu, dmu, "dmu"));
  EXPECT_TRUE(test::check_gradient(loss, logvar, dlogvar, "dlogvar"));
}

}  // namespace
}  // namespace vsae
