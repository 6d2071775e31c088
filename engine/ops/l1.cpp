// L1 ops: shape checks, then the CPU twin or the CUDA kernels of kernels/l1; the backward is the
// shared sparsifier backward with the penalty slope.
#include "engine/ops/l1.hpp"

#include <cmath>
#include <initializer_list>

#include "engine/ops/sparse_grad.hpp"
#include "kernels/l1_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/l1.cuh"
#endif

namespace vsae {

namespace {

void check_scalar(const Backend& be, const Tensor& t, DType dtype, const char* what) {
  check_on(be, t, dtype, what);
  VSAE_CHECK(t.shape == Shape{1}, what << " is " << t.shape << ", expected (1)");
}

// z_pre (B, W) and its bias (W), checked for `op`.
void check_pre_activations(const Backend& be, const Tensor& z_pre, const Tensor& bias, const char* op) {
  check_on(be, z_pre, DType::f32, op);
  check_on(be, bias, DType::f32, op);
  VSAE_CHECK(z_pre.ndim() == 2, op << ": z_pre must be (B, W), got " << z_pre.shape);
  VSAE_CHECK(z_pre.dim(1) >= 1, op << ": width must be >= 1");
  VSAE_CHECK(bias.shape == Shape{z_pre.dim(1)},
             op << ": bias is " << bias.shape << ", expected (" << z_pre.dim(1) << ")");
}

// Per-unit tensors: f32 (W) each, for `op`.
void check_per_unit(const Backend& be, std::initializer_list<const Tensor*> tensors, std::int64_t width,
                    const char* op) {
  for (const Tensor* t : tensors) {
    check_on(be, *t, DType::f32, op);
    VSAE_CHECK(t->shape == Shape{width}, op << ": a per-unit tensor is " << t->shape << ", expected (" << width << ")");
  }
}

// The shared forward: `tau` undefined means ReLU, `penalty` undefined means no penalty.
// `thresholds` (W), when defined, replaces τ.
void l1_forward_impl(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                     const Tensor& tau_scale, const Tensor& thresholds, const Tensor& lambda,
                     const Tensor& a, const Tensor& penalty, const ActivityCounters& counters,
                     const char* op) {
  check_pre_activations(be, z_pre, bias, op);
  check_on(be, a, DType::f32, op);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  VSAE_CHECK(a.shape == z_pre.shape, op << ": a is " << a.shape << ", z_pre is " << z_pre.shape);
  if (tau.defined()) check_scalar(be, tau, DType::f32, "l1_prox_forward: tau");
  if (tau_scale.defined()) check_scalar(be, tau_scale, DType::f32, "l1_prox_forward: tau_scale");
  if (thresholds.defined()) {
    check_on(be, thresholds, DType::f32, op);
    VSAE_CHECK(thresholds.shape == Shape{width},
               op << ": thresholds is " << thresholds.shape << ", expected (" << width << ")");
  }
  if (penalty.defined()) {
    check_scalar(be, penalty, DType::f32, "l1_forward: penalty");
    check_scalar(be, lambda, DType::f32, "l1_forward: lambda");
    // The penalty is a mean over rows: undefined for none (the CPU would give NaN, the GPU 0).
    VSAE_CHECK(batch >= 1, op << ": the penalty λ·Σa/B needs a batch of at least one row");
  }
  check_activity_counters(be, counters, width, op);
  const float* tau_data = tau.defined() ? tau.ptr<float>() : nullptr;
  const float* tau_scale_data = tau_scale.defined() ? tau_scale.ptr<float>() : nullptr;
  const float* threshold_data = thresholds.defined() ? thresholds.ptr<float>() : nullptr;
  const float* lambda_data = penalty.defined() ? lambda.ptr<float>() : nullptr;
  float* penalty_data = penalty.defined() ? penalty.ptr<float>() : nullptr;
  std::int32_t* fire =
      counters.fire_count.defined() ? counters.fire_count.ptr<std::int32_t>() : nullptr;
  std::int32_t* active =
      counters.batch_active.defined() ? counters.batch_active.ptr<std::int32_t>() : nullptr;
  if (be.device() == Device::cpu) {
    cpu_kernels::l1_forward(z_pre.ptr<float>(), bias.ptr<float>(), tau_data, tau_scale_data, threshold_data,
                            batch, width, a.ptr<float>(), fire, active, counters.eps, lambda_data, penalty_data);
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  float* scratch = nullptr;
  if (penalty_data)
    scratch = static_cast<float*>(
        ctx.scratch(cuda_kernels::l1_forward_scratch_floats(batch, width) * sizeof(float)));
  cuda_kernels::l1_forward(z_pre.ptr<float>(), bias.ptr<float>(), tau_data, tau_scale_data, threshold_data,
                           batch, width, a.ptr<float>(), fire, active, counters.eps, lambda_data,
                           penalty_data, scratch, ctx.stream());
#endif
}

}  // namespace

void l1_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& lambda,
                const Tensor& a, const Tensor& penalty, const ActivityCounters& counters) {
  l1_forward_impl(be, z_pre, bias, Tensor(), Tensor(), Tensor(), lambda, a, penalty, counters, "l1_forward");
}

void l1_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& lambda,
                 const Tensor& dz_pre, const Tensor& db) {
  check_scalar(be, lambda, DType::f32, "l1_backward: lambda");
  sparse_backward(be, a, da, lambda, dz_pre, db);
}

