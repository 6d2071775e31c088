// L1-prox's per-unit threshold t_j = μ_j + τ·σ_j (l1_prox_unit_threshold), the forward at a
// per-unit threshold (l1_prox_forward_per_unit) and the backward through the batch's statistics
// (l1_prox_backward_per_unit): by hand, non-finite values, an empty batch and a single row, finite
// differences of the whole map from z to a, and CUDA against the CPU twin over the (B, W) table.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <tuple>

#include "engine/ops/l1.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"

namespace vsae {
namespace {

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

struct ThresholdOutputs {
  std::vector<float> threshold, running_mean, running_std, mean, std_dev;
  std::int32_t eval_active = 0;  // entries above evaluation's threshold after the call
  bool guards = true;
};

// One l1_prox_unit_threshold call from the given running pair; evaluation's τ is `tau` unless given.
ThresholdOutputs run_threshold(Backend& be, std::int64_t batch, std::int64_t width, const std::vector<float>& z_pre,
                               const std::vector<float>& bias, float tau, const std::vector<float>& running_mean,
                               const std::vector<float>& running_std, float beta, bool update,
                               std::optional<float> eval_tau = std::nullopt) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), t(be, Shape{1}), rm(be, Shape{width}),
      rs(be, Shape{width}), out(be, Shape{width}), mean(be, Shape{width}), sd(be, Shape{width}),
      active(be, Shape{1}, DType::i32), te(be, Shape{1});
  z.upload(z_pre);
  b.upload(bias);
  t.upload(std::vector<float>{tau});
  rm.upload(running_mean);
  rs.upload(running_std);
  out.upload(std::vector<float>(static_cast<std::size_t>(width), -7.0f));
  active.upload(std::vector<std::int32_t>{-5});
  te.upload(std::vector<float>{eval_tau.value_or(tau)});
  l1_prox_unit_threshold(be, z, b, t, rm, rs, beta, update, out, mean, sd, te, active);
  ThresholdOutputs o{out.download<float>(), rm.download<float>(), rs.download<float>(), mean.download<float>(),
                     sd.download<float>(), active.download<std::int32_t>()[0], true};
  for (const test::GuardedTensor* g : {&z, &b, &t, &rm, &rs, &out, &mean, &sd, &active, &te})
    o.guards &= g->guards_intact();
  return o;
}

struct ForwardOutputs {
  std::vector<float> a;
  std::vector<std::int32_t> fire;
  std::int32_t active = 0;
  bool guards = true;
};

ForwardOutputs run_forward(Backend& be, std::int64_t batch, std::int64_t width, const std::vector<float>& z_pre,
                           const std::vector<float>& bias, const std::vector<float>& thresholds, float eps) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), t(be, Shape{width}),
      a(be, Shape{batch, width}), fire(be, Shape{width}, DType::i32), active(be, Shape{1}, DType::i32);
  z.upload(z_pre);
  b.upload(bias);
  t.upload(thresholds);
  a.upload(std::vector<float>(static_cast<std::size_t>(batch * width), 7.0f));
  std::vector<std::int32_t> fire0(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < fire0.size(); ++j) fire0[j] = static_cast<std::int32_t>(j % 3);
  fire.upload(fire0);
  active.upload(std::vector<std::int32_t>{-5});
  l1_prox_forward_per_unit(be, z, b, t, a, ActivityCounters{fire.tensor(), active.tensor(), eps});
  ForwardOutputs o{a.download<float>(), fire.download<std::int32_t>(), active.download<std::int32_t>()[0], true};
  for (const test::GuardedTensor* g : {&z, &b, &t, &a, &fire, &active}) o.guards &= g->guards_intact();
  return o;
}

// z = z_pre + b: column 0 is {1, 3, 5, 7} (μ 4, σ √5), column 1 is constant −2 (σ 0).
const std::vector<float> kHandPre{0.5f, -1.0f, 2.5f, -1.0f, 4.5f, -1.0f, 6.5f, -1.0f};
const std::vector<float> kHandBias{0.5f, -1.0f};
const float kSqrt5 = static_cast<float>(std::sqrt(5.0));

