// The JumpReLU sparsifier node (Rajamanoharan et al. 2024): a = z·H(z − θ) with a learned
// per-unit threshold θ = exp(log_threshold), z = z_pre + b_enc. Its sparsity loss
// λ·(L0/k − 1)² (dictionary_learning's JumpReLU trainer) drives the mean L0 to the schedule's k;
// log_threshold learns through the straight-through rectangle-kernel pseudo-gradient of bandwidth ε.
#pragma once

#include "engine/graph/sparsifier_node.hpp"

namespace vsae {

class JumpReluNode : public SparsifierNode {
 public:
  // log_threshold: (W); k: i32 (1) and lambda: f32 (1) on the device; loss (1) receives the
  // sparsity loss. counters.batch_active must be defined: the loss reads L0 from it (eps = 0).
  JumpReluNode(Value* z_pre, Parameter* bias, Parameter* log_threshold, Value* a, Tensor k, Tensor lambda,
               float bandwidth, Value* loss, ActivityCounters counters)
      : SparsifierNode(z_pre, bias, a, counters),
        log_threshold_(log_threshold),
        k_(k),
        lambda_(lambda),
        bandwidth_(bandwidth),
        loss_(loss),
        active_(counters.batch_active) {}
  const char* kind() const override { return "sparsify_jumprelu"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Parameter* log_threshold_;
  Tensor k_, lambda_;
  float bandwidth_;
  Value* loss_;
  Tensor active_;  // L0 of every forward, counted also while evaluation leaves the firing counts alone
};

}  // namespace vsae
