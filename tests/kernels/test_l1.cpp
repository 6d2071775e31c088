// L1 and L1-prox sparsifiers: CUDA against the CPU twin over the (B, W) table, exact counts, the
// penalty value, finite-difference backward checks, the relative threshold's scale, and the
// device-side λ/τ controller with its floor and its additive form.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>

#include "engine/ops/l1.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

struct L1Outputs {
  std::vector<float> a, penalty;
  std::vector<std::int32_t> fire;
  std::int32_t active = 0;
  bool guards = true;
};

// relu: a = ReLU(z) with penalty λ·Σa/B, λ = coef; prox: a = max(z − τ, 0) with τ = coef;
// prox_scaled: a = max(z − τ·s, 0), the relative threshold's form, with s = kScale.
enum class L1Mode { relu, prox, prox_scaled };
constexpr float kScale = 1.75f;
const char* name_of(L1Mode mode) {
  return mode == L1Mode::relu ? "relu" : mode == L1Mode::prox ? "prox" : "prox_scaled";
}

L1Outputs run_l1(Backend& be, L1Mode mode, std::int64_t batch, std::int64_t width,
                 const std::vector<float>& z_pre, const std::vector<float>& bias, float coef,
                 float eps) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), c(be, Shape{1}),
      a(be, Shape{batch, width}), scale(be, Shape{1});
  scale.upload(std::vector<float>{kScale});
  test::GuardedTensor penalty(be, Shape{1}), fire(be, Shape{width}, DType::i32),
      active(be, Shape{1}, DType::i32);
  z.upload(z_pre);
  b.upload(bias);
  c.upload(std::vector<float>{coef});
  std::vector<std::int32_t> fire0(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < fire0.size(); ++j) fire0[j] = static_cast<std::int32_t>(j % 3);
  fire.upload(fire0);
  active.upload(std::vector<std::int32_t>{-5});
  a.upload(std::vector<float>(static_cast<std::size_t>(batch * width), 7.0f));
  const ActivityCounters counters{fire.tensor(), active.tensor(), eps};
  if (mode == L1Mode::relu)
    l1_forward(be, z, b, c, a, penalty, counters);
  else
    l1_prox_forward(be, z, b, c, a, counters, mode == L1Mode::prox_scaled ? scale.tensor() : Tensor());
  L1Outputs out;
  out.a = a.download<float>();
  out.penalty = penalty.download<float>();
  out.fire = fire.download<std::int32_t>();
  out.active = active.download<std::int32_t>()[0];
  for (const test::GuardedTensor* g : {&z, &b, &c, &a, &scale, &penalty, &fire, &active})
    out.guards &= g->guards_intact();
  return out;
}

void expect_same(const L1Outputs& ref, const L1Outputs& got) {
  EXPECT_TRUE(got.guards) << "a guard was overwritten";
  EXPECT_TRUE(test::all_close(ref.a, got.a, test::Tolerance{0.0, 0.0}, /*allow_nonfinite=*/true));
  EXPECT_EQ(ref.fire, got.fire);
  EXPECT_EQ(ref.active, got.active);
  EXPECT_TRUE(test::all_close(ref.penalty, got.penalty, test::Tolerance{1e-6, 1e-5},
                              /*allow_nonfinite=*/true));
}

class L1Backends : public ::testing::TestWithParam<test::ShapeCase> {};

TEST_P(L1Backends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const test::ShapeCase c = GetParam();
  const std::vector<float> bias = test::case_bias(c.width, test::seed_of(c));
  const std::vector<float> z_pre = test::case_z_pre(c.batch, c.width, bias, test::seed_of(c) + 1);
  for (L1Mode mode : {L1Mode::relu, L1Mode::prox, L1Mode::prox_scaled})
    for (float eps : {0.0f, 0.25f}) {
      SCOPED_TRACE(testing::Message() << name_of(mode) << " eps " << eps);
      expect_same(run_l1(test::cpu(), mode, c.batch, c.width, z_pre, bias, 0.3f, eps),
                  run_l1(test::cuda(), mode, c.batch, c.width, z_pre, bias, 0.3f, eps));
    }
}

INSTANTIATE_TEST_SUITE_P(Table, L1Backends, ::testing::ValuesIn(test::shape_table()),
                         test::shape_case_name);

