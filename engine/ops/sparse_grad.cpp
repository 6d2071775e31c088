// The sparsifier backward op: shape checks, then the CPU twin or the CUDA kernels of
// kernels/sparse_grad.
#include "engine/ops/sparse_grad.hpp"

#include "kernels/sparse_grad_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/sparse_grad.cuh"
#endif

namespace vsae {

void sparse_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& lambda,
                     const Tensor& dz_pre, const Tensor& db) {
  const char* op = "sparse_backward";
  check_on(be, a, DType::f32, op);
  check_on(be, da, DType::f32, op);
  check_on(be, dz_pre, DType::f32, op);
  check_on(be, db, DType::f32, op);
  VSAE_CHECK(a.ndim() == 2, op << ": a must be (B, W), got " << a.shape);
  const std::int64_t batch = a.dim(0), width = a.dim(1);
  VSAE_CHECK(da.shape == a.shape && dz_pre.shape == a.shape, op << ": a " << a.shape << ", da "
                                                                << da.shape << " and dz_pre "
                                                                << dz_pre.shape << " must match");
  VSAE_CHECK(db.shape == Shape{width},
             op << ": db is " << db.shape << ", expected (" << width << ")");
  const float* lambda_data = nullptr;
  if (lambda.defined()) {
    check_on(be, lambda, DType::f32, op);
    VSAE_CHECK(lambda.shape == Shape{1}, op << ": lambda is " << lambda.shape << ", expected (1)");
    lambda_data = lambda.ptr<float>();
  }
  if (batch == 0 || width == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::sparse_backward(a.ptr<float>(), da.ptr<float>(), lambda_data, batch, width,
                                 dz_pre.ptr<float>(), db.ptr<float>());
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  const std::size_t floats = cuda_kernels::sparse_backward_scratch_floats(batch, width);
  float* scratch = floats == 0 ? nullptr : static_cast<float*>(ctx.scratch(floats * sizeof(float)));
  cuda_kernels::sparse_backward(a.ptr<float>(), da.ptr<float>(), lambda_data, batch, width,
                                dz_pre.ptr<float>(), db.ptr<float>(), scratch, ctx.stream());
#endif
}

void sparse_backward_prepare(Backend& be, std::int64_t batch, std::int64_t width) {
  if (!be.is_cuda()) return;
#if VSAE_HAVE_CUDA
  be.cuda().reserve_scratch(cuda_kernels::sparse_backward_scratch_floats(batch, width) *
                            sizeof(float));
#else
  (void)batch;
  (void)width;
#endif
}

}  // namespace vsae
