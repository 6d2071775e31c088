// Loss terms (BCE with logits, KL, MSE): CUDA against the CPU twin over a shape table, the CPU twin
// against double-precision formulas, and finite-difference checks of every gradient.
#include <gtest/gtest.h>

#include <cmath>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/losses.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace vsae {
namespace {

constexpr float kWeight = 0.7f;

enum class LossKind { bce, kl, mse };

struct LossCase {
  LossKind kind;
  std::int64_t n, c, h, w;  // KL and MSE use (N, C)

  Shape shape() const { return kind == LossKind::bce ? Shape{n, c, h, w} : Shape{n, c}; }
  std::string name() const {
    const char* kinds[] = {"bce", "kl", "mse"};
    std::string s = std::string(kinds[static_cast<int>(kind)]) + "_N" + std::to_string(n) + "_C" +
                    std::to_string(c);
    return kind == LossKind::bce ? s + "_" + std::to_string(h) + "x" + std::to_string(w) : s;
  }
};

// gtest prints parameters with this (the ctest names stay readable).
void PrintTo(const LossCase& c, std::ostream* os) {
  *os << c.name();
}

std::vector<LossCase> backend_cases() {
  std::vector<LossCase> cases;
  for (std::int64_t n : {1, 3, 64}) {
    for (std::int64_t c : {1, 3})
      for (std::int64_t hw : {1, 7, 64})
        cases.push_back({LossKind::bce, n, c, hw, hw == 7 ? 5 : hw});
    for (std::int64_t l : {1, 10, 500}) cases.push_back({LossKind::kl, n, l, 1, 1});
    for (std::int64_t w : {1, 7, 256, 500}) cases.push_back({LossKind::mse, n, w, 1, 1});
  }
  return cases;
}

// Logits spanning the stable formula's branches, with a few saturated values.
std::vector<float> bce_logits(std::size_t count, std::uint64_t seed) {
  std::vector<float> l = test::random_uniform(count, -20.0f, 20.0f, seed);
  for (std::size_t i = 0; i < count; i += 17) l[i] = i % 2 ? 100.0f : -100.0f;
  return l;
}

// Runs forward and backward of one loss on `be`; x, y are its two inputs, dx, dy their gradients.
void run_loss(Backend& be, LossKind kind, const Tensor& x, const Tensor& y, const Tensor& weight,
              const Tensor& loss, const Tensor& dx, const Tensor& dy) {
  switch (kind) {
    case LossKind::bce:
      bce_logits_forward(be, x, y, loss);
      bce_logits_backward(be, x, y, weight, dx);
      break;
    case LossKind::kl:
      kl_forward(be, x, y, loss);
      kl_backward(be, x, y, weight, dx, dy);
      break;
    case LossKind::mse:
      mse_forward(be, x, y, loss);
      mse_backward(be, x, y, weight, dx, dy);
      break;
  }
}

class LossBackends : public ::testing::TestWithParam<LossCase> {};

TEST_P(LossBackends, ForwardAndBackwardMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const LossCase tc = GetParam();
  SCOPED_TRACE(tc.name());
  const Shape shape = tc.shape();
  const auto numel = static_cast<std::size_t>(shape.numel());
  std::vector<float> x_host, y_host;
  switch (tc.kind) {
    case LossKind::bce:
      x_host = bce_logits(numel, 1);
      y_host = test::random_uniform(numel, 0.0f, 1.0f, 2);
      break;
    case LossKind::kl:
      x_host = test::random_normal(numel, 1.0f, 1);
      y_host = test::random_uniform(numel, -5.0f, 3.0f, 2);
      break;
    case LossKind::mse:
      x_host = test::random_normal(numel, 1.0f, 1);
      y_host = test::random_normal(numel, 1.0f, 2);
      break;
  }
  test::TwinTensor x(shape, x_host), y(shape, y_host);
  test::TwinTensor weight(Shape{1}, std::vector<float>{kWeight});
  test::TwinTensor loss(Shape{1}, std::vector<float>{-1.0f});
  test::TwinTensor dx(shape, test::random_normal(numel, 1.0f, 3));
  test::TwinTensor dy(shape, test::random_normal(numel, 1.0f, 4));

  for (Backend* be : {&test::cpu(), &test::cuda()})
    run_loss(*be, tc.kind, x.on(*be), y.on(*be), weight.on(*be), loss.on(*be), dx.on(*be),
             dy.on(*be));
  EXPECT_TRUE(test::twins_match(loss, {1e-6, 2e-6})) << "loss";
  EXPECT_TRUE(test::twins_match(dx, {1e-6, 1e-5})) << "dx";
  EXPECT_TRUE(test::twins_match(dy, {1e-6, 1e-5})) << "dy";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LossBackends, ::testing::ValuesIn(backend_cases()),
                         [](const ::testing::TestParamInfo<LossCase>& tp) {
                           return tp.param.name();
                         });

TEST(LossBackends, ForwardIsBitwiseReproducible) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{64, 3, 64, 64};
  const auto numel = static_cast<std::size_t>(shape.numel());
  test::GuardedTensor logits(test::cuda(), shape), target(test::cuda(), shape),
      loss(test::cuda(), Shape{1});
  logits.upload(bce_logits(numel, 5));
  target.upload(test::random_uniform(numel, 0.0f, 1.0f, 6));
  bce_logits_forward(test::cuda(), logits, target, loss);
  const std::vector<float> first = loss.download<float>();
  bce_logits_forward(test::cuda(), logits, target, loss);
  EXPECT_EQ(first, loss.download<float>());
}