// NaN in z reaches a and the penalty on both backends (it counts as neither firing nor zero).
TEST(L1, CudaMatchesCpuOnNan) {
  VSAE_REQUIRE_CUDA();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const test::ShapeCase c : {test::ShapeCase{9, 40}, test::ShapeCase{300, 37}}) {
    SCOPED_TRACE(testing::Message() << "B" << c.batch << "_W" << c.width);
    const std::vector<float> bias = test::case_bias(c.width, 41);
    std::vector<float> z_pre = test::case_z_pre(c.batch, c.width, bias, 42);
    for (std::size_t i = 0; i < z_pre.size(); i += 11) z_pre[i] = i % 2 ? nan : -nan;
    for (L1Mode mode : {L1Mode::relu, L1Mode::prox, L1Mode::prox_scaled}) {
      SCOPED_TRACE(name_of(mode));
      const L1Outputs ref = run_l1(test::cpu(), mode, c.batch, c.width, z_pre, bias, 0.3f, 0.0f);
      expect_same(ref, run_l1(test::cuda(), mode, c.batch, c.width, z_pre, bias, 0.3f, 0.0f));
      if (mode == L1Mode::relu) {
        EXPECT_TRUE(std::isnan(ref.penalty[0]));
      }
    }
  }
}

// λ·Σa/B has no value for B = 0; both backends refuse it rather than return NaN or 0. Without
// the penalty an empty batch is fine.
void check_empty_batch(Backend& be) {
  const std::vector<float> bias{0.5f, -1.0f, 2.0f};
  try {
    run_l1(be, L1Mode::relu, 0, 3, {}, bias, 0.1f, 0.0f);
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("l1_forward: the penalty λ·Σa/B needs a batch of at least "
                                         "one row"),
              std::string::npos)
        << e.what();
  }
  const L1Outputs prox = run_l1(be, L1Mode::prox, 0, 3, {}, bias, 0.1f, 0.0f);
  EXPECT_EQ(prox.active, 0);
  EXPECT_EQ(prox.fire, (std::vector<std::int32_t>{0, 1, 2}));
}

TEST(L1, CpuRejectsPenaltyOfEmptyBatch) {
  check_empty_batch(test::cpu());
}
TEST(L1, CudaRejectsPenaltyOfEmptyBatch) {
  VSAE_REQUIRE_CUDA();
  check_empty_batch(test::cuda());
}

// The CPU twin on a hand-checkable case.
TEST(L1, CpuForwardByHand) {
  const std::vector<float> z_pre{1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -1.0f};
  const std::vector<float> bias{0.5f, 1.0f, -0.25f};
  const L1Outputs relu = run_l1(test::cpu(), L1Mode::relu, 2, 3, z_pre, bias, 0.1f, 0.3f);
  EXPECT_EQ(relu.a, (std::vector<float>{1.5f, 0.0f, 0.25f, 3.5f, 1.0f, 0.0f}));
  EXPECT_EQ(relu.fire, (std::vector<std::int32_t>{0 + 2, 1 + 1, 2 + 0}));
  EXPECT_EQ(relu.active, 3);
  EXPECT_FLOAT_EQ(relu.penalty[0], 0.1f * (1.5f + 0.25f + 3.5f + 1.0f) / 2.0f);
  const L1Outputs prox = run_l1(test::cpu(), L1Mode::prox, 2, 3, z_pre, bias, 1.0f, 0.0f);
  EXPECT_EQ(prox.a, (std::vector<float>{0.5f, 0.0f, 0.0f, 2.5f, 0.0f, 0.0f}));
  EXPECT_EQ(prox.active, 2);
  // τ·s = 0.4·1.75 = 0.7.
  const L1Outputs scaled = run_l1(test::cpu(), L1Mode::prox_scaled, 2, 3, z_pre, bias, 0.4f, 0.0f);
  EXPECT_EQ(scaled.a, (std::vector<float>{1.5f - 0.7f, 0.0f, 0.0f, 3.5f - 0.7f, 1.0f - 0.7f, 0.0f}));
  EXPECT_EQ(scaled.active, 3);
}

// Values at least 0.05 from the kinks at 0 (ReLU) and τ (prox), probed with ±1e-3.
std::vector<float> away_from_kinks(std::size_t n, float kink, std::uint64_t seed) {
  std::vector<float> u = test::random_uniform(n, -1.0f, 1.0f, seed);
  for (float& x : u) x = kink + (x < 0 ? x - 0.05f : x + 0.05f);
  return u;
}

