// Top-k ops: shape checks, then the CPU twin or the CUDA kernel of kernels/topk; the backward is
// the shared sparsifier backward.
#include "engine/ops/topk.hpp"

#include "engine/ops/sparse_grad.hpp"
#include "kernels/topk_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/topk.cuh"
#endif

namespace vsae {

void topk_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& k,
                  const Tensor& a, const Tensor& indices, const Tensor& mask,
                  const ActivityCounters& counters) {
  check_on(be, z_pre, DType::f32, "topk_forward: z_pre");
  check_on(be, bias, DType::f32, "topk_forward: bias");
  check_on(be, k, DType::i32, "topk_forward: k");
  check_on(be, a, DType::f32, "topk_forward: a");
  VSAE_CHECK(z_pre.ndim() == 2, "topk_forward: z_pre must be (B, W), got " << z_pre.shape);
  const std::int64_t batch = z_pre.dim(0), width = z_pre.dim(1);
  VSAE_CHECK(width >= 1 && width <= kTopkMaxWidth,
             "topk_forward: width " << width << " outside [1, " << kTopkMaxWidth << "]");
  VSAE_CHECK(bias.shape == Shape{width},
             "topk_forward: bias is " << bias.shape << ", expected (" << width << ")");
  VSAE_CHECK(k.shape == Shape{1}, "topk_forward: k is " << k.shape << ", expected (1)");
  VSAE_CHECK(a.shape == z_pre.shape,
             "topk_forward: a is " << a.shape << ", z_pre is " << z_pre.shape);
  std::int32_t* index_data = nullptr;
  std::int64_t kcap = 0;
  if (indices.defined()) {
    check_on(be, indices, DType::i32, "topk_forward: indices");
    VSAE_CHECK(
        indices.ndim() == 2 && indices.dim(0) == batch && indices.dim(1) >= 1,
        "topk_forward: indices is " << indices.shape << ", expected (" << batch << ", K >= 1)");
    index_data = indices.ptr<std::int32_t>();
    kcap = indices.dim(1);
  }
  std::int32_t* mask_data = nullptr;
  if (mask.defined()) {
    check_on(be, mask, DType::i32, "topk_forward: mask");
    VSAE_CHECK(mask.shape == (Shape{batch, (width + 31) / 32}),
               "topk_forward: mask is " << mask.shape << ", expected (" << batch << ", "
                                        << (width + 31) / 32 << ")");
    mask_data = mask.ptr<std::int32_t>();
  }
  check_activity_counters(be, counters, width, "topk_forward");
  std::int32_t* fire =
      counters.fire_count.defined() ? counters.fire_count.ptr<std::int32_t>() : nullptr;
  std::int32_t* active =
      counters.batch_active.defined() ? counters.batch_active.ptr<std::int32_t>() : nullptr;
  if (be.device() == Device::cpu) {
    cpu_kernels::topk_forward(z_pre.ptr<float>(), bias.ptr<float>(), *k.ptr<std::int32_t>(), batch,
                              width, a.ptr<float>(), index_data, kcap, mask_data, fire, active,
                              counters.eps);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::topk_forward(z_pre.ptr<float>(), bias.ptr<float>(), k.ptr<std::int32_t>(), batch,
                             width, a.ptr<float>(), index_data, kcap, mask_data, fire, active,
                             counters.eps, be.cuda().stream());
#endif
}

void topk_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                   const Tensor& db) {
  sparse_backward(be, a, da, Tensor(), dz_pre, db);
}

void topk_prepare(Backend& be, std::int64_t batch, std::int64_t width) {
  sparse_backward_prepare(be, batch, width);
}

}  // namespace vsae
