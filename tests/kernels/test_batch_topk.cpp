// BatchTopK: the CPU twin against a std::stable_sort oracle over the flattened batch, CUDA against
// the CPU twin (a, counters, min_kept, threshold update, eval forward) with guard sentinels, edge
// cases by hand (cross-row ties, budget above the positives, k = 0, NaN, ±Inf), the threshold
// sequence, the eval forward's batch independence, a finite-difference backward check and the op
// layer's argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "engine/ops/batch_topk.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

using BtkCase = test::KCase;

// One entry (with k = 1 and k = 0), one row (k = W and a small k), one column, odd sizes (k = 0
// and k past W), and the model's (64, 500) and (256, 500) over the schedule's k range.
std::vector<BtkCase> btk_table() {
  return {{1, 1, 1},     {1, 1, 0},      {1, 500, 500}, {1, 500, 7},   {64, 1, 1},   {7, 13, 0},
          {7, 13, 1},    {7, 13, 3},     {7, 13, 13},   {7, 13, 40},   {64, 500, 1}, {64, 500, 25},
          {64, 500, 50}, {64, 500, 500}, {256, 500, 5}, {256, 500, 50}};
}

// The sparsify suites' hard rows (ties, zero z, negative rows, ±Inf, constant rows that tie across
// the batch, wide exponent ranges); with_nan also puts NaNs of both signs at every 7th entry.
struct BtkInputs {
  std::vector<float> z_pre, bias;
};
BtkInputs case_inputs(const BtkCase& c, bool with_nan) {
  BtkInputs in;
  in.bias = test::case_bias(c.width, seed_of(c));
  in.z_pre = test::case_z_pre(c.batch, c.width, in.bias, seed_of(c) + 1);
  if (with_nan)
    for (std::size_t i = 0; i < in.z_pre.size(); ++i)
      if (i % 7 == 3) in.z_pre[i] = i % 2 ? kNan : -kNan;
  return in;
}

struct BtkOutputs {
  std::vector<float> a;
  std::vector<std::int32_t> fire;
  std::int32_t active = 0;
  float min_kept = 0.0f;
  bool guards = true;
};

// Runs batch_topk_forward with every output enabled. fire starts at j % 5 (accumulation is
// checked), batch_active and min_kept at garbage and a at 9 (overwriting is checked).
BtkOutputs run_btk(Backend& be, std::int64_t batch, std::int64_t width, std::int32_t k,
                   const std::vector<float>& z_pre, const std::vector<float>& bias, float eps) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), kt(be, Shape{1}, DType::i32);
  test::GuardedTensor a(be, Shape{batch, width}), min_kept(be, Shape{1});
  test::GuardedTensor fire(be, Shape{width}, DType::i32), active(be, Shape{1}, DType::i32);
  z.upload(z_pre);
  b.upload(bias);
  kt.upload(std::vector<std::int32_t>{k});
  std::vector<std::int32_t> fire0(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < fire0.size(); ++j) fire0[j] = static_cast<std::int32_t>(j % 5);
  fire.upload(fire0);
  active.upload(std::vector<std::int32_t>{-777});
  min_kept.upload(std::vector<float>{-5.0f});
  a.upload(std::vector<float>(static_cast<std::size_t>(batch * width), 9.0f));

  batch_topk_forward(be, z, b, kt, a, min_kept,
                     ActivityCounters{fire.tensor(), active.tensor(), eps});

  BtkOutputs out;
  out.a = a.download<float>();
  out.fire = fire.download<std::int32_t>();
  out.active = active.download<std::int32_t>()[0];
  out.min_kept = min_kept.download<float>()[0];
  for (const test::GuardedTensor* g : {&z, &b, &kt, &a, &min_kept, &fire, &active})
    out.guards &= g->guards_intact();
  return out;
}