void l1_prox_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                     const Tensor& a, const ActivityCounters& counters, const Tensor& tau_scale) {
  check_scalar(be, tau, DType::f32, "l1_prox_forward: tau");
  l1_forward_impl(be, z_pre, bias, tau, tau_scale, Tensor(), Tensor(), a, Tensor(), counters, "l1_prox_forward");
}

void l1_prox_forward_per_unit(Backend& be, const Tensor& z_pre, const Tensor& bias,
                              const Tensor& thresholds, const Tensor& a,
                              const ActivityCounters& counters) {
  VSAE_CHECK(thresholds.defined(), "l1_prox_forward_per_unit: thresholds is undefined");
  l1_forward_impl(be, z_pre, bias, Tensor(), Tensor(), thresholds, Tensor(), a, Tensor(), counters,
                  "l1_prox_forward_per_unit");
}

void l1_prox_unit_threshold(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                            const Tensor& running_mean, const Tensor& running_std, float beta,
                            bool update, const Tensor& threshold, const Tensor& mean,
                            const Tensor& std_dev, const Tensor& eval_tau, const Tensor& eval_active) {
  const char* op = "l1_prox_unit_threshold";
  check_pre_activations(be, z_pre, bias, op);
  check_scalar(be, tau, DType::f32, "l1_prox_unit_threshold: tau");
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  check_per_unit(be, {&running_mean, &running_std, &threshold, &mean, &std_dev}, width, op);
  if (eval_active.defined()) {
    check_scalar(be, eval_active, DType::i32, "l1_prox_unit_threshold: eval_active");
    check_scalar(be, eval_tau, DType::f32, "l1_prox_unit_threshold: eval_tau");
  }
  std::int32_t* active = eval_active.defined() ? eval_active.ptr<std::int32_t>() : nullptr;
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f, op << ": beta must be in [0, 1), got " << beta);
  if (be.device() == Device::cpu) {
    cpu_kernels::l1_prox_unit_threshold(z_pre.ptr<float>(), bias.ptr<float>(), batch, width, *tau.ptr<float>(),
                                        running_mean.ptr<float>(), running_std.ptr<float>(), beta, update,
                                        threshold.ptr<float>(), mean.ptr<float>(), std_dev.ptr<float>(),
                                        active ? *eval_tau.ptr<float>() : 0.0f, active);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::l1_prox_unit_threshold(z_pre.ptr<float>(), bias.ptr<float>(), batch, width, tau.ptr<float>(),
                                       running_mean.ptr<float>(), running_std.ptr<float>(), beta, update,
                                       threshold.ptr<float>(), mean.ptr<float>(), std_dev.ptr<float>(),
                                       active ? eval_tau.ptr<float>() : nullptr, active, be.cuda().stream());
#endif
}

