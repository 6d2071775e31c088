// The JumpReLU node over the fused JumpReLU kernels and their pseudo-gradient backward.
#include "engine/graph/jumprelu_node.hpp"

#include "engine/ops/jumprelu.hpp"

namespace vsae {

void JumpReluNode::check_shapes() const {
  SparsifierNode::check_shapes();
  VSAE_CHECK(log_threshold_->value.shape == (Shape{z_pre_->shape[1]}),
             kind() << ": log_threshold has shape " << log_threshold_->value.shape);
  VSAE_CHECK(active_.defined() && loss_ != nullptr, kind() << ": needs a batch_active counter and a loss value");
}

void JumpReluNode::prepare(Backend& be) { jumprelu_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void JumpReluNode::forward_impl(Backend& be) {
  const ActivityCounters counts{counters().fire_count, active_, 0.0f};
  jumprelu_forward(be, z_pre_->data, bias_->value, log_threshold_->value, a_->data, counts);
  jumprelu_sparsity_loss(be, active_, z_pre_->shape[0], k_, lambda_, loss_->data);
}

void JumpReluNode::backward(Backend& be) {
  jumprelu_backward(be, z_pre_->data, bias_->value, log_threshold_->value, a_->grad, bandwidth_,
                    JumpReluSparsity{active_, k_, lambda_}, z_pre_->grad, bias_->grad, log_threshold_->grad);
}

}  // namespace vsae