// The definition: sort the flattened batch by z descending with std::stable_sort (ties keep the
// lower flattened index first, −0 == +0, NaN above +Inf) and cut at clamp(k·B, 0, B·W).
BtkOutputs oracle_btk(std::int64_t batch, std::int64_t width, std::int64_t k,
                      const std::vector<float>& z_pre, const std::vector<float>& bias, float eps) {
  const std::int64_t total = batch * width;
  const std::int64_t keep = std::clamp<std::int64_t>(k * batch, 0, total);
  std::vector<float> z(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i)
    z[static_cast<std::size_t>(i)] =
        z_pre[static_cast<std::size_t>(i)] + bias[static_cast<std::size_t>(i % width)];
  std::vector<std::int64_t> order(z.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t x, std::int64_t y) {
    const float zx = z[static_cast<std::size_t>(x)], zy = z[static_cast<std::size_t>(y)];
    if (std::isnan(zy)) return false;
    return std::isnan(zx) || zx > zy;
  });
  BtkOutputs out;
  out.a.assign(z.size(), 0.0f);
  out.fire.resize(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < out.fire.size(); ++j) out.fire[j] = static_cast<std::int32_t>(j % 5);
  out.min_kept = kNan;
  for (std::int64_t p = 0; p < keep; ++p) {
    const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(p)]);
    const float v = std::isnan(z[i]) ? z[i] : std::max(z[i], 0.0f);
    out.a[i] = v;
    if (v > 0.0f && (std::isnan(out.min_kept) || v < out.min_kept)) out.min_kept = v;
    if (v > eps) {
      ++out.fire[i % static_cast<std::size_t>(width)];
      ++out.active;
    }
  }
  return out;
}

::testing::AssertionResult same_float(float ref, float got) {
  if ((std::isnan(ref) && std::isnan(got)) || ref == got) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "expected " << ref << ", got " << got;
}

void expect_same(const BtkOutputs& ref, const BtkOutputs& got) {
  EXPECT_TRUE(got.guards) << "an output or input guard was overwritten";
  EXPECT_TRUE(test::all_close(ref.a, got.a, test::Tolerance{0.0, 0.0}, /*allow_nonfinite=*/true));
  EXPECT_EQ(ref.fire, got.fire);
  EXPECT_EQ(ref.active, got.active);
  EXPECT_TRUE(same_float(ref.min_kept, got.min_kept)) << "min_kept";
}

// ---- the CPU twin against the stable-sort oracle ------------------------------------------------

class BatchTopkOracle : public ::testing::TestWithParam<BtkCase> {};

TEST_P(BatchTopkOracle, CpuTwinMatchesStableSort) {
  const BtkCase c = GetParam();
  const BtkInputs in = case_inputs(c, /*with_nan=*/false);
  const auto k = static_cast<std::int32_t>(c.k);
  for (float eps : {0.0f, 0.25f}) {
    SCOPED_TRACE(eps);
    expect_same(oracle_btk(c.batch, c.width, c.k, in.z_pre, in.bias, eps),
                run_btk(test::cpu(), c.batch, c.width, k, in.z_pre, in.bias, eps));
  }
}

TEST_P(BatchTopkOracle, CpuTwinMatchesStableSortWithNan) {
  const BtkCase c = GetParam();
  const BtkInputs in = case_inputs(c, /*with_nan=*/true);
  expect_same(oracle_btk(c.batch, c.width, c.k, in.z_pre, in.bias, 0.0f),
              run_btk(test::cpu(), c.batch, c.width, static_cast<std::int32_t>(c.k), in.z_pre,
                      in.bias, 0.0f));
}

INSTANTIATE_TEST_SUITE_P(Table, BatchTopkOracle, ::testing::ValuesIn(btk_table()),
                         test::k_case_name);

// ---- edge cases by hand, on either backend ------------------------------------------------------

