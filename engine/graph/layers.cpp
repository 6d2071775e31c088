// Layer builders over the node types; fan-in follows PyTorch's default initialisation.
#include "engine/graph/layers.hpp"

#include "engine/graph/nodes.hpp"

namespace vsae {

namespace {
// The layer's bias and output, y = act(pre + b). The bias_act node is the only one that takes a
// gradient to pre, so pre's gradient is written, not accumulated (GradUse::written).
FusedBiasAct bias_act_output(Graph& g, const std::string& name, const Value* pre, std::int64_t fan_in,
                             Activation act) {
  Parameter* b = g.parameter(name + ".bias", Shape{pre->shape[1]}, ParamInit{fan_in});
  return FusedBiasAct{b, g.value(name, pre->shape), act};
}

// A convolution layer: the conv node applies the bias and activation in its forward, and the
// bias_act node after it (so its backward runs first) takes them back. Where x is another
// convolution layer's output, it feeds this layer alone (layers.hpp), whose backward then writes
// x's gradient rather than adding to a zeroed one.
template <class ConvNode>
Value* add_conv_layer(Graph& g, const std::string& name, Value* x, Parameter* w, const Shape& pre_shape,
                      ConvParams p, std::int64_t fan_in, Activation act) {
  if (dynamic_cast<const Conv2dNode*>(x->producer) != nullptr ||
      dynamic_cast<const ConvTranspose2dNode*>(x->producer) != nullptr) {
    VSAE_CHECK(x->grad_use == GradUse::accumulated,
               "layer " << name << ": " << x->name << " already feeds another convolution layer");
    x->grad_use = GradUse::written;
  }
  Value* pre = g.gradient_only(name + ".pre", pre_shape);
  const FusedBiasAct out = bias_act_output(g, name, pre, fan_in, act);
  out.y->producer = g.add<ConvNode>(x, w, pre, p, out);
  g.add<BiasActNode>(pre, out.b, out.y, act, BiasActNode::Pass::backward_only);
  return out.y;
}
}  // namespace

Value* conv2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                    ConvParams p, Activation act) {
  const std::int64_t in_channels = x->shape[1];
  const std::int64_t fan_in = in_channels * kernel * kernel;
  Parameter* w = g.parameter(name + ".weight", Shape{out_channels, in_channels, kernel, kernel}, ParamInit{fan_in});
  return add_conv_layer<Conv2dNode>(g, name, x, w, conv2d_output_shape(x->shape, w->shape, p), p, fan_in, act);
}

Value* conv_transpose2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                              ConvParams p, Activation act) {
  const std::int64_t in_channels = x->shape[1];
  // PyTorch computes a transposed convolution's fan-in from weight dim 1 (its output channels).
  const std::int64_t fan_in = std::int64_t{out_channels} * kernel * kernel;
  Parameter* w = g.parameter(name + ".weight", Shape{in_channels, out_channels, kernel, kernel}, ParamInit{fan_in});
  return add_conv_layer<ConvTranspose2dNode>(g, name, x, w, conv_transpose2d_output_shape(x->shape, w->shape, p),
                                             p, fan_in, act);
}

Value* linear_layer(Graph& g, const std::string& name, Value* x, int out_features, Activation act) {
  VSAE_CHECK(x->shape.ndim() == 2, "linear layer " << name << " needs a 2-D input, got " << x->shape);
  const std::int64_t in_features = x->shape[1];
  Parameter* w = g.parameter(name + ".weight", Shape{out_features, in_features}, ParamInit{in_features});
  Parameter* b = g.parameter(name + ".bias", Shape{out_features}, ParamInit{in_features});
  return linear_layer(g, name, x, w, b, act);
}

Value* linear_layer(Graph& g, const std::string& name, Value* x, Parameter* w, Parameter* b, Activation act) {
  VSAE_CHECK(x->shape.ndim() == 2 && w->shape.ndim() == 2 && w->shape[1] == x->shape[1] &&
                 b->shape == (Shape{w->shape[0]}),
             "linear layer " << name << ": input " << x->shape << ", weight " << w->shape << ", bias " << b->shape);
  Value* pre = g.value(name + ".pre", Shape{x->shape[0], w->shape[0]}, true, GradUse::written);
  g.add<LinearNode>(x, w, pre);
  Value* y = g.value(name, pre->shape);
  g.add<BiasActNode>(pre, b, y, act);
  return y;
}

}  // namespace vsae
