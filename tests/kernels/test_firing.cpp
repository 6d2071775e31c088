// Activation statistics: the CPU twin against a direct count, and CUDA against the CPU twin over
// the (B, W) table with several thresholds, accumulation into existing counts and the running max.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/ops/firing.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

struct FiringOutputs {
  std::vector<std::int32_t> counts;
  std::vector<float> max_act;
  bool guards = true;
};

// a mixes exact zeros (dead and ReLU-off units), small values around the thresholds, negatives,
// ±Inf and, in a few columns, NaN (ignored by the max, never counted).
std::vector<float> firing_input(const test::ShapeCase& c) {
  const auto n = static_cast<std::size_t>(c.batch * c.width);
  std::vector<float> u = test::random_uniform(n, -1.0f, 1.0f, test::seed_of(c));
  std::vector<float> a(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t col = i % static_cast<std::size_t>(c.width);
    if (col % 5 == 0)
      a[i] = 0.0f;  // a dead unit
    else if (col % 5 == 1)
      a[i] = std::max(u[i], 0.0f) * 2e-3f;  // straddles eps = 1e-3
    else if (i % 97 == 0)
      a[i] = std::numeric_limits<float>::infinity();
    else if (i % 89 == 0)
      a[i] = std::numeric_limits<float>::quiet_NaN();
    else
      a[i] = u[i];
  }
  return a;
}

FiringOutputs run_firing(Backend& be, const test::ShapeCase& c, const std::vector<float>& a_host,
                         const std::vector<float>& eps) {
  const auto e = static_cast<std::int64_t>(eps.size());
  test::GuardedTensor a(be, Shape{c.batch, c.width}), counts(be, Shape{e, c.width}, DType::i32),
      max_act(be, Shape{c.width});
  a.upload(a_host);
  std::vector<std::int32_t> counts0(static_cast<std::size_t>(e * c.width));
  for (std::size_t i = 0; i < counts0.size(); ++i) counts0[i] = static_cast<std::int32_t>(i % 4);
  counts.upload(counts0);
  std::vector<float> max0(static_cast<std::size_t>(c.width));
  for (std::size_t j = 0; j < max0.size(); ++j)
    max0[j] = j % 3 == 0 ? -std::numeric_limits<float>::infinity() : j % 3 == 1 ? 0.0f : 0.75f;
  max_act.upload(max0);
  firing_stats(be, a, eps, counts, max_act);
  FiringOutputs out{counts.download<std::int32_t>(), max_act.download<float>(), true};
  for (const test::GuardedTensor* g : {&a, &counts, &max_act}) out.guards &= g->guards_intact();
  return out;
}

TEST(Firing, CpuMatchesDirectCount) {
  const test::ShapeCase c{37, 23};
  const std::vector<float> a = firing_input(c);
  const std::vector<float> eps{0.0f, 1e-3f};
  const FiringOutputs got = run_firing(test::cpu(), c, a, eps);
  for (std::int64_t j = 0; j < c.width; ++j) {
    float best = j % 3 == 0 ? -std::numeric_limits<float>::infinity() : j % 3 == 1 ? 0.0f : 0.75f;
    std::int32_t fired[2] = {0, 0};
    for (std::int64_t n = 0; n < c.batch; ++n) {
      const float v = a[static_cast<std::size_t>(n * c.width + j)];
      fired[0] += v > 0.0f;
      fired[1] += v > 1e-3f;
      if (!std::isnan(v)) best = std::max(best, v);
    }
    for (int e = 0; e < 2; ++e) {
      const std::size_t i = static_cast<std::size_t>(e * c.width + j);
      EXPECT_EQ(got.counts[i], static_cast<std::int32_t>(i % 4) + fired[e])
          << "eps " << eps[static_cast<std::size_t>(e)] << " column " << j;
    }
    EXPECT_EQ(got.max_act[static_cast<std::size_t>(j)], best) << "column " << j;
  }
  EXPECT_TRUE(got.guards);
}

TEST(Firing, RejectsBadArguments) {
  Backend& be = test::cpu();
  test::GuardedTensor a(be, Shape{4, 6}), counts(be, Shape{2, 6}, DType::i32);
  EXPECT_THROW(firing_stats(be, a, {0.0f}, counts, Tensor()), Error);
  EXPECT_THROW(firing_stats(be, a, {0.0f, 1.0f, 2.0f, 3.0f, 4.0f}, counts, Tensor()), Error);
  test::GuardedTensor max_bad(be, Shape{5});
  EXPECT_THROW(firing_stats(be, a, {0.0f, 1.0f}, counts, max_bad), Error);
  EXPECT_NO_THROW(firing_stats(be, a, {0.0f, 1.0f}, counts, Tensor()));
}

class FiringBackends : public ::testing::TestWithParam<test::ShapeCase> {};

TEST_P(FiringBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const test::ShapeCase c = GetParam();
  const std::vector<float> a = firing_input(c);
  for (const std::vector<float>& eps : {std::vector<float>{0.0f}, std::vector<float>{0.0f, 1e-3f},
                                        std::vector<float>{0.0f, 1e-4f, 1e-3f, 0.5f}}) {
    SCOPED_TRACE(testing::Message() << eps.size() << " thresholds");
    const FiringOutputs ref = run_firing(test::cpu(), c, a, eps);
    const FiringOutputs got = run_firing(test::cuda(), c, a, eps);
    EXPECT_TRUE(got.guards);
    EXPECT_EQ(ref.counts, got.counts);
    EXPECT_TRUE(test::all_close(ref.max_act, got.max_act, test::Tolerance{0.0, 0.0},
                                /*allow_nonfinite=*/true));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, FiringBackends, ::testing::ValuesIn(test::shape_table()),
                         test::shape_case_name);

}  // namespace
}  // namespace vsae