// All z equal across the batch: the budget goes to the lowest flattened indices, row 0 first.
void check_cross_row_ties(Backend& be) {
  const std::vector<float> z_pre(12, 0.5f), bias{0.5f, 0.5f, 0.5f, 0.5f};
  const BtkOutputs out = run_btk(be, 3, 4, 2, z_pre, bias, 0.0f);
  EXPECT_EQ(out.a, (std::vector<float>{1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(out.fire, (std::vector<std::int32_t>{0 + 2, 1 + 2, 2 + 1, 3 + 1}));
  EXPECT_EQ(out.active, 6);
  EXPECT_EQ(out.min_kept, 1.0f);
  EXPECT_TRUE(out.guards);
}

// k·B = 6 above the 3 positive values: a keeps exactly the positive ones; the kept zero and
// negatives stay 0. −0 ties with +0.
void check_budget_above_positives(Backend& be) {
  const std::vector<float> z_pre{1.0f, -1.0f, 0.0f, 2.0f, -3.0f, 0.5f, -0.5f, -0.0f};
  const std::vector<float> bias(4, 0.0f);
  const BtkOutputs out = run_btk(be, 2, 4, 3, z_pre, bias, 0.0f);
  EXPECT_EQ(out.a, (std::vector<float>{1.0f, 0, 0, 2.0f, 0, 0.5f, 0, 0}));
  EXPECT_EQ(out.active, 3);
  EXPECT_EQ(out.min_kept, 0.5f);
  EXPECT_TRUE(out.guards);
}

// k = 0 and k < 0 keep nothing; k·B past B·W keeps every positive entry.
void check_clamping(Backend& be) {
  const std::vector<float> bias = test::case_bias(9, 5);
  const std::vector<float> z_pre = test::case_z_pre(5, 9, bias, 6);
  for (std::int32_t k : {0, -3}) {
    SCOPED_TRACE(k);
    const BtkOutputs none = run_btk(be, 5, 9, k, z_pre, bias, 0.0f);
    EXPECT_EQ(none.a, std::vector<float>(45, 0.0f));
    EXPECT_EQ(none.active, 0);
    EXPECT_TRUE(std::isnan(none.min_kept));
    expect_same(oracle_btk(5, 9, 0, z_pre, bias, 0.0f), none);
  }
  for (std::int32_t k : {9, 1000, std::numeric_limits<std::int32_t>::max()}) {
    SCOPED_TRACE(k);
    expect_same(oracle_btk(5, 9, 9, z_pre, bias, 0.0f), run_btk(be, 5, 9, k, z_pre, bias, 0.0f));
  }
}

// NaN ranks above +Inf and passes through to a without counting as positive; ±Inf are ordinary.
void check_nan_and_infinities(Backend& be) {
  const std::vector<float> z_pre{1.0f, kNan, kInf, 3.0f, -kNan, 2.0f};
  const std::vector<float> bias(3, 0.0f);
  const BtkOutputs two = run_btk(be, 2, 3, 1, z_pre, bias, 0.0f);  // keeps the two NaNs
  EXPECT_TRUE(std::isnan(two.a[1]) && std::isnan(two.a[4]));
  EXPECT_EQ(two.a[0] + two.a[2] + two.a[3] + two.a[5], 0.0f);
  EXPECT_EQ(two.active, 0);
  EXPECT_TRUE(std::isnan(two.min_kept)) << "no positive activation";
  const BtkOutputs four = run_btk(be, 2, 3, 2, z_pre, bias, 0.0f);  // ... then +Inf and 3
  EXPECT_EQ(four.a[2], kInf);
  EXPECT_EQ(four.a[3], 3.0f);
  EXPECT_EQ(four.a[0] + four.a[5], 0.0f);
  EXPECT_EQ(four.min_kept, 3.0f);
  EXPECT_EQ(four.active, 2);
  const BtkOutputs neg = run_btk(be, 2, 2, 1, {-kInf, -kInf, -1.0f, -kInf}, {0.0f, 0.0f}, 0.0f);
  EXPECT_EQ(neg.a, std::vector<float>(4, 0.0f));
  EXPECT_TRUE(std::isnan(neg.min_kept));
  EXPECT_TRUE(two.guards && four.guards && neg.guards);
}

TEST(BatchTopk, CpuCrossRowTiesGoToTheLowerFlattenedIndex) {
  check_cross_row_ties(test::cpu());
}
TEST(BatchTopk, CudaCrossRowTiesGoToTheLowerFlattenedIndex) {
  VSAE_REQUIRE_CUDA();
  check_cross_row_ties(test::cuda());
}
TEST(BatchTopk, CpuBudgetAbovePositivesKeepsExactlyThePositives) {
  check_budget_above_positives(test::cpu());
}
TEST(BatchTopk, CudaBudgetAbovePositivesKeepsExactlyThePositives) {
  VSAE_REQUIRE_CUDA();
  check_budget_above_positives(test::cuda());
}
TEST(BatchTopk, CpuClampsK) {
  check_clamping(test::cpu());
}
TEST(BatchTopk, CudaClampsK) {
  VSAE_REQUIRE_CUDA();
  check_clamping(test::cuda());
}
TEST(BatchTopk, CpuNanRanksAboveInfinity) {
  check_nan_and_infinities(test::cpu());
}
TEST(BatchTopk, CudaNanRanksAboveInfinity) {
  VSAE_REQUIRE_CUDA();
  check_nan_and_infinities(test::cuda());
}

// The budget is shared: one row may take more than k entries and another none.
TEST(BatchTopk, BudgetIsSharedAcrossTheBatch) {
  const std::vector<float> z_pre{5, 4, 3, 2, -1, -2, -3, -4};
  const BtkOutputs out = run_btk(test::cpu(), 2, 4, 2, z_pre, std::vector<float>(4, 0.0f), 0.0f);
  EXPECT_EQ(out.a, (std::vector<float>{5, 4, 3, 2, 0, 0, 0, 0}));
}

TEST(BatchTopk, OptionalOutputsMayBeOmitted) {
  Backend& be = test::cpu();
  const std::vector<float> bias = test::case_bias(10, 1);
  const std::vector<float> z_pre = test::case_z_pre(4, 10, bias, 2);
  test::GuardedTensor z(be, Shape{4, 10}), b(be, Shape{10}), k(be, Shape{1}, DType::i32),
      a(be, Shape{4, 10});
  z.upload(z_pre);
  b.upload(bias);
  k.upload(std::vector<std::int32_t>{3});
  batch_topk_forward(be, z, b, k, a, Tensor(), ActivityCounters{});
  EXPECT_EQ(a.download<float>(), oracle_btk(4, 10, 3, z_pre, bias, 0.0f).a);
}

// ---- the running threshold ----------------------------------------------------------------------

float update(Backend& be, float theta, float min_kept, float beta) {
  test::GuardedTensor t(be, Shape{1}), m(be, Shape{1});
  t.upload(std::vector<float>{theta});
  m.upload(std::vector<float>{min_kept});
  batch_topk_update_threshold(be, m, beta, t);
  EXPECT_TRUE(t.guards_intact() && m.guards_intact());
  return t.download<float>()[0];
}

// Unset start, then the exponential average, a skipped batch with no positive activation, β = 0.
void check_threshold_sequence(Backend& be) {
  float theta = kBatchTopkThresholdUnset;
  theta = update(be, theta, 2.0f, 0.5f);
  EXPECT_EQ(theta, 2.0f) << "an unset threshold takes the first min_kept";
  theta = update(be, theta, 1.0f, 0.5f);
  EXPECT_EQ(theta, 1.5f);
  theta = update(be, theta, kNan, 0.5f);
  EXPECT_EQ(theta, 1.5f) << "no positive activation: unchanged";
  theta = update(be, theta, 3.5f, 0.75f);
  EXPECT_EQ(theta, 0.75f * 1.5f + 0.25f * 3.5f);
  theta = update(be, theta, 0.25f, 0.0f);
  EXPECT_EQ(theta, 0.25f);
  EXPECT_EQ(update(be, kBatchTopkThresholdUnset, kNan, 0.999f), kBatchTopkThresholdUnset);
  // The default β: θ moves by a thousandth of the gap.
  EXPECT_FLOAT_EQ(update(be, 1.0f, 2.0f, kBatchTopkThresholdBeta), 1.001f);
}

TEST(BatchTopk, ThresholdSequenceByHand) {
  check_threshold_sequence(test::cpu());
}
TEST(BatchTopk, CudaThresholdSequenceByHand) {
  VSAE_REQUIRE_CUDA();
  check_threshold_sequence(test::cuda());
}

// The forward's min_kept drives the update: a batch with no positive z leaves θ alone.
TEST(BatchTopk, ForwardThenUpdate) {
  Backend& be = test::cpu();
  test::GuardedTensor z(be, Shape{2, 3}), b(be, Shape{3}), k(be, Shape{1}, DType::i32),
      a(be, Shape{2, 3}), m(be, Shape{1}), t(be, Shape{1});
  b.upload(std::vector<float>{0.0f, 0.5f, 0.0f});
  k.upload(std::vector<std::int32_t>{2});
  t.upload(std::vector<float>{kBatchTopkThresholdUnset});
  z.upload(std::vector<float>{3.0f, 0.25f, -1.0f, 2.0f, 0.0f, 4.0f});  // z: 3, .75, −1, 2, .5, 4
  batch_topk_forward(be, z, b, k, a, m, ActivityCounters{});
  EXPECT_EQ(m.download<float>()[0], 0.75f);  // kept: 4, 3, 2, .75
  batch_topk_update_threshold(be, m, 0.5f, t);
  EXPECT_EQ(t.download<float>()[0], 0.75f);
  z.upload(std::vector<float>{-3.0f, -2.0f, -1.0f, -2.0f, -1.0f, -4.0f});
  batch_topk_forward(be, z, b, k, a, m, ActivityCounters{});
  EXPECT_TRUE(std::isnan(m.download<float>()[0]));
  batch_topk_update_threshold(be, m, 0.5f, t);
  EXPECT_EQ(t.download<float>()[0], 0.75f);
}

// ---- the evaluation forward ---------------------------------------------------------------------

struct EvalOutputs {
  std::vector<float> a;
  std::vector<std::int32_t> fire;
  std::int32_t active = 0;
  bool guards = true;
};

EvalOutputs run_eval(Backend& be, std::int64_t batch, std::int64_t width, float theta,
                     const std::vector<float>& z_pre, const std::vector<float>& bias, float eps) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), t(be, Shape{1});
  test::GuardedTensor a(be, Shape{batch, width}), fire(be, Shape{width}, DType::i32),
      active(be, Shape{1}, DType::i32);
  z.upload(z_pre);
  b.upload(bias);
  t.upload(std::vector<float>{theta});
  fire.upload(std::vector<std::int32_t>(static_cast<std::size_t>(width), 1));
  active.upload(std::vector<std::int32_t>{-777});
  a.upload(std::vector<float>(static_cast<std::size_t>(batch * width), 9.0f));
  batch_topk_eval_forward(be, z, b, t, a, ActivityCounters{fire.tensor(), active.tensor(), eps});
  EvalOutputs out;
  out.a = a.download<float>();
  out.fire = fire.download<std::int32_t>();
  out.active = active.download<std::int32_t>()[0];
  for (const test::GuardedTensor* g : {&z, &b, &t, &a, &fire, &active})
    out.guards &= g->guards_intact();
  return out;
}

// Strict threshold, NaN passing through, and the unset fallback (θ < 0 or NaN) to max(z, 0).
void check_eval_by_hand(Backend& be) {
  const std::vector<float> z_pre{0.5f, 1.0f, 1.5f, kNan, -2.0f, kInf};
  const std::vector<float> bias(6, 0.0f);
  const EvalOutputs set = run_eval(be, 1, 6, 1.0f, z_pre, bias, 0.0f);
  EXPECT_EQ(set.a[0] + set.a[1] + set.a[4], 0.0f);
  EXPECT_EQ(set.a[2], 1.5f);
  EXPECT_TRUE(std::isnan(set.a[3]));
  EXPECT_EQ(set.a[5], kInf);
  EXPECT_EQ(set.fire, (std::vector<std::int32_t>{1, 1, 2, 1, 1, 2}));
  EXPECT_EQ(set.active, 2);
  for (float unset : {kBatchTopkThresholdUnset, -0.5f, kNan}) {
    SCOPED_TRACE(unset);
    const EvalOutputs relu = run_eval(be, 1, 6, unset, z_pre, bias, 0.75f);
    EXPECT_EQ(relu.a[0], 0.5f);
    EXPECT_EQ(relu.a[1], 1.0f);
    EXPECT_EQ(relu.a[2], 1.5f);
    EXPECT_TRUE(std::isnan(relu.a[3]));
    EXPECT_EQ(relu.a[4], 0.0f);
    EXPECT_EQ(relu.active, 3) << "eps 0.75 counts 1, 1.5 and Inf";
    EXPECT_TRUE(relu.guards);
  }
  EXPECT_TRUE(set.guards);
}

TEST(BatchTopk, EvalByHand) {
  check_eval_by_hand(test::cpu());
}
TEST(BatchTopk, CudaEvalByHand) {
  VSAE_REQUIRE_CUDA();
  check_eval_by_hand(test::cuda());
}

// A row's eval code is the same alone (B = 1) as inside its batch, and it matches the definition.
void check_eval_batch_independence(Backend& be) {
  const std::int64_t batch = 64, width = 500;
  const std::vector<float> bias = test::case_bias(width, 41);
  const std::vector<float> z_pre = test::case_z_pre(batch, width, bias, 42);
  for (float theta : {0.75f, kBatchTopkThresholdUnset}) {
    SCOPED_TRACE(theta);
    const EvalOutputs all = run_eval(be, batch, width, theta, z_pre, bias, 0.0f);
    EXPECT_TRUE(all.guards);
    for (std::int64_t n : {0, 1, 5, 17, 63}) {
      SCOPED_TRACE(n);
      const std::vector<float> row(z_pre.begin() + n * width, z_pre.begin() + (n + 1) * width);
      const EvalOutputs alone = run_eval(be, 1, width, theta, row, bias, 0.0f);
      const std::vector<float> in_batch(all.a.begin() + n * width, all.a.begin() + (n + 1) * width);
      EXPECT_TRUE(test::all_close(in_batch, alone.a, {0.0, 0.0}, /*allow_nonfinite=*/true));
      const float t = theta >= 0.0f ? theta : 0.0f;
      for (std::int64_t j = 0; j < width; ++j) {
        const float z = row[static_cast<std::size_t>(j)] + bias[static_cast<std::size_t>(j)];
        ASSERT_EQ(alone.a[static_cast<std::size_t>(j)], z > t ? z : 0.0f) << j;
      }
    }
  }
}

TEST(BatchTopk, EvalRowDoesNotDependOnItsBatch) {
  check_eval_batch_independence(test::cpu());
}
TEST(BatchTopk, CudaEvalRowDoesNotDependOnItsBatch) {
  VSAE_REQUIRE_CUDA();
  check_eval_batch_independence(test::cuda());
}

// ---- CUDA against the CPU twin ------------------------------------------------------------------

class BatchTopkBackends : public ::testing::TestWithParam<BtkCase> {};

// The selection is exact, so a, the counters and min_kept agree bitwise; then θ from two updates,
// and the eval forward under that θ.
void compare_backends(const BtkCase& c, bool with_nan) {
  const BtkInputs in = case_inputs(c, with_nan);
  const auto k = static_cast<std::int32_t>(c.k);
  BtkOutputs ref, got;
  for (float eps : {0.0f, 0.25f}) {
    SCOPED_TRACE(eps);
    ref = run_btk(test::cpu(), c.batch, c.width, k, in.z_pre, in.bias, eps);
    got = run_btk(test::cuda(), c.batch, c.width, k, in.z_pre, in.bias, eps);
    expect_same(ref, got);
  }

  test::TwinTensor theta(Shape{1}, std::vector<float>{kBatchTopkThresholdUnset});
  test::TwinTensor min_kept(Shape{1}, std::vector<float>{ref.min_kept});
  test::TwinTensor later(
      Shape{1}, std::vector<float>{std::isnan(ref.min_kept) ? kNan : 0.5f * ref.min_kept + 0.125f});
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    batch_topk_update_threshold(*be, min_kept.on(*be), kBatchTopkThresholdBeta, theta.on(*be));
    batch_topk_update_threshold(*be, later.on(*be), kBatchTopkThresholdBeta, theta.on(*be));
  }
  EXPECT_TRUE(test::twins_match(theta, {1e-7, 1e-6}, /*allow_nonfinite=*/true)) << "theta";

  const float theta_host = theta.cpu_copy().download<float>()[0];
  const EvalOutputs eval_ref =
      run_eval(test::cpu(), c.batch, c.width, theta_host, in.z_pre, in.bias, 0.25f);
  const EvalOutputs eval_got =
      run_eval(test::cuda(), c.batch, c.width, theta_host, in.z_pre, in.bias, 0.25f);
  EXPECT_TRUE(eval_got.guards);
  EXPECT_TRUE(test::all_close(eval_ref.a, eval_got.a, {0.0, 0.0}, /*allow_nonfinite=*/true));
  EXPECT_EQ(eval_ref.fire, eval_got.fire);
  EXPECT_EQ(eval_ref.active, eval_got.active);
}

