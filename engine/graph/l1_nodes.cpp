// The L1 and L1-prox nodes over the fused L1 kernels and their sparse backward.
#include "engine/graph/l1_nodes.hpp"

#include "engine/ops/l1.hpp"

namespace vsae {

void L1Node::check_shapes() const {
  SparsifierNode::check_shapes();
  VSAE_CHECK(penalty_ != nullptr, kind() << ": the L1 node needs a penalty value");
}

void L1Node::prepare(Backend& be) { l1_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void L1Node::forward_impl(Backend& be) {
  l1_forward(be, z_pre_->data, bias_->value, lambda_, a_->data, penalty_->data, counters());
}

void L1Node::backward(Backend& be) { l1_backward(be, a_->data, a_->grad, lambda_, z_pre_->grad, bias_->grad); }

void L1ProxNode::prepare(Backend& be) { l1_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void L1ProxNode::forward_impl(Backend& be) {
  if (relative_.enabled())
    l1_prox_scale(be, z_pre_->data, bias_->value, relative_.running, relative_.beta, training(), relative_.scale);
  l1_prox_forward(be, z_pre_->data, bias_->value, tau_, a_->data, counters(), relative_.scale);
}

void L1ProxNode::backward(Backend& be) { l1_prox_backward(be, a_->data, a_->grad, z_pre_->grad, bias_->grad); }

void L1ProxPerUnitNode::forward_impl(Backend& be) {
  // Training thresholds at τ with the batch's statistics, and the count that tracks evaluation's τ;
  // evaluation's at its own τ with the running statistics.
  const bool train = training();
  l1_prox_unit_threshold(be, z_pre_->data, bias_->value, train ? tau_ : state_.eval_tau, state_.running_mean,
                         state_.running_std, state_.beta, train, state_.threshold, state_.mean, state_.std_dev,
                         state_.eval_tau, train ? state_.eval_active : Tensor());
  l1_prox_forward_per_unit(be, z_pre_->data, bias_->value, state_.threshold, a_->data, counters());
}

void L1ProxPerUnitNode::backward(Backend& be) {
  l1_prox_backward_per_unit(be, z_pre_->data, bias_->value, tau_, state_.mean, state_.std_dev, a_->data, a_->grad,
                            z_pre_->grad, bias_->grad);
}

}  // namespace vsae
