// Graph engine: memory planning, aliases, parameter layout and the zero-then-accumulate backward
// (with the written gradients it skips).
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "engine/graph/graph.hpp"
#include "engine/graph/layers.hpp"
#include "engine/ops/adam.hpp"
#include "tests/support/backends.hpp"

namespace vsae {
namespace {

TEST(Graph, PlansParametersGradientsAndAliases) {
  Graph g;
  Value* x = g.value("x", Shape{2, 3, 4, 4}, false);
  Value* flat = g.alias("flat", x, Shape{2, 48});
  Value* y = linear_layer(g, "fc", flat, 5, Activation::relu);
  g.plan(test::cpu(), 1);

  EXPECT_EQ(flat->data.data, x->data.data);
  EXPECT_FALSE(flat->grad.defined());  // x needs no gradient, nor does its alias
  EXPECT_TRUE(y->grad.defined());
  Parameter& w = g.find_parameter("fc.weight");
  Parameter& b = g.find_parameter("fc.bias");
  EXPECT_EQ(w.shape, (Shape{5, 48}));
  EXPECT_EQ(b.shape, (Shape{5}));
  EXPECT_EQ(g.parameter_count(), 5 * 48 + 5);
  // The arenas share one layout, so one Adam launch covers every tensor of a group.
  ASSERT_EQ(g.param_groups().size(), 1u);
  const ParamGroup& all = g.param_groups()[0];
  auto offset = [](const Tensor& t, const Tensor& base) {
    return static_cast<const std::byte*>(t.data) - static_cast<const std::byte*>(base.data);
  };
  EXPECT_EQ(offset(b.value, all.params), offset(b.grad, all.grads));
  EXPECT_EQ(offset(b.value, all.params), offset(b.adam_m, all.adam_m));
  EXPECT_EQ(offset(b.value, all.params), offset(b.adam_v, all.adam_v));
  EXPECT_THROW(g.value("late", Shape{1}), Error);
  EXPECT_THROW(g.find_parameter("fc.nothing"), Error);
}

// A parameter with its own learning-rate scale is laid out after the others, in a group of its
// own, and one Adam launch per group moves it by its scaled rate.
TEST(Graph, ParameterGroupsSplitTheArenaByLearningRateScale) {
  Backend& be = test::cpu();
  Graph g;
  Value* x = g.value("x", Shape{2, 3}, false);
  linear_layer(g, "fc", x, 5, Activation::relu);
  Parameter* extra = g.parameter("extra", Shape{7}, ParamInit{4});
  extra->lr_scale = 100.0f;
  g.plan(be, 1);

  const std::vector<ParamGroup>& groups = g.param_groups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].lr_scale, 1.0f);
  EXPECT_EQ(groups[1].lr_scale, 100.0f);
  EXPECT_GE(groups[0].params.numel(), 5 * 3 + 5);
  EXPECT_GE(groups[1].params.numel(), 7);  // each tensor's region is padded to the arena's alignment
  const Parameter& w = g.find_parameter("fc.weight");
  auto inside = [](const Tensor& t, const Tensor& group) {
    const auto* p = static_cast<const float*>(t.data);
    const auto* base = static_cast<const float*>(group.data);
    return p >= base && p + t.numel() <= base + group.numel();
  };
  EXPECT_TRUE(inside(w.value, groups[0].params) && inside(w.grad, groups[0].grads));
  EXPECT_TRUE(inside(extra->value, groups[1].params) && inside(extra->adam_m, groups[1].adam_m) &&
              inside(extra->adam_v, groups[1].adam_v) && inside(extra->grad, groups[1].grads));
  EXPECT_EQ(static_cast<const float*>(groups[0].params.data) + groups[0].params.numel(),
            static_cast<const float*>(groups[1].params.data));  // the groups tile the arena

