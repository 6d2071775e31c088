// The L1 sparsifier nodes (DESIGN §4): a = ReLU(z) with the penalty λ·mean_rows Σ a (L1Node), and
// the proximal form a = max(z − τ, 0) (L1ProxNode), or a = max(z − τ·s, 0) with s the RMS of z
// when τ is relative, or a = max(z_j − μ_j − τ·σ_j, 0) with each unit's own mean and standard
// deviation (L1ProxPerUnitNode); z = z_pre + b_enc. λ and τ are device scalars that the sparsity
// controller moves so that L0 tracks k.
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

// The relative threshold of L1-prox: τ is in units of s, the RMS of z (l1_prox_scale). running: f32
// (1), the run's state (checkpointed; start it below 0, unset); scale: f32 (1), the s of this pass.
struct L1ProxRelative {
  Tensor running, scale;
  float beta = 0.99f;  // the running scale's decay per training step
  bool enabled() const { return running.defined(); }
};

class L1ProxNode : public SparsifierNode {
 public:
  // tau: f32 (1) on the device, controlled, not learned. relative: off (τ in z's units) unless
  // its tensors are defined.
  L1ProxNode(Value* z_pre, Parameter* bias, Value* a, Tensor tau, ActivityCounters counters,
             L1ProxRelative relative = {})
      : SparsifierNode(z_pre, bias, a, counters), tau_(tau), relative_(relative) {}
  const char* kind() const override { return "sparsify_l1_prox"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void forward_impl(Backend& be) override;

 private:
  Tensor tau_;
  L1ProxRelative relative_;
};

// The per-unit L1-prox threshold (l1_prox_unit_threshold): t_j = μ_j + τ·σ_j, with τ signed, and
// the backward through the batch's μ and σ. running_mean, running_std: f32 (W), the run's state
// (checkpointed; start running_std below 0, unset); threshold, mean, std_dev: f32 (W), this pass's
// t and the pair it used; eval_tau: f32 (1), evaluation's own τ (a controlled state, like τ);
// eval_active: i32 (1), the entries of a training batch above evaluation's thresholds, what
// eval_tau is tracked on.
struct L1ProxPerUnit {
  Tensor running_mean, running_std, threshold, mean, std_dev, eval_tau, eval_active;
  float beta = 0.99f;  // the running pair's decay per training step
};

class L1ProxPerUnitNode : public SparsifierNode {
 public:
  L1ProxPerUnitNode(Value* z_pre, Parameter* bias, Value* a, Tensor tau, ActivityCounters counters,
                    L1ProxPerUnit state)
      : SparsifierNode(z_pre, bias, a, counters), tau_(tau), state_(state) {}
  const char* kind() const override { return "sparsify_l1_prox_per_unit"; }
  void backward(Backend& be) override;  // its own kernels need no scratch: no prepare

 protected:
  void forward_impl(Backend& be) override;

 private:
  Tensor tau_;
  L1ProxPerUnit state_;
};

}  // namespace vsae
