// JumpReLU (a = z·H(z − θ), θ = exp(log_threshold)): the CPU twin against naive loops over a
// (B, W) table with zero, unit and random thresholds, ties with the jump, window edges, NaN and
// ±Inf; CUDA against the CPU twin with guard sentinels; finite differences of the true gradients;
// the straight-through threshold gradient on hand-built cases and against the derivative of the
// expected objective; determinism; and the op layer's argument errors.
#include <gtest/gtest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/ops/jumprelu.hpp"
#include "tests/kernels/sparsify_cases.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNan = std::numeric_limits<float>::quiet_NaN();

// A (B, W) case, named "B64_W500" in test names and seeded by test::seed_of (sparsify_cases.hpp).
using JumpCase = test::ShapeCase;

// (1, 1), one row, one column, odd sizes, the model's (B, W), a wide row, and a tall batch that the
// CUDA backward splits into 65 row ranges (its finish pass).
std::vector<JumpCase> shape_table() {
  return {{1, 1}, {1, 500}, {64, 1}, {7, 13}, {64, 500}, {3, 5000}, {4097, 7}};
}

// The op's θ, written out here as the oracle's own definition.
float theta_of(float log_threshold) {
  return static_cast<float>(std::exp(static_cast<double>(log_threshold)));
}

// ---- inputs and the naive oracle ----------------------------------------------------------------

struct JumpInputs {
  std::int64_t batch = 0, width = 0;
  std::vector<float> z_pre, bias, log_threshold, da, dz0, db0, dlog0;
  float bandwidth = 0.5f;
  std::int32_t k = 2;
  float lambda = 0.3f;
};

// Column j's threshold by j % 4: θ = 0 (log_threshold = −Inf), θ = 1, random θ in
// [e^−2, e^0.7], and θ = 1 again. Element (n, j) by (n + j) % 5: z ~ U(−2, 2); z = θ (a tie with
// the jump, exact where θ − b is); z = θ ± ε/2 (the window's edge, exact for θ ∈ {0, 1}); z inside
// the window; NaN, ±Inf or U(−2, 2). The bias is on a grid of halves, so z_pre + b is exact there.
JumpInputs make_inputs(std::int64_t batch, std::int64_t width, std::uint64_t seed,
                       float bandwidth = 0.5f) {
  JumpInputs in;
  in.batch = batch;
  in.width = width;
  in.bandwidth = bandwidth;
  const auto n_el = static_cast<std::size_t>(batch * width);
  const auto w = static_cast<std::size_t>(width);
  const std::vector<float> ub = test::random_uniform(w, -1.0f, 1.0f, seed);
  const std::vector<float> ut = test::random_uniform(w, -2.0f, 0.7f, seed + 1);
  const std::vector<float> uz = test::random_uniform(n_el, -1.0f, 1.0f, seed + 2);
  in.bias.resize(w);
  in.log_threshold.resize(w);
  for (std::size_t j = 0; j < w; ++j) {
    in.bias[j] = std::round(ub[j] * 2.0f) / 2.0f;
    in.log_threshold[j] = j % 4 == 0 ? -kInf : j % 4 == 2 ? ut[j] : 0.0f;
  }
  const float half = 0.5f * bandwidth;
  in.z_pre.resize(n_el);
  for (std::int64_t n = 0; n < batch; ++n)
    for (std::int64_t j = 0; j < width; ++j) {
      const auto i = static_cast<std::size_t>(n * width + j);
      const float b = in.bias[static_cast<std::size_t>(j)];
      const float theta = theta_of(in.log_threshold[static_cast<std::size_t>(j)]);
      float z = 2.0f * uz[i];
      switch ((n + j) % 5) {
        case 1:
          z = theta;
          break;
        case 2:
          z = theta + (n % 2 ? half : -half);
          break;
        case 3:
          z = theta + 0.9f * half * uz[i];
          break;
        case 4:
          z = j % 3 == 0 ? (n % 2 ? kNan : -kNan) : j % 3 == 1 ? (n % 2 ? kInf : -kInf) : z;
          break;
        default:
          break;
      }
      in.z_pre[i] = z - b;
    }
  in.da = test::random_normal(n_el, 1.0f, seed + 3);
  in.dz0 = test::random_normal(n_el, 1.0f, seed + 4);
  in.db0 = test::random_normal(w, 1.0f, seed + 5);
  in.dlog0 = test::random_normal(w, 1.0f, seed + 6);
  return in;
}

struct JumpOutputs {
  std::vector<float> a, dz, db, dlog;
  std::vector<std::int32_t> fire;
  std::int32_t active = 0;
  float loss = 0.0f;
  bool guards = true;
};

// The fire counters start at j % 3 (they accumulate); batch_active at −5 (overwritten).
std::vector<std::int32_t> fire_start(std::int64_t width) {
  std::vector<std::int32_t> f(static_cast<std::size_t>(width));
  for (std::size_t j = 0; j < f.size(); ++j) f[j] = static_cast<std::int32_t>(j % 3);
  return f;
}

// Naive loops in double: the forward, the loss and the backward with the sparsity term read from
// the counted batch_active (as the op is driven). scale[j]: the size of the terms of dlog[j], for
// its tolerance.
struct Oracle {
  JumpOutputs out;
  std::vector<double> dlog_scale;
  std::int64_t ties = 0, edges = 0, in_window = 0, l0 = 0;
};

