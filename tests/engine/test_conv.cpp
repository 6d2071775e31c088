// Convolution and transposed convolution: the CPU twin against naive loops, the adjoint identity,
// finite differences, and the CPU against CUDA over every layer shape of the model plus odd ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/ops/conv.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"
#include "tests/support/gradcheck.hpp"

#if VSAE_HAVE_CUDA
#include "engine/backends/cuda/conv_algorithms.hpp"
#endif

namespace vsae {
namespace {

// conv2d: x (n, c_in, h, w), w (c_out, c_in, kh, kw). Transposed: w (c_in, c_out, kh, kw).
struct ConvCase {
  std::string label;
  bool transposed;
  int n, c_in, h, w;
  int c_out, kh, kw;
  int stride, pad;
  bool tf32 = false;

  ConvParams params() const { return ConvParams{stride, pad}; }
  Shape x_shape() const { return Shape{n, c_in, h, w}; }
  Shape w_shape() const {
    return transposed ? Shape{c_in, c_out, kh, kw} : Shape{c_out, c_in, kh, kw};
  }
  Shape y_shape() const {
    return transposed ? conv_transpose2d_output_shape(x_shape(), w_shape(), params())
                      : conv2d_output_shape(x_shape(), w_shape(), params());
  }
  std::string name() const { return label + "_b" + std::to_string(n) + (tf32 ? "_tf32" : ""); }
};

std::ostream& operator<<(std::ostream& os, const ConvCase& c) {
  return os << (c.transposed ? "conv_transpose2d" : "conv2d") << " x " << c.x_shape() << " w "
            << c.w_shape() << " stride " << c.stride << " pad " << c.pad << (c.tf32 ? " tf32" : "");
}

std::vector<ConvCase> model_layers(int batch) {
  // DESIGN §4: every conv is 4x4, stride 2, pad 1; C is 1 (dSprites) or 3 (Shapes3D).
  std::vector<ConvCase> layers = {
      {"conv1_c1", false, batch, 1, 64, 64, 32, 4, 4, 2, 1},
      {"conv1_c3", false, batch, 3, 64, 64, 32, 4, 4, 2, 1},
      {"conv2", false, batch, 32, 32, 32, 32, 4, 4, 2, 1},
      {"conv3", false, batch, 32, 16, 16, 64, 4, 4, 2, 1},
      {"conv4", false, batch, 64, 8, 8, 64, 4, 4, 2, 1},
      {"deconv1", true, batch, 64, 4, 4, 64, 4, 4, 2, 1},
      {"deconv2", true, batch, 64, 8, 8, 32, 4, 4, 2, 1},
      {"deconv3", true, batch, 32, 16, 16, 32, 4, 4, 2, 1},
      {"deconv4_c1", true, batch, 32, 32, 32, 1, 4, 4, 2, 1},
      {"deconv4_c3", true, batch, 32, 32, 32, 3, 4, 4, 2, 1},
  };
  return layers;
}

std::vector<ConvCase> odd_shapes() {
  return {
      {"odd_conv_7x9_k3s1p0", false, 2, 3, 7, 9, 5, 3, 3, 1, 0},
      {"odd_conv_7x9_k3s2p1", false, 3, 5, 7, 9, 7, 3, 3, 2, 1},
      {"odd_conv_11x6_k3x2s1p1", false, 1, 3, 11, 6, 4, 3, 2, 1, 1},
      // (13 + 2 - 4) / 2 is not exact: the last input row feeds no output.
      {"odd_conv_13x5_k4s2p1", false, 2, 3, 13, 5, 5, 4, 4, 2, 1},
      {"odd_deconv_7x9_k3s1p0", true, 2, 5, 7, 9, 3, 3, 3, 1, 0},
      {"odd_deconv_5x7_k4s2p1", true, 3, 3, 5, 7, 5, 4, 4, 2, 1},
      {"odd_deconv_3x5_k3s2p0", true, 1, 7, 3, 5, 2, 3, 3, 2, 0},
      // Stride larger than the kernel width leaves output columns no input reaches.
      {"odd_deconv_4x3_k3x2s3p1", true, 2, 3, 4, 3, 3, 3, 2, 3, 1},
  };
}

std::vector<ConvCase> cpu_cases() {
  std::vector<ConvCase> cases = model_layers(1);
  for (const ConvCase& c : model_layers(3)) cases.push_back(c);
  for (const ConvCase& c : odd_shapes()) cases.push_back(c);
  return cases;
}

std::vector<ConvCase> backend_cases() {
  std::vector<ConvCase> cases = cpu_cases();
  cases.push_back({"conv3", false, 3, 32, 16, 16, 64, 4, 4, 2, 1, true});
  cases.push_back({"deconv2", true, 3, 64, 8, 8, 32, 4, 4, 2, 1, true});
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<ConvCase>& info) {
  return info.param.name();
}

std::size_t count(const Shape& s) {
  return static_cast<std::size_t>(s.numel());
}

// Inputs of one case, and the values dx and dw hold before backward adds to them.
struct ConvData {
  std::vector<float> x, w, dy, dx_before, dw_before;
};

ConvData make_data(const ConvCase& c) {
  float fan_in = static_cast<float>(c.c_in * c.kh * c.kw);
  return ConvData{test::random_uniform(count(c.x_shape()), -1, 1, 11),
                  test::random_normal(count(c.w_shape()), 1.0f / std::sqrt(fan_in), 12),
                  test::random_uniform(count(c.y_shape()), -1, 1, 13),
                  test::random_uniform(count(c.x_shape()), -1, 1, 14),
                  test::random_uniform(count(c.w_shape()), -1, 1, 15)};
}

struct ConvResult {
  std::vector<float> y, dx, dw;
};

void forward(Backend& be, const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& y) {
  if (c.transposed)
    conv_transpose2d_forward(be, x, w, y, c.params());
  else
    conv2d_forward(be, x, w, y, c.params());
}

void prepare(Backend& be, const ConvCase& c) {
  if (c.transposed)
    conv_transpose2d_prepare(be, c.x_shape(), c.w_shape(), c.params());
  else
    conv2d_prepare(be, c.x_shape(), c.w_shape(), c.params());
}

void backward(Backend& be, const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& dy,
              const Tensor& dx, const Tensor& dw, DxMode dx_mode = DxMode::accumulate) {
  if (c.transposed)
    conv_transpose2d_backward(be, x, w, dy, dx, dw, c.params(), dx_mode);
  else
    conv2d_backward(be, x, w, dy, dx, dw, c.params(), dx_mode);
}

// Runs forward into a NaN-filled y (it must overwrite), then backward twice onto the prefilled dx
// and dw: once with dx, once without. So dw = dw_before + 2·g_w, and dx = dx_before + g_x, or g_x
// where backward writes it.
ConvResult run(Backend& be, const ConvCase& c, const ConvData& d, DxMode dx_mode = DxMode::accumulate) {
  test::GuardedTensor x(be, c.x_shape()), w(be, c.w_shape()), y(be, c.y_shape()),
      dy(be, c.y_shape()), dx(be, c.x_shape()), dw(be, c.w_shape());
  x.upload(d.x);
  w.upload(d.w);
  y.upload(std::vector<float>(count(c.y_shape()), std::numeric_limits<float>::quiet_NaN()));
  dy.upload(d.dy);
  dx.upload(d.dx_before);
  dw.upload(d.dw_before);
  forward(be, c, x, w, y);
  backward(be, c, x, w, dy, dx, dw, dx_mode);
  backward(be, c, x, w, dy, Tensor(), dw);
  ConvResult r{y.download<float>(), dx.download<float>(), dw.download<float>()};
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

// ---- the CPU twin against naive loops --------------------------------------------------------

struct Exact {
  std::vector<double> y, dx, dw;  // y, and the gradients of Σ dy·y
};

// The textbook 7-loop direct convolution (cross-correlation), with its gradients.
Exact naive_conv2d(const ConvCase& c, const ConvData& d) {
  Shape ys = c.y_shape();
  int oh_n = static_cast<int>(ys[2]), ow_n = static_cast<int>(ys[3]);
  Exact e{std::vector<double>(count(ys)), std::vector<double>(count(c.x_shape())),
          std::vector<double>(count(c.w_shape()))};
  for (int n = 0; n < c.n; ++n)
    for (int o = 0; o < c.c_out; ++o)
      for (int oh = 0; oh < oh_n; ++oh)
        for (int ow = 0; ow < ow_n; ++ow) {
          std::size_t yi = ((static_cast<std::size_t>(n) * c.c_out + o) * oh_n + oh) * ow_n + ow;
          for (int ci = 0; ci < c.c_in; ++ci)
            for (int kh = 0; kh < c.kh; ++kh)
              for (int kw = 0; kw < c.kw; ++kw) {
                int ih = oh * c.stride - c.pad + kh, iw = ow * c.stride - c.pad + kw;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                std::size_t xi =
                    ((static_cast<std::size_t>(n) * c.c_in + ci) * c.h + ih) * c.w + iw;
                std::size_t wi =
                    ((static_cast<std::size_t>(o) * c.c_in + ci) * c.kh + kh) * c.kw + kw;
                e.y[yi] += static_cast<double>(d.x[xi]) * d.w[wi];
                e.dx[xi] += static_cast<double>(d.dy[yi]) * d.w[wi];
                e.dw[wi] += static_cast<double>(d.dy[yi]) * d.x[xi];
              }
        }
  return e;
}

// The transposed convolution as PyTorch defines it: every input pixel scatters a weighted kernel
// into the output, at stride steps, cropped by pad.
Exact naive_conv_transpose2d(const ConvCase& c, const ConvData& d) {
  Shape ys = c.y_shape();
  int oh_n = static_cast<int>(ys[2]), ow_n = static_cast<int>(ys[3]);
  Exact e{std::vector<double>(count(ys)), std::vector<double>(count(c.x_shape())),
          std::vector<double>(count(c.w_shape()))};
  for (int n = 0; n < c.n; ++n)
    for (int i = 0; i < c.c_in; ++i)
      for (int ih = 0; ih < c.h; ++ih)
        for (int iw = 0; iw < c.w; ++iw) {
          std::size_t xi = ((static_cast<std::size_t>(n) * c.c_in + i) * c.h + ih) * c.w + iw;
          for (int o = 0; o < c.c_out; ++o)
            for (int kh = 0; kh < c.kh; ++kh)
              for (int kw = 0; kw < c.kw; ++kw) {
                int oh = ih * c.stride - c.pad + kh, ow = iw * c.stride - c.pad + kw;
                if (oh < 0 || oh >= oh_n || ow < 0 || ow >= ow_n) continue;
                std::size_t yi =
                    ((static_cast<std::size_t>(n) * c.c_out + o) * oh_n + oh) * ow_n + ow;
                std::size_t wi =
                    ((static_cast<std::size_t>(i) * c.c_out + o) * c.kh + kh) * c.kw + kw;
                e.y[yi] += static_cast<double>(d.x[xi]) * d.w[wi];
                e.dx[xi] += static_cast<double>(d.dy[yi]) * d.w[wi];
                e.dw[wi] += static_cast<double>(d.dy[yi]) * d.x[xi];
              }
        }
  return e;
}

// before + times·delta, rounded to float for comparison.
std::vector<float> plus(const std::vector<float>& before, const std::vector<double>& delta,
                        double times) {
  std::vector<float> out(before.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = static_cast<float>(before[i] + times * delta[i]);
  return out;
}

class ConvCpu : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvCpu, MatchesNaiveLoops) {
  const ConvCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  ConvData d = make_data(c);
  Exact e = c.transposed ? naive_conv_transpose2d(c, d) : naive_conv2d(c, d);
  std::vector<float> y_ref = plus(std::vector<float>(e.y.size()), e.y, 1.0);
  std::vector<float> dw_ref = plus(d.dw_before, e.dw, 2.0);
  for (DxMode mode : {DxMode::accumulate, DxMode::write}) {
    SCOPED_TRACE(mode == DxMode::write ? "dx written" : "dx accumulated");
    ConvResult got = run(test::cpu(), c, d, mode);
    std::vector<float> dx_ref =
        plus(mode == DxMode::write ? std::vector<float>(d.dx_before.size()) : d.dx_before, e.dx, 1.0);
    EXPECT_TRUE(test::all_close(y_ref, got.y, scaled(2e-6, 1e-5, y_ref))) << "y";
    EXPECT_TRUE(test::all_close(dx_ref, got.dx, scaled(2e-6, 1e-5, dx_ref))) << "dx";
    EXPECT_TRUE(test::all_close(dw_ref, got.dw, scaled(2e-6, 1e-5, dw_ref))) << "dw";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvCpu, ::testing::ValuesIn(cpu_cases()), case_name);

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

// <conv(x), u> = <x, convᵀ(u)> for the same weight: conv_transpose2d is conv2d's adjoint. Holds
// when the conv's output size divides exactly, so that convᵀ maps back onto x's shape.
TEST(ConvCpu, TransposeIsAdjointOfConv) {
  const ConvCase convs[] = {
      {"conv1", false, 2, 3, 64, 64, 32, 4, 4, 2, 1},
      {"odd", false, 3, 5, 7, 9, 4, 3, 3, 2, 1},
      {"odd_s1", false, 1, 2, 6, 5, 3, 3, 2, 1, 0},
  };
  Backend& be = test::cpu();
  for (const ConvCase& c : convs) {
    SCOPED_TRACE(::testing::Message() << c);
    Shape ys = c.y_shape();
    ASSERT_EQ(conv_transpose2d_output_shape(ys, c.w_shape(), c.params()), c.x_shape());
    std::vector<float> x = test::random_uniform(count(c.x_shape()), -1, 1, 21);
    std::vector<float> w = test::random_uniform(count(c.w_shape()), -1, 1, 22);
    std::vector<float> u = test::random_uniform(count(ys), -1, 1, 23);
    std::vector<float> conv_x(count(ys)), convt_u(count(c.x_shape()));
    conv2d_forward(be, Tensor(x.data(), c.x_shape(), DType::f32, Device::cpu),
                   Tensor(w.data(), c.w_shape(), DType::f32, Device::cpu),
                   Tensor(conv_x.data(), ys, DType::f32, Device::cpu), c.params());
    conv_transpose2d_forward(be, Tensor(u.data(), ys, DType::f32, Device::cpu),
                             Tensor(w.data(), c.w_shape(), DType::f32, Device::cpu),
                             Tensor(convt_u.data(), c.x_shape(), DType::f32, Device::cpu),
                             c.params());
    double lhs = dot(conv_x, u), rhs = dot(x, convt_u);
    EXPECT_NEAR(lhs, rhs, 1e-5 * (std::fabs(lhs) + 1.0));
  }
}

TEST(ConvCpu, OutputShapesFollowPyTorch) {
  ConvParams p{2, 1};
  EXPECT_EQ(conv2d_output_shape(Shape{64, 1, 64, 64}, Shape{32, 1, 4, 4}, p),
            (Shape{64, 32, 32, 32}));
  EXPECT_EQ(conv2d_output_shape(Shape{2, 3, 13, 5}, Shape{5, 3, 4, 4}, p), (Shape{2, 5, 6, 2}));
  EXPECT_EQ(conv_transpose2d_output_shape(Shape{64, 64, 4, 4}, Shape{64, 32, 4, 4}, p),
            (Shape{64, 32, 8, 8}));
  EXPECT_EQ(conv_transpose2d_output_shape(Shape{1, 7, 3, 5}, Shape{7, 2, 3, 3}, ConvParams{2, 0}),
            (Shape{1, 2, 7, 11}));
}

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

TEST(ConvCpu, RejectsBadArguments) {
  Backend& be = test::cpu();
  std::vector<float> buf(4096);
  auto t = [&](Shape s) { return Tensor(buf.data(), s, DType::f32, Device::cpu); };
  ConvParams p{2, 1};
  Tensor x = t(Shape{2, 3, 8, 8}), w = t(Shape{4, 3, 4, 4}), y = t(Shape{2, 4, 4, 4});
  expect_error(
      [&] {
        conv2d_forward(be, x, t(Shape{4, 2, 4, 4}), y, p);
      },
      "conv2d: x (2, 3, 8, 8)");
  expect_error(
      [&] {
        conv2d_forward(be, x, w, t(Shape{2, 4, 5, 4}), p);
      },
      "conv2d: y is (2, 4, 5, 4), expected (2, 4, 4, 4)");
  expect_error([&] { conv2d_forward(be, x, w, y, ConvParams{0, 1}); }, "stride >= 1");
  expect_error([&] { conv2d_forward(be, t(Shape{2, 3, 8}), w, y, p); }, "must both be 4-D");
  expect_error(
      [&] {
        conv2d_forward(be, t(Shape{2, 3, 2, 2}), w, y, ConvParams{1, 0});
      },
      "larger than the padded input");
  expect_error(
      [&] {
        conv2d_backward(be, x, w, y, t(Shape{2, 3, 8, 7}), w, p);
      },
      "conv2d_backward: dx is (2, 3, 8, 7)");
  expect_error([&] { conv2d_backward(be, x, w, y, x, Tensor(), p); },
               "conv2d_backward: dw is not allocated");
  Tensor on_gpu(buf.data(), Shape{2, 4, 4, 4}, DType::f32, Device::cuda);
  expect_error([&] { conv2d_forward(be, x, w, on_gpu, p); }, "conv2d: y is on cuda");
  expect_error(
      [&] {
        conv_transpose2d_forward(be, y, t(Shape{3, 3, 4, 4}), x, p);
      },
      "conv_transpose2d: x (2, 4, 4, 4) has 4 channels");
  expect_error(
      [&] {
        conv_transpose2d_forward(be, y, t(Shape{4, 3, 4, 4}), t(Shape{2, 3, 9, 8}), p);
      },
      "conv_transpose2d: y is (2, 3, 9, 8), expected (2, 3, 8, 8)");
}

// ---- the fused output pass: y = act(conv(x, w) + b) -----------------------------------------

// A bias uniform in [-1, 1], so a ReLU after it zeroes a good share of the outputs.
std::vector<float> make_bias(const ConvCase& c) {
  return test::random_uniform(static_cast<std::size_t>(c.y_shape()[1]), -1, 1, 16);
}

// The forward with an epilogue into a NaN-filled y.
std::vector<float> fused_forward(Backend& be, const ConvCase& c, const ConvData& d, const std::vector<float>& b,
                                 Activation act) {
  const Shape bs{c.y_shape()[1]};
  test::GuardedTensor x(be, c.x_shape()), w(be, c.w_shape()), bias(be, bs), y(be, c.y_shape());
  x.upload(d.x);
  w.upload(d.w);
  bias.upload(b);
  y.upload(std::vector<float>(count(c.y_shape()), std::numeric_limits<float>::quiet_NaN()));
  const ConvEpilogue epilogue{&static_cast<const Tensor&>(bias), act};
  if (c.transposed)
    conv_transpose2d_forward(be, x, w, y, c.params(), epilogue);
  else
    conv2d_forward(be, x, w, y, c.params(), epilogue);
  EXPECT_TRUE(y.guards_intact() && bias.guards_intact()) << "guard overwritten on " << be.name();
  return y.download<float>();
}

class ConvEpilogueCpu : public ::testing::TestWithParam<ConvCase> {};

// The fused forward equals the naive convolution with the bias added and the activation applied.
TEST_P(ConvEpilogueCpu, MatchesNaiveLoopsThenBiasAct) {
  const ConvCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  const ConvData d = make_data(c);
  const std::vector<float> b = make_bias(c);
  const Exact e = c.transposed ? naive_conv_transpose2d(c, d) : naive_conv2d(c, d);
  const std::int64_t plane = c.y_shape()[2] * c.y_shape()[3];
  for (Activation act : {Activation::none, Activation::relu}) {
    std::vector<float> ref(e.y.size());
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const double v = e.y[i] + b[static_cast<std::size_t>(static_cast<std::int64_t>(i) / plane % c.y_shape()[1])];
      ref[i] = static_cast<float>(act == Activation::relu ? std::max(v, 0.0) : v);
    }
    const std::vector<float> got = fused_forward(test::cpu(), c, d, b, act);
    EXPECT_TRUE(test::all_close(ref, got, scaled(2e-6, 1e-5, ref))) << (act == Activation::relu ? "relu" : "none");
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvEpilogueCpu, ::testing::ValuesIn(cpu_cases()), case_name);

TEST(ConvEpilogueCpu, RejectsBadArguments) {
  Backend& be = test::cpu();
  std::vector<float> buf(4096);
  auto t = [&](Shape s) { return Tensor(buf.data(), s, DType::f32, Device::cpu); };
  Tensor x = t(Shape{2, 3, 8, 8}), w = t(Shape{4, 3, 4, 4}), y = t(Shape{2, 4, 4, 4});
  const Tensor wrong = t(Shape{3});
  expect_error([&] { conv2d_forward(be, x, w, y, ConvParams{2, 1}, ConvEpilogue{&wrong, Activation::relu}); },
               "conv2d: bias is (3), expected (4)");
  expect_error([&] { conv2d_forward(be, x, w, y, ConvParams{2, 1}, ConvEpilogue{nullptr, Activation::relu}); },
               "conv2d: an activation needs a bias");
}

// ---- finite differences on the CPU backend ---------------------------------------------------

void check_conv_gradients(const ConvCase& c) {
  SCOPED_TRACE(::testing::Message() << c);
  Backend& be = test::cpu();
  ConvData d = make_data(c);
  std::vector<float> y(count(c.y_shape())), dx(count(c.x_shape())), dw(count(c.w_shape()));
  auto cpu_tensor = [](std::vector<float>& v, Shape s) {
    return Tensor(v.data(), s, DType::f32, Device::cpu);
  };
  // L = Σ dy·y, so dL/dy is the fixed weight vector dy.
  auto loss = [&] {
    forward(be, c, cpu_tensor(d.x, c.x_shape()), cpu_tensor(d.w, c.w_shape()),
            cpu_tensor(y, c.y_shape()));
    return test::weighted_sum(y, d.dy);
  };
  backward(be, c, cpu_tensor(d.x, c.x_shape()), cpu_tensor(d.w, c.w_shape()),
           cpu_tensor(d.dy, c.y_shape()), cpu_tensor(dx, c.x_shape()), cpu_tensor(dw, c.w_shape()));
  // The op is linear in each argument, so a large step adds no truncation error and keeps the
  // float rounding of the loss small next to the difference.
  test::GradCheckOptions options;
  options.step = 1e-2;
  EXPECT_TRUE(test::check_gradient(loss, d.x, dx, "dx", options));
  EXPECT_TRUE(test::check_gradient(loss, d.w, dw, "dw", options));
}

TEST(ConvGradcheck, Conv2d) {
  check_conv_gradients({"conv", false, 2, 3, 7, 9, 4, 3, 3, 2, 1});
  check_conv_gradients({"conv_k4", false, 1, 2, 8, 8, 3, 4, 4, 2, 1});
}

TEST(ConvGradcheck, ConvTranspose2d) {
  check_conv_gradients({"deconv", true, 2, 3, 4, 5, 4, 3, 3, 2, 1});
  check_conv_gradients({"deconv_k4", true, 1, 4, 4, 4, 2, 4, 4, 2, 1});
}

// ---- the CPU against CUDA ----------------------------------------------------------------------

class ConvBackends : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuDNN");
  const ConvCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  ConvData d = make_data(c);
  Backend& gpu = test::cuda();
  test::Tf32Scope tf32(gpu, c.tf32);
  prepare(gpu, c);
  for (DxMode mode : {DxMode::accumulate, DxMode::write}) {
    SCOPED_TRACE(mode == DxMode::write ? "dx written" : "dx accumulated");
    ConvResult ref = run(test::cpu(), c, d, mode);
    ConvResult got = run(gpu, c, d, mode);
    // TF32 keeps 10 mantissa bits of each product's inputs; FP32 differs only in summation order.
    double abs = c.tf32 ? 1e-2 : 5e-5, rel = c.tf32 ? 1e-2 : 1e-4;
    EXPECT_TRUE(test::all_close(ref.y, got.y, scaled(abs, rel, ref.y))) << "y";
    EXPECT_TRUE(test::all_close(ref.dx, got.dx, scaled(abs, rel, ref.dx))) << "dx";
    EXPECT_TRUE(test::all_close(ref.dw, got.dw, scaled(abs, rel, ref.dw))) << "dw";
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvBackends, ::testing::ValuesIn(backend_cases()), case_name);

// CUDA's output pass (the bias_act kernel in place after cuDNN) against the CPU's fused one.
class ConvEpilogueBackends : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvEpilogueBackends, CudaMatchesCpu) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuDNN");
  const ConvCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  const ConvData d = make_data(c);
  const std::vector<float> b = make_bias(c);
  Backend& gpu = test::cuda();
  test::Tf32Scope tf32(gpu, false);
  prepare(gpu, c);
  for (Activation act : {Activation::none, Activation::relu}) {
    const std::vector<float> ref = fused_forward(test::cpu(), c, d, b, act);
    const std::vector<float> got = fused_forward(gpu, c, d, b, act);
    EXPECT_TRUE(test::all_close(ref, got, scaled(5e-5, 1e-4, ref))) << (act == Activation::relu ? "relu" : "none");
  }
}

INSTANTIATE_TEST_SUITE_P(ModelLayers, ConvEpilogueBackends, ::testing::ValuesIn(model_layers(3)), case_name);

// Deterministic algorithms come first, so the model's layers give the same bits on every run.
class ConvCudaDeterminism : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvCudaDeterminism, RepeatedRunsAreBitIdentical) {
  VSAE_REQUIRE_CUDA_LIBRARIES("cuDNN");
  const ConvCase& c = GetParam();
  SCOPED_TRACE(::testing::Message() << c);
  const ConvData d = make_data(c);
  const ConvResult first = run(test::cuda(), c, d);
  const ConvResult second = run(test::cuda(), c, d);
  EXPECT_EQ(first.y, second.y);
  EXPECT_EQ(first.dx, second.dx);
  EXPECT_EQ(first.dw, second.dw);
}

INSTANTIATE_TEST_SUITE_P(ModelLayers, ConvCudaDeterminism, ::testing::ValuesIn(model_layers(16)),
                         case_name);

#if VSAE_HAVE_CUDA
// The candidate order is host logic on cuDNN's types: it runs without a GPU.
TEST(ConvCudaAlgorithms, DeterministicCandidatesComeFirstInHeuristicOrder) {
  using Perf = cudnnConvolutionBwdFilterAlgoPerf_t;
  const auto perf_of = [](cudnnConvolutionBwdFilterAlgo_t algo, cudnnStatus_t status,
                          cudnnDeterminism_t determinism) {
    Perf p{};
    p.algo = algo;
    p.status = status;
    p.determinism = determinism;
    return p;
  };
  const Perf perf[] = {
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0, CUDNN_STATUS_SUCCESS, CUDNN_NON_DETERMINISTIC),
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT, CUDNN_STATUS_NOT_SUPPORTED,
              CUDNN_DETERMINISTIC),
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1, CUDNN_STATUS_SUCCESS, CUDNN_DETERMINISTIC),
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3, CUDNN_STATUS_SUCCESS, CUDNN_NON_DETERMINISTIC),
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED, CUDNN_STATUS_SUCCESS,
              CUDNN_DETERMINISTIC),
      // Past `returned`: ignored.
      perf_of(CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING, CUDNN_STATUS_SUCCESS,
              CUDNN_DETERMINISTIC),
  };
  const auto candidates = cuda::rank_candidates(
      perf, 5, [](cudnnConvolutionBwdFilterAlgo_t algo) { return std::size_t{100} * algo; });
  ASSERT_EQ(candidates.size(), 4u);
  EXPECT_EQ(candidates[0].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
  EXPECT_EQ(candidates[1].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED);
  EXPECT_EQ(candidates[2].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_0);
  EXPECT_EQ(candidates[3].algo, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_3);
  EXPECT_TRUE(candidates[0].deterministic && candidates[1].deterministic);
  EXPECT_FALSE(candidates[2].deterministic || candidates[3].deterministic);
  EXPECT_EQ(candidates[1].workspace_bytes,
            std::size_t{100} * CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED);
}

TEST(ConvCudaAlgorithms, OnlyNotSupportedMovesToTheNextCandidate) {
  EXPECT_TRUE(cuda::try_next_algorithm_after(CUDNN_STATUS_NOT_SUPPORTED));
  EXPECT_TRUE(cuda::try_next_algorithm_after(CUDNN_STATUS_NOT_SUPPORTED_SHAPE));
  EXPECT_TRUE(
      cuda::try_next_algorithm_after(CUDNN_STATUS_NOT_SUPPORTED_SHARED_MEMORY_INSUFFICIENT));
  EXPECT_FALSE(cuda::try_next_algorithm_after(CUDNN_STATUS_BAD_PARAM));
  EXPECT_FALSE(cuda::try_next_algorithm_after(CUDNN_STATUS_EXECUTION_FAILED));
  EXPECT_FALSE(cuda::try_next_algorithm_after(CUDNN_STATUS_INTERNAL_ERROR));
}
#endif

}  // namespace
}  // namespace vsae