void check_threshold_by_hand(Backend& be) {
  const ThresholdOutputs first = run_threshold(be, 4, 2, kHandPre, kHandBias, 0.5f, {0, 0}, {-1, -1}, 0.75f, true);
  EXPECT_EQ(first.threshold, (std::vector<float>{std::fmaf(0.5f, kSqrt5, 4.0f), -2.0f}));
  EXPECT_EQ(first.running_mean, (std::vector<float>{4.0f, -2.0f}));  // unset: the batch's pair
  EXPECT_EQ(first.running_std, (std::vector<float>{kSqrt5, 0.0f}));
  EXPECT_EQ(first.mean, first.running_mean);  // the pair used
  EXPECT_EQ(first.std_dev, first.running_std);
  EXPECT_EQ(first.eval_active, 1);  // evaluation's threshold is now the batch's: only 7 passes
  const ThresholdOutputs own_tau =
      run_threshold(be, 4, 2, kHandPre, kHandBias, 0.5f, {0, 0}, {-1, -1}, 0.75f, true, /*eval_tau=*/0.0f);
  EXPECT_EQ(own_tau.threshold, first.threshold);  // training's threshold is at τ
  EXPECT_EQ(own_tau.eval_active, 2);              // evaluation's at τ_e = 0: 5 and 7 above 4
  // Set: β·running + (1 − β)·batch; the threshold is still the batch's. τ may be negative.
  const ThresholdOutputs next = run_threshold(be, 4, 2, kHandPre, kHandBias, -1.0f, {1, 0}, {2, 1}, 0.75f, true);
  EXPECT_EQ(next.threshold, (std::vector<float>{std::fmaf(-1.0f, kSqrt5, 4.0f), -2.0f}));
  EXPECT_FLOAT_EQ(next.running_mean[0], 0.75f * 1.0f + 0.25f * 4.0f);
  EXPECT_FLOAT_EQ(next.running_mean[1], 0.25f * -2.0f);
  EXPECT_FLOAT_EQ(next.running_std[0], 0.75f * 2.0f + 0.25f * kSqrt5);
  EXPECT_FLOAT_EQ(next.running_std[1], 0.75f);
  EXPECT_EQ(next.eval_active, 4);  // the moved running pair: 1.75 − 2.06 and −0.5 − 0.75
  // Evaluation reads the running pair and leaves it; while it is unset, the batch's.
  const ThresholdOutputs eval = run_threshold(be, 4, 2, kHandPre, kHandBias, 0.5f, {1, 0}, {2, 1}, 0.75f, false);
  EXPECT_EQ(eval.threshold, (std::vector<float>{2.0f, 0.5f}));
  EXPECT_EQ(eval.running_mean, (std::vector<float>{1.0f, 0.0f}));
  EXPECT_EQ(eval.running_std, (std::vector<float>{2.0f, 1.0f}));
  EXPECT_EQ(eval.mean, (std::vector<float>{1.0f, 0.0f}));
  EXPECT_EQ(eval.std_dev, (std::vector<float>{2.0f, 1.0f}));
  EXPECT_EQ(eval.eval_active, 3);  // 3, 5 and 7 above 2
  const ThresholdOutputs unset = run_threshold(be, 4, 2, kHandPre, kHandBias, 0.5f, {1, 0}, {-1, 1}, 0.75f, false);
  EXPECT_EQ(unset.threshold, (std::vector<float>{std::fmaf(0.5f, kSqrt5, 4.0f), 0.5f}));
  EXPECT_EQ(unset.running_std, (std::vector<float>{-1.0f, 1.0f}));
  EXPECT_EQ(unset.eval_active, 1);
  for (const ThresholdOutputs& o : {first, own_tau, next, eval, unset}) EXPECT_TRUE(o.guards);

  // At the first pass's thresholds only row 3 of column 0 passes (7 − 4 − √5/2), and the
  // constant column never does: its threshold is its value.
  const ForwardOutputs a = run_forward(be, 4, 2, kHandPre, kHandBias, first.threshold, 0.0f);
  EXPECT_EQ(a.a, (std::vector<float>{0, 0, 0, 0, 0, 0, 7.0f - first.threshold[0], 0}));
  EXPECT_EQ(a.fire, (std::vector<std::int32_t>{1, 1}));
  EXPECT_EQ(a.active, 1);
  EXPECT_TRUE(a.guards);
}