// L = Σ w·a + λ·Σa/B, checked against l1_backward for both z_pre and the bias.
TEST(L1, BackwardMatchesFiniteDifferences) {
  Backend& be = test::cpu();
  const std::int64_t batch = 6, width = 11;
  std::vector<float> z_pre = away_from_kinks(static_cast<std::size_t>(batch * width), 0.0f, 3);
  std::vector<float> bias(static_cast<std::size_t>(width), 0.0f);
  const std::vector<float> w = test::random_uniform(z_pre.size(), -1.0f, 1.0f, 4);
  test::GuardedTensor zt(be, Shape{batch, width}), bt(be, Shape{width}), lambda(be, Shape{1});
  test::GuardedTensor at(be, Shape{batch, width}), penalty(be, Shape{1});
  test::GuardedTensor da(be, Shape{batch, width}), dz(be, Shape{batch, width}),
      db(be, Shape{width});
  lambda.upload(std::vector<float>{0.7f});
  const auto loss = [&] {
    zt.upload(z_pre);
    bt.upload(bias);
    l1_forward(be, zt, bt, lambda, at, penalty, ActivityCounters{});
    return test::weighted_sum(at.download<float>(), w) + penalty.download<float>()[0];
  };
  loss();
  da.upload(w);
  l1_backward(be, at, da, lambda, dz, db);
  const test::GradCheckOptions options{1e-3, 1e-3, 1e-3, 200};
  EXPECT_TRUE(test::check_gradient(loss, z_pre, dz.download<float>(), "dz_pre", options));
  EXPECT_TRUE(test::check_gradient(loss, bias, db.download<float>(), "db", options));
}

// With the relative threshold the scale s is held fixed (stop-gradient), so the backward is the
// prox backward at τ·s; both forms are checked against finite differences at fixed τ and s.
TEST(L1, ProxBackwardMatchesFiniteDifferences) {
  Backend& be = test::cpu();
  const std::int64_t batch = 5, width = 13;
  const float tau_value = 0.4f;
  for (bool scaled : {false, true}) {
    SCOPED_TRACE(scaled ? "prox_scaled" : "prox");
    const float kink = scaled ? tau_value * kScale : tau_value;
    std::vector<float> z_pre = away_from_kinks(static_cast<std::size_t>(batch * width), kink, 5);
    std::vector<float> bias(static_cast<std::size_t>(width), 0.0f);
    const std::vector<float> w = test::random_uniform(z_pre.size(), -1.0f, 1.0f, 6);
    test::GuardedTensor zt(be, Shape{batch, width}), bt(be, Shape{width}), tau(be, Shape{1}),
        scale(be, Shape{1}), at(be, Shape{batch, width});
    test::GuardedTensor da(be, Shape{batch, width}), dz(be, Shape{batch, width}),
        db(be, Shape{width});
    tau.upload(std::vector<float>{tau_value});
    scale.upload(std::vector<float>{kScale});
    const auto loss = [&] {
      zt.upload(z_pre);
      bt.upload(bias);
      l1_prox_forward(be, zt, bt, tau, at, ActivityCounters{}, scaled ? scale.tensor() : Tensor());
      return test::weighted_sum(at.download<float>(), w);
    };
    loss();
    da.upload(w);
    l1_prox_backward(be, at, da, dz, db);
    const test::GradCheckOptions options{1e-3, 1e-3, 1e-3, 200};
    EXPECT_TRUE(test::check_gradient(loss, z_pre, dz.download<float>(), "dz_pre", options));
    EXPECT_TRUE(test::check_gradient(loss, bias, db.download<float>(), "db", options));
  }
}

// ---- the relative threshold's scale -------------------------------------------------------

struct ScaleOutputs {
  float scale = 0, running = 0;
  bool guards = true;
};

// One l1_prox_scale call from the given running scale.
ScaleOutputs run_scale(Backend& be, std::int64_t batch, std::int64_t width, const std::vector<float>& z_pre,
                       const std::vector<float>& bias, float running, float beta, bool update) {
  test::GuardedTensor z(be, Shape{batch, width}), b(be, Shape{width}), r(be, Shape{1}), s(be, Shape{1});
  z.upload(z_pre);
  b.upload(bias);
  r.upload(std::vector<float>{running});
  s.upload(std::vector<float>{-7.0f});
  l1_prox_scale(be, z, b, r, beta, update, s);
  ScaleOutputs out{s.download<float>()[0], r.download<float>()[0], true};
  for (const test::GuardedTensor* g : {&z, &b, &r, &s}) out.guards &= g->guards_intact();
  return out;
}