TEST_P(BatchTopkBackends, ForwardThresholdAndEvalMatchCpu) {
  VSAE_REQUIRE_CUDA();
  compare_backends(GetParam(), /*with_nan=*/false);
}

TEST_P(BatchTopkBackends, MatchCpuWithNan) {
  VSAE_REQUIRE_CUDA();
  compare_backends(GetParam(), /*with_nan=*/true);
}

INSTANTIATE_TEST_SUITE_P(Table, BatchTopkBackends, ::testing::ValuesIn(btk_table()),
                         test::k_case_name);

// About a million entries (many tiles of the one-CTA select), at k = 32 and a k·B just under B·W,
// with unaligned widths (the scalar load path) beside the aligned one.
TEST(BatchTopkBackends, MillionEntries) {
  VSAE_REQUIRE_CUDA();
  for (const BtkCase c : {BtkCase{2000, 500, 32}, BtkCase{999, 1001, 1000}}) {
    SCOPED_TRACE(testing::Message() << "B" << c.batch << " W" << c.width << " k" << c.k);
    const BtkInputs in = case_inputs(c, /*with_nan=*/false);
    const auto k = static_cast<std::int32_t>(c.k);
    expect_same(run_btk(test::cpu(), c.batch, c.width, k, in.z_pre, in.bias, 0.0f),
                run_btk(test::cuda(), c.batch, c.width, k, in.z_pre, in.bias, 0.0f));
  }
}

