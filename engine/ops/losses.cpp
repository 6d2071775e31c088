// Loss ops: shape checks, then the CPU twin or the CUDA kernels of kernels/losses.
#include "engine/ops/losses.hpp"

#include "kernels/losses_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/losses.cuh"
#endif

namespace vsae {

namespace {

// Checks a pair of (N, ...) inputs of the same shape and returns N. Names carry the op's name.
std::int64_t check_pair(Backend& be, const Tensor& a, const Tensor& b, const char* a_name,
                        const char* b_name) {
  check_on(be, a, DType::f32, a_name);
  check_on(be, b, DType::f32, b_name);
  VSAE_CHECK(a.ndim() >= 1 && a.dim(0) > 0,
             a_name << " must be (N, ...) with N > 0, got " << a.shape);
  VSAE_CHECK(a.shape == b.shape,
             a_name << " is " << a.shape << " but " << b_name << " is " << b.shape);
  return a.dim(0);
}

void check_scalar(Backend& be, const Tensor& t, const char* what) {
  check_on(be, t, DType::f32, what);
  VSAE_CHECK(t.numel() == 1, what << " must hold one value, got " << t.shape);
}

// An optional gradient output: null when undefined, else checked against `ref`.
float* optional_grad(Backend& be, const Tensor& grad, const Tensor& ref, const char* what) {
  if (!grad.defined()) return nullptr;
  check_on(be, grad, DType::f32, what);
  VSAE_CHECK(grad.shape == ref.shape, what << " is " << grad.shape << ", expected " << ref.shape);
  return grad.ptr<float>();
}

#if VSAE_HAVE_CUDA
void* loss_scratch(Backend& be, std::int64_t count) {
  return be.cuda().scratch(cuda_kernels::loss_scratch_bytes(count));
}
#endif

}  // namespace

void bce_logits_forward(Backend& be, const Tensor& logits, const Tensor& target,
                        const Tensor& loss) {
  std::int64_t n =
      check_pair(be, logits, target, "bce_logits_forward: logits", "bce_logits_forward: target");
  check_scalar(be, loss, "bce_logits_forward: loss");
  if (be.device() == Device::cpu) {
    cpu_kernels::bce_logits_forward(logits.ptr<float>(), target.ptr<float>(), loss.ptr<float>(),
                                    logits.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::bce_logits_forward(logits.ptr<float>(), target.ptr<float>(), loss.ptr<float>(),
                                   logits.numel(), n, loss_scratch(be, logits.numel()),
                                   be.cuda().stream());
#endif
}

void bce_logits_backward(Backend& be, const Tensor& logits, const Tensor& target,
                         const Tensor& weight, const Tensor& dlogits) {
  std::int64_t n =
      check_pair(be, logits, target, "bce_logits_backward: logits", "bce_logits_backward: target");
  check_scalar(be, weight, "bce_logits_backward: weight");
  float* grad = optional_grad(be, dlogits, logits, "bce_logits_backward: dlogits");
  if (grad == nullptr) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::bce_logits_backward(logits.ptr<float>(), target.ptr<float>(), weight.ptr<float>(),
                                     grad, logits.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::bce_logits_backward(logits.ptr<float>(), target.ptr<float>(), weight.ptr<float>(),
                                    grad, logits.numel(), n, be.cuda().stream());
#endif
}

void kl_forward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& loss) {
  std::int64_t n = check_pair(be, mu, logvar, "kl_forward: mu", "kl_forward: logvar");
  check_scalar(be, loss, "kl_forward: loss");
  if (be.device() == Device::cpu) {
    cpu_kernels::kl_forward(mu.ptr<float>(), logvar.ptr<float>(), loss.ptr<float>(), mu.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::kl_forward(mu.ptr<float>(), logvar.ptr<float>(), loss.ptr<float>(), mu.numel(), n,
                           loss_scratch(be, mu.numel()), be.cuda().stream());
#endif
}

void kl_backward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& weight,
                 const Tensor& dmu, const Tensor& dlogvar) {
  std::int64_t n = check_pair(be, mu, logvar, "kl_backward: mu", "kl_backward: logvar");
  check_scalar(be, weight, "kl_backward: weight");
  float* dmu_data = optional_grad(be, dmu, mu, "kl_backward: dmu");
  float* dlogvar_data = optional_grad(be, dlogvar, mu, "kl_backward: dlogvar");
  if (be.device() == Device::cpu) {
    cpu_kernels::kl_backward(mu.ptr<float>(), logvar.ptr<float>(), weight.ptr<float>(), dmu_data,
                             dlogvar_data, mu.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::kl_backward(mu.ptr<float>(), logvar.ptr<float>(), weight.ptr<float>(), dmu_data,
                            dlogvar_data, mu.numel(), n, be.cuda().stream());
#endif
}

void mse_forward(Backend& be, const Tensor& a, const Tensor& b, const Tensor& loss) {
  std::int64_t n = check_pair(be, a, b, "mse_forward: a", "mse_forward: b");
  check_scalar(be, loss, "mse_forward: loss");
  if (be.device() == Device::cpu) {
    cpu_kernels::mse_forward(a.ptr<float>(), b.ptr<float>(), loss.ptr<float>(), a.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::mse_forward(a.ptr<float>(), b.ptr<float>(), loss.ptr<float>(), a.numel(), n,
                            loss_scratch(be, a.numel()), be.cuda().stream());
#endif
}

void mse_backward(Backend& be, const Tensor& a, const Tensor& b, const Tensor& weight,
                  const Tensor& da, const Tensor& db) {
  std::int64_t n = check_pair(be, a, b, "mse_backward: a", "mse_backward: b");
  check_scalar(be, weight, "mse_backward: weight");
  float* da_data = optional_grad(be, da, a, "mse_backward: da");
  float* db_data = optional_grad(be, db, a, "mse_backward: db");
  if (be.device() == Device::cpu) {
    cpu_kernels::mse_backward(a.ptr<float>(), b.ptr<float>(), weight.ptr<float>(), da_data, db_data,
                              a.numel(), n);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::mse_backward(a.ptr<float>(), b.ptr<float>(), weight.ptr<float>(), da_data, db_data,
                             a.numel(), n, be.cuda().stream());
#endif
}

void loss_prepare(Backend& be, const Shape& shape) {
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) be.cuda().reserve_scratch(cuda_kernels::loss_scratch_bytes(shape.numel()));
#else
  (void)be;
  (void)shape;
#endif
}

}  // namespace vsae