void check_scale_by_hand(Backend& be) {
  // z = z_pre + b = {1, -2, 2, 0, 3, -1}: Σz² = 19, s_b = sqrt(19 / 6).
  const std::vector<float> z_pre{0.5f, -1.0f, 2.0f, -0.5f, 4.0f, -1.0f}, bias{0.5f, -1.0f, 0.0f};
  const float s_b = std::sqrt(19.0f / 6.0f);
  ScaleOutputs first = run_scale(be, 2, 3, z_pre, bias, -1.0f, 0.9f, true);  // unset: takes s_b
  EXPECT_FLOAT_EQ(first.scale, s_b);
  EXPECT_FLOAT_EQ(first.running, s_b);
  ScaleOutputs next = run_scale(be, 2, 3, z_pre, bias, 2.0f, 0.9f, true);  // β·2 + (1 − β)·s_b
  EXPECT_FLOAT_EQ(next.scale, s_b);
  EXPECT_FLOAT_EQ(next.running, 0.9f * 2.0f + 0.1f * s_b);
  ScaleOutputs eval = run_scale(be, 2, 3, z_pre, bias, 2.0f, 0.9f, false);  // evaluation: the running s
  EXPECT_EQ(eval.scale, 2.0f);
  EXPECT_EQ(eval.running, 2.0f);
  ScaleOutputs unset = run_scale(be, 2, 3, z_pre, bias, -1.0f, 0.9f, false);  // unset: the batch's own
  EXPECT_FLOAT_EQ(unset.scale, s_b);
  EXPECT_EQ(unset.running, -1.0f);
  ScaleOutputs zero = run_scale(be, 1, 2, {0.0f, 1.0f}, {0.0f, -1.0f}, -1.0f, 0.9f, true);  // s = 0
  EXPECT_EQ(zero.scale, 0.0f);
  EXPECT_EQ(zero.running, 0.0f);
  for (const ScaleOutputs& o : {first, next, eval, unset, zero}) EXPECT_TRUE(o.guards);
}

TEST(L1ProxScale, ByHand) { check_scale_by_hand(test::cpu()); }
TEST(L1ProxScale, CudaByHand) {
  VSAE_REQUIRE_CUDA();
  check_scale_by_hand(test::cuda());
}

// NaN or ±Inf in z makes the batch's s NaN or +Inf, which the running scale ignores; an empty
// batch has none; a running scale that is not finite counts as unset.
void check_scale_without_value(Backend& be) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  ScaleOutputs with_nan = run_scale(be, 2, 2, {1.0f, nan, 2.0f, 3.0f}, {0.0f, 0.0f}, 1.5f, 0.9f, true);
  EXPECT_TRUE(std::isnan(with_nan.scale));
  EXPECT_EQ(with_nan.running, 1.5f);
  ScaleOutputs with_inf = run_scale(be, 2, 2, {1.0f, -inf, 2.0f, 3.0f}, {0.0f, 0.0f}, 1.5f, 0.9f, true);
  EXPECT_EQ(with_inf.scale, inf);
  EXPECT_EQ(with_inf.running, 1.5f);
  // z = (1, 0, 2, 3): s_b = sqrt(14 / 4).
  for (float bad : {inf, nan}) {
    ScaleOutputs train = run_scale(be, 2, 2, {1.0f, 0.0f, 2.0f, 3.0f}, {0.0f, 0.0f}, bad, 0.9f, true);
    EXPECT_FLOAT_EQ(train.running, std::sqrt(3.5f)) << "running " << bad;
    ScaleOutputs eval = run_scale(be, 2, 2, {1.0f, 0.0f, 2.0f, 3.0f}, {0.0f, 0.0f}, bad, 0.9f, false);
    EXPECT_FLOAT_EQ(eval.scale, std::sqrt(3.5f)) << "running " << bad;
    EXPECT_TRUE(train.guards && eval.guards);
  }
  EXPECT_TRUE(with_inf.guards);
  ScaleOutputs empty = run_scale(be, 0, 3, {}, {0.0f, 0.0f, 0.0f}, -1.0f, 0.9f, true);
  EXPECT_TRUE(std::isnan(empty.scale));
  EXPECT_EQ(empty.running, -1.0f);
  EXPECT_TRUE(with_nan.guards && empty.guards);
}

TEST(L1ProxScale, NanAndEmptyBatchLeaveTheRunningScale) { check_scale_without_value(test::cpu()); }
TEST(L1ProxScale, CudaNanAndEmptyBatchLeaveTheRunningScale) {
  VSAE_REQUIRE_CUDA();
  check_scale_without_value(test::cuda());
}