TEST(LossBackends, UndefinedGradientsAreSkipped) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{3, 10};
  test::TwinTensor a(shape, test::random_normal(30, 1.0f, 7)),
      b(shape, test::random_normal(30, 1.0f, 8));
  test::TwinTensor weight(Shape{1}, std::vector<float>{kWeight});
  test::TwinTensor da(shape, test::random_normal(30, 1.0f, 9)),
      db(shape, test::random_normal(30, 1.0f, 10));
  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    mse_backward(*be, a.on(*be), b.on(*be), weight.on(*be), Tensor{}, db.on(*be));
    kl_backward(*be, a.on(*be), b.on(*be), weight.on(*be), da.on(*be), Tensor{});
    bce_logits_backward(*be, a.on(*be), b.on(*be), weight.on(*be), Tensor{});
  }
  EXPECT_TRUE(test::twins_match(da, {1e-6, 1e-5}));
  EXPECT_TRUE(test::twins_match(db, {1e-6, 1e-5}));
}

// ---- CPU twin against double-precision formulas -----------------------------------------------

double log_sigmoid(double x) {
  return x < 0.0 ? x - std::log1p(std::exp(x)) : -std::log1p(std::exp(-x));
}

float cpu_loss(LossKind kind, std::vector<float>& x, std::vector<float>& y, Shape shape) {
  std::vector<float> loss{-1.0f};
  const Tensor xt = test::host_view(x, shape), yt = test::host_view(y, shape),
               lt = test::host_view(loss, {1});
  switch (kind) {
    case LossKind::bce:
      bce_logits_forward(test::cpu(), xt, yt, lt);
      break;
    case LossKind::kl:
      kl_forward(test::cpu(), xt, yt, lt);
      break;
    case LossKind::mse:
      mse_forward(test::cpu(), xt, yt, lt);
      break;
  }
  return loss[0];
}

TEST(LossesCpu, BceMatchesLogSigmoidFormula) {
  const Shape shape{4, 2, 3, 5};
  const std::int64_t count = shape.numel();
  std::vector<float> logits = test::random_uniform(count, -30.0f, 30.0f, 20),
                     target = test::random_uniform(count, 0.0f, 1.0f, 21);
  const float extremes[] = {100.0f, -100.0f, 0.0f, 1e-4f, -1e-4f, 88.0f, -88.0f};
  for (std::size_t i = 0; i < std::size(extremes); ++i) logits[i * 11] = extremes[i];
  target[0] = 0.0f;  // l = +100, t = 0: a loss of 100, not inf
  target[11] = 1.0f;
  double ref = 0.0;
  for (std::int64_t i = 0; i < count; ++i)
    ref -= target[i] * log_sigmoid(logits[i]) +
           (1.0 - target[i]) * log_sigmoid(-static_cast<double>(logits[i]));
  ref /= static_cast<double>(shape[0]);
  const float got = cpu_loss(LossKind::bce, logits, target, shape);
  ASSERT_TRUE(std::isfinite(got));
  EXPECT_NEAR(got, ref, 1e-6 * std::fabs(ref));

  // Each extreme logit alone: finite and exact where the true loss is tiny.
  for (float l : {100.0f, -100.0f}) {
    for (float t : {0.0f, 1.0f}) {
      std::vector<float> one_l{l}, one_t{t};
      const double expect =
          -(t * log_sigmoid(l) + (1.0 - t) * log_sigmoid(-static_cast<double>(l)));
      EXPECT_NEAR(cpu_loss(LossKind::bce, one_l, one_t, {1}), expect, 1e-6 * (1.0 + expect))
          << l << " " << t;
    }
  }
}

