// centering ops (the SAE's pre-encoder bias): shape checks, then the CPU twin or the CUDA kernels
// of kernels/centering.
#include "engine/ops/centering.hpp"

#include "kernels/centering_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/centering.cuh"
#endif

namespace vsae {

void centering_forward(Backend& be, const Tensor& x, const Tensor& b, const Tensor& y) {
  const char* op = "centering_forward";
  check_f32(be, op, "x", x);
  check_f32(be, op, "b", b);
  check_f32(be, op, "y", y);
  VSAE_CHECK(x.ndim() == 2, op << ": x must be (B, D), got " << x.shape);
  const std::int64_t batch = x.dim(0), dim = x.dim(1);
  VSAE_CHECK(b.shape == Shape{dim},
             op << ": b is " << b.shape << ", expected (" << dim << ") for x " << x.shape);
  VSAE_CHECK(y.shape == x.shape, op << ": y is " << y.shape << ", x is " << x.shape);
  if (batch == 0 || dim == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::centering_forward(x.ptr<float>(), b.ptr<float>(), y.ptr<float>(), batch, dim);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::centering_forward(x.ptr<float>(), b.ptr<float>(), y.ptr<float>(), batch, dim,
                                  be.cuda().stream());
#endif
}

void centering_backward(Backend& be, const Tensor& dy, const Tensor& dx, const Tensor& db) {
  const char* op = "centering_backward";
  check_f32(be, op, "dy", dy);
  check_f32(be, op, "db", db);
  VSAE_CHECK(dy.ndim() == 2, op << ": dy must be (B, D), got " << dy.shape);
  const std::int64_t batch = dy.dim(0), dim = dy.dim(1);
  VSAE_CHECK(db.shape == Shape{dim},
             op << ": db is " << db.shape << ", expected (" << dim << ") for dy " << dy.shape);
  float* dx_data = nullptr;
  if (dx.defined()) {
    check_f32(be, op, "dx", dx);
    VSAE_CHECK(dx.shape == dy.shape, op << ": dx is " << dx.shape << ", dy is " << dy.shape);
    dx_data = dx.ptr<float>();
  }
  if (batch == 0 || dim == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::centering_backward(dy.ptr<float>(), dx_data, db.ptr<float>(), batch, dim);
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  const std::size_t floats = cuda_kernels::centering_backward_scratch_floats(batch, dim);
  float* scratch = floats == 0 ? nullptr : static_cast<float*>(ctx.scratch(floats * sizeof(float)));
  cuda_kernels::centering_backward(dy.ptr<float>(), dx_data, db.ptr<float>(), scratch, batch, dim,
                                   ctx.stream());
#endif
}

void centering_prepare(Backend& be, const Shape& x) {
  VSAE_CHECK(x.ndim() == 2, "centering_prepare: x must be (B, D), got " << x);
#if VSAE_HAVE_CUDA
  if (be.is_cuda())
    be.cuda().reserve_scratch(cuda_kernels::centering_backward_scratch_floats(x[0], x[1]) *
                              sizeof(float));
#else
  (void)be;
#endif
}

}  // namespace vsae
