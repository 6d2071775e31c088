// The base of the SAE sparsifier nodes: z_pre (B, W), the encoder GEMM output without its bias,
// becomes the codes a (B, W) with b_enc added inside the sparsifier's fused kernel, and each
// training forward records per-unit activity into the counters it is given. One node per method,
// each in its own file: topk_node, l1_nodes (L1 and L1-prox), batch_topk_node, jumprelu_node.
#pragma once

#include "engine/graph/graph.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

class SparsifierNode : public Node {
 public:
  SparsifierNode(Value* z_pre, Parameter* bias, Value* a, ActivityCounters counters)
      : z_pre_(z_pre), bias_(bias), a_(a), counters_(counters) {}

  // Evaluation passes turn counting off so they leave the training counters alone, and run the
  // evaluation form of a method that has one (BatchTopK's per-example threshold).
  void set_training(bool on) { training_ = on; }

 protected:
  void check_shapes() const override;
  // The training counters, or none during evaluation.
  const ActivityCounters& counters() const;
  bool training() const { return training_; }

  Value* z_pre_;
  Parameter* bias_;
  Value* a_;

 private:
  ActivityCounters counters_;
  bool training_ = true;
};

}  // namespace vsae
