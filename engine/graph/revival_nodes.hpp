// Graph nodes for dead-neuron revival: the AuxK codes (Top-k over the dead units' pre-activations)
// and the stop-gradient SAE residual e = h − ĥ that AuxK and resampling read.
#pragma once

#include <cstdint>

#include "engine/graph/graph.hpp"

namespace vsae {

// z_pre (B, W) (the encoder GEMM output, without bias) -> a_aux (B, W): the k_aux largest
// z = z_pre + b_enc per row among dead units (since >= dead_steps), a = max(z, 0) there, 0
// elsewhere. Backward accumulates into z_pre's and b_enc's gradients through the kept positive
// entries, so the AuxK loss trains exactly the dead units' encoder rows and biases.
// z_dead: a (B, W) no-grad scratch value for the masked pre-activations.
class AuxkCodesNode : public Node {
 public:
  AuxkCodesNode(Value* z_pre, Parameter* bias, Tensor since, std::int32_t dead_steps, Tensor k_aux,
                Value* z_dead, Value* a_aux)
      : z_pre_(z_pre), bias_(bias), since_(since), dead_steps_(dead_steps), k_aux_(k_aux),
        z_dead_(z_dead), a_aux_(a_aux) {}
  const char* kind() const override { return "auxk_codes"; }
  void backward(Backend& be) override;
  void prepare(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* z_pre_;
  Parameter* bias_;
  Tensor since_;
  std::int32_t dead_steps_;
  Tensor k_aux_;
  Value *z_dead_, *a_aux_;
};

// e = target − approx with no backward: AuxK treats the residual as a constant target (as in Gao
// et al. 2024), and resampling reads it between steps.
class ResidualNode : public Node {
 public:
  ResidualNode(Value* target, Value* approx, Value* e) : target_(target), approx_(approx), e_(e) {}
  const char* kind() const override { return "residual"; }
  void backward(Backend&) override {}

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value *target_, *approx_, *e_;
};

}  // namespace vsae
