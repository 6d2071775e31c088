// Shape checks and counters shared by every sparsifier node.
#include "engine/graph/sparsifier_node.hpp"

namespace vsae {

void SparsifierNode::check_shapes() const {
  VSAE_CHECK(z_pre_->data.shape == z_pre_->shape && a_->data.shape == z_pre_->shape,
             kind() << ": z_pre " << z_pre_->data.shape << " and a " << a_->data.shape << " must both be "
                    << z_pre_->shape);
  VSAE_CHECK(bias_->value.shape == (Shape{z_pre_->shape[1]}), kind() << ": bias has shape " << bias_->value.shape);
}

const ActivityCounters& SparsifierNode::counters() const {
  static const ActivityCounters off{};
  return training_ ? counters_ : off;
}

}  // namespace vsae
