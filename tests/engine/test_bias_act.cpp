// bias_act: CUDA against the CPU twin over a shape table, the CPU twin against direct formulas,
// and finite-difference checks of dx and db.
#include <gtest/gtest.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/bias_act.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"
#include "tests/support/twin.hpp"

namespace vsae {
namespace {

struct BiasActCase {
  std::int64_t n, c, h, w;  // h = w = 0: a linear layer's (N, C)
  Activation act;

  Shape shape() const { return h == 0 ? Shape{n, c} : Shape{n, c, h, w}; }
  std::int64_t spatial() const { return h == 0 ? 1 : h * w; }
  std::string name() const {
    std::string s = "N" + std::to_string(n) + "_C" + std::to_string(c) + "_";
    s += h == 0 ? std::string("flat") : std::to_string(h) + "x" + std::to_string(w);
    return s + (act == Activation::relu ? "_relu" : "_none");
  }
};

// gtest prints parameters with this (the ctest names stay readable).
void PrintTo(const BiasActCase& c, std::ostream* os) {
  *os << c.name();
}

std::vector<BiasActCase> backend_cases() {
  std::vector<BiasActCase> cases;
  const std::int64_t spatials[][2] = {{0, 0}, {1, 1}, {5, 7}, {32, 32}};
  for (std::int64_t n : {1, 3, 64})
    for (std::int64_t c : {1, 7, 32, 500})
      for (const auto& hw : spatials) {
        BiasActCase relu{n, c, hw[0], hw[1], Activation::relu};
        if (relu.shape().numel() > (1 << 21)) continue;
        cases.push_back(relu);
        if (hw[0] == 0 || hw[0] == 5)
          cases.push_back(BiasActCase{n, c, hw[0], hw[1], Activation::none});
      }
  return cases;
}

class BiasActBackends : public ::testing::TestWithParam<BiasActCase> {};

TEST_P(BiasActBackends, ForwardAndBackwardMatchCpu) {
  VSAE_REQUIRE_CUDA();
  const BiasActCase tc = GetParam();
  SCOPED_TRACE(tc.name());
  const Shape shape = tc.shape();
  const auto numel = static_cast<std::size_t>(shape.numel());
  const auto channels = static_cast<std::size_t>(tc.c);
  test::TwinTensor x(shape, test::random_normal(numel, 1.0f, 1));
  test::TwinTensor b(Shape{tc.c}, test::random_normal(channels, 0.5f, 2));
  test::TwinTensor y(shape, std::vector<float>(numel, 0.0f));
  test::TwinTensor dy(shape, test::random_normal(numel, 1.0f, 3));
  // Nonzero starting gradients: the backward pass must overwrite dx and add to db.
  test::TwinTensor dx(shape, test::random_normal(numel, 1.0f, 4));
  test::TwinTensor db(Shape{tc.c}, test::random_normal(channels, 1.0f, 5));

  for (Backend* be : {&test::cpu(), &test::cuda()}) {
    bias_act_forward(*be, x.on(*be), b.on(*be), y.on(*be), tc.act);
    bias_act_backward(*be, y.on(*be), dy.on(*be), dx.on(*be), db.on(*be), tc.act);
  }
  EXPECT_TRUE(test::twins_match(y, {1e-6, 1e-6})) << "y";
  EXPECT_TRUE(test::twins_match(dx, {1e-6, 1e-6})) << "dx";
  // db sums N·S terms in a different order on each backend.
  const double sum_scale = std::sqrt(static_cast<double>(tc.n * tc.spatial()));
  EXPECT_TRUE(test::twins_match(db, {1e-5 * sum_scale, 1e-5})) << "db";
}

INSTANTIATE_TEST_SUITE_P(Shapes, BiasActBackends, ::testing::ValuesIn(backend_cases()),
                         [](const ::testing::TestParamInfo<BiasActCase>& tp) {
                           return tp.param.name();
                         });

TEST(BiasActBackends, UndefinedDxUpdatesOnlyDb) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{3, 7, 5, 7};
  const auto numel = static_cast<std::size_t>(shape.numel());
  test::TwinTensor y(shape, test::random_normal(numel, 1.0f, 6));
  test::TwinTensor dy(shape, test::random_normal(numel, 1.0f, 7));
  test::TwinTensor db(Shape{7}, test::random_normal(7, 1.0f, 8));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    bias_act_backward(*be, y.on(*be), dy.on(*be), Tensor{}, db.on(*be), Activation::relu);
  EXPECT_TRUE(test::twins_match(db, {1e-5, 1e-5}));
}

TEST(BiasActBackends, ForwardInPlace) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{64, 32, 5, 7};
  const auto numel = static_cast<std::size_t>(shape.numel());
  test::TwinTensor x(shape, test::random_normal(numel, 1.0f, 9));
  test::TwinTensor b(Shape{32}, test::random_normal(32, 1.0f, 10));
  for (Backend* be : {&test::cpu(), &test::cuda()})
    bias_act_forward(*be, x.on(*be), b.on(*be), x.on(*be), Activation::relu);
  EXPECT_TRUE(test::twins_match(x, {0.0, 0.0}));
}

