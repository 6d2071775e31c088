// Dispatch from the sparsify node to the fused Top-k and L1 kernels.
#include "engine/graph/sparsify_nodes.hpp"

#include "engine/ops/l1.hpp"
#include "engine/ops/topk.hpp"

namespace vsae {

const char* SparsifyNode::kind() const {
  switch (method_) {
    case SparsifyMethod::topk: return "sparsify_topk";
    case SparsifyMethod::l1: return "sparsify_l1";
    case SparsifyMethod::l1_prox: return "sparsify_l1_prox";
  }
  return "sparsify";
}

void SparsifyNode::check_shapes() const {
  VSAE_CHECK(z_pre_->data.shape == z_pre_->shape && a_->data.shape == z_pre_->shape,
             kind() << ": z_pre " << z_pre_->data.shape << " and a " << a_->data.shape << " must both be "
                    << z_pre_->shape);
  VSAE_CHECK(bias_->value.shape == (Shape{z_pre_->shape[1]}), kind() << ": bias has shape " << bias_->value.shape);
  VSAE_CHECK(method_ != SparsifyMethod::l1 || penalty_ != nullptr, kind() << ": the L1 node needs a penalty value");
}

void SparsifyNode::prepare(Backend& be) {
  if (method_ == SparsifyMethod::topk)
    topk_prepare(be, z_pre_->shape[0], z_pre_->shape[1]);
  else
    l1_prepare(be, z_pre_->shape[0], z_pre_->shape[1]);
}

void SparsifyNode::forward_impl(Backend& be) {
  const ActivityCounters off{};
  const ActivityCounters& counters = counting_ ? counters_ : off;
  switch (method_) {
    case SparsifyMethod::topk:
      topk_forward(be, z_pre_->data, bias_->value, control_, a_->data, Tensor(), Tensor(), counters);
      break;
    case SparsifyMethod::l1:
      l1_forward(be, z_pre_->data, bias_->value, control_, a_->data, penalty_->data, counters);
      break;
    case SparsifyMethod::l1_prox:
      l1_prox_forward(be, z_pre_->data, bias_->value, control_, a_->data, counters);
      break;
  }
}

void SparsifyNode::backward(Backend& be) {
  switch (method_) {
    case SparsifyMethod::topk: topk_backward(be, a_->data, a_->grad, z_pre_->grad, bias_->grad); break;
    case SparsifyMethod::l1: l1_backward(be, a_->data, a_->grad, control_, z_pre_->grad, bias_->grad); break;
    case SparsifyMethod::l1_prox: l1_prox_backward(be, a_->data, a_->grad, z_pre_->grad, bias_->grad); break;
  }
}

}  // namespace vsae
