// Adam op: checks the flat buffers, then the CPU twin or the CUDA kernel of kernels/adam.
#include "engine/ops/adam.hpp"

#include "kernels/adam_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/adam.cuh"
#endif

namespace vsae {

void adam_step(Backend& be, const Tensor& params, const Tensor& grads, const Tensor& m,
               const Tensor& v, const Tensor& step, const AdamHyper& hyper) {
  check_on(be, params, DType::f32, "adam_step: params");
  check_on(be, grads, DType::f32, "adam_step: grads");
  check_on(be, m, DType::f32, "adam_step: m");
  check_on(be, v, DType::f32, "adam_step: v");
  check_on(be, step, DType::i32, "adam_step: step");
  const std::int64_t count = params.numel();
  VSAE_CHECK(grads.numel() == count && m.numel() == count && v.numel() == count,
             "adam_step: params " << params.shape << ", grads " << grads.shape << ", m " << m.shape
                                  << " and v " << v.shape << " must have equal sizes");
  VSAE_CHECK(step.numel() == 1, "adam_step: step must hold one value, got " << step.shape);
  VSAE_CHECK(hyper.lr >= 0.0f && hyper.beta1 >= 0.0f && hyper.beta1 < 1.0f && hyper.beta2 >= 0.0f &&
                 hyper.beta2 < 1.0f && hyper.eps > 0.0f,
             "adam_step: need lr >= 0, betas in [0, 1) and eps > 0; got lr "
                 << hyper.lr << ", betas (" << hyper.beta1 << ", " << hyper.beta2 << "), eps "
                 << hyper.eps);
  if (be.device() == Device::cpu) {
    cpu_kernels::adam_step(params.ptr<float>(), grads.ptr<float>(), m.ptr<float>(), v.ptr<float>(),
                           step.ptr<std::int32_t>(), count, hyper);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::adam_step(params.ptr<float>(), grads.ptr<float>(), m.ptr<float>(), v.ptr<float>(),
                          step.ptr<std::int32_t>(), count, hyper, be.cuda().stream());
#endif
}

}  // namespace vsae
