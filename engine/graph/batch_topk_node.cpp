// The BatchTopK node over the batch-wide selection, its threshold update and the per-example
// evaluation form.
#include "engine/graph/batch_topk_node.hpp"

#include "engine/ops/batch_topk.hpp"

namespace vsae {

void BatchTopkNode::prepare(Backend& be) { batch_topk_prepare(be, z_pre_->shape[0], z_pre_->shape[1]); }

void BatchTopkNode::forward_impl(Backend& be) {
  if (!training()) {
    batch_topk_eval_forward(be, z_pre_->data, bias_->value, threshold_, a_->data, counters());
    return;
  }
  batch_topk_forward(be, z_pre_->data, bias_->value, k_, a_->data, min_kept_, counters());
  batch_topk_update_threshold(be, min_kept_, beta_, threshold_);
}

void BatchTopkNode::backward(Backend& be) {
  batch_topk_backward(be, a_->data, a_->grad, z_pre_->grad, bias_->grad);
}

}  // namespace vsae
