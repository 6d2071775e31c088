// The Top-k sparsifier node (DESIGN §4): per row, the k largest z = z_pre + b_enc are kept and
// a = max(z, 0) on them; k is a device scalar the schedule moves.
#pragma once

#include "engine/graph/sparsifier_node.hpp"

namespace vsae {

class TopkNode : public SparsifierNode {
 public:
  // k: i32 (1) on the device.
  TopkNode(Value* z_pre, Parameter* bias, Value* a, Tensor k, ActivityCounters counters)
      : SparsifierNode(z_pre, bias, a, counters), k_(k) {}
  const char* kind() const override { return "sparsify_topk"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void forward_impl(Backend& be) override;

 private:
  Tensor k_;
};

}  // namespace vsae