// ---- backward -----------------------------------------------------------------------------------

// Gradients of L = Σ w·a through BatchTopK. The batch's z are the distinct values 0.01·m − 0.605
// (m a permutation of 0 .. B·W − 1) plus a bias below 0.003, so entries stay 0.008 apart and
// 0.003 from 0, and a ±1e-3 probe never changes the kept set or a sign.
TEST(BatchTopk, BackwardMatchesFiniteDifferences) {
  const std::int64_t batch = 5, width = 24, total = batch * width;
  const std::int32_t k = 7;
  std::vector<float> z_pre(static_cast<std::size_t>(total));
  std::vector<float> bias(static_cast<std::size_t>(width));
  for (std::int64_t i = 0; i < total; ++i)
    z_pre[static_cast<std::size_t>(i)] = 0.01f * static_cast<float>(i * 7 % total) - 0.605f;
  for (std::int64_t j = 0; j < width; ++j)
    bias[static_cast<std::size_t>(j)] = 0.001f * static_cast<float>(j % 3);
  test::check_k_sparsifier_gradient(
      z_pre, bias, k,
      [](Backend& be, const Tensor& z, const Tensor& b, const Tensor& kt, const Tensor& a) {
        batch_topk_forward(be, z, b, kt, a, Tensor(), ActivityCounters{});
      },
      [](Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz, const Tensor& db) {
        batch_topk_prepare(be, a.dim(0), a.dim(1));
        batch_topk_backward(be, a, da, dz, db);
      });
}

