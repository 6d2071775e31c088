// The revival nodes: the dead-unit mask feeds the shared Top-k kernels; the residual is one
// elementwise op.
#include "engine/graph/revival_nodes.hpp"

#include "engine/ops/revival.hpp"
#include "engine/ops/topk.hpp"

namespace vsae {

void AuxkCodesNode::check_shapes() const {
  const Shape& s = z_pre_->shape;
  VSAE_CHECK(s.ndim() == 2 && z_pre_->data.shape == s && z_dead_->data.shape == s &&
                 a_aux_->data.shape == s,
             kind() << ": z_pre " << z_pre_->data.shape << ", z_dead " << z_dead_->data.shape
                    << " and a_aux " << a_aux_->data.shape << " must all be " << s);
  VSAE_CHECK(bias_->value.shape == (Shape{s[1]}), kind() << ": bias has shape " << bias_->value.shape);
  VSAE_CHECK(since_.shape == (Shape{s[1]}), kind() << ": since has shape " << since_.shape);
}

void AuxkCodesNode::prepare(Backend& be) { topk_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void AuxkCodesNode::forward_impl(Backend& be) {
  mask_live_units(be, z_pre_->data, since_, dead_steps_, z_dead_->data);
  // -Inf + b stays -Inf, so the bias add inside Top-k keeps live units out of the selection; with
  // fewer dead units than k_aux the surplus picks are -Inf and give a = 0.
  topk_forward(be, z_dead_->data, bias_->value, k_aux_, a_aux_->data, Tensor(), Tensor(), ActivityCounters{});
}

void AuxkCodesNode::backward(Backend& be) {
  topk_backward(be, a_aux_->data, a_aux_->grad, z_pre_->grad, bias_->grad);
}

void ResidualNode::check_shapes() const {
  VSAE_CHECK(target_->data.shape == target_->shape && approx_->data.shape == target_->shape &&
                 e_->data.shape == target_->shape,
             kind() << ": target " << target_->data.shape << ", approx " << approx_->data.shape
                    << " and e " << e_->data.shape << " must all be " << target_->shape);
}

void ResidualNode::forward_impl(Backend& be) {
  residual_forward(be, target_->data, approx_->data, e_->data);
}

}  // namespace vsae