Oracle naive(const JumpInputs& in, float eps, bool with_sparsity) {
  const std::int64_t B = in.batch, W = in.width;
  Oracle o;
  o.out.a.assign(in.z_pre.size(), 0.0f);
  o.out.fire = fire_start(W);
  o.out.dz = in.dz0;
  o.out.db = in.db0;
  o.out.dlog = in.dlog0;
  o.dlog_scale.assign(static_cast<std::size_t>(W), 0.0);
  std::int64_t active = 0;
  for (std::int64_t n = 0; n < B; ++n)
    for (std::int64_t j = 0; j < W; ++j) {
      const std::size_t i = static_cast<std::size_t>(n * W + j);
      const float z = in.z_pre[i] + in.bias[static_cast<std::size_t>(j)];
      const float theta = theta_of(in.log_threshold[static_cast<std::size_t>(j)]);
      float a = 0.0f;
      if (std::isnan(z))
        a = z;
      else if (z > theta)
        a = z;
      o.out.a[i] = a;
      if (a > eps) {
        ++o.out.fire[static_cast<std::size_t>(j)];
        ++active;
      }
      o.l0 += z > theta;
      o.ties += z == theta;
    }
  o.out.active = static_cast<std::int32_t>(active);
  const double l0 = B > 0 ? static_cast<double>(active) / static_cast<double>(B) : 0.0;
  const double k = in.k;
  o.out.loss = in.k > 0 ? static_cast<float>(in.lambda * (l0 / k - 1.0) * (l0 / k - 1.0)) : 0.0f;
  const double slope = with_sparsity && in.k > 0 ? in.lambda * 2.0 * (l0 / k - 1.0) / k : 0.0;
  const double eb = in.bandwidth;
  for (std::int64_t j = 0; j < W; ++j) {
    const std::size_t jj = static_cast<std::size_t>(j);
    const float theta = theta_of(in.log_threshold[jj]);
    double g_sum = 0.0, dtheta = 0.0, scale = 0.0;
    for (std::int64_t n = 0; n < B; ++n) {
      const std::size_t i = static_cast<std::size_t>(n * W + j);
      const float z = in.z_pre[i] + in.bias[jj];
      const float g = z > theta ? in.da[i] : 0.0f;
      o.out.dz[i] = in.dz0[i] + g;
      g_sum += g;
      const float u = z - theta;
      o.edges += std::fabs(u) == 0.5f * in.bandwidth;
      if (std::fabs(u) < 0.5f * in.bandwidth) {  // K((z − θ)/ε), open window
        ++o.in_window;
        dtheta += in.da[i] * (-theta / eb) + (1.0 / static_cast<double>(B)) * (-1.0 / eb) * slope;
        scale += std::fabs(in.da[i] * theta / eb) + std::fabs(slope / eb / static_cast<double>(B));
      }
    }
    o.out.db[jj] = static_cast<float>(in.db0[jj] + g_sum);
    o.out.dlog[jj] = static_cast<float>(in.dlog0[jj] + theta * dtheta);
    o.dlog_scale[jj] = theta * scale;
  }
  return o;
}

// ---- running the op ---------------------------------------------------------------------------

// The whole op on `be`: forward (counters with `eps`), loss, backward (the sparsity term from the
// forward's batch_active when with_sparsity).
JumpOutputs run_jumprelu(Backend& be, const JumpInputs& in, float eps, bool with_sparsity) {
  const Shape bw{in.batch, in.width}, w{in.width};
  test::GuardedTensor z(be, bw), b(be, w), lt(be, w), a(be, bw), fire(be, w, DType::i32),
      active(be, Shape{1}, DType::i32), k(be, Shape{1}, DType::i32), lambda(be, Shape{1}),
      loss(be, Shape{1}), da(be, bw), dz(be, bw), db(be, w), dlog(be, w);
  z.upload(in.z_pre);
  b.upload(in.bias);
  lt.upload(in.log_threshold);
  a.upload(std::vector<float>(in.z_pre.size(), 7.0f));
  fire.upload(fire_start(in.width));
  active.upload(std::vector<std::int32_t>{-5});
  k.upload(std::vector<std::int32_t>{in.k});
  lambda.upload(std::vector<float>{in.lambda});
  loss.upload(std::vector<float>{-1.0f});
  da.upload(in.da);
  dz.upload(in.dz0);
  db.upload(in.db0);
  dlog.upload(in.dlog0);
  jumprelu_prepare(be, in.batch, in.width);
  jumprelu_forward(be, z, b, lt, a, ActivityCounters{fire.tensor(), active.tensor(), eps});
  if (in.batch >= 1) jumprelu_sparsity_loss(be, active, in.batch, k, lambda, loss);
  const JumpReluSparsity sparsity =
      with_sparsity ? JumpReluSparsity{active.tensor(), k.tensor(), lambda.tensor()}
                    : JumpReluSparsity{};
  jumprelu_backward(be, z, b, lt, da, in.bandwidth, sparsity, dz, db, dlog);
  JumpOutputs out;
  out.a = a.download<float>();
  out.fire = fire.download<std::int32_t>();
  out.active = active.download<std::int32_t>()[0];
  out.loss = loss.download<float>()[0];
  out.dz = dz.download<float>();
  out.db = db.download<float>();
  out.dlog = dlog.download<float>();
  for (const test::GuardedTensor* g :
       {&z, &b, &lt, &a, &fire, &active, &k, &lambda, &loss, &da, &dz, &db, &dlog})
    out.guards &= g->guards_intact();
  return out;
}

// Column sums grow like √B; the backends add them in different orders (the CPU in double).
test::Tolerance db_tolerance(std::int64_t batch) {
  return {1e-6 * std::sqrt(static_cast<double>(batch)) + 1e-6, 1e-5};
}

