// The BatchTopK sparsifier node (Bussmann et al. 2024): training keeps the k·B largest
// z = z_pre + b_enc of the whole batch and moves a running threshold θ towards the smallest kept
// activation; evaluation applies a = z·[z > θ] per example, so a code does not depend on its batch.
#pragma once

#include "engine/graph/sparsifier_node.hpp"

namespace vsae {

class BatchTopkNode : public SparsifierNode {
 public:
  // k: i32 (1); min_kept, threshold: f32 (1), all on the device. threshold is the run's state
  // (checkpointed); start it at kBatchTopkThresholdUnset. beta: θ's decay per training step.
  BatchTopkNode(Value* z_pre, Parameter* bias, Value* a, Tensor k, Tensor min_kept, Tensor threshold, float beta,
                ActivityCounters counters)
      : SparsifierNode(z_pre, bias, a, counters), k_(k), min_kept_(min_kept), threshold_(threshold), beta_(beta) {}
  const char* kind() const override { return "sparsify_batchtopk"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void forward_impl(Backend& be) override;

 private:
  Tensor k_, min_kept_, threshold_;
  float beta_;
};

}  // namespace vsae