TEST(BiasActBackends, BackwardIsBitwiseReproducible) {
  VSAE_REQUIRE_CUDA();
  const Shape shape{64, 32, 32, 32};
  const auto numel = static_cast<std::size_t>(shape.numel());
  test::GuardedTensor y(test::cuda(), shape), dy(test::cuda(), shape);
  y.upload(test::random_normal(numel, 1.0f, 11));
  dy.upload(test::random_normal(numel, 1.0f, 12));
  std::vector<std::vector<float>> results;
  for (int run = 0; run < 2; ++run) {
    test::GuardedTensor db(test::cuda(), Shape{32});
    bias_act_backward(test::cuda(), y, dy, Tensor{}, db, Activation::relu);
    results.push_back(db.download<float>());
  }
  EXPECT_EQ(results[0], results[1]);
}

// ---- CPU twin against direct formulas ---------------------------------------------------------

double act_ref(double v, Activation act) {
  return act == Activation::relu ? std::max(v, 0.0) : v;
}

TEST(BiasActCpu, ForwardMatchesFormula) {
  const std::int64_t n = 2, c = 3, s = 6;
  for (Activation act : {Activation::none, Activation::relu}) {
    std::vector<float> x = test::random_normal(n * c * s, 1.0f, 20),
                       b = test::random_normal(c, 1.0f, 21);
    std::vector<float> y(x.size(), -7.0f);
    bias_act_forward(test::cpu(), test::host_view(x, {n, c, 2, 3}), test::host_view(b, {c}),
                     test::host_view(y, {n, c, 2, 3}), act);
    for (std::int64_t i = 0; i < n * c * s; ++i)
      EXPECT_FLOAT_EQ(y[i],
                      static_cast<float>(act_ref(static_cast<double>(x[i]) + b[(i / s) % c], act)))
          << i;
  }
}

TEST(BiasActCpu, BackwardWritesMaskedGradientsAndAddsToDb) {
  const std::int64_t n = 3, c = 4;
  std::vector<float> y = test::random_normal(n * c, 1.0f, 22),
                     dy = test::random_normal(n * c, 1.0f, 23);
  y[5] = 0.0f;  // ReLU's derivative at an output of exactly 0 is taken as 0, like PyTorch
  std::vector<float> dx0 = test::random_normal(n * c, 1.0f, 24),
                     db0 = test::random_normal(c, 1.0f, 25);
  std::vector<float> dx = dx0, db = db0;
  bias_act_backward(test::cpu(), test::host_view(y, {n, c}), test::host_view(dy, {n, c}),
                    test::host_view(dx, {n, c}), test::host_view(db, {c}), Activation::relu);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = db0[ch];
    for (std::int64_t row = 0; row < n; ++row) {
      std::int64_t i = row * c + ch;
      double g = y[i] > 0.0f ? dy[i] : 0.0;
      EXPECT_FLOAT_EQ(dx[i], static_cast<float>(g)) << i;
      sum += g;
    }
    EXPECT_NEAR(db[ch], sum, 1e-5) << ch;
  }
}