TEST(L1ProxScale, RejectsBadBeta) {
  for (float beta : {-0.1f, 1.0f}) {
    try {
      run_scale(test::cpu(), 1, 1, {1.0f}, {0.0f}, -1.0f, beta, true);
      ADD_FAILURE() << "expected an error for beta " << beta;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("l1_prox_scale: beta must be in [0, 1)"), std::string::npos) << e.what();
    }
  }
}

class L1ProxScaleBackends : public ::testing::TestWithParam<test::ShapeCase> {};

// Training from unset and from a set running scale, and evaluation; the sums run in different
// orders on the two backends, so s agrees to rounding. The table's z holds ±Inf in some shapes,
// which makes s +Inf on both sides (and leaves the running scale alone); a finite copy of z
// compares the sums themselves. Four passes over z per case keep the large shapes affordable
// under the GPU simulator; the unset-evaluation path is checked by hand above.
TEST_P(L1ProxScaleBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const test::ShapeCase c = GetParam();
  const std::vector<float> bias = test::case_bias(c.width, test::seed_of(c));
  const std::vector<float> with_inf = test::case_z_pre(c.batch, c.width, bias, test::seed_of(c) + 1);
  std::vector<float> finite = with_inf;
  for (float& z : finite) z = std::isfinite(z) ? z : 0.0f;
  struct Pass {
    const std::vector<float>* z_pre;
    float running;
    bool update;
    const char* what;
  };
  for (const Pass& p : {Pass{&with_inf, 0.8f, true, "table z, set, training"},
                        Pass{&finite, -1.0f, true, "finite z, unset, training"},
                        Pass{&finite, 0.8f, true, "finite z, set, training"},
                        Pass{&finite, 0.8f, false, "finite z, set, evaluation"}}) {
    SCOPED_TRACE(p.what);
    const ScaleOutputs ref = run_scale(test::cpu(), c.batch, c.width, *p.z_pre, bias, p.running, 0.99f, p.update);
    const ScaleOutputs got = run_scale(test::cuda(), c.batch, c.width, *p.z_pre, bias, p.running, 0.99f, p.update);
    EXPECT_TRUE(got.guards);
    EXPECT_TRUE(test::all_close({ref.scale, ref.running}, {got.scale, got.running}, test::Tolerance{1e-7, 1e-6},
                                /*allow_nonfinite=*/true));
  }
}

INSTANTIATE_TEST_SUITE_P(Table, L1ProxScaleBackends, ::testing::ValuesIn(test::shape_table()),
                         test::shape_case_name);

// One controller step on `be` from coef with the given batch activity; returns the new coef.
// One controller step on `be`, with a floor tensor when `floor` holds a value.
float control_step(Backend& be, float coef, std::int32_t active, std::int32_t k, std::int64_t rows,
                   const SparsityControl& control, std::optional<float> floor = std::nullopt) {
  test::GuardedTensor c(be, Shape{1}), act(be, Shape{1}, DType::i32),
      target(be, Shape{1}, DType::i32), f(be, Shape{1});
  c.upload(std::vector<float>{coef});
  act.upload(std::vector<std::int32_t>{active});
  target.upload(std::vector<std::int32_t>{k});
  f.upload(std::vector<float>{floor.value_or(0.0f)});
  sparsity_controller_update(be, c, act, target, rows, control, floor ? f.tensor() : Tensor());
  EXPECT_TRUE(c.guards_intact());
  return c.download<float>()[0];
}

TEST(SparsityController, MovesTowardTargetWithinClamps) {
  Backend& be = test::cpu();
  const SparsityControl control{0.1f, 1e-4f, 10.0f};
  const std::int64_t rows = 64;
  // Too many active units (L0 = 100 > k = 50): the coefficient grows by exp(η·1).
  EXPECT_FLOAT_EQ(control_step(be, 1.0f, 100 * rows, 50, rows, control), std::exp(0.1f));
  // Too few (L0 = 25): it shrinks by exp(−η/2).
  EXPECT_FLOAT_EQ(control_step(be, 1.0f, 25 * rows, 50, rows, control), std::exp(-0.05f));
  // On target: unchanged.
  EXPECT_FLOAT_EQ(control_step(be, 2.0f, 50 * rows, 50, rows, control), 2.0f);
  // Clamps hold at both ends (L0 = 0 shrinks by exp(−η) at most), and a coefficient below lo is
  // lifted to it.
  EXPECT_FLOAT_EQ(control_step(be, 9.9f, 500 * rows, 50, rows, control), 10.0f);
  EXPECT_FLOAT_EQ(control_step(be, 1.05e-4f, 0, 50, rows, control), 1e-4f);
  EXPECT_FLOAT_EQ(control_step(be, 0.0f, 50 * rows, 50, rows, control), 1e-4f);
  // No target (k <= 0): untouched.
  EXPECT_FLOAT_EQ(control_step(be, 3.0f, 0, 0, rows, control), 3.0f);
}

