// Graph nodes for the SAE sparsifiers (Top-k, L1, L1-prox). Each fuses the encoder bias and
// records per-neuron activity into the counters it is given while counting is on.
#pragma once

#include "engine/graph/graph.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

enum class SparsifyMethod { topk, l1, l1_prox };

// z_pre (B, W) -> a (B, W). `control` is the device scalar that sets the sparsity: k (i32) for
// Top-k, λ (f32) for L1, τ (f32) for L1-prox. For L1, `penalty` receives λ·mean_rows Σ a and the
// backward adds the penalty's gradient.
class SparsifyNode : public Node {
 public:
  SparsifyNode(SparsifyMethod method, Value* z_pre, Parameter* bias, Value* a, Tensor control, Value* penalty,
               ActivityCounters counters)
      : method_(method), z_pre_(z_pre), bias_(bias), a_(a), control_(control), penalty_(penalty), counters_(counters) {}
  const char* kind() const override;
  void backward(Backend& be) override;
  void prepare(Backend& be) override;

  // Evaluation passes turn counting off so they leave the training counters alone.
  void set_counting(bool on) { counting_ = on; }

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  SparsifyMethod method_;
  Value* z_pre_;
  Parameter* bias_;
  Value* a_;
  Tensor control_;
  Value* penalty_;
  ActivityCounters counters_;
  bool counting_ = true;
};

}  // namespace vsae