TEST(L1ProxPerUnit, ThresholdByHand) { check_threshold_by_hand(test::cpu()); }
TEST(L1ProxPerUnit, CudaThresholdByHand) {
  VSAE_REQUIRE_CUDA();
  check_threshold_by_hand(test::cuda());
}

// NaN or ±Inf in a column makes its pair and threshold NaN and leaves its running pair; a
// running pair that is not finite counts as unset; an empty batch has NaN thresholds; a single
// row has σ = 0, so each threshold is the row's own z and no code is active.
void check_without_value(Backend& be) {
  const std::vector<float> z{1.0f, kNan, -kInf, 2.0f, 3.0f, 4.0f};  // (2, 3)
  const ThresholdOutputs bad =
      run_threshold(be, 2, 3, z, {0, 0, 0}, 0.5f, {1, 1, 1}, {2, 2, 2}, 0.5f, true);
  EXPECT_EQ(bad.threshold[0], 1.75f);  // {1, 2}: μ 1.5, σ 0.5
  EXPECT_TRUE(std::isnan(bad.threshold[1]) && std::isnan(bad.threshold[2]));
  EXPECT_EQ(bad.running_mean, (std::vector<float>{1.25f, 1.0f, 1.0f}));
  EXPECT_EQ(bad.running_std, (std::vector<float>{1.25f, 2.0f, 2.0f}));
  const std::vector<float> fine{1.0f, 0.0f, 2.0f, 3.0f};  // (2, 2): μ (1.5, 1.5), σ (0.5, 1.5)
  for (float mean : {kInf, kNan, 0.0f})
    for (float sd : {kInf, kNan, -1.0f}) {
      SCOPED_TRACE(testing::Message() << "running (" << mean << ", " << sd << ")");
      const ThresholdOutputs train = run_threshold(be, 2, 2, fine, {0, 0}, 0.0f, {mean, 0}, {sd, -1}, 0.5f, true);
      EXPECT_EQ(train.running_mean, (std::vector<float>{1.5f, 1.5f}));
      EXPECT_EQ(train.running_std, (std::vector<float>{0.5f, 1.5f}));
      const ThresholdOutputs eval = run_threshold(be, 2, 2, fine, {0, 0}, 0.0f, {mean, 0}, {sd, -1}, 0.5f, false);
      EXPECT_EQ(eval.threshold, (std::vector<float>{1.5f, 1.5f}));
      EXPECT_TRUE(train.guards && eval.guards);
    }
  // Above evaluation's thresholds: 2 against column 0's moved pair (1.875); 3 and 4 against the
  // unchanged running pairs of the others (2).
  EXPECT_EQ(bad.eval_active, 3);
  const ThresholdOutputs empty = run_threshold(be, 0, 2, {}, {0, 0}, 0.5f, {1, 1}, {-1, 2}, 0.5f, true);
  EXPECT_EQ(empty.eval_active, 0);
  EXPECT_TRUE(std::isnan(empty.threshold[0]) && std::isnan(empty.threshold[1]));
  EXPECT_EQ(empty.running_mean, (std::vector<float>{1.0f, 1.0f}));
  EXPECT_EQ(empty.running_std, (std::vector<float>{-1.0f, 2.0f}));
  const std::vector<float> row{0.3f, -2.0f, 5.0f}, row_bias{0.1f, 0.2f, -0.7f};
  const ThresholdOutputs one = run_threshold(be, 1, 3, row, row_bias, -2.0f, {0, 0, 0}, {-1, -1, -1}, 0.5f, true);
  EXPECT_EQ(one.running_std, (std::vector<float>{0.0f, 0.0f, 0.0f}));
  const ForwardOutputs a = run_forward(be, 1, 3, row, row_bias, one.threshold, 0.0f);
  EXPECT_EQ(a.a, (std::vector<float>{0.0f, 0.0f, 0.0f}));
  EXPECT_EQ(a.active, 0);
  EXPECT_TRUE(bad.guards && empty.guards && one.guards && a.guards);
}

