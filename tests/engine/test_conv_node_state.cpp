// A graph node's convolution state on the CPU (ConvNodeState): the copy of x the forward makes, or
// that the producing conv2d's forward writes, and that backward-weights reads again. The ops with
// a state must give exactly what they give without one, step after step, while x and w change in
// their buffers as a training loop changes them.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/ops/conv.hpp"
#include "tests/support/backends.hpp"
#include "tests/support/compare.hpp"

namespace vsae {
namespace {

constexpr ConvParams kParams{2, 1};
const test::Tolerance kExact{0.0, 0.0};

std::size_t count(const Shape& s) { return static_cast<std::size_t>(s.numel()); }

// One conv2d layer's tensors: x, w, bias, y = relu(conv(x, w) + bias) and the gradients.
struct Layer {
  Layer(Backend& be, const Shape& x_shape, const Shape& w_shape)
      : x(be, x_shape),
        w(be, w_shape),
        b(be, Shape{w_shape[0]}),
        y(be, conv2d_output_shape(x_shape, w_shape, kParams)),
        dy(be, y.tensor().shape),
        dx(be, x_shape),
        dw(be, w_shape) {}
  ConvEpilogue epilogue() const { return ConvEpilogue{&b.tensor(), Activation::relu}; }
  // New values in the same buffers, as a training step gives them; zeroed gradients.
  void fill(std::uint64_t seed) {
    x.upload(test::random_uniform(count(x.tensor().shape), -1, 1, seed));
    w.upload(test::random_uniform(count(w.tensor().shape), -0.3f, 0.3f, seed + 1));
    b.upload(test::random_uniform(count(b.tensor().shape), -0.1f, 0.1f, seed + 2));
    dy.upload(test::random_uniform(count(dy.tensor().shape), -1, 1, seed + 3));
    dx.upload(std::vector<float>(count(dx.tensor().shape), 0.0f));
    dw.upload(std::vector<float>(count(dw.tensor().shape), 0.0f));
  }
  test::GuardedTensor x, w, b, y, dy, dx, dw;
};

void expect_same(const test::GuardedTensor& ref, const test::GuardedTensor& got, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_TRUE(test::all_close(ref.download<float>(), got.download<float>(), kExact));
  EXPECT_TRUE(got.guards_intact());
}

// conv1 (3 -> 32 channels) feeds conv2 (32 -> 32), whose x is conv1's y: with states, conv1's
// forward fills conv2's copy of x. The reference layers run the same ops without states.
TEST(ConvNodeStateCpu, ChainMatchesTheOpsWithoutStateStepAfterStep) {
  Backend& be = test::cpu();
  const Shape x1{4, 3, 16, 16}, w1{32, 3, 4, 4}, w2{32, 32, 4, 4};
  Layer ref1(be, x1, w1), got1(be, x1, w1);
  const Shape x2 = ref1.y.tensor().shape;
  Layer ref2(be, x2, w2), got2(be, x2, w2);
  const std::shared_ptr<ConvNodeState> s1 = conv2d_prepare(be, x1, w1, kParams, got1.epilogue());
  const std::shared_ptr<ConvNodeState> s2 = conv2d_prepare(be, x2, w2, kParams, got2.epilogue(), s1.get());
  ASSERT_NE(s1, nullptr);
  ASSERT_NE(s2, nullptr);
  for (std::uint64_t step = 0; step < 3; ++step) {
    SCOPED_TRACE(testing::Message() << "step " << step);
    for (Layer* l : {&ref1, &got1}) l->fill(100 * step + 10);
    for (Layer* l : {&ref2, &got2}) l->fill(100 * step + 20);  // x2 is overwritten by conv1's forward
    conv2d_forward(be, ref1.x, ref1.w, ref1.y, kParams, ref1.epilogue());
    conv2d_forward(be, ref1.y, ref2.w, ref2.y, kParams, ref2.epilogue());
    conv2d_backward(be, ref1.y, ref2.w, ref2.dy, ref2.dx, ref2.dw, kParams);
    conv2d_backward(be, ref1.x, ref1.w, ref1.dy, ref1.dx, ref1.dw, kParams);
    conv2d_forward(be, got1.x, got1.w, got1.y, kParams, got1.epilogue(), s1.get());
    conv2d_forward(be, got1.y, got2.w, got2.y, kParams, got2.epilogue(), s2.get());
    conv2d_backward(be, got1.y, got2.w, got2.dy, got2.dx, got2.dw, kParams, DxMode::accumulate, s2.get());
    conv2d_backward(be, got1.x, got1.w, got1.dy, got1.dx, got1.dw, kParams, DxMode::accumulate, s1.get());
    expect_same(ref1.y, got1.y, "conv1 y");
    expect_same(ref2.y, got2.y, "conv2 y");
    expect_same(ref2.dx, got2.dx, "conv2 dx");
    expect_same(ref2.dw, got2.dw, "conv2 dw");
    expect_same(ref1.dx, got1.dx, "conv1 dx");
    expect_same(ref1.dw, got1.dw, "conv1 dw");
  }
}

// The link is real: conv2 reads conv1's output as conv1's forward wrote it, not y's buffer, which
// (against the graph's contract) is overwritten in between here.
TEST(ConvNodeStateCpu, ConsumerReadsTheProducersOutputAsWritten) {
  Backend& be = test::cpu();
  const Shape x1{2, 3, 16, 16}, w1{32, 3, 4, 4}, w2{32, 32, 4, 4};
  Layer l1(be, x1, w1);
  Layer l2(be, l1.y.tensor().shape, w2), ref2(be, l1.y.tensor().shape, w2);
  const std::shared_ptr<ConvNodeState> s1 = conv2d_prepare(be, x1, w1, kParams, l1.epilogue());
  const std::shared_ptr<ConvNodeState> s2 =
      conv2d_prepare(be, l1.y.tensor().shape, w2, kParams, l2.epilogue(), s1.get());
  l1.fill(1);
  l2.fill(2);
  ref2.fill(2);
  conv2d_forward(be, l1.x, l1.w, l1.y, kParams, l1.epilogue(), s1.get());
  conv2d_forward(be, l1.y, ref2.w, ref2.y, kParams, ref2.epilogue());  // from conv1's output
  const std::vector<float> y1 = l1.y.download<float>();
  l1.y.upload(std::vector<float>(y1.size(), 5.0f));
  conv2d_forward(be, l1.y, l2.w, l2.y, kParams, l2.epilogue(), s2.get());
  expect_same(ref2.y, l2.y, "conv2 y");
  // Without a state the op reads the buffer: a different output.
  conv2d_forward(be, l1.y, ref2.w, ref2.y, kParams, ref2.epilogue());
  EXPECT_NE(ref2.y.download<float>(), l2.y.download<float>());
}

// A transposed convolution's state: its own copy of x, made by each forward and read by its
// backward, with x refilled every step.
TEST(ConvNodeStateCpu, TransposedMatchesTheOpWithoutStateStepAfterStep) {
  Backend& be = test::cpu();
  const Shape x{4, 32, 8, 8}, w{32, 32, 4, 4};
  const Shape y = conv_transpose2d_output_shape(x, w, kParams);
  test::GuardedTensor xt(be, x), wt(be, w), dy(be, y), ref_y(be, y), got_y(be, y);
  test::GuardedTensor ref_dx(be, x), got_dx(be, x), ref_dw(be, w), got_dw(be, w);
  const std::shared_ptr<ConvNodeState> state = conv_transpose2d_prepare(be, x, w, kParams);
  ASSERT_NE(state, nullptr);
  for (std::uint64_t step = 0; step < 3; ++step) {
    SCOPED_TRACE(testing::Message() << "step " << step);
    xt.upload(test::random_uniform(count(x), -1, 1, 300 + step));
    wt.upload(test::random_uniform(count(w), -0.3f, 0.3f, 400 + step));
    dy.upload(test::random_uniform(count(y), -1, 1, 500 + step));
    for (test::GuardedTensor* g : {&ref_dx, &got_dx}) g->upload(std::vector<float>(count(x), 0.0f));
    for (test::GuardedTensor* g : {&ref_dw, &got_dw}) g->upload(std::vector<float>(count(w), 0.0f));
    conv_transpose2d_forward(be, xt, wt, ref_y, kParams);
    conv_transpose2d_backward(be, xt, wt, dy, ref_dx, ref_dw, kParams);
    conv_transpose2d_forward(be, xt, wt, got_y, kParams, {}, state.get());
    conv_transpose2d_backward(be, xt, wt, dy, got_dx, got_dw, kParams, DxMode::accumulate, state.get());
    expect_same(ref_y, got_y, "y");
    expect_same(ref_dx, got_dx, "dx");
    expect_same(ref_dw, got_dw, "dw");
  }
}

}  // namespace
}  // namespace vsae