  auto download_floats = [&](const Tensor& t) {
    std::vector<float> host(static_cast<std::size_t>(t.numel()));
    be.download(host.data(), t);
    return host;
  };
  // Adam's first step moves every parameter with a non-zero gradient by lr · sign(g).
  const std::vector<float> before = download_floats(extra->value);
  const std::vector<float> w_before = download_floats(w.value);
  for (const ParamGroup& group : groups)
    be.upload(group.grads, std::vector<float>(static_cast<std::size_t>(group.grads.numel()), 0.25f).data());
  Storage step_store = be.allocate(Storage::kAlignment);
  Tensor step = step_store.view(Shape{1}, DType::i32);
  const std::int32_t one = 1;
  be.upload(step, &one);
  for (const ParamGroup& group : groups)
    adam_step(be, group.params, group.grads, group.adam_m, group.adam_v, step, AdamHyper{1e-4f * group.lr_scale});
  const std::vector<float> after = download_floats(extra->value);
  const std::vector<float> w_after = download_floats(w.value);
  for (std::size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(before[i] - after[i], 1e-2f, 1e-6f);
  for (std::size_t i = 0; i < w_after.size(); ++i) EXPECT_NEAR(w_before[i] - w_after[i], 1e-4f, 1e-6f);
}

// A layer's pre-activation gradient is written by its bias_act node alone (GradUse::written), so
// it is planned after the accumulated gradients, which backward zeroes; backward still leaves
// every gradient defined.
TEST(Graph, WrittenGradientsFollowTheZeroedOnesAndAreWrittenWhole) {
  Graph g;
  Value* x = g.value("x", Shape{2, 3, 8, 8}, false);
  Value* y = conv2d_layer(g, "conv", x, 4, 4, ConvParams{2, 1}, Activation::relu);
  Value* z = linear_layer(g, "fc", g.alias("flat", y, Shape{2, 4 * 4 * 4}), 5, Activation::none);
  g.plan(test::cpu(), 1);
  const Value& conv_pre = g.find_value("conv.pre");
  const Value& fc_pre = g.find_value("fc.pre");
  EXPECT_EQ(conv_pre.grad_use, GradUse::written);
  EXPECT_EQ(fc_pre.grad_use, GradUse::written);
  EXPECT_EQ(y->grad_use, GradUse::accumulated);
  EXPECT_FALSE(conv_pre.data.defined());  // the conv writes y, with its bias and ReLU, directly
  EXPECT_TRUE(fc_pre.data.defined());
  for (const Tensor* accumulated : {&y->grad, &z->grad, &g.find_parameter("fc.bias").grad})
    for (const Value* written : {&conv_pre, &fc_pre}) EXPECT_LT(accumulated->data, written->grad.data);

  std::vector<const Tensor*> grads{&y->grad, &z->grad, &conv_pre.grad, &fc_pre.grad};
  for (const Parameter& p : g.parameters()) grads.push_back(&p.grad);
  for (const Tensor* t : grads) std::fill_n(t->ptr<float>(), t->numel(), std::numeric_limits<float>::quiet_NaN());
  g.forward(test::cpu());
  g.backward(test::cpu());  // z's gradient is zeroed, so every gradient comes out 0
  for (const Tensor* t : grads)
    for (std::int64_t i = 0; i < t->numel(); ++i) ASSERT_EQ(t->ptr<float>()[i], 0.0f);
}

// A convolution layer on another one's output writes that output's gradient whole (so backward
// need not zero it), and a second convolution layer on the same output is refused.
TEST(Graph, AConvolutionLayerWritesTheGradientOfTheConvolutionOutputItReads) {
  Graph g;
  Value* x = g.value("x", Shape{2, 3, 16, 16}, false);
  Value* y1 = conv2d_layer(g, "conv1", x, 4, 4, ConvParams{2, 1}, Activation::relu);
  Value* y2 = conv2d_layer(g, "conv2", y1, 4, 4, ConvParams{2, 1}, Activation::relu);
  Value* y3 = conv_transpose2d_layer(g, "deconv", y2, 4, 4, ConvParams{2, 1}, Activation::relu);
  EXPECT_THROW(conv2d_layer(g, "again", y1, 4, 4, ConvParams{2, 1}, Activation::relu), Error);
  Value* z = linear_layer(g, "fc", g.alias("flat", y3, Shape{2, 4 * 8 * 8}), 5, Activation::none);
  g.plan(test::cpu(), 1);
  EXPECT_EQ(x->grad_use, GradUse::accumulated);  // no convolution layer's output
  EXPECT_EQ(y1->grad_use, GradUse::written);
  EXPECT_EQ(y2->grad_use, GradUse::written);
  EXPECT_EQ(y3->grad_use, GradUse::accumulated);  // read by the linear layer, through an alias
  // Written whole: NaN before, 0 after a backward from z's zeroed gradient.
  for (const Value* v : {y1, y2})
    std::fill_n(v->grad.ptr<float>(), v->grad.numel(), std::numeric_limits<float>::quiet_NaN());
  g.forward(test::cpu());
  g.backward(test::cpu());
  for (const Value* v : {y1, y2, z})
    for (std::int64_t i = 0; i < v->grad.numel(); ++i) ASSERT_EQ(v->grad.ptr<float>()[i], 0.0f) << v->name;
}

TEST(Graph, InitialisationFollowsPyTorchBounds) {
  Graph g;
  Value* x = g.value("x", Shape{1, 100}, false);
  linear_layer(g, "fc", x, 50, Activation::none);
  g.plan(test::cpu(), 42);
  const Parameter& w = g.find_parameter("fc.weight");
  const float* v = w.value.ptr<float>();
  float lo = 1, hi = -1;
  for (std::int64_t i = 0; i < w.value.numel(); ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  EXPECT_GE(lo, -0.1f);  // bound 1/sqrt(100)
  EXPECT_LE(hi, 0.1f);
  EXPECT_LT(lo, -0.09f);
  EXPECT_GT(hi, 0.09f);
}

TEST(Graph, DuplicateParameterNamesAreRejected) {
  Graph g;
  Value* x = g.value("x", Shape{1, 4}, false);
  linear_layer(g, "fc", x, 4, Activation::none);
  EXPECT_THROW(linear_layer(g, "fc", x, 4, Activation::none), Error);
}

TEST(Graph, ShapeMismatchIsCaughtBeforeTheOpRuns) {
  Graph g;
  Value* x = g.value("x", Shape{2, 4}, false);
  Value* y = linear_layer(g, "fc", x, 3, Activation::none);
  g.plan(test::cpu(), 1);
  y->data = y->data.reshaped(Shape{3, 2});  // corrupt a planned view
  EXPECT_THROW(g.forward(test::cpu()), Error);
}

}  // namespace
}  // namespace vsae