TEST(L1ProxPerUnit, NonFiniteEmptyAndSingleRow) { check_without_value(test::cpu()); }
TEST(L1ProxPerUnit, CudaNonFiniteEmptyAndSingleRow) {
  VSAE_REQUIRE_CUDA();
  check_without_value(test::cuda());
}

TEST(L1ProxPerUnit, RejectsBadArguments) {
  Backend& be = test::cpu();
  const auto expect_error = [](const auto& call, const std::string& message) {
    try {
      call();
      ADD_FAILURE() << "expected an error containing " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  for (float beta : {-0.1f, 1.0f})
    expect_error([&] { run_threshold(be, 1, 2, {1, 2}, {0, 0}, 0.5f, {0, 0}, {-1, -1}, beta, true); },
                 "l1_prox_unit_threshold: beta must be in [0, 1)");
  test::GuardedTensor z(be, Shape{2, 3}), b(be, Shape{3}), t(be, Shape{1}), short_unit(be, Shape{2}),
      unit(be, Shape{3}), a(be, Shape{2, 3}), empty(be, Shape{0, 3});
  expect_error([&] { l1_prox_unit_threshold(be, z, b, t, short_unit, unit, 0.9f, true, unit, unit, unit); },
               "l1_prox_unit_threshold: a per-unit tensor is (2), expected (3)");
  expect_error([&] { l1_prox_backward_per_unit(be, z, b, t, unit, short_unit, a, a, a, unit); },
               "l1_prox_backward_per_unit: a per-unit tensor is (2), expected (3)");
  expect_error([&] { l1_prox_backward_per_unit(be, empty, b, t, unit, unit, empty, empty, empty, unit); },
               "l1_prox_backward_per_unit: the batch is empty");
  expect_error([&] { l1_prox_forward_per_unit(be, z, b, short_unit, a, ActivityCounters{}); },
               "l1_prox_forward_per_unit: thresholds is (2), expected (3)");
}

// The whole map from (z_pre, b) to a in training, statistics included, against finite differences
// of L = Σ w·a. The data are drawn until every entry is at least 0.05 from its threshold, so the
// probes (±1e-3, which also move μ and σ) never cross a kink. db is 0: a shift of z changes nothing.
TEST(L1ProxPerUnit, BackwardMatchesFiniteDifferences) {
  Backend& be = test::cpu();
  const std::int64_t batch = 6, width = 5;
  const auto n = static_cast<std::size_t>(batch * width);
  for (float tau_value : {0.6f, -0.7f}) {
    SCOPED_TRACE(testing::Message() << "tau " << tau_value);
    std::vector<float> z_pre, bias = test::random_uniform(static_cast<std::size_t>(width), -0.5f, 0.5f, 11);
    for (std::uint64_t seed = 12;; ++seed) {
      z_pre = test::random_uniform(n, -2.0f, 2.0f, seed);
      const ThresholdOutputs t =
          run_threshold(be, batch, width, z_pre, bias, tau_value, std::vector<float>(static_cast<std::size_t>(width)),
                        std::vector<float>(static_cast<std::size_t>(width), -1.0f), 0.5f, true);
      bool clear = true;
      for (std::size_t i = 0; i < n; ++i)
        clear &= std::fabs(z_pre[i] + bias[i % static_cast<std::size_t>(width)] -
                           t.threshold[i % static_cast<std::size_t>(width)]) > 0.05f;
      if (clear) break;
      ASSERT_LT(seed, 2000u) << "no draw clear of the kinks";
    }
    const std::vector<float> w = test::random_uniform(n, -1.0f, 1.0f, 13);
    test::GuardedTensor zt(be, Shape{batch, width}), bt(be, Shape{width}), tau(be, Shape{1}), rm(be, Shape{width}),
        rs(be, Shape{width}), th(be, Shape{width}), mean(be, Shape{width}), sd(be, Shape{width}),
        at(be, Shape{batch, width}), da(be, Shape{batch, width}), dz(be, Shape{batch, width}), db(be, Shape{width});
    tau.upload(std::vector<float>{tau_value});
    const auto loss = [&] {
      zt.upload(z_pre);
      bt.upload(bias);
      l1_prox_unit_threshold(be, zt, bt, tau, rm, rs, 0.5f, true, th, mean, sd);
      l1_prox_forward_per_unit(be, zt, bt, th, at, ActivityCounters{});
      return test::weighted_sum(at.download<float>(), w);
    };
    loss();
    da.upload(w);
    dz.upload(std::vector<float>(n, 0.0f));
    db.upload(std::vector<float>(static_cast<std::size_t>(width), 0.0f));
    l1_prox_backward_per_unit(be, zt, bt, tau, mean, sd, at, da, dz, db);
    const test::GradCheckOptions options{1e-3, 2e-3, 2e-3, 200};
    EXPECT_TRUE(test::check_gradient(loss, z_pre, dz.download<float>(), "dz_pre", options));
    EXPECT_TRUE(test::check_gradient(loss, bias, db.download<float>(), "db", options));
    for (float v : db.download<float>()) EXPECT_NEAR(v, 0.0f, 1e-5f);
  }
}

struct BackwardOutputs {
  std::vector<float> dz, db;
  bool guards = true;
};

// l1_prox_backward_per_unit at the statistics `stats` used, accumulating into dz0 and a db of 0.5.
BackwardOutputs run_backward(Backend& be, const test::ShapeCase& c, const std::vector<float>& z_pre,
                             const std::vector<float>& bias, float tau_value, const ThresholdOutputs& stats,
                             const std::vector<float>& a_values, const std::vector<float>& da_values,
                             const std::vector<float>& dz0) {
  test::GuardedTensor z(be, Shape{c.batch, c.width}), b(be, Shape{c.width}), tau(be, Shape{1}),
      mean(be, Shape{c.width}), sd(be, Shape{c.width}), a(be, Shape{c.batch, c.width}),
      da(be, Shape{c.batch, c.width}), dz(be, Shape{c.batch, c.width}), db(be, Shape{c.width});
  z.upload(z_pre);
  b.upload(bias);
  tau.upload(std::vector<float>{tau_value});
  mean.upload(stats.mean);
  sd.upload(stats.std_dev);
  a.upload(a_values);
  da.upload(da_values);
  dz.upload(dz0);
  db.upload(std::vector<float>(static_cast<std::size_t>(c.width), 0.5f));
  l1_prox_backward_per_unit(be, z, b, tau, mean, sd, a, da, dz, db);
  BackwardOutputs o{dz.download<float>(), db.download<float>(), true};
  for (const test::GuardedTensor* g : {&z, &b, &tau, &mean, &sd, &a, &da, &dz, &db}) o.guards &= g->guards_intact();
  return o;
}

// One pass of the backend comparison: the running pair it starts from, τ, and whether it trains.
struct Pass {
  bool running_set;
  float tau;
  bool update;
  const char* name;
};
const Pass kPasses[] = {{false, 0.7f, true, "unset_training"},
                        {true, -0.4f, true, "set_training"},
                        {true, 1.3f, false, "set_evaluation"}};
void PrintTo(const Pass& p, std::ostream* os) { *os << p.name; }

using BackendCase = std::tuple<test::ShapeCase, Pass>;

class L1ProxPerUnitBackends : public ::testing::TestWithParam<BackendCase> {};

// Training from unset and from a set running pair, and evaluation, each its own case (so that one
// process holds one pass's buffers: a simulator may never free device memory). The two backends
// sum in the same order, so the thresholds agree to the last bits (a tolerance of 1e-6 allows for
// a simulator's or a GPU's double arithmetic). The table's z holds ±Inf in some columns, whose
// thresholds are NaN on both sides. The forward then runs at the CPU's thresholds on both
// backends and must agree exactly, and in training the backward at the CPU's statistics.
TEST_P(L1ProxPerUnitBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const auto& [c, p] = GetParam();
  const auto units = static_cast<std::size_t>(c.width);
  const std::vector<float> bias = test::case_bias(c.width, test::seed_of(c));
  const std::vector<float> z_pre = test::case_z_pre(c.batch, c.width, bias, test::seed_of(c) + 1);
  const std::vector<float> set_mean = test::random_uniform(units, -1.0f, 1.0f, test::seed_of(c) + 2);
  const std::vector<float> running_std =
      p.running_set ? test::random_uniform(units, 0.0f, 2.0f, test::seed_of(c) + 3) : std::vector<float>(units, -1.0f);
  const ThresholdOutputs ref = run_threshold(test::cpu(), c.batch, c.width, z_pre, bias, p.tau, set_mean,
                                             running_std, 0.99f, p.update, p.tau + 0.25f);
  const ThresholdOutputs got = run_threshold(test::cuda(), c.batch, c.width, z_pre, bias, p.tau, set_mean,
                                             running_std, 0.99f, p.update, p.tau + 0.25f);
  EXPECT_TRUE(got.guards);
  const test::Tolerance tol{1e-7, 1e-6};
  EXPECT_TRUE(test::all_close(ref.threshold, got.threshold, tol, /*allow_nonfinite=*/true));
  EXPECT_TRUE(test::all_close(ref.running_mean, got.running_mean, tol, /*allow_nonfinite=*/true));
  EXPECT_TRUE(test::all_close(ref.running_std, got.running_std, tol, /*allow_nonfinite=*/true));
  EXPECT_EQ(ref.eval_active, got.eval_active);
  for (float eps : {0.0f, 0.25f}) {
    SCOPED_TRACE(testing::Message() << "forward, eps " << eps);
    const ForwardOutputs a_ref = run_forward(test::cpu(), c.batch, c.width, z_pre, bias, ref.threshold, eps);
    const ForwardOutputs a_got = run_forward(test::cuda(), c.batch, c.width, z_pre, bias, ref.threshold, eps);
    EXPECT_TRUE(a_got.guards);
    EXPECT_TRUE(test::all_close(a_ref.a, a_got.a, test::Tolerance{0.0, 0.0}, /*allow_nonfinite=*/true));
    EXPECT_EQ(a_ref.fire, a_got.fire);
    EXPECT_EQ(a_ref.active, a_got.active);
  }
  if (!p.update || c.batch == 0) return;
  SCOPED_TRACE("backward");
  const ForwardOutputs a = run_forward(test::cpu(), c.batch, c.width, z_pre, bias, ref.threshold, 0.0f);
  const std::vector<float> da = test::random_uniform(a.a.size(), -1.0f, 1.0f, test::seed_of(c) + 4);
  const std::vector<float> dz0 = test::random_uniform(a.a.size(), -1.0f, 1.0f, test::seed_of(c) + 5);
  const BackwardOutputs g_ref = run_backward(test::cpu(), c, z_pre, bias, p.tau, ref, a.a, da, dz0);
  const BackwardOutputs g_got = run_backward(test::cuda(), c, z_pre, bias, p.tau, ref, a.a, da, dz0);
  EXPECT_TRUE(g_got.guards);
  EXPECT_TRUE(test::all_close(g_ref.dz, g_got.dz, test::Tolerance{1e-6, 1e-6}, /*allow_nonfinite=*/true));
  // db is a sum of B increments that cancel to about 0; each increment may differ by a rounding
  // (a simulator's or a GPU's float arithmetic; dz checks them one by one above), so the sums
  // agree to B of them.
  const double db_atol = 1e-5 + 1e-7 * static_cast<double>(c.batch);
  EXPECT_TRUE(test::all_close(g_ref.db, g_got.db, test::Tolerance{db_atol, 1e-5}, /*allow_nonfinite=*/true));
}

std::string backend_case_name(const ::testing::TestParamInfo<BackendCase>& info) {
  std::ostringstream os;
  PrintTo(std::get<0>(info.param), &os);
  os << "_" << std::get<1>(info.param).name;
  return os.str();
}

INSTANTIATE_TEST_SUITE_P(Table, L1ProxPerUnitBackends,
                         ::testing::Combine(::testing::ValuesIn(test::shape_table()), ::testing::ValuesIn(kPasses)),
                         backend_case_name);

}  // namespace
}  // namespace vsae
