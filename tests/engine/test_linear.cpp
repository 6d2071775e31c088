// Fully connected layer: the CPU twin against a naive triple loop, finite differences, and the CPU
// against CUDA over every linear layer of the model plus odd sizes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "engine/ops/linear.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"

namespace vsae {
namespace {

// x: (n, in), w: (out, in), y: (n, out)
struct LinearCase {
  std::string label;
  int n, in, out;
  bool tf32 = false;

  Shape x_shape() const { return Shape{n, in}; }
  Shape w_shape() const { return Shape{out, in}; }
  Shape y_shape() const { return Shape{n, out}; }
  std::string name() const { return label + "_b" + std::to_string(n) + (tf32 ? "_tf32" : ""); }
};

std::ostream& operator<<(std::ostream& os, const LinearCase& c) {
  return os << "linear x " << c.x_shape() << " w " << c.w_shape() << (c.tf32 ? " tf32" : "");
}

std::vector<LinearCase> cpu_cases() {
  // DESIGN §4: encoder fc1, decoder fc2 and fc3, the SAE (width 500) and the latent heads.
  std::vector<LinearCase> cases;
  for (int batch : {1, 3}) {
    cases.push_back({"fc1", batch, 1024, 256});
    cases.push_back({"fc2", batch, 10, 256});
    cases.push_back({"fc3", batch, 256, 1024});
    cases.push_back({"sae_enc", batch, 256, 500});
    cases.push_back({"sae_dec", batch, 500, 256});
    cases.push_back({"head", batch, 256, 10});
  }
  cases.push_back({"odd_7to3", 5, 7, 3});
  cases.push_back({"odd_33to17", 2, 33, 17});
  cases.push_back({"odd_1to1", 64, 1, 1});
  cases.push_back({"odd_129to65", 67, 129, 65});
  return cases;
}

std::vector<LinearCase> backend_cases() {
  std::vector<LinearCase> cases = cpu_cases();
  cases.push_back({"fc1", 3, 1024, 256, true});
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<LinearCase>& info) {
  return info.param.name();
}

std::size_t count(const Shape& s) {
  return static_cast<std::size_t>(s.numel());
}

// Inputs of one case, and the values dx and dw hold before backward adds to them.
struct LinearData {
  std::vector<float> x, w, dy, dx_before, dw_before;
};

LinearData make_data(const LinearCase& c) {
  return LinearData{test::random_uniform(count(c.x_shape()), -1, 1, 31),
                    test::random_normal(count(c.w_shape()), 1.0f / std::sqrt(float(c.in)), 32),
                    test::random_uniform(count(c.y_shape()), -1, 1, 33),
                    test::random_uniform(count(c.x_shape()), -1, 1, 34),
                    test::random_uniform(count(c.w_shape()), -1, 1, 35)};
}

struct LinearResult {
  std::vector<float> y, dx, dw;
};

// Runs forward into a NaN-filled y (it must overwrite), then backward twice onto the prefilled dx
// and dw: once with dx, once without. So dx = dx_before + g_x and dw = dw_before + 2·g_w.
LinearResult run(Backend& be, const LinearCase& c, const LinearData& d) {
  test::GuardedTensor x(be, c.x_shape()), w(be, c.w_shape()), y(be, c.y_shape()),
      dy(be, c.y_shape()), dx(be, c.x_shape()), dw(be, c.w_shape());
  x.upload(d.x);
  w.upload(d.w);
  y.upload(std::vector<float>(count(c.y_shape()), std::numeric_limits<float>::quiet_NaN()));
  dy.upload(d.dy);
  dx.upload(d.dx_before);
  dw.upload(d.dw_before);
  linear_forward(be, x, w, y);
  linear_backward(be, x, w, dy, dx, dw);
  linear_backward(be, x, w, dy, Tensor(), dw);
  LinearResult r{y.download<float>(), dx.download<float>(), dw.download<float>()};
  const char* names[] = {"x", "w", "y", "dy", "dx", "dw"};
  const test::GuardedTensor* tensors[] = {&x, &w, &y, &dy, &dx, &dw};
  for (int i = 0; i < 6; ++i)
    EXPECT_TRUE(tensors[i]->guards_intact()) << names[i] << " guard overwritten on " << be.name();
  return r;
}

// abs scaled by the largest |ref|, so one setting fits outputs of any magnitude.
test::Tolerance scaled(double abs, double rel, const std::vector<float>& ref) {
  double largest = 1.0;
  for (float v : ref) largest = std::max(largest, static_cast<double>(std::fabs(v)));
  return test::Tolerance{abs * largest, rel};
}

// ---- the CPU twin against a naive triple loop ------------------------------------------------

class LinearCpu : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearCpu, MatchesNaiveLoops) {
  const LinearCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  LinearData d = make_data(c);
  LinearResult got = run(test::cpu(), c, d);
  std::vector<float> y(count(c.y_shape())), dx(count(c.x_shape())), dw(count(c.w_shape()));
  for (int n = 0; n < c.n; ++n)
    for (int o = 0; o < c.out; ++o) {
      double sum = 0.0;
      for (int i = 0; i < c.in; ++i)
        sum += static_cast<double>(d.x[n * c.in + i]) * d.w[o * c.in + i];
      y[n * c.out + o] = static_cast<float>(sum);
    }
  for (int n = 0; n < c.n; ++n)
    for (int i = 0; i < c.in; ++i) {
      double sum = 0.0;
      for (int o = 0; o < c.out; ++o)
        sum += static_cast<double>(d.dy[n * c.out + o]) * d.w[o * c.in + i];
      dx[n * c.in + i] = static_cast<float>(d.dx_before[n * c.in + i] + sum);
    }
  for (int o = 0; o < c.out; ++o)
    for (int i = 0; i < c.in; ++i) {
      double sum = 0.0;
      for (int n = 0; n < c.n; ++n)
        sum += static_cast<double>(d.dy[n * c.out + o]) * d.x[n * c.in + i];
      dw[o * c.in + i] = static_cast<float>(d.dw_before[o * c.in + i] + 2.0 * sum);
    }
  EXPECT_TRUE(test::all_close(y, got.y, scaled(2e-6, 1e-5, y))) << "y";
  EXPECT_TRUE(test::all_close(dx, got.dx, scaled(2e-6, 1e-5, dx))) << "dx";
  EXPECT_TRUE(test::all_close(dw, got.dw, scaled(2e-6, 1e-5, dw))) << "dw";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearCpu, ::testing::ValuesIn(cpu_cases()), case_name);

// Expects `call` to throw an Error whose message contains `text`.
template <class F>
void expect_error(F call, const std::string& text) {
  try {
    call();
    ADD_FAILURE() << "expected an error containing '" << text << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(LinearCpu, RejectsBadArguments) {
  Backend& be = test::cpu();
  std::vector<float> buf(256);
  auto t = [&](Shape s) { return Tensor(buf.data(), s, DType::f32, Device::cpu); };
  Tensor x = t(Shape{4, 8}), w = t(Shape{3, 8}), y = t(Shape{4, 3});
  expect_error(
      [&] {
        linear_forward(be, x, t(Shape{3, 7}), y);
      },
      "linear: x (4, 8) must be (N, IN) and w (3, 7) (OUT, IN)");
  expect_error(
      [&] {
        linear_forward(be, x, w, t(Shape{4, 4}));
      },
      "linear: y is (4, 4), expected (4, 3)");
  expect_error([&] { linear_forward(be, t(Shape{4, 8, 1}), w, y); }, "must be (N, IN)");
  expect_error(
      [&] {
        linear_backward(be, x, w, t(Shape{3, 3}), x, w);
      },
      "linear_backward: dy is (3, 3), expected (4, 3)");
  expect_error(
      [&] {
        linear_backward(be, x, w, y, t(Shape{8, 4}), w);
      },
      "linear_backward: dx is (8, 4), expected (4, 8)");
  expect_error([&] { linear_backward(be, x, w, y, x, Tensor()); },
               "linear_backward: dw is not allocated");
  Tensor ints(buf.data(), Shape{4, 3}, DType::i32, Device::cpu);
  expect_error([&] { linear_forward(be, x, w, ints); }, "linear: y has dtype i32");
}

// ---- finite differences on the CPU backend ---------------------------------------------------

TEST(LinearGradcheck, Linear) {
  Backend& be = test::cpu();
  LinearCase c{"grad", 3, 7, 5};
  LinearData d = make_data(c);
  std::vector<float> y(count(c.y_shape())), dx(count(c.x_shape())), dw(count(c.w_shape()));
  auto cpu_tensor = [](std::vector<float>& v, Shape s) {
    return Tensor(v.data(), s, DType::f32, Device::cpu);
  };
  // L = Σ dy·y, so dL/dy is the fixed weight vector dy.
  auto loss = [&] {
    linear_forward(be, cpu_tensor(d.x, c.x_shape()), cpu_tensor(d.w, c.w_shape()),
                   cpu_tensor(y, c.y_shape()));
    return test::weighted_sum(y, d.dy);
  };
  linear_backward(be, cpu_tensor(d.x, c.x_shape()), cpu_tensor(d.w, c.w_shape()),
                  cpu_tensor(d.dy, c.y_shape()), cpu_tensor(dx, c.x_shape()),
                  cpu_tensor(dw, c.w_shape()));
  // Linear in each argument: a large step adds no truncation error.
  test::GradCheckOptions options;
  options.step = 1e-2;
  EXPECT_TRUE(test::check_gradient(loss, d.x, dx, "dx", options));
  EXPECT_TRUE(test::check_gradient(loss, d.w, dw, "dw", options));
}

// ---- the CPU against CUDA ----------------------------------------------------------------------

class LinearBackends : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuBLAS");
  const LinearCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  LinearData d = make_data(c);
  LinearResult ref = run(test::cpu(), c, d);
  Backend& gpu = test::cuda();
  test::Tf32Scope tf32(gpu, c.tf32);
  LinearResult got = run(gpu, c, d);
  // TF32 keeps 10 mantissa bits of each product's inputs; FP32 differs only in summation order.
  double abs = c.tf32 ? 1e-2 : 5e-5, rel = c.tf32 ? 1e-2 : 1e-4;
  EXPECT_TRUE(test::all_close(ref.y, got.y, scaled(abs, rel, ref.y))) << "y";
  EXPECT_TRUE(test::all_close(ref.dx, got.dx, scaled(abs, rel, ref.dx))) << "dx";
  EXPECT_TRUE(test::all_close(ref.dw, got.dw, scaled(abs, rel, ref.dw))) << "dw";
}

INSTANTIATE_TEST_SUITE_P(Shapes, LinearBackends, ::testing::ValuesIn(backend_cases()), case_name);

}  // namespace
}  // namespace vsae