void l1_prox_backward_per_unit(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                               const Tensor& mean, const Tensor& std_dev, const Tensor& a,
                               const Tensor& da, const Tensor& dz_pre, const Tensor& db) {
  const char* op = "l1_prox_backward_per_unit";
  check_pre_activations(be, z_pre, bias, op);
  check_scalar(be, tau, DType::f32, "l1_prox_backward_per_unit: tau");
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  VSAE_CHECK(batch >= 1, op << ": the batch is empty");
  check_per_unit(be, {&mean, &std_dev, &db}, width, op);
  for (const Tensor* t : {&a, &da, &dz_pre}) {
    check_on(be, *t, DType::f32, op);
    VSAE_CHECK(t->shape == z_pre.shape, op << ": a (B, W) tensor is " << t->shape << ", z_pre is " << z_pre.shape);
  }
  if (be.device() == Device::cpu) {
    cpu_kernels::l1_prox_per_unit_backward(z_pre.ptr<float>(), bias.ptr<float>(), a.ptr<float>(), da.ptr<float>(),
                                           *tau.ptr<float>(), mean.ptr<float>(), std_dev.ptr<float>(), batch,
                                           width, dz_pre.ptr<float>(), db.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::l1_prox_per_unit_backward(z_pre.ptr<float>(), bias.ptr<float>(), a.ptr<float>(), da.ptr<float>(),
                                          tau.ptr<float>(), mean.ptr<float>(), std_dev.ptr<float>(), batch, width,
                                          dz_pre.ptr<float>(), db.ptr<float>(), be.cuda().stream());
#endif
}

void l1_prox_scale(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& running,
                   float beta, bool update, const Tensor& scale) {
  check_pre_activations(be, z_pre, bias, "l1_prox_scale");
  check_scalar(be, running, DType::f32, "l1_prox_scale: running");
  check_scalar(be, scale, DType::f32, "l1_prox_scale: scale");
  VSAE_CHECK(beta >= 0.0f && beta < 1.0f, "l1_prox_scale: beta must be in [0, 1), got " << beta);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  if (be.device() == Device::cpu) {
    cpu_kernels::l1_prox_scale(z_pre.ptr<float>(), bias.ptr<float>(), batch, width, running.ptr<float>(),
                               beta, update, scale.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  float* scratch =
      static_cast<float*>(ctx.scratch(cuda_kernels::l1_prox_scale_scratch_floats(batch, width) * sizeof(float)));
  cuda_kernels::l1_prox_scale(z_pre.ptr<float>(), bias.ptr<float>(), batch, width, running.ptr<float>(), beta,
                              update, scale.ptr<float>(), scratch, ctx.stream());
#endif
}

void l1_prox_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                      const Tensor& db) {
  sparse_backward(be, a, da, Tensor(), dz_pre, db);
}

void sparsity_controller_update(Backend& be, const Tensor& coef, const Tensor& batch_active,
                                const Tensor& k_target, std::int64_t batch_rows,
                                const SparsityControl& control, const Tensor& floor) {
  check_scalar(be, coef, DType::f32, "sparsity_controller_update: coef");
  check_scalar(be, batch_active, DType::i32, "sparsity_controller_update: batch_active");
  check_scalar(be, k_target, DType::i32, "sparsity_controller_update: k_target");
  if (floor.defined()) check_scalar(be, floor, DType::f32, "sparsity_controller_update: floor");
  VSAE_CHECK(batch_rows >= 1,
             "sparsity_controller_update: batch_rows must be >= 1, got " << batch_rows);
  VSAE_CHECK(std::isfinite(control.eta), "sparsity_controller_update: eta must be finite");
  VSAE_CHECK((control.additive || control.lo > 0.0f) && control.lo <= control.hi,
             "sparsity_controller_update: need " << (control.additive ? "" : "0 < ") << "lo <= hi, got ["
                                                 << control.lo << ", " << control.hi << "]");
  if (be.device() == Device::cpu) {
    cpu_kernels::sparsity_controller_update(
        coef.ptr<float>(), *batch_active.ptr<std::int32_t>(), *k_target.ptr<std::int32_t>(),
        batch_rows, control.eta, control.lo, control.hi, floor.defined() ? *floor.ptr<float>() : 0.0f,
        control.additive);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::sparsity_controller_update(coef.ptr<float>(), batch_active.ptr<std::int32_t>(),
                                           k_target.ptr<std::int32_t>(), batch_rows, control.eta,
                                           control.lo, control.hi,
                                           floor.defined() ? floor.ptr<float>() : nullptr,
                                           control.additive, be.cuda().stream());
#endif
}

void controller_floor(Backend& be, const Tensor& a, const Tensor& signal, float factor, float rho,
                      const Tensor& floor, const Tensor& divisor) {
  check_f32(be, "controller_floor", "a", a);
  check_f32(be, "controller_floor", "signal", signal);
  check_scalar(be, floor, DType::f32, "controller_floor: floor");
  if (divisor.defined()) check_scalar(be, divisor, DType::f32, "controller_floor: divisor");
  VSAE_CHECK(signal.shape == a.shape,
             "controller_floor: signal " << signal.shape << " must have a's shape " << a.shape);
  VSAE_CHECK(std::isfinite(factor) && factor >= 0.0f && std::isfinite(rho) && rho >= 0.0f,
             "controller_floor: factor and rho must be finite and >= 0, got " << factor << ", " << rho);
  if (be.device() == Device::cpu) {
    *floor.ptr<float>() =
        cpu_kernels::controller_floor(a.ptr<float>(), signal.ptr<float>(), a.numel(), factor, rho,
                                      divisor.defined() ? *divisor.ptr<float>() : 1.0f);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::controller_floor(a.ptr<float>(), signal.ptr<float>(), a.numel(), factor, rho,
                                 divisor.defined() ? divisor.ptr<float>() : nullptr, floor.ptr<float>(),
                                 be.cuda().stream());
#endif
}

void l1_prepare(Backend& be, std::int64_t batch, std::int64_t width) {
  sparse_backward_prepare(be, batch, width);
#if VSAE_HAVE_CUDA
  if (be.is_cuda())
    be.cuda().reserve_scratch(cuda_kernels::l1_prox_scale_scratch_floats(batch, width) *
                              sizeof(float));  // the larger of the two L1 scratch needs
#endif
}

}  // namespace vsae
