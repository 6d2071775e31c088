// Layer builders: create a layer's PyTorch-named parameters and its nodes in one call.
#pragma once

#include <string>

#include "engine/graph/graph.hpp"
#include "engine/ops/bias_act.hpp"
#include "engine/ops/conv.hpp"

namespace vsae {

// The convolution layers' output feeds one layer: where x is a convolution layer's output, the
// layer on it writes x's gradient whole (GradUse::written), so no other node may add to it (a
// second convolution layer on it is refused).
// name.weight (O, C, k, k), name.bias (O); returns act(conv(x) + b).
Value* conv2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                    ConvParams p, Activation act);
// name.weight (C, O, k, k), name.bias (O); returns act(conv_transpose(x) + b).
Value* conv_transpose2d_layer(Graph& g, const std::string& name, Value* x, int out_channels, int kernel,
                              ConvParams p, Activation act);
// name.weight (OUT, IN), name.bias (OUT); returns act(x Wᵀ + b).
Value* linear_layer(Graph& g, const std::string& name, Value* x, int out_features, Activation act);
// The same layer over parameters made beforehand: w (OUT, IN), b (OUT).
Value* linear_layer(Graph& g, const std::string& name, Value* x, Parameter* w, Parameter* b, Activation act);

}  // namespace vsae
