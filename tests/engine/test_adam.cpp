// Fused Adam: CUDA against the CPU twin over flat sizes (float4 bulk and scalar tail, aligned and
// not), and the CPU twin against a double-precision transcription of PyTorch's Adam update.
#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/adam.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

constexpr int kSteps = 3;

struct AdamCase {
  std::int64_t count;
  bool misaligned;  // views start one float past the 256-byte boundary: forces the scalar path
  std::string name() const {
    return "n" + std::to_string(count) + (misaligned ? "_offset4B" : "_aligned");
  }
};

// gtest prints parameters with this (the ctest names stay readable).
void PrintTo(const AdamCase& c, std::ostream* os) {
  *os << c.name();
}

// The `count` floats of `t` starting `offset` elements in.
Tensor flat_view(const Tensor& t, std::int64_t offset, std::int64_t count) {
  return Tensor(static_cast<float*>(t.data) + offset, Shape{count}, DType::f32, t.device);
}

class AdamBackends : public ::testing::TestWithParam<AdamCase> {};

TEST_P(AdamBackends, StepsMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const AdamCase tc = GetParam();
  SCOPED_TRACE(tc.name());
  const std::int64_t offset = tc.misaligned ? 1 : 0, total = tc.count + offset;
  const auto size = static_cast<std::size_t>(total);
  test::TwinTensor params(Shape{total}, test::random_normal(size, 1.0f, 1));
  test::TwinTensor grads(Shape{total}, test::random_normal(size, 0.1f, 2));
  // Nonzero moments, as in the middle of a run.
  test::TwinTensor m(Shape{total}, test::random_normal(size, 0.01f, 3));
  test::TwinTensor v(Shape{total}, test::random_uniform(size, 0.0f, 1e-3f, 4));
  AdamHyper hyper;
  hyper.lr = 1e-3f;
  for (std::int32_t step = 1; step <= kSteps; ++step) {
    test::TwinTensor step_t(Shape{1}, std::vector<std::int32_t>{step});
    for (Backend* be : {&test::cpu(), &test::cuda()})
      adam_step(*be, flat_view(params.on(*be), offset, tc.count),
                flat_view(grads.on(*be), offset, tc.count), flat_view(m.on(*be), offset, tc.count),
                flat_view(v.on(*be), offset, tc.count), step_t.on(*be), hyper);
  }
  EXPECT_TRUE(test::twins_match(params, {1e-6, 1e-6})) << "params";
  // m += (1 − β1)(g − m): nvcc fuses it into one multiply-add, the CPU twin rounds the product
  // first. The product reaches about 0.05 here (g ~ N(0, 0.1)), so each step may differ by half
  // its ulp, 1.9e-9, and three steps by about 5e-9, however small m itself ends up (seen on an
  // H200: 1.7e-9; the case passed under GPGPU-Sim).
  EXPECT_TRUE(test::twins_match(m, {1e-8, 1e-6})) << "m";
  EXPECT_TRUE(test::twins_match(v, {1e-12, 1e-6})) << "v";
  EXPECT_TRUE(test::twins_match(grads, {0.0, 0.0})) << "grads are read only";
}

INSTANTIATE_TEST_SUITE_P(Sizes, AdamBackends,
                         ::testing::Values(AdamCase{1, false}, AdamCase{3, false},
                                           AdamCase{4, false}, AdamCase{5, false},
                                           AdamCase{1023, false}, AdamCase{1024, false},
                                           AdamCase{100003, false}, AdamCase{3, true},
                                           AdamCase{1023, true}, AdamCase{100003, true}),
                         [](const ::testing::TestParamInfo<AdamCase>& tp) {
                           return tp.param.name();
                         });

// ---- CPU twin against PyTorch's update, transcribed in double ---------------------------------

struct AdamReference {
  std::vector<double> p, m, v;

  // torch.optim.Adam (foreach/fused off, no weight decay, no amsgrad), one step.
  void step(const std::vector<float>& g, const AdamHyper& h, int t) {
    const double b1 = h.beta1, b2 = h.beta2;
    const double step_size = h.lr / (1.0 - std::pow(b1, t));
    const double bias2_sqrt = std::sqrt(1.0 - std::pow(b2, t));
    for (std::size_t i = 0; i < p.size(); ++i) {
      m[i] = b1 * m[i] + (1.0 - b1) * g[i];
      v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
      p[i] -= step_size * m[i] / (std::sqrt(v[i]) / bias2_sqrt + h.eps);
    }
  }
};