// A synthetic plant, L0 = 400·exp(−coef), driven in closed loop: L0 settles at k.
TEST(SparsityController, ClosedLoopSettlesOnTarget) {
  Backend& be = test::cpu();
  const SparsityControl control{0.2f, 1e-3f, 100.0f};
  const std::int64_t rows = 64;
  float coef = 0.01f;
  std::int32_t l0 = 0;
  for (int step = 0; step < 2000; ++step) {
    l0 = static_cast<std::int32_t>(std::lround(400.0 * std::exp(-coef)));
    coef = control_step(be, coef, l0 * static_cast<std::int32_t>(rows), 50, rows, control);
  }
  EXPECT_NEAR(l0, 50, 1);
  EXPECT_NEAR(coef, std::log(400.0 / 50.0), 0.05);
}

// The floor lifts the lower clamp: a coefficient that would shrink below it stops there, one above
// it moves as before; a floor above hi stops at hi, and a floor below lo (or NaN) leaves lo.
void check_floored_update(Backend& be) {
  const SparsityControl control{0.1f, 1e-4f, 10.0f};
  const std::int64_t rows = 64;
  EXPECT_FLOAT_EQ(control_step(be, 0.02f, 0, 50, rows, control, 0.019f), 0.019f);
  EXPECT_FLOAT_EQ(control_step(be, 1.0f, 25 * rows, 50, rows, control, 0.019f), std::exp(-0.05f));
  EXPECT_FLOAT_EQ(control_step(be, 0.5f, 100 * rows, 50, rows, control, 20.0f), 10.0f);
  EXPECT_FLOAT_EQ(control_step(be, 1.05e-4f, 0, 50, rows, control, 1e-6f), 1e-4f);
  EXPECT_FLOAT_EQ(control_step(be, 0.0f, 0, 0, rows, control, 0.5f), 0.0f);  // no target: untouched
  EXPECT_FLOAT_EQ(control_step(be, 1.05e-4f, 0, 50, rows, control, std::numeric_limits<float>::quiet_NaN()),
                  1e-4f);  // a NaN floor counts as none
}

TEST(SparsityController, FloorLiftsTheLowerClamp) { check_floored_update(test::cpu()); }
TEST(SparsityController, CudaFloorLiftsTheLowerClamp) {
  VSAE_REQUIRE_CUDA();
  check_floored_update(test::cuda());
}

// The synthetic plant again, but its L0 cannot exceed 300 (the natural L0 of an SAE without a
// penalty) while the target starts at 500 and then drops to 250: the original update winds the
// coefficient down to lo during the first phase and needs far longer to reach the target after
// the drop than the floored one, whose floor (the plant's scale, held at 0.05) bounds the windup.
TEST(SparsityController, FloorBoundsWindup) {
  Backend& be = test::cpu();
  const std::int64_t rows = 64;
  const auto steps_to_track = [&](float floor_value) {
    const SparsityControl control{0.05f, 1e-7f, 100.0f, floor_value > 0 ? 0.05f : 0.0f};
    float coef = 1e-3f;
    const auto plant = [&] { return static_cast<std::int32_t>(std::lround(300.0 * std::exp(-coef))); };
    for (int step = 0; step < 3000; ++step)
      coef = control_step(be, coef, plant() * static_cast<std::int32_t>(rows), 500, rows, control,
                          floor_value > 0 ? std::optional<float>(floor_value) : std::nullopt);
    for (int step = 0; step < 100000; ++step) {
      if (std::abs(plant() - 250) <= 25) return step;
      coef = control_step(be, coef, plant() * static_cast<std::int32_t>(rows), 250, rows, control,
                          floor_value > 0 ? std::optional<float>(floor_value) : std::nullopt);
    }
    return 100000;
  };
  const int windup = steps_to_track(0.0f), floored = steps_to_track(0.05f);
  // Plain arithmetic of the two updates gives 88 and 1434 steps.
  EXPECT_LT(floored, 150);
  EXPECT_GT(windup, 1000);
}