// ---- the op layer's argument errors -------------------------------------------------------------

void expect_error(const std::function<void()>& call, const std::string& text) {
  try {
    call();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

struct ErrorFixture {
  std::vector<float> buf = std::vector<float>(64);
  Tensor f32(Shape s, Device d = Device::cpu) { return Tensor(buf.data(), s, DType::f32, d); }
  Tensor i32(Shape s, Device d = Device::cpu) { return Tensor(buf.data(), s, DType::i32, d); }
};

TEST(BatchTopkErrors, RejectsBadShapes) {
  Backend& be = test::cpu();
  ErrorFixture t;
  const Tensor z = t.f32({2, 4}), b = t.f32({4}), k = t.i32({1}), m = t.f32({1});
  expect_error([&] { batch_topk_forward(be, t.f32({8}), b, k, t.f32({8}), m, {}); },
               "batch_topk_forward: z_pre must be (B, W)");
  expect_error([&] { batch_topk_forward(be, z, t.f32({5}), k, z, m, {}); },
               "batch_topk_forward: bias is (5), expected (4)");
  expect_error(
      [&] {
        batch_topk_forward(be, z, b, k, t.f32({4, 2}), m, {});
      },
      "batch_topk_forward: a is (4, 2)");
  expect_error([&] { batch_topk_forward(be, z, b, t.i32({2}), z, m, {}); },
               "batch_topk_forward: k is (2), expected (1)");
  expect_error([&] { batch_topk_forward(be, z, b, k, z, t.f32({2}), {}); },
               "batch_topk_forward: min_kept is (2), expected (1)");
  expect_error(
      [&] {
        batch_topk_forward(be, t.f32({2, 0}), t.f32({0}), k, t.f32({2, 0}), m, {});
      },
      "batch_topk_forward: z_pre (2, 0) has no columns");
  expect_error(
      [&] {
        batch_topk_forward(be, z, b, k, z, m, ActivityCounters{t.i32({3}), Tensor(), 0.0f});
      },
      "batch_topk_forward: fire_count is (3), expected (4)");
  expect_error(
      [&] {
        batch_topk_forward(be, z, b, k, z, m, ActivityCounters{Tensor(), Tensor(), -1.0f});
      },
      "batch_topk_forward: counting threshold eps must be >= 0");
  expect_error([&] { batch_topk_forward(be, z, b, Tensor(), z, m, {}); },
               "batch_topk_forward: k is not allocated");
  expect_error([&] { batch_topk_update_threshold(be, t.f32({2}), 0.5f, m); },
               "batch_topk_update_threshold: min_kept is (2), expected (1)");
  expect_error(
      [&] {
        batch_topk_update_threshold(be, m, 0.5f, t.f32({1, 1}));
      },
      "batch_topk_update_threshold: threshold is (1, 1), expected (1)");
  expect_error([&] { batch_topk_eval_forward(be, z, b, t.f32({2}), z, {}); },
               "batch_topk_eval_forward: threshold is (2), expected (1)");
  expect_error([&] { batch_topk_eval_forward(be, z, t.f32({3}), m, z, {}); },
               "batch_topk_eval_forward: bias is (3), expected (4)");
  expect_error(
      [&] {
        batch_topk_eval_forward(be, z, b, m, t.f32({2, 5}), {});
      },
      "batch_topk_eval_forward: a is (2, 5)");
  expect_error([&] { batch_topk_prepare(be, 4, 0); }, "batch_topk_prepare: bad shape (4, 0)");
}

TEST(BatchTopkErrors, RejectsWrongDevice) {
  Backend& be = test::cpu();
  ErrorFixture t;
  const Tensor z = t.f32({2, 4}), b = t.f32({4}), k = t.i32({1}), m = t.f32({1});
  const Tensor gz = t.f32({2, 4}, Device::cuda), gk = t.i32({1}, Device::cuda),
               gm = t.f32({1}, Device::cuda);
  expect_error([&] { batch_topk_forward(be, gz, b, k, z, m, {}); },
               "batch_topk_forward: z_pre is on cuda");
  expect_error([&] { batch_topk_forward(be, z, b, gk, z, m, {}); },
               "batch_topk_forward: k is on cuda");
  expect_error([&] { batch_topk_forward(be, z, b, k, gz, m, {}); },
               "batch_topk_forward: a is on cuda");
  expect_error([&] { batch_topk_forward(be, z, b, k, z, gm, {}); },
               "batch_topk_forward: min_kept is on cuda");
  expect_error([&] { batch_topk_update_threshold(be, m, 0.5f, gm); },
               "batch_topk_update_threshold: threshold is on cuda");
  expect_error([&] { batch_topk_eval_forward(be, z, b, gm, z, {}); },
               "batch_topk_eval_forward: threshold is on cuda");
  expect_error([&] { batch_topk_eval_forward(be, z, b, m, gz, {}); },
               "batch_topk_eval_forward: a is on cuda");
}

TEST(BatchTopkErrors, RejectsWrongDtype) {
  Backend& be = test::cpu();
  ErrorFixture t;
  const Tensor z = t.f32({2, 4}), b = t.f32({4}), k = t.i32({1}), m = t.f32({1});
  expect_error(
      [&] {
        batch_topk_forward(be, t.i32({2, 4}), b, k, z, m, {});
      },
      "batch_topk_forward: z_pre has dtype i32");
  expect_error([&] { batch_topk_forward(be, z, t.i32({4}), k, z, m, {}); },
               "batch_topk_forward: bias has dtype i32");
  expect_error([&] { batch_topk_forward(be, z, b, t.f32({1}), z, m, {}); },
               "batch_topk_forward: k has dtype f32");
  expect_error([&] { batch_topk_forward(be, z, b, k, z, t.i32({1}), {}); },
               "batch_topk_forward: min_kept has dtype i32");
  expect_error([&] { batch_topk_update_threshold(be, t.i32({1}), 0.5f, m); },
               "batch_topk_update_threshold: min_kept has dtype i32");
  expect_error([&] { batch_topk_eval_forward(be, z, b, t.i32({1}), z, {}); },
               "batch_topk_eval_forward: threshold has dtype i32");
}

TEST(BatchTopkErrors, RejectsBetaOutsideUnitInterval) {
  Backend& be = test::cpu();
  ErrorFixture t;
  const Tensor m = t.f32({1}), theta = t.f32({1});
  for (float beta : {-0.1f, 1.0f, 1.5f, kNan}) {
    SCOPED_TRACE(beta);
    expect_error([&] { batch_topk_update_threshold(be, m, beta, theta); },
                 "batch_topk_update_threshold: beta must be in [0, 1)");
  }
}

}  // namespace
}  // namespace vsae