void check_against_reference(const AdamHyper& hyper, std::uint64_t seed) {
  const std::int64_t count = 37;
  std::vector<float> p = test::random_normal(count, 1.0f, seed), m(count, 0.0f), v(count, 0.0f);
  AdamReference ref{std::vector<double>(p.begin(), p.end()), std::vector<double>(count, 0.0),
                    std::vector<double>(count, 0.0)};
  for (std::int32_t t = 1; t <= 6; ++t) {
    std::vector<float> g = test::random_normal(count, 0.5f, seed + static_cast<std::uint64_t>(t));
    g[0] = 0.0f;  // a parameter without gradient must stay where it is
    g[1] = 1e-20f;
    std::vector<std::int32_t> step{t};
    adam_step(test::cpu(), test::host_view(p, {count}), test::host_view(g, {count}),
              test::host_view(m, {count}), test::host_view(v, {count}), test::host_view(step, {1}),
              hyper);
    ref.step(g, hyper, t);
    for (std::int64_t i = 0; i < count; ++i) {
      ASSERT_NEAR(p[i], ref.p[i], 5e-7 * (1.0 + std::fabs(ref.p[i])))
          << "step " << t << " param " << i;
      // m averages gradients of ~0.5 and can cancel to far less: its float error scales with g.
      ASSERT_NEAR(m[i], ref.m[i], 1e-7 + 1e-6 * std::fabs(ref.m[i])) << "step " << t << " m " << i;
      ASSERT_NEAR(v[i], ref.v[i], 1e-12 + 1e-6 * std::fabs(ref.v[i])) << "step " << t << " v " << i;
    }
  }
}

TEST(AdamCpu, MatchesPyTorchUpdateWithDefaults) {
  AdamHyper hyper;  // lr 1e-4, betas (0.9, 0.999), eps 1e-8
  check_against_reference(hyper, 10);
}

TEST(AdamCpu, MatchesPyTorchUpdateWithOtherHyperparameters) {
  AdamHyper hyper;
  hyper.lr = 3e-2f;
  hyper.beta1 = 0.5f;
  hyper.beta2 = 0.9f;
  hyper.eps = 1e-4f;
  check_against_reference(hyper, 20);
}

TEST(AdamCpu, FirstStepMovesEachParameterByLr) {
  // With zero moments, step 1 gives m̂ = g and v̂ = g², so every update is lr·g/(|g| + eps).
  std::vector<float> p{1.0f, -2.0f, 3.0f}, g{0.5f, -4.0f, 1e-3f}, m(3, 0.0f), v(3, 0.0f);
  std::vector<std::int32_t> step{1};
  AdamHyper hyper;
  hyper.lr = 0.01f;
  adam_step(test::cpu(), test::host_view(p, {3}), test::host_view(g, {3}), test::host_view(m, {3}),
            test::host_view(v, {3}), test::host_view(step, {1}), hyper);
  EXPECT_NEAR(p[0], 1.0f - 0.01f, 1e-6f);
  EXPECT_NEAR(p[1], -2.0f + 0.01f, 1e-6f);
  EXPECT_NEAR(p[2], 3.0f - 0.01f, 1e-6f);
}

TEST(AdamCpu, RejectsBadArguments) {
  std::vector<float> a(4), b(3);
  std::vector<std::int32_t> step{1};
  AdamHyper hyper;
  EXPECT_THROW(adam_step(test::cpu(), test::host_view(a, {4}), test::host_view(b, {3}),
                         test::host_view(a, {4}), test::host_view(a, {4}),
                         test::host_view(step, {1}), hyper),
               Error);
  hyper.beta2 = 1.0f;
  EXPECT_THROW(adam_step(test::cpu(), test::host_view(a, {4}), test::host_view(a, {4}),
                         test::host_view(a, {4}), test::host_view(a, {4}),
                         test::host_view(step, {1}), hyper),
               Error);
}

}  // namespace
}  // namespace vsae