TEST(LossesCpu, KlAndMseMatchFormulas) {
  const Shape shape{5, 10};
  const std::int64_t count = shape.numel();
  std::vector<float> mu = test::random_normal(count, 1.0f, 22),
                     logvar = test::random_uniform(count, -6.0f, 4.0f, 23);
  double kl = 0.0, mse = 0.0;
  for (std::int64_t i = 0; i < count; ++i) {
    kl += 0.5 * (static_cast<double>(mu[i]) * mu[i] + std::exp(static_cast<double>(logvar[i])) -
                 logvar[i] - 1.0);
    mse += (static_cast<double>(mu[i]) - logvar[i]) * (static_cast<double>(mu[i]) - logvar[i]);
  }
  EXPECT_NEAR(cpu_loss(LossKind::kl, mu, logvar, shape), kl / 5.0, 1e-6 * kl / 5.0);
  EXPECT_NEAR(cpu_loss(LossKind::mse, mu, logvar, shape), mse / 5.0, 1e-6 * mse / 5.0);
}

TEST(LossesCpu, LargeSumsStayAccurate) {
  // 2^22 equal terms: a float accumulator would drift by percent; double accumulation does not.
  const Shape shape{4, 1 << 20};
  std::vector<float> a(static_cast<std::size_t>(shape.numel()), 0.1f), b(a.size(), 0.0f);
  const double term = static_cast<double>(0.1f) * static_cast<double>(0.1f);
  const double expect = term * static_cast<double>(a.size()) / 4.0;
  EXPECT_NEAR(cpu_loss(LossKind::mse, a, b, shape), expect, 1e-6 * expect);
}

