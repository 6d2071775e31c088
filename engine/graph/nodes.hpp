// The graph's node types: one per op family in engine/ops, each saving what its backward needs.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/graph/graph.hpp"
#include "engine/ops/bias_act.hpp"
#include "engine/ops/conv.hpp"

namespace vsae {

// A convolution layer's bias + activation, y = act(pre + b): the convolution node applies it in
// its forward (fused into the convolution on the CPU), and a BiasActNode built with
// BiasActNode::Pass::backward_only runs its backward, from y's gradient into pre's.
struct FusedBiasAct {
  Parameter* b;
  Value* y;
  Activation act;
};

// x -> pre (whose gradient its backward reads) -> y = act(pre + b), written by its forward.
class Conv2dNode : public Node {
 public:
  Conv2dNode(Value* x, Parameter* w, Value* pre, ConvParams p, FusedBiasAct out)
      : x_(x), w_(w), pre_(pre), p_(p), out_(out) {}
  const char* kind() const override { return "conv2d"; }
  void backward(Backend& be) override;
  double flops(bool backward) const override;
  void prepare(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* x_;
  Parameter* w_;
  Value* pre_;
  ConvParams p_;
  FusedBiasAct out_;
  std::shared_ptr<ConvNodeState> state_;  // set by prepare
};

class ConvTranspose2dNode : public Node {
 public:
  ConvTranspose2dNode(Value* x, Parameter* w, Value* pre, ConvParams p, FusedBiasAct out)
      : x_(x), w_(w), pre_(pre), p_(p), out_(out) {}
  const char* kind() const override { return "conv_transpose2d"; }
  void backward(Backend& be) override;
  double flops(bool backward) const override;
  void prepare(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* x_;
  Parameter* w_;
  Value* pre_;
  ConvParams p_;
  FusedBiasAct out_;
  std::shared_ptr<ConvNodeState> state_;  // set by prepare
};

class LinearNode : public Node {
 public:
  LinearNode(Value* x, Parameter* w, Value* y) : x_(x), w_(w), y_(y) {}
  const char* kind() const override { return "linear"; }
  void backward(Backend& be) override;
  void prepare(Backend& be) override;
  double flops(bool backward) const override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* x_;
  Parameter* w_;
  Value* y_;
};

// y = x − b per row: the SAE's pre-encoder bias, with b the decoder's own bias (b_dec), so the
// encoder sees h − b_dec. Backward adds dy to x's gradient and subtracts its row sums from b's.
class CenteringNode : public Node {
 public:
  CenteringNode(Value* x, Parameter* b, Value* y) : x_(x), b_(b), y_(y) {}
  const char* kind() const override { return "centering"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* x_;
  Parameter* b_;
  Value* y_;
};

class BiasActNode : public Node {
 public:
  // backward_only: the producer of x applies the forward (see FusedBiasAct).
  enum class Pass { forward_and_backward, backward_only };
  BiasActNode(Value* x, Parameter* b, Value* y, Activation act, Pass pass = Pass::forward_and_backward)
      : x_(x), b_(b), y_(y), act_(act), pass_(pass) {}
  const char* kind() const override { return "bias_act"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* x_;
  Parameter* b_;
  Value* y_;
  Activation act_;
  Pass pass_;
};

// Draws the reparameterisation noise for the current step (a device counter).
class NormalNoiseNode : public Node {
 public:
  NormalNoiseNode(Value* eps, std::uint64_t seed, Tensor step) : eps_(eps), seed_(seed), step_(step) {}
  const char* kind() const override { return "normal_noise"; }
  void backward(Backend&) override {}

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value* eps_;
  std::uint64_t seed_;
  Tensor step_;
};

class ReparamNode : public Node {
 public:
  ReparamNode(Value* mu, Value* logvar, Value* eps, Value* z) : mu_(mu), logvar_(logvar), eps_(eps), z_(z) {}
  const char* kind() const override { return "reparam"; }
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value *mu_, *logvar_, *eps_, *z_;
};

// Loss terms write a device scalar and seed the backward pass scaled by a device-side weight.
class BceLogitsLossNode : public Node {
 public:
  BceLogitsLossNode(Value* logits, Value* target, Value* loss, Tensor weight)
      : logits_(logits), target_(target), loss_(loss), weight_(weight) {}
  const char* kind() const override { return "bce_logits_loss"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value *logits_, *target_, *loss_;
  Tensor weight_;
};

class KlLossNode : public Node {
 public:
  KlLossNode(Value* mu, Value* logvar, Value* loss, Tensor weight)
      : mu_(mu), logvar_(logvar), loss_(loss), weight_(weight) {}
  const char* kind() const override { return "kl_loss"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value *mu_, *logvar_, *loss_;
  Tensor weight_;
};

class MseLossNode : public Node {
 public:
  MseLossNode(Value* a, Value* b, Value* loss, Tensor weight) : a_(a), b_(b), loss_(loss), weight_(weight) {}
  const char* kind() const override { return "mse_loss"; }
  void prepare(Backend& be) override;
  void backward(Backend& be) override;

 protected:
  void check_shapes() const override;
  void forward_impl(Backend& be) override;

 private:
  Value *a_, *b_, *loss_;
  Tensor weight_;
};

}  // namespace vsae
