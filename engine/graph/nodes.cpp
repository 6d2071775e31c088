// Forward/backward of each node type: shape checks, then the device-agnostic ops.
#include "engine/graph/nodes.hpp"

#include "engine/ops/centering.hpp"
#include "engine/ops/linear.hpp"
#include "engine/ops/losses.hpp"
#include "engine/ops/reparam.hpp"

namespace vsae {

namespace {
// A GEMM-like op: its forward is `forward` flops; its backward computes the weight gradient (the
// same count) and, when the input needs one, the input gradient (the same again).
double gemm_like_flops(double forward, bool backward, const Value* input) {
  return !backward ? forward : forward * (input->requires_grad ? 2.0 : 1.0);
}
}  // namespace

// Conv weights are (Cout, Cin, K, K): each output element takes Cin·K·K multiply-adds.
double Conv2dNode::flops(bool backward) const {
  const double macs = static_cast<double>(pre_->shape.numel()) * (w_->shape.numel() / w_->shape[0]);
  return gemm_like_flops(2.0 * macs, backward, x_);
}

// Transposed-conv weights are (Cin, Cout, K, K): each input element feeds Cout·K·K multiply-adds.
double ConvTranspose2dNode::flops(bool backward) const {
  const double macs = static_cast<double>(x_->shape.numel()) * (w_->shape.numel() / w_->shape[0]);
  return gemm_like_flops(2.0 * macs, backward, x_);
}

// Linear weights are (out, in).
double LinearNode::flops(bool backward) const {
  const double macs = static_cast<double>(y_->shape.numel()) * w_->shape[1];
  return gemm_like_flops(2.0 * macs, backward, x_);
}

namespace {

void expect_shape(const Tensor& t, const Shape& shape, const char* node, const std::string& what) {
  VSAE_CHECK(t.shape == shape, node << ": " << what << " has shape " << t.shape << ", expected " << shape);
}

// A value's planned tensor: its data, or its gradient for a gradient-only value.
const Tensor& planned(const Value* v) { return v->has_data ? v->data : v->grad; }

void expect_same(const Value* a, const Value* b, const char* node) {
  expect_shape(planned(a), a->shape, node, a->name);
  expect_shape(planned(b), a->shape, node, b->name);
}

const Tensor kNone;  // an undefined gradient: the op skips it

const Tensor& grad_or_none(const Value* v) { return v->requires_grad ? v->grad : kNone; }
// A convolution writes x's gradient where the layer builder gave it to the convolution alone.
DxMode dx_mode(const Value* x) { return x->grad_use == GradUse::written ? DxMode::write : DxMode::accumulate; }

// ---- convolutions -----------------------------------------------------------------------------

// pre has the convolution's output shape, and y and b the fused bias + activation's.
void expect_fused_output(const Value* pre, const FusedBiasAct& out, const char* node) {
  expect_same(pre, out.y, node);
  expect_shape(out.b->value, Shape{pre->shape[1]}, node, out.b->name);
}

ConvEpilogue epilogue(const FusedBiasAct& out) { return ConvEpilogue{&out.b->value, out.act}; }

}  // namespace

void Conv2dNode::check_shapes() const {
  expect_shape(x_->data, x_->shape, kind(), x_->name);
  expect_shape(w_->value, w_->shape, kind(), w_->name);
  expect_shape(planned(pre_), conv2d_output_shape(x_->shape, w_->shape, p_), kind(), pre_->name);
  expect_fused_output(pre_, out_, kind());
}
// Where x is another conv2d's output, that node's forward fills this one's copy of x (ConvNodeState).
void Conv2dNode::prepare(Backend& be) {
  const auto* producer = dynamic_cast<const Conv2dNode*>(x_->producer);
  state_ = conv2d_prepare(be, x_->shape, w_->shape, p_, epilogue(out_),
                          producer != nullptr ? producer->state_.get() : nullptr);
}
void Conv2dNode::forward_impl(Backend& be) {
  conv2d_forward(be, x_->data, w_->value, out_.y->data, p_, epilogue(out_), state_.get());
}
void Conv2dNode::backward(Backend& be) {
  conv2d_backward(be, x_->data, w_->value, pre_->grad, grad_or_none(x_), w_->grad, p_, dx_mode(x_),
                  state_.get());
}

void ConvTranspose2dNode::check_shapes() const {
  expect_shape(x_->data, x_->shape, kind(), x_->name);
  expect_shape(w_->value, w_->shape, kind(), w_->name);
  expect_shape(planned(pre_), conv_transpose2d_output_shape(x_->shape, w_->shape, p_), kind(), pre_->name);
  expect_fused_output(pre_, out_, kind());
}
void ConvTranspose2dNode::prepare(Backend& be) { state_ = conv_transpose2d_prepare(be, x_->shape, w_->shape, p_); }
void ConvTranspose2dNode::forward_impl(Backend& be) {
  conv_transpose2d_forward(be, x_->data, w_->value, out_.y->data, p_, epilogue(out_), state_.get());
}
void ConvTranspose2dNode::backward(Backend& be) {
  conv_transpose2d_backward(be, x_->data, w_->value, pre_->grad, grad_or_none(x_), w_->grad, p_, dx_mode(x_),
                            state_.get());
}

// ---- linear and bias + activation -------------------------------------------------------------

void LinearNode::check_shapes() const {
  expect_shape(x_->data, x_->shape, kind(), x_->name);
  expect_shape(w_->value, w_->shape, kind(), w_->name);
  expect_shape(y_->data, Shape{x_->shape[0], w_->shape[0]}, kind(), y_->name);
}
void LinearNode::prepare(Backend& be) { linear_prepare(be); }
void LinearNode::forward_impl(Backend& be) { linear_forward(be, x_->data, w_->value, y_->data); }
void LinearNode::backward(Backend& be) {
  linear_backward(be, x_->data, w_->value, y_->grad, grad_or_none(x_), w_->grad);
}

void CenteringNode::check_shapes() const {
  expect_same(x_, y_, kind());
  expect_shape(b_->value, Shape{x_->shape[1]}, kind(), b_->name);
}
void CenteringNode::prepare(Backend& be) { centering_prepare(be, x_->shape); }
void CenteringNode::forward_impl(Backend& be) { centering_forward(be, x_->data, b_->value, y_->data); }
void CenteringNode::backward(Backend& be) { centering_backward(be, y_->grad, grad_or_none(x_), b_->grad); }

void BiasActNode::check_shapes() const {
  expect_same(x_, y_, kind());
  expect_shape(b_->value, Shape{x_->shape[1]}, kind(), b_->name);
}
void BiasActNode::prepare(Backend& be) { bias_act_prepare(be, y_->shape); }
void BiasActNode::forward_impl(Backend& be) {
  if (pass_ == Pass::forward_and_backward) bias_act_forward(be, x_->data, b_->value, y_->data, act_);
}
void BiasActNode::backward(Backend& be) {
  bias_act_backward(be, y_->data, y_->grad, grad_or_none(x_), b_->grad, act_);
}

// ---- reparameterisation -----------------------------------------------------------------------

void NormalNoiseNode::check_shapes() const { expect_shape(eps_->data, eps_->shape, kind(), eps_->name); }
void NormalNoiseNode::forward_impl(Backend& be) { fill_normal(be, seed_, step_, eps_->data); }

void ReparamNode::check_shapes() const {
  expect_same(mu_, logvar_, kind());
  expect_same(mu_, eps_, kind());
  expect_same(mu_, z_, kind());
}
void ReparamNode::forward_impl(Backend& be) {
  reparam_forward(be, mu_->data, logvar_->data, eps_->data, z_->data);
}
void ReparamNode::backward(Backend& be) {
  reparam_backward(be, logvar_->data, eps_->data, z_->grad, grad_or_none(mu_), grad_or_none(logvar_));
}

// ---- losses -----------------------------------------------------------------------------------

void BceLogitsLossNode::check_shapes() const {
  expect_same(logits_, target_, kind());
  expect_shape(loss_->data, Shape{1}, kind(), loss_->name);
}
void BceLogitsLossNode::prepare(Backend& be) { loss_prepare(be, logits_->shape); }
void BceLogitsLossNode::forward_impl(Backend& be) {
  bce_logits_forward(be, logits_->data, target_->data, loss_->data);
}
void BceLogitsLossNode::backward(Backend& be) {
  bce_logits_backward(be, logits_->data, target_->data, weight_, grad_or_none(logits_));
}

void KlLossNode::check_shapes() const {
  expect_same(mu_, logvar_, kind());
  expect_shape(loss_->data, Shape{1}, kind(), loss_->name);
}
void KlLossNode::prepare(Backend& be) { loss_prepare(be, mu_->shape); }
void KlLossNode::forward_impl(Backend& be) { kl_forward(be, mu_->data, logvar_->data, loss_->data); }
void KlLossNode::backward(Backend& be) {
  kl_backward(be, mu_->data, logvar_->data, weight_, grad_or_none(mu_), grad_or_none(logvar_));
}

void MseLossNode::check_shapes() const {
  expect_same(a_, b_, kind());
  expect_shape(loss_->data, Shape{1}, kind(), loss_->name);
}
void MseLossNode::prepare(Backend& be) { loss_prepare(be, a_->shape); }
void MseLossNode::forward_impl(Backend& be) { mse_forward(be, a_->data, b_->data, loss_->data); }
void MseLossNode::backward(Backend& be) {
  mse_backward(be, a_->data, b_->data, weight_, grad_or_none(a_), grad_or_none(b_));
}

}  // namespace vsae