::testing::AssertionResult dlog_close(const std::vector<float>& ref, const std::vector<float>& got,
                                      const std::vector<double>& scale, std::int64_t batch) {
  const double rel = 2e-6 * (std::sqrt(static_cast<double>(batch)) + 1.0);
  for (std::size_t j = 0; j < ref.size(); ++j) {
    const double limit = rel * (scale[j] + std::fabs(ref[j])) + 1e-6;
    if (!(std::fabs(static_cast<double>(got[j]) - ref[j]) <= limit))
      return ::testing::AssertionFailure() << "dlog_threshold[" << j << "]: ref " << ref[j]
                                           << " got " << got[j] << " (limit " << limit << ")";
  }
  return ::testing::AssertionSuccess();
}

void expect_matches(const Oracle& ref, const JumpOutputs& got, std::int64_t batch) {
  EXPECT_TRUE(got.guards) << "a guard was overwritten";
  EXPECT_TRUE(test::all_close(ref.out.a, got.a, {0.0, 0.0}, /*allow_nonfinite=*/true)) << "a";
  EXPECT_EQ(ref.out.fire, got.fire);
  EXPECT_EQ(ref.out.active, got.active);
  if (batch >= 1) {
    EXPECT_FLOAT_EQ(ref.out.loss, got.loss);
  }
  EXPECT_TRUE(test::all_close(ref.out.dz, got.dz, {0.0, 0.0})) << "dz_pre";
  EXPECT_TRUE(test::all_close(ref.out.db, got.db, db_tolerance(batch))) << "db_enc";
  EXPECT_TRUE(dlog_close(ref.out.dlog, got.dlog, ref.dlog_scale, batch));
}

