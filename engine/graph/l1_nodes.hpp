// The L1 sparsifier nodes (DESIGN §4): a = ReLU(z) with the penalty λ·mean_rows Σ a (L1Node), and
// the proximal form a = max(z − τ, 0) (L1ProxNode), z = z_pre + b_enc. λ and τ are device scalars
// that the sparsity controller moves so that L0 tracks k.
#pragma once

#include "engine/graph/sparsifier_node.hpp"

namespace vsae {

class L1Node : public SparsifierNode {
 public:
  // lambda: f32 (1) on the device; penalty (1) receives λ·mean_rows Σ a, and the backward adds the
  // penalty's gradient.
  L1Node(Value* z_pre, Parameter* bias, Value* a, Tensor lambda, Value* penalty, ActivityCounters counters)
      : SparsifierNode(z_pre, bias, a, counters), lambda_(lambda), penalty_(penalty) {}
  const char* kind() const override { return "sparsify_l1"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Tensor lambda_;
  Value* penalty_;
};

class L1ProxNode : public SparsifierNode {
 public:
  // tau: f32 (1) on the device, controlled, not learned.
  L1ProxNode(Value* z_pre, Parameter* bias, Value* a, Tensor tau, ActivityCounters counters)
      : SparsifierNode(z_pre, bias, a, counters), tau_(tau) {}
  const char* kind() const override { return "sparsify_l1_prox"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void forward_impl(Backend& be) override;

 private:
  Tensor tau_;
};

}  // namespace vsae
