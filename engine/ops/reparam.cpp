// Reparameterisation ops: shape checks, then the CPU twin or the CUDA kernels of kernels/reparam.
#include "engine/ops/reparam.hpp"

#include "kernels/reparam_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/reparam.cuh"
#endif

namespace vsae {

namespace {
void check_same_shape(const Tensor& t, const Tensor& ref, const char* op, const char* name,
                      const char* ref_name) {
  VSAE_CHECK(t.shape == ref.shape,
             op << ": " << name << " is " << t.shape << " but " << ref_name << " is " << ref.shape);
}

// An optional gradient output: null when undefined, else checked against `ref`.
float* optional_grad(Backend& be, const Tensor& grad, const Tensor& ref, const char* what) {
  if (!grad.defined()) return nullptr;
  check_on(be, grad, DType::f32, what);
  VSAE_CHECK(grad.shape == ref.shape, what << " is " << grad.shape << ", expected " << ref.shape);
  return grad.ptr<float>();
}
}  // namespace

void fill_normal(Backend& be, std::uint64_t seed, const Tensor& step, const Tensor& eps) {
  check_on(be, step, DType::i32, "fill_normal: step");
  check_on(be, eps, DType::f32, "fill_normal: eps");
  VSAE_CHECK(step.numel() == 1, "fill_normal: step must hold one value, got " << step.shape);
  // The element index is one 32-bit Philox counter word.
  VSAE_CHECK(eps.numel() <= 0xffffffffLL,
             "fill_normal: eps " << eps.shape << " exceeds 2^32 draws");
  if (be.device() == Device::cpu) {
    cpu_kernels::fill_normal(seed, step.ptr<std::int32_t>(), eps.ptr<float>(), eps.numel());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::fill_normal(seed, step.ptr<std::int32_t>(), eps.ptr<float>(), eps.numel(),
                            be.cuda().stream());
#endif
}

void reparam_forward(Backend& be, const Tensor& mu, const Tensor& logvar, const Tensor& eps,
                     const Tensor& z) {
  check_on(be, mu, DType::f32, "reparam_forward: mu");
  check_on(be, logvar, DType::f32, "reparam_forward: logvar");
  check_on(be, eps, DType::f32, "reparam_forward: eps");
  check_on(be, z, DType::f32, "reparam_forward: z");
  check_same_shape(logvar, mu, "reparam_forward", "logvar", "mu");
  check_same_shape(eps, mu, "reparam_forward", "eps", "mu");
  check_same_shape(z, mu, "reparam_forward", "z", "mu");
  if (be.device() == Device::cpu) {
    cpu_kernels::reparam_forward(mu.ptr<float>(), logvar.ptr<float>(), eps.ptr<float>(),
                                 z.ptr<float>(), mu.numel());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::reparam_forward(mu.ptr<float>(), logvar.ptr<float>(), eps.ptr<float>(),
                                z.ptr<float>(), mu.numel(), be.cuda().stream());
#endif
}

void reparam_backward(Backend& be, const Tensor& logvar, const Tensor& eps, const Tensor& dz,
                      const Tensor& dmu, const Tensor& dlogvar) {
  check_on(be, logvar, DType::f32, "reparam_backward: logvar");
  check_on(be, eps, DType::f32, "reparam_backward: eps");
  check_on(be, dz, DType::f32, "reparam_backward: dz");
  check_same_shape(eps, logvar, "reparam_backward", "eps", "logvar");
  check_same_shape(dz, logvar, "reparam_backward", "dz", "logvar");
  float* dmu_data = optional_grad(be, dmu, logvar, "reparam_backward: dmu");
  float* dlogvar_data = optional_grad(be, dlogvar, logvar, "reparam_backward: dlogvar");
  if (be.device() == Device::cpu) {
    cpu_kernels::reparam_backward(logvar.ptr<float>(), eps.ptr<float>(), dz.ptr<float>(), dmu_data,
                                  dlogvar_data, logvar.numel());
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::reparam_backward(logvar.ptr<float>(), eps.ptr<float>(), dz.ptr<float>(), dmu_data,
                                 dlogvar_data, logvar.numel(), be.cuda().stream());
#endif
}

}  // namespace vsae
