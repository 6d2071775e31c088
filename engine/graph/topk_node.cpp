// The Top-k node over the fused Top-k kernel and its sparse backward.
#include "engine/graph/topk_node.hpp"

#include "engine/ops/topk.hpp"

namespace vsae {

void TopkNode::prepare(Backend& be) { topk_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void TopkNode::forward_impl(Backend& be) {
  topk_forward(be, z_pre_->data, bias_->value, k_, a_->data, Tensor(), Tensor(), counters());
}

void TopkNode::backward(Backend& be) { topk_backward(be, a_->data, a_->grad, z_pre_->grad, bias_->grad); }

}  // namespace vsae