TEST(LossesCpu, SumsDoNotDependOnThreadCount) {
#ifdef _OPENMP
  const Shape shape{64, 1, 64, 64};
  std::vector<float> logits = bce_logits(static_cast<std::size_t>(shape.numel()), 24);
  std::vector<float> target = test::random_uniform(logits.size(), 0.0f, 1.0f, 25);
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const float one = cpu_loss(LossKind::bce, logits, target, shape);
  omp_set_num_threads(3);
  const float three = cpu_loss(LossKind::bce, logits, target, shape);
  omp_set_num_threads(threads);
  EXPECT_EQ(one, three);
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

TEST(LossesCpu, BackwardAccumulatesWeightedGradients) {
  const Shape shape{2, 6};
  const std::int64_t count = shape.numel(), n = shape[0];
  std::vector<float> x = test::random_uniform(count, -50.0f, 50.0f, 26),
                     y = test::random_uniform(count, 0.0f, 1.0f, 27);
  x[0] = 100.0f;
  x[1] = -100.0f;
  std::vector<float> weight{kWeight};
  const std::vector<float> g0 = test::random_normal(count, 1.0f, 28),
                           h0 = test::random_normal(count, 1.0f, 29);
  const Tensor xt = test::host_view(x, shape), yt = test::host_view(y, shape),
               wt = test::host_view(weight, {1});
  const double k = static_cast<double>(kWeight) / static_cast<double>(n);

  std::vector<float> g = g0;
  bce_logits_backward(test::cpu(), xt, yt, wt, test::host_view(g, shape));
  for (std::int64_t i = 0; i < count; ++i) {
    const double expect = g0[i] + k * (1.0 / (1.0 + std::exp(-static_cast<double>(x[i]))) - y[i]);
    EXPECT_NEAR(g[i], expect, 1e-6 * (1.0 + std::fabs(expect))) << "bce " << i;
  }

  std::vector<float> mu = test::random_normal(count, 1.0f, 30),
                     lv = test::random_uniform(count, -3.0f, 3.0f, 31);
  std::vector<float> dmu = g0, dlv = h0;
  kl_backward(test::cpu(), test::host_view(mu, shape), test::host_view(lv, shape), wt,
              test::host_view(dmu, shape), test::host_view(dlv, shape));
  for (std::int64_t i = 0; i < count; ++i) {
    EXPECT_NEAR(dmu[i], g0[i] + k * mu[i], 1e-6) << "kl mu " << i;
    const double expect = h0[i] + k * 0.5 * (std::exp(static_cast<double>(lv[i])) - 1.0);
    EXPECT_NEAR(dlv[i], expect, 1e-6 * (1.0 + std::fabs(expect))) << "kl logvar " << i;
  }

  std::vector<float> da = g0, db = h0;
  mse_backward(test::cpu(), test::host_view(mu, shape), test::host_view(lv, shape), wt,
               test::host_view(da, shape), test::host_view(db, shape));
  for (std::int64_t i = 0; i < count; ++i) {
    const double d = k * 2.0 * (static_cast<double>(mu[i]) - lv[i]);
    EXPECT_NEAR(da[i], g0[i] + d, 1e-5) << "mse a " << i;
    EXPECT_NEAR(db[i], h0[i] - d, 1e-5) << "mse b " << i;
  }
}

TEST(LossesCpu, RejectsBadShapes) {
  std::vector<float> a(6), b(6), one(1), two(2);
  const Tensor a23 = test::host_view(a, {2, 3});
  EXPECT_THROW(mse_forward(test::cpu(), a23, test::host_view(b, {3, 2}), test::host_view(one, {1})),
               Error);
  EXPECT_THROW(kl_forward(test::cpu(), a23, test::host_view(b, {2, 3}), test::host_view(two, {2})),
               Error);
  EXPECT_THROW(mse_backward(test::cpu(), a23, test::host_view(b, {2, 3}), test::host_view(one, {1}),
                            test::host_view(b, {6}), Tensor{}),
               Error);
}

// ---- finite differences -----------------------------------------------------------------------

// L = weight · loss(x, y), checked against the backward op's gradients of x and y.
void check_loss_gradients(LossKind kind, std::vector<float> x, std::vector<float> y, Shape shape,
                          bool check_y) {
  auto loss = [&] { return static_cast<double>(kWeight) * cpu_loss(kind, x, y, shape); };
  std::vector<float> weight{kWeight}, value(1), dx(x.size(), 0.0f), dy(y.size(), 0.0f);
  run_loss(test::cpu(), kind, test::host_view(x, shape), test::host_view(y, shape),
           test::host_view(weight, {1}), test::host_view(value, {1}), test::host_view(dx, shape),
           check_y ? test::host_view(dy, shape) : Tensor{});
  test::GradCheckOptions options;
  options.step = 1e-2;  // smooth terms; a larger step keeps the float loss's rounding small
  EXPECT_TRUE(test::check_gradient(loss, x, dx, "dx", options));
  if (check_y) {
    EXPECT_TRUE(test::check_gradient(loss, y, dy, "dy", options));
  }
}

TEST(LossesGradCheck, BceLogits) {
  const Shape shape{2, 1, 3, 4};
  check_loss_gradients(LossKind::bce, test::random_uniform(24, -6.0f, 6.0f, 40),
                       test::random_uniform(24, 0.0f, 1.0f, 41), shape, false);
}

TEST(LossesGradCheck, KlMuAndLogvar) {
  const Shape shape{3, 10};
  check_loss_gradients(LossKind::kl, test::random_normal(30, 1.0f, 42),
                       test::random_uniform(30, -2.0f, 2.0f, 43), shape, true);
}

TEST(LossesGradCheck, MseBothInputs) {
  const Shape shape{3, 7};
  check_loss_gradients(LossKind::mse, test::random_normal(21, 1.0f, 44),
                       test::random_normal(21, 1.0f, 45), shape, true);
}

}  // namespace
}  // namespace vsae