// The per-channel sums have a fixed order: the same bits for any number of threads.
TEST(BiasActCpu, BackwardDoesNotDependOnThreadCount) {
#ifdef _OPENMP
  const std::int64_t n = 16, c = 32, s = 8 * 8;
  std::vector<float> y = test::random_normal(n * c * s, 1.0f, 26), dy = test::random_normal(n * c * s, 1.0f, 27);
  const auto run = [&](int threads) {
    std::vector<float> dx(y.size(), 0.5f), db(static_cast<std::size_t>(c), 0.25f);
    const int before = omp_get_max_threads();
    omp_set_num_threads(threads);
    bias_act_backward(test::cpu(), test::host_view(y, {n, c, 8, 8}), test::host_view(dy, {n, c, 8, 8}),
                      test::host_view(dx, {n, c, 8, 8}), test::host_view(db, {c}), Activation::relu);
    omp_set_num_threads(before);
    dx.insert(dx.end(), db.begin(), db.end());
    return dx;
  };
  EXPECT_EQ(run(1), run(3));
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

TEST(BiasActCpu, UndefinedDxUpdatesOnlyDb) {
  std::vector<float> y = {1.0f, -1.0f, 2.0f, 3.0f}, dy = {1.0f, 10.0f, 100.0f, 1000.0f},
                     db = {0.5f, 0.25f};
  bias_act_backward(test::cpu(), test::host_view(y, {2, 2}), test::host_view(dy, {2, 2}), Tensor{},
                    test::host_view(db, {2}), Activation::relu);
  EXPECT_FLOAT_EQ(db[0], 0.5f + 1.0f + 100.0f);
  EXPECT_FLOAT_EQ(db[1], 0.25f + 1000.0f);
}

TEST(BiasActCpu, RejectsMismatchedShapes) {
  std::vector<float> x(24), b(4), y(24);
  EXPECT_THROW(bias_act_forward(test::cpu(), test::host_view(x, {2, 3, 4}), test::host_view(b, {4}),
                                test::host_view(y, {2, 3, 4}), Activation::relu),
               Error);
  EXPECT_THROW(bias_act_forward(test::cpu(), test::host_view(x, {24}), test::host_view(b, {4}),
                                test::host_view(y, {24}), Activation::relu),
               Error);
}

// ---- finite differences -----------------------------------------------------------------------

// Moves each pre-activation x + b at least `margin` away from the ReLU kink.
void avoid_kink(std::vector<float>& x, const std::vector<float>& b, std::int64_t c, std::int64_t s,
                float margin) {
  for (std::size_t i = 0; i < x.size(); ++i) {
    float pre = x[i] + b[(static_cast<std::int64_t>(i) / s) % c];
    if (std::fabs(pre) < margin) x[i] += pre >= 0.0f ? margin : -margin;
  }
}

void check_bias_act_gradients(Shape shape, Activation act) {
  const std::int64_t c = shape[1], numel = shape.numel(), s = numel / (shape[0] * c);
  std::vector<float> x = test::random_normal(numel, 1.0f, 30), b = test::random_normal(c, 0.5f, 31);
  avoid_kink(x, b, c, s, 0.05f);
  const std::vector<float> w = test::random_normal(numel, 1.0f, 32);  // L = Σ w·y
  std::vector<float> y(numel);
  auto loss = [&] {
    bias_act_forward(test::cpu(), test::host_view(x, shape), test::host_view(b, {c}),
                     test::host_view(y, shape), act);
    return test::weighted_sum(y, w);
  };
  loss();
  // dx starts as NaN: the backward must write it whole.
  std::vector<float> dy = w, dx(numel, std::numeric_limits<float>::quiet_NaN()), db(c, 0.0f);
  bias_act_backward(test::cpu(), test::host_view(y, shape), test::host_view(dy, shape),
                    test::host_view(dx, shape), test::host_view(db, {c}), act);
  EXPECT_TRUE(test::check_gradient(loss, x, dx, "dx"));
  EXPECT_TRUE(test::check_gradient(loss, b, db, "db"));
}

TEST(BiasActGradCheck, ConvRelu) {
  check_bias_act_gradients(Shape{2, 3, 3, 4}, Activation::relu);
}
TEST(BiasActGradCheck, LinearRelu) {
  check_bias_act_gradients(Shape{5, 7}, Activation::relu);
}
TEST(BiasActGradCheck, LinearNone) {
  check_bias_act_gradients(Shape{3, 4}, Activation::none);
}

}  // namespace
}  // namespace vsae