void check_floor_values(Backend& be) {
  // a > 0 at entries 0, 2, 3; the floor averages |signal| over them only.
  const std::vector<float> a{1.0f, 0.0f, 2.0f, 0.5f, -1.0f, 0.0f};
  const std::vector<float> signal{-0.5f, 100.0f, 1.5f, -1.0f, 100.0f, 100.0f};
  test::GuardedTensor ta(be, Shape{2, 3}), ts(be, Shape{2, 3}), floor(be, Shape{1});
  ta.upload(a);
  ts.upload(signal);
  controller_floor(be, ta.tensor(), ts.tensor(), 64.0f, 0.05f, floor.tensor());
  EXPECT_FLOAT_EQ(floor.download<float>()[0], 0.05f * 64.0f * (0.5f + 1.5f + 1.0f) / 3.0f);
  // Divided by the relative threshold's scale; a scale that is not > 0 gives no floor.
  test::GuardedTensor divisor(be, Shape{1});
  divisor.upload(std::vector<float>{2.0f});
  controller_floor(be, ta.tensor(), ts.tensor(), 64.0f, 0.05f, floor.tensor(), divisor.tensor());
  EXPECT_FLOAT_EQ(floor.download<float>()[0], 0.05f * 64.0f * (0.5f + 1.5f + 1.0f) / 3.0f / 2.0f);
  for (float bad : {0.0f, -1.0f, std::numeric_limits<float>::quiet_NaN()}) {
    divisor.upload(std::vector<float>{bad});
    controller_floor(be, ta.tensor(), ts.tensor(), 64.0f, 0.05f, floor.tensor(), divisor.tensor());
    EXPECT_EQ(floor.download<float>()[0], 0.0f) << "divisor " << bad;
  }
  EXPECT_TRUE(divisor.guards_intact());
  // Nothing active: no floor.
  ta.upload(std::vector<float>(6, 0.0f));
  controller_floor(be, ta.tensor(), ts.tensor(), 64.0f, 0.05f, floor.tensor());
  EXPECT_EQ(floor.download<float>()[0], 0.0f);
  EXPECT_TRUE(floor.guards_intact());
}

TEST(ControllerFloor, MeanOverActiveEntries) { check_floor_values(test::cpu()); }
TEST(ControllerFloor, CudaMeanOverActiveEntries) {
  VSAE_REQUIRE_CUDA();
  check_floor_values(test::cuda());
}

// Model-sized and odd shapes, with NaN in the signal of an active entry (the floor is then NaN,
// which the update ignores) and in a (never active).
TEST(ControllerFloor, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  for (const Shape shape : {Shape{1, 1}, Shape{3, 7}, Shape{64, 500}, Shape{257, 33}}) {
    for (bool with_nan : {false, true}) {
      std::vector<float> a = test::random_uniform(static_cast<std::size_t>(shape.numel()), -1, 1, 5);
      std::vector<float> signal = test::random_uniform(a.size(), -3, 3, 6);
      if (with_nan) {
        a[0] = std::numeric_limits<float>::quiet_NaN();
        if (a.size() > 2) a[2] = 1.0f, signal[2] = std::numeric_limits<float>::quiet_NaN();
      }
      for (bool divided : {false, true}) {
        test::TwinTensor ta(shape, a), ts(shape, signal), out(Shape{1}, std::vector<float>{-1.0f}),
            divisor(Shape{1}, std::vector<float>{kScale});
        for (Backend* be : {&test::cpu(), &test::cuda()})
          controller_floor(*be, ta.on(*be), ts.on(*be), 64.0f, 0.05f, out.on(*be),
                           divided ? divisor.on(*be) : Tensor());
        EXPECT_TRUE(test::twins_match(out, test::Tolerance{1e-7f, 1e-5f}, with_nan && a.size() > 2))
            << shape << (with_nan ? " with NaN" : "") << (divided ? " divided" : "");
      }
    }
  }
}

