// Layer builders over the node types; fan-in follows PyTorch's default initialisation.
#include "engine/graph/layers.hpp"

#include "engine/graph/nodes.hpp"

namespace vsae {

namespace {
Value* add_bias_act(Graph& g, const std::string& name, Value* pre, std::int64_t channels,
                    std::int64_t fan_in, Activation act) {
  Parameter* b = g.parameter(name + ".bias", Shape{channels}, ParamInit{fan_in});
  Value* y = g.value(name, pre->shape);
  g.add<BiasActNode>(pre, b, y, act);
  return y;
}
}  // namespace

Value* conv2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                    ConvParams p, Activation act) {
  const std::int64_t in_channels = x->shape[1];
  const std::int64_t fan_in = in_channels * kernel * kernel;
  Parameter* w = g.parameter(name + ".weight", Shape{out_channels, in_channels, kernel, kernel}, ParamInit{fan_in});
  Value* pre = g.value(name + ".pre", conv2d_output_shape(x->shape, w->shape, p));
  g.add<Conv2dNode>(x, w, pre, p);
  return add_bias_act(g, name, pre, out_channels, fan_in, act);
}

Value* conv_transpose2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                              ConvParams p, Activation act) {
  const std::int64_t in_channels = x->shape[1];
  // PyTorch computes a transposed convolution's fan-in from weight dim 1 (its output channels).
  const std::int64_t fan_in = std::int64_t{out_channels} * kernel * kernel;
  Parameter* w = g.parameter(name + ".weight", Shape{in_channels, out_channels, kernel, kernel}, ParamInit{fan_in});
  Value* pre = g.value(name + ".pre", conv_transpose2d_output_shape(x->shape, w->shape, p));
  g.add<ConvTranspose2dNode>(x, w, pre, p);
  return add_bias_act(g, name, pre, out_channels, fan_in, act);
}

Value* linear_layer(Graph& g, const std::string& name, Value* x, int out_features, Activation act) {
  VSAE_CHECK(x->shape.ndim() == 2, "linear layer " << name << " needs a 2-D input, got " << x->shape);
  const std::int64_t in_features = x->shape[1];
  Parameter* w = g.parameter(name + ".weight", Shape{out_features, in_features}, ParamInit{in_features});
  Value* pre = g.value(name + ".pre", Shape{x->shape[0], out_features});
  g.add<LinearNode>(x, w, pre);
  return add_bias_act(g, name, pre, out_features, in_features, act);
}

}  // namespace vsae