bool bits_equal(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// ---- the CPU twin against naive loops -----------------------------------------------------------

class JumpReluCpu : public ::testing::TestWithParam<JumpCase> {};

TEST_P(JumpReluCpu, MatchesNaiveLoops) {
  const JumpCase c = GetParam();
  const JumpInputs in = make_inputs(c.batch, c.width, test::seed_of(c));
  for (float eps : {0.0f, 0.25f})
    for (bool with_sparsity : {true, false}) {
      SCOPED_TRACE(testing::Message() << "eps " << eps << (with_sparsity ? " with" : " without")
                                      << " the sparsity term");
      const Oracle ref = naive(in, eps, with_sparsity);
      expect_matches(ref, run_jumprelu(test::cpu(), in, eps, with_sparsity), c.batch);
      // With eps = 0 the counted a > 0 is the L0, #(z > θ), that the loss reads.
      if (eps == 0.0f) {
        EXPECT_EQ(ref.out.active, ref.l0);
      }
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, JumpReluCpu, ::testing::ValuesIn(shape_table()),
                         test::shape_case_name);

// The table's inputs do reach the hard cases: exact ties with the jump, entries exactly on the
// window's edge, and entries inside it.
TEST(JumpReluCpu, TableHitsTiesAndWindowEdges) {
  for (const JumpCase& c : shape_table()) {
    if (c.batch * c.width < 5) continue;
    SCOPED_TRACE(testing::PrintToString(c));
    const Oracle ref = naive(make_inputs(c.batch, c.width, test::seed_of(c)), 0.0f, true);
    EXPECT_GT(ref.ties, 0);
    EXPECT_GT(ref.edges, 0);
    EXPECT_GT(ref.in_window, 0);
  }
}

// θ = 1, ε = 0.5, b = 0, one row: entries inside the window (below, at and above the jump), on its
// edges, and outside. L0 = 3, k = 2, λ = 0.5: c = λ·2·(L0/k − 1)/k = 0.25 and L_s = 0.125.
TEST(JumpReluCpu, ThresholdGradientByHand) {
  const std::vector<float> z = {0.9f, 1.1f, 1.3f, 0.5f, 1.25f, 0.75f, 1.0f};
  const std::int64_t W = 7;
  JumpInputs in;
  in.batch = 1;
  in.width = W;
  in.z_pre = z;
  in.bias.assign(7, 0.0f);
  in.log_threshold.assign(7, 0.0f);
  in.da = {2.0f, 3.0f, 5.0f, 7.0f, 11.0f, 13.0f, 17.0f};
  in.dz0.assign(7, 0.0f);
  in.db0.assign(7, 0.0f);
  in.dlog0.assign(7, 0.25f);
  in.bandwidth = 0.5f;
  in.k = 2;
  in.lambda = 0.5f;
  const JumpOutputs out = run_jumprelu(test::cpu(), in, 0.0f, true);
  EXPECT_EQ(out.a, (std::vector<float>{0.0f, 1.1f, 1.3f, 0.0f, 1.25f, 0.0f, 0.0f}));
  EXPECT_EQ(out.active, 3);
  EXPECT_FLOAT_EQ(out.loss, 0.125f);
  // The true gradient passes where z > θ only (the tie z = θ is closed).
  EXPECT_EQ(out.dz, (std::vector<float>{0.0f, 3.0f, 5.0f, 0.0f, 11.0f, 0.0f, 0.0f}));
  EXPECT_EQ(out.db, out.dz);
  // Inside the window: dθ = da·(−θ/ε) − c/(B·ε) = −2·da − 0.5; the edges z = 0.75, 1.25 are out.
  const std::vector<float> expect = {0.25f - 4.5f, 0.25f - 6.5f, 0.25f,        0.25f,
                                     0.25f,        0.25f,        0.25f - 34.5f};
  for (std::int64_t j = 0; j < W; ++j) EXPECT_FLOAT_EQ(out.dlog[j], expect[j]) << j;
}

// One column, four rows: the sparsity term's 1/B and a negative slope (L0 = 0.5 below k = 1), and
// the θ-chain: dlog_threshold = θ·dθ with θ = e^(ln 2).
TEST(JumpReluCpu, ThresholdGradientAveragesRows) {
  JumpInputs in;
  in.batch = 4;
  in.width = 1;
  in.z_pre = {0.9f, 1.1f, 0.8f, 3.0f};
  in.bias = {0.0f};
  in.log_threshold = {0.0f};
  in.da = {1.0f, 2.0f, 4.0f, 8.0f};
  in.dz0.assign(4, 0.0f);
  in.db0 = {0.0f};
  in.dlog0 = {0.0f};
  in.bandwidth = 0.5f;
  in.k = 1;
  in.lambda = 1.0f;
  // Window: 0.9, 1.1, 0.8 (count 3); active: 1.1, 3.0 (L0 = 0.5); c = 2·(0.5 − 1) = −1.
  // dθ = −2·(1 + 2 + 4) − (−1)·3/(4·0.5) = −14 + 1.5.
  JumpOutputs out = run_jumprelu(test::cpu(), in, 0.0f, true);
  EXPECT_EQ(out.active, 2);
  EXPECT_FLOAT_EQ(out.dlog[0], -12.5f);
  EXPECT_FLOAT_EQ(out.db[0], 10.0f);
  // θ = 2 (log_threshold = ln 2), z shifted by 1: the same window, dlog = θ·dθ with θ/ε = 4.
  const float lt = std::log(2.0f);
  const float theta = theta_of(lt);
  in.log_threshold = {lt};
  in.z_pre = {theta - 0.1f, theta + 0.1f, theta - 0.2f, theta + 2.0f};
  out = run_jumprelu(test::cpu(), in, 0.0f, true);
  const double dtheta = -(theta / 0.5) * 7.0 + 1.5;
  EXPECT_NEAR(out.dlog[0], theta * dtheta, 1e-5 * std::fabs(theta * dtheta));
}

// θ = 0 (log_threshold = −Inf) is ReLU restricted to z > 0: z = −0 and 0 give 0, and the
// log-threshold gradient is 0 (θ·dθ with θ = 0), even with entries in the window.
TEST(JumpReluCpu, ZeroThresholdIsReluWithNoThresholdGradient) {
  JumpInputs in;
  in.batch = 5;
  in.width = 1;
  in.z_pre = {0.1f, -0.0f, 0.0f, -0.1f, 2.0f};
  in.bias = {0.0f};
  in.log_threshold = {-kInf};
  in.da = {1.0f, 2.0f, 4.0f, 8.0f, 16.0f};
  in.dz0.assign(5, 0.0f);
  in.db0 = {0.0f};
  in.dlog0 = {0.5f};
  in.bandwidth = 0.5f;
  const JumpOutputs out = run_jumprelu(test::cpu(), in, 0.0f, true);
  EXPECT_EQ(out.a, (std::vector<float>{0.1f, 0.0f, 0.0f, 0.0f, 2.0f}));
  EXPECT_EQ(out.active, 2);
  EXPECT_EQ(out.dz, (std::vector<float>{1.0f, 0.0f, 0.0f, 0.0f, 16.0f}));
  EXPECT_EQ(out.dlog[0], 0.5f);
}

// k <= 0 means no target: no loss and no sparsity gradient.
TEST(JumpReluCpu, NoTargetMeansNoSparsityTerm) {
  JumpInputs in = make_inputs(9, 12, 77);
  in.k = 0;
  const JumpOutputs with = run_jumprelu(test::cpu(), in, 0.0f, true);
  const JumpOutputs without = run_jumprelu(test::cpu(), in, 0.0f, false);
  EXPECT_EQ(with.loss, 0.0f);
  EXPECT_TRUE(bits_equal(with.dlog, without.dlog));
  EXPECT_TRUE(bits_equal(with.dz, without.dz));
}

// NaN z passes through to a, never fires, and gets no gradient; the other columns are untouched.
TEST(JumpReluCpu, NanPassesThroughAndStaysInItsElement) {
  JumpInputs in = make_inputs(6, 10, 78);
  for (float& z : in.z_pre)
    if (std::isnan(z)) z = 0.5f;  // only the NaN placed below
  in.z_pre[2 * 10 + 3] = kNan;
  const JumpOutputs ref = run_jumprelu(test::cpu(), in, 0.0f, true);
  for (std::size_t i = 0; i < ref.a.size(); ++i) EXPECT_EQ(std::isnan(ref.a[i]), i == 23) << i;
  EXPECT_EQ(ref.dz[23], in.dz0[23]);
  for (float v : ref.dz) EXPECT_FALSE(std::isnan(v));
  for (float v : ref.db) EXPECT_FALSE(std::isnan(v));
  for (float v : ref.dlog) EXPECT_FALSE(std::isnan(v));
}

TEST(JumpReluCpu, EmptyBatchCountsNothing) {
  JumpInputs in;
  in.batch = 0;
  in.width = 3;
  in.bias = {0.5f, -1.0f, 2.0f};
  in.log_threshold = {0.0f, -kInf, 1.0f};
  in.db0 = {1.0f, 2.0f, 3.0f};
  in.dlog0 = {4.0f, 5.0f, 6.0f};
  const JumpOutputs out = run_jumprelu(test::cpu(), in, 0.0f, true);
  EXPECT_EQ(out.active, 0);
  EXPECT_EQ(out.fire, (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(out.db, in.db0);
  EXPECT_EQ(out.dlog, in.dlog0);
  EXPECT_TRUE(out.guards);
}

// Each column's sums run in row order: the same bits for any number of threads.
TEST(JumpReluCpu, DoesNotDependOnThreadCount) {
#ifdef _OPENMP
  const JumpInputs in = make_inputs(256, 500, 79);  // above the threading threshold
  const auto run = [&](int threads) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    const JumpOutputs out = run_jumprelu(test::cpu(), in, 0.0f, true);
    omp_set_num_threads(before);
    return out;
  };
  const JumpOutputs one = run(1), three = run(3);
  EXPECT_TRUE(bits_equal(one.a, three.a));
  EXPECT_EQ(one.fire, three.fire);
  EXPECT_EQ(one.active, three.active);
  EXPECT_TRUE(bits_equal(one.dz, three.dz));
  EXPECT_TRUE(bits_equal(one.db, three.db));
  EXPECT_TRUE(bits_equal(one.dlog, three.dlog));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// ---- finite differences of the true gradients ---------------------------------------------------

// L = Σ w·a with every z at least 0.05 from its θ (and from 0), so the ±1e-3 probes never cross
// the jump; dz_pre and db_enc start at zero and must hold this loss's gradients. The sparsity
// term does not reach them.
TEST(JumpReluGradCheck, TrueGradientsMatchFiniteDifferences) {
  Backend& be = test::cpu();
  const std::int64_t batch = 6, width = 70;  // two of the CPU twin's column blocks
  const auto n_el = static_cast<std::size_t>(batch * width);
  const Shape shape{batch, width}, w{width};
  std::vector<float> bias = test::random_uniform(static_cast<std::size_t>(width), -0.5f, 0.5f, 80);
  std::vector<float> lt(static_cast<std::size_t>(width));
  const std::vector<float> ut = test::random_uniform(lt.size(), -2.0f, 0.7f, 81);
  for (std::size_t j = 0; j < lt.size(); ++j) lt[j] = j % 3 == 0 ? -kInf : ut[j];
  std::vector<float> z_pre(n_el);
  const std::vector<float> u = test::random_uniform(n_el, -1.0f, 1.0f, 82);
  for (std::size_t i = 0; i < n_el; ++i) {
    const std::size_t j = i % static_cast<std::size_t>(width);
    const float theta = theta_of(lt[j]);
    z_pre[i] = theta + (u[i] < 0 ? 2.0f * u[i] - 0.05f : 2.0f * u[i] + 0.05f) - bias[j];
  }
  const std::vector<float> weights = test::random_uniform(n_el, -1.0f, 1.0f, 83);
  std::vector<float> a(n_el);
  const auto loss = [&] {
    jumprelu_forward(be, test::host_view(z_pre, shape), test::host_view(bias, w),
                     test::host_view(lt, w), test::host_view(a, shape), ActivityCounters{});
    return test::weighted_sum(a, weights);
  };
  loss();
  std::int32_t active_value = 0, k_value = 3;
  float lambda_value = 0.7f;
  jumprelu_forward(
      be, test::host_view(z_pre, shape), test::host_view(bias, w), test::host_view(lt, w),
      test::host_view(a, shape),
      ActivityCounters{Tensor(), Tensor(&active_value, Shape{1}, DType::i32, Device::cpu), 0.0f});
  const JumpReluSparsity sparsity{Tensor(&active_value, Shape{1}, DType::i32, Device::cpu),
                                  Tensor(&k_value, Shape{1}, DType::i32, Device::cpu),
                                  Tensor(&lambda_value, Shape{1}, DType::f32, Device::cpu)};
  std::vector<float> da = weights, dz(n_el, 0.0f), db(static_cast<std::size_t>(width), 0.0f),
                     dlog(static_cast<std::size_t>(width), 0.0f);
  jumprelu_backward(be, test::host_view(z_pre, shape), test::host_view(bias, w),
                    test::host_view(lt, w), test::host_view(da, shape), 0.01f, sparsity,
                    test::host_view(dz, shape), test::host_view(db, w), test::host_view(dlog, w));
  const test::GradCheckOptions options{1e-3, 1e-3, 1e-3, 200};
  EXPECT_TRUE(test::check_gradient(loss, z_pre, dz, "dz_pre", options));
  EXPECT_TRUE(test::check_gradient(loss, bias, db, "db_enc", options));
}

// ---- the straight-through threshold gradient against the expected objective ---------------------

// z_j ~ U(θ_j − 1, θ_j + 1), density p = 1/2 at θ_j, over B = 20000 rows: E[L0] has
// ∂E[L0]/∂θ_j = −p(θ_j) and E[a_j] has ∂E[a_j]/∂θ_j = −θ_j·p(θ_j). Each STE estimate is a mean of
// B draws of −(1/ε)·K (times θ), of standard deviation √(q(1 − q)/B)/ε with q = p·ε; the test
// allows 5 of them.
struct StatSetup {
  std::int64_t batch = 20000, width = 4;
  float bandwidth = 0.2f;
  std::vector<float> z_pre, bias, lt, theta;
};

StatSetup stat_setup() {
  StatSetup s;
  const auto n_el = static_cast<std::size_t>(s.batch * s.width);
  s.bias.assign(static_cast<std::size_t>(s.width), 0.0f);
  for (float t : {0.5f, 1.0f, 2.0f, 3.0f}) {
    s.lt.push_back(std::log(t));
    s.theta.push_back(theta_of(s.lt.back()));
  }
  const std::vector<float> u = test::random_uniform(n_el, -1.0f, 1.0f, 90);
  s.z_pre.resize(n_el);
  for (std::size_t i = 0; i < n_el; ++i) s.z_pre[i] = s.theta[i % 4] + u[i];
  return s;
}

double ste_sigma(const StatSetup& s) {
  const double q = 0.5 * s.bandwidth;
  return std::sqrt(q * (1.0 - q) / static_cast<double>(s.batch)) / s.bandwidth;
}

// dlog_threshold of one backward pass on the CPU from zero.
std::vector<float> stat_backward(StatSetup& s, std::vector<float> da,
                                 const JumpReluSparsity& sparsity) {
  const Shape shape{s.batch, s.width}, w{s.width};
  std::vector<float> dz(da.size(), 0.0f), db(s.bias.size(), 0.0f), dlog(s.bias.size(), 0.0f);
  jumprelu_backward(test::cpu(), test::host_view(s.z_pre, shape), test::host_view(s.bias, w),
                    test::host_view(s.lt, w), test::host_view(da, shape), s.bandwidth, sparsity,
                    test::host_view(dz, shape), test::host_view(db, w), test::host_view(dlog, w));
  return dlog;
}

// Per-column #(z > θ') from the forward's fire counts, with log_threshold = log θ'.
std::vector<std::int32_t> fire_counts(StatSetup& s, const std::vector<float>& thresholds) {
  const Shape shape{s.batch, s.width}, w{s.width};
  std::vector<float> lt(thresholds.size()), a(s.z_pre.size());
  for (std::size_t j = 0; j < lt.size(); ++j) lt[j] = std::log(thresholds[j]);
  std::vector<std::int32_t> fire(thresholds.size(), 0);
  jumprelu_forward(test::cpu(), test::host_view(s.z_pre, shape), test::host_view(s.bias, w),
                   test::host_view(lt, w), test::host_view(a, shape),
                   ActivityCounters{test::host_view(fire, w), Tensor(), 0.0f});
  return fire;
}

TEST(JumpReluPseudoGradient, L0EstimateMatchesDensity) {
  StatSetup s = stat_setup();
  // c = λ·2·(L0/k − 1)/k = 1 with L0 = 2, k = 1, λ = 1/2 (batch_active given, not counted), and
  // da = 0: dθ_j is the STE estimate of ∂L0/∂θ_j.
  std::int32_t active = static_cast<std::int32_t>(2 * s.batch), k = 1;
  float lambda = 0.5f;
  const JumpReluSparsity sparsity{Tensor(&active, Shape{1}, DType::i32, Device::cpu),
                                  Tensor(&k, Shape{1}, DType::i32, Device::cpu),
                                  Tensor(&lambda, Shape{1}, DType::f32, Device::cpu)};
  const std::vector<float> dlog =
      stat_backward(s, std::vector<float>(s.z_pre.size(), 0.0f), sparsity);
  const double h = 0.5 * s.bandwidth;
  std::vector<float> up(s.theta), down(s.theta);
  for (std::size_t j = 0; j < up.size(); ++j) {
    up[j] = static_cast<float>(s.theta[j] + h);
    down[j] = static_cast<float>(s.theta[j] - h);
  }
  const std::vector<std::int32_t> fire_up = fire_counts(s, up), fire_down = fire_counts(s, down);
  for (std::size_t j = 0; j < s.theta.size(); ++j) {
    const double ste = dlog[j] / s.theta[j];
    EXPECT_NEAR(ste, -0.5, 5.0 * ste_sigma(s)) << "θ = " << s.theta[j];
    // The central difference of the sample's own L0 with step ε/2 counts the same window (up to
    // draws within an ulp of its edges).
    const double fd = (fire_up[j] - fire_down[j]) / (static_cast<double>(s.batch) * 2.0 * h);
    EXPECT_NEAR(ste, fd, 2.0 / (static_cast<double>(s.batch) * s.bandwidth))
        << "θ = " << s.theta[j];
  }
}

TEST(JumpReluPseudoGradient, ActivationEstimateMatchesDensity) {
  StatSetup s = stat_setup();
  // da = 1/B: dθ_j estimates ∂E[a_j]/∂θ_j = −θ_j·p(θ_j).
  const std::vector<float> dlog =
      stat_backward(s, std::vector<float>(s.z_pre.size(), 1.0f / static_cast<float>(s.batch)),
                    JumpReluSparsity{});
  for (std::size_t j = 0; j < s.theta.size(); ++j) {
    const double ste = dlog[j] / s.theta[j];
    EXPECT_NEAR(ste, -0.5 * s.theta[j], 5.0 * s.theta[j] * ste_sigma(s)) << "θ = " << s.theta[j];
  }
}

// ---- op-layer errors --------------------------------------------------------------------------

template <class F>
void expect_error(F call, const std::string& text) {
  try {
    call();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

struct ErrorArgs {
  std::vector<float> buf = std::vector<float>(64, 0.0f);
  std::vector<std::int32_t> ibuf = std::vector<std::int32_t>(8, 1);
  Tensor t(Shape s, DType d = DType::f32, Device dev = Device::cpu) {
    return Tensor(d == DType::i32 ? static_cast<void*>(ibuf.data()) : buf.data(), s, d, dev);
  }
};

TEST(JumpReluErrors, ForwardRejectsBadArguments) {
  Backend& be = test::cpu();
  ErrorArgs x;
  const Tensor z = x.t({2, 4}), v = x.t({4});
  const auto fwd = [&](const Tensor& zz, const Tensor& b, const Tensor& lt, const Tensor& a,
                       ActivityCounters counters = {}) {
    jumprelu_forward(be, zz, b, lt, a, counters);
  };
  expect_error([&] { fwd(z, x.t({5}), v, z); }, "jumprelu_forward: b_enc is (5), expected (4)");
  expect_error([&] { fwd(z, v, x.t({3}), z); },
               "jumprelu_forward: log_threshold is (3), expected (4)");
  expect_error([&] { fwd(z, v, v, x.t({4, 2})); }, "jumprelu_forward: a is (4, 2)");
  expect_error([&] { fwd(x.t({8}), v, v, x.t({8})); }, "jumprelu_forward: z_pre must be (B, W)");
  expect_error([&] { fwd(z, v, Tensor{}, z); }, "jumprelu_forward: log_threshold is not allocated");
  expect_error(
      [&] {
        fwd(x.t({2, 4}, DType::f32, Device::cuda), v, v, z);
      },
      "jumprelu_forward: z_pre is on cuda");
  expect_error([&] { fwd(z, v, x.t({4}, DType::f32, Device::cuda), z); },
               "jumprelu_forward: log_threshold is on cuda");
  expect_error([&] { fwd(z, x.t({4}, DType::i32), v, z); },
               "jumprelu_forward: b_enc has dtype i32");
  expect_error([&] { fwd(z, v, v, x.t({2, 4}, DType::i32)); }, "jumprelu_forward: a has dtype i32");
  expect_error(
      [&] {
        fwd(z, v, v, z, ActivityCounters{x.t({3}, DType::i32), Tensor(), 0.0f});
      },
      "jumprelu_forward: fire_count is (3), expected (4)");
  expect_error(
      [&] {
        fwd(z, v, v, z, ActivityCounters{Tensor(), Tensor(), -1.0f});
      },
      "jumprelu_forward: counting threshold eps must be >= 0");
}

TEST(JumpReluErrors, SparsityLossRejectsBadArguments) {
  Backend& be = test::cpu();
  ErrorArgs x;
  const Tensor i1 = x.t({1}, DType::i32), f1 = x.t({1});
  expect_error([&] { jumprelu_sparsity_loss(be, i1, 0, i1, f1, f1); },
               "jumprelu_sparsity_loss: batch_rows must be >= 1");
  expect_error([&] { jumprelu_sparsity_loss(be, f1, 4, i1, f1, f1); },
               "jumprelu_sparsity_loss: batch_active has dtype f32");
  expect_error([&] { jumprelu_sparsity_loss(be, i1, 4, x.t({2}, DType::i32), f1, f1); },
               "jumprelu_sparsity_loss: k_target is (2), expected (1)");
  expect_error([&] { jumprelu_sparsity_loss(be, i1, 4, i1, i1, f1); },
               "jumprelu_sparsity_loss: lambda has dtype i32");
  expect_error([&] { jumprelu_sparsity_loss(be, i1, 4, i1, f1, Tensor{}); },
               "jumprelu_sparsity_loss: loss is not allocated");
  expect_error(
      [&] { jumprelu_sparsity_loss(be, i1, 4, i1, x.t({1}, DType::f32, Device::cuda), f1); },
      "jumprelu_sparsity_loss: lambda is on cuda");
}

TEST(JumpReluErrors, BackwardRejectsBadArguments) {
  Backend& be = test::cpu();
  ErrorArgs x;
  const Tensor z = x.t({2, 4}), v = x.t({4}), i1 = x.t({1}, DType::i32), f1 = x.t({1});
  const JumpReluSparsity none{}, full{i1, i1, f1};
  const auto bwd = [&](float eps, const JumpReluSparsity& s, const Tensor& da, const Tensor& dz,
                       const Tensor& db, const Tensor& dlog) {
    jumprelu_backward(be, z, v, v, da, eps, s, dz, db, dlog);
  };
  for (float eps : {0.0f, -0.1f, kInf, kNan})
    expect_error([&] { bwd(eps, none, z, z, v, v); },
                 "jumprelu_backward: bandwidth must be finite and > 0");
  expect_error([&] { bwd(0.1f, none, x.t({4, 2}), z, v, v); }, "jumprelu_backward: da is (4, 2)");
  expect_error(
      [&] {
        bwd(0.1f, none, z, x.t({2, 5}), v, v);
      },
      "jumprelu_backward: dz_pre is (2, 5)");
  expect_error([&] { bwd(0.1f, none, z, z, x.t({3}), v); },
               "jumprelu_backward: db_enc is (3), expected (4)");
  expect_error([&] { bwd(0.1f, none, z, z, v, x.t({5})); },
               "jumprelu_backward: dlog_threshold is (5), expected (4)");
  expect_error([&] { bwd(0.1f, none, z, z, v, x.t({4}, DType::i32)); },
               "jumprelu_backward: dlog_threshold has dtype i32");
  expect_error([&] { bwd(0.1f, none, z, z, x.t({4}, DType::f32, Device::cuda), v); },
               "jumprelu_backward: db_enc is on cuda");
  expect_error(
      [&] {
        bwd(0.1f, JumpReluSparsity{Tensor(), i1, f1}, z, z, v, v);
      },
      "jumprelu_backward: batch_active is not allocated");
  expect_error(
      [&] {
        bwd(0.1f, JumpReluSparsity{i1, i1, x.t({2})}, z, z, v, v);
      },
      "jumprelu_backward: lambda is (2), expected (1)");
  expect_error(
      [&] {
        bwd(0.1f, JumpReluSparsity{i1, f1, f1}, z, z, v, v);
      },
      "jumprelu_backward: k_target has dtype f32");
  expect_error([&] { jumprelu_backward(be, z, x.t({3}), v, z, 0.1f, full, z, v, v); },
               "jumprelu_backward: b_enc is (3), expected (4)");
  expect_error([&] { jumprelu_backward(be, x.t({8}), v, v, z, 0.1f, full, z, v, v); },
               "jumprelu_backward: z_pre must be (B, W)");
  expect_error([&] { jumprelu_prepare(be, -1, 4); }, "jumprelu_prepare: bad size");
}

// ---- CUDA against the CPU twin ----------------------------------------------------------------

class JumpReluBackends : public ::testing::TestWithParam<JumpCase> {};

TEST_P(JumpReluBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA();
  const JumpCase c = GetParam();
  for (float bandwidth : {0.5f, 1e-3f}) {
    const JumpInputs in = make_inputs(c.batch, c.width, test::seed_of(c), bandwidth);
    for (float eps : {0.0f, 0.25f})
      for (bool with_sparsity : {true, false}) {
        SCOPED_TRACE(testing::Message()
                     << "ε " << bandwidth << " eps " << eps
                     << (with_sparsity ? " with" : " without") << " the sparsity term");
        const JumpOutputs cpu = run_jumprelu(test::cpu(), in, eps, with_sparsity);
        const JumpOutputs gpu = run_jumprelu(test::cuda(), in, eps, with_sparsity);
        // The CPU result, checked against the oracle in JumpReluCpu, carries the oracle's scales.
        Oracle ref = naive(in, eps, with_sparsity);
        ref.out = cpu;
        expect_matches(ref, gpu, c.batch);
      }
  }
}

INSTANTIATE_TEST_SUITE_P(Table, JumpReluBackends, ::testing::ValuesIn(shape_table()),
                         test::shape_case_name);

// The pseudo-gradient's statistics on CUDA: the same window counts as on the CPU.
TEST(JumpReluBackends, CudaMatchesCpuOnWideBatch) {
  VSAE_REQUIRE_CUDA();
  JumpInputs in = make_inputs(20000, 4, 91, 0.2f);
  const JumpOutputs cpu = run_jumprelu(test::cpu(), in, 0.0f, true);
  const JumpOutputs gpu = run_jumprelu(test::cuda(), in, 0.0f, true);
  Oracle ref = naive(in, 0.0f, true);
  ref.out = cpu;
  expect_matches(ref, gpu, in.batch);
}

// No target (k = 0): a zero loss and no sparsity gradient on CUDA too.
TEST(JumpReluBackends, CudaNoTarget) {
  VSAE_REQUIRE_CUDA();
  JumpInputs in = make_inputs(300, 37, 92);
  in.k = 0;
  const JumpOutputs cpu = run_jumprelu(test::cpu(), in, 0.0f, true);
  const JumpOutputs gpu = run_jumprelu(test::cuda(), in, 0.0f, true);
  EXPECT_EQ(gpu.loss, 0.0f);
  Oracle ref = naive(in, 0.0f, true);
  ref.out = cpu;
  expect_matches(ref, gpu, in.batch);
}

TEST(JumpReluBackends, CudaEmptyBatch) {
  VSAE_REQUIRE_CUDA();
  JumpInputs in;
  in.batch = 0;
  in.width = 3;
  in.bias = {0.5f, -1.0f, 2.0f};
  in.log_threshold = {0.0f, -kInf, 1.0f};
  in.db0 = {1.0f, 2.0f, 3.0f};
  in.dlog0 = {4.0f, 5.0f, 6.0f};
  const JumpOutputs out = run_jumprelu(test::cuda(), in, 0.0f, true);
  EXPECT_EQ(out.active, 0);
  EXPECT_EQ(out.fire, (std::vector<std::int32_t>{0, 1, 2}));
  EXPECT_EQ(out.db, in.db0);
  EXPECT_EQ(out.dlog, in.dlog0);
  EXPECT_TRUE(out.guards);
}

// Row splits meet in a fixed order and counts use integer atomics: every output is the same bits
// run to run (NaN and ±Inf inputs included).
TEST(JumpReluBackends, CudaIsBitwiseReproducible) {
  VSAE_REQUIRE_CUDA();
  for (const JumpCase c : {JumpCase{64, 500}, JumpCase{4097, 256}}) {
    SCOPED_TRACE(testing::PrintToString(c));
    const JumpInputs in = make_inputs(c.batch, c.width, test::seed_of(c));
    const JumpOutputs first = run_jumprelu(test::cuda(), in, 0.0f, true);
    const JumpOutputs second = run_jumprelu(test::cuda(), in, 0.0f, true);
    EXPECT_TRUE(first.guards && second.guards);
    EXPECT_TRUE(bits_equal(first.a, second.a));
    EXPECT_EQ(first.fire, second.fire);
    EXPECT_EQ(first.active, second.active);
    EXPECT_EQ(first.loss, second.loss);
    EXPECT_TRUE(bits_equal(first.dz, second.dz));
    EXPECT_TRUE(bits_equal(first.db, second.db));
    EXPECT_TRUE(bits_equal(first.dlog, second.dlog));
  }
}

}  // namespace
}  // namespace vsae