// The additive form moves a signed coefficient by η·(L0 − k)/k and clamps it to [lo, hi], lo < 0.
void check_additive_update(Backend& be) {
  SparsityControl control{0.05f, -1.0f, 2.0f};
  control.additive = true;
  EXPECT_EQ(control_step(be, 0.2f, 3200, 50, 64, control), 0.2f);                  // L0 = k
  EXPECT_FLOAT_EQ(control_step(be, 0.2f, 6400, 50, 64, control), 0.2f + 0.05f);    // L0 = 2k
  EXPECT_FLOAT_EQ(control_step(be, 0.2f, 0, 50, 64, control), 0.2f - 0.05f);       // L0 = 0
  EXPECT_FLOAT_EQ(control_step(be, -0.5f, 1600, 50, 64, control), -0.5f - 0.025f);  // below 0
  EXPECT_EQ(control_step(be, -0.98f, 0, 50, 64, control), -1.0f);                  // lo
  EXPECT_EQ(control_step(be, 1.99f, 64000, 50, 64, control), 2.0f);                // hi
  EXPECT_TRUE(std::isnan(control_step(be, std::numeric_limits<float>::quiet_NaN(), 0, 50, 64, control)));
}

TEST(SparsityController, AdditiveMovesASignedCoefficient) { check_additive_update(test::cpu()); }
TEST(SparsityController, CudaAdditiveMovesASignedCoefficient) {
  VSAE_REQUIRE_CUDA();
  check_additive_update(test::cuda());
}

TEST(SparsityController, RejectsBadClamps) {
  Backend& be = test::cpu();
  test::GuardedTensor c(be, Shape{1}), act(be, Shape{1}, DType::i32),
      target(be, Shape{1}, DType::i32);
  EXPECT_THROW(
      sparsity_controller_update(be, c, act, target, 64, SparsityControl{0.1f, 0.0f, 1.0f}), Error);
  EXPECT_THROW(
      sparsity_controller_update(be, c, act, target, 64, SparsityControl{0.1f, 2.0f, 1.0f}), Error);
  EXPECT_THROW(sparsity_controller_update(be, c, act, target, 0, SparsityControl{}), Error);
  SparsityControl additive{0.1f, 2.0f, 1.0f};
  additive.additive = true;
  EXPECT_THROW(sparsity_controller_update(be, c, act, target, 64, additive), Error);  // lo > hi
}

// A NaN coefficient stays NaN (std::clamp semantics) so a diverged controller shows, rather than
// being reset to lo; ±Inf is clamped.
void check_nonfinite_coefficient(Backend& be) {
  const SparsityControl control{0.05f, 1e-4f, 10.0f};
  EXPECT_TRUE(
      std::isnan(control_step(be, std::numeric_limits<float>::quiet_NaN(), 3200, 50, 64, control)));
  EXPECT_EQ(control_step(be, std::numeric_limits<float>::infinity(), 3200, 50, 64, control), 10.0f);
  EXPECT_EQ(control_step(be, -std::numeric_limits<float>::infinity(), 3200, 50, 64, control),
            1e-4f);
}

TEST(SparsityController, CpuKeepsNanCoefficient) {
  check_nonfinite_coefficient(test::cpu());
}
TEST(SparsityController, CudaKeepsNanCoefficient) {
  VSAE_REQUIRE_CUDA();
  check_nonfinite_coefficient(test::cuda());
}

TEST(SparsityController, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  SparsityControl additive{0.15f, -10.0f, 10.0f};
  additive.additive = true;
  for (std::int32_t active : {0, 1000, 3200, 6400, 100000})
    for (float coef : {-9.99f, -0.3f, 0.0f, 0.3f, 9.99f}) {
      const float ref = control_step(test::cpu(), coef, active, 50, 64, additive);
      EXPECT_NEAR(control_step(test::cuda(), coef, active, 50, 64, additive), ref, 1e-6f * std::fabs(ref) + 1e-9f)
          << "additive, active " << active << " coef " << coef;
    }
  const SparsityControl control{0.05f, 1e-4f, 10.0f};
  for (std::optional<float> floor : {std::optional<float>(), std::optional<float>(0.25f),
                                     std::optional<float>(std::numeric_limits<float>::quiet_NaN())})
    for (std::int32_t active : {0, 1000, 3200, 6400, 100000})
      for (float coef : {1e-4f, 0.3f, 9.0f}) {
        const float ref = control_step(test::cpu(), coef, active, 50, 64, control, floor);
        const float got = control_step(test::cuda(), coef, active, 50, 64, control, floor);
        EXPECT_NEAR(got, ref, 1e-6f * std::fabs(ref) + 1e-9f)
            << "active " << active << " coef " << coef << " floor " << floor.value_or(-1.0f);
      }
}

}  // namespace
}  // namespace vsae
