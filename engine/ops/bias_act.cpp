// bias_act ops: shape checks, then the CPU twin or the CUDA kernels of kernels/bias_act.
#include "engine/ops/bias_act.hpp"

#include "kernels/bias_act_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/bias_act.cuh"
#endif

namespace vsae {

namespace {

// (N, C, ...) viewed as (N, C, S).
struct Dims {
  std::int64_t n, c, s;
};

Dims channel_dims(const Shape& shape, const char* op) {
  VSAE_CHECK(shape.ndim() >= 2, op << ": expected (N, C, ...), got " << shape);
  std::int64_t s = 1;
  for (int i = 2; i < shape.ndim(); ++i) s *= shape[i];
  return Dims{shape[0], shape[1], s};
}

}  // namespace

void bias_act_forward(Backend& be, const Tensor& x, const Tensor& b, const Tensor& y,
                      Activation act) {
  check_on(be, x, DType::f32, "bias_act_forward: x");
  check_on(be, b, DType::f32, "bias_act_forward: b");
  check_on(be, y, DType::f32, "bias_act_forward: y");
  Dims d = channel_dims(x.shape, "bias_act_forward");
  VSAE_CHECK(b.shape == Shape{d.c}, "bias_act_forward: b is " << b.shape << ", expected (" << d.c
                                                              << ") for x " << x.shape);
  VSAE_CHECK(y.shape == x.shape, "bias_act_forward: y is " << y.shape << ", x is " << x.shape);
  if (be.device() == Device::cpu) {
    cpu_kernels::bias_act_forward(x.ptr<float>(), b.ptr<float>(), y.ptr<float>(), d.n, d.c, d.s,
                                  act);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::bias_act_forward(x.ptr<float>(), b.ptr<float>(), y.ptr<float>(), d.n, d.c, d.s, act,
                                 be.cuda().stream());
#endif
}

void bias_act_backward(Backend& be, const Tensor& y, const Tensor& dy, const Tensor& dx,
                       const Tensor& db, Activation act) {
  check_on(be, y, DType::f32, "bias_act_backward: y");
  check_on(be, dy, DType::f32, "bias_act_backward: dy");
  check_on(be, db, DType::f32, "bias_act_backward: db");
  Dims d = channel_dims(y.shape, "bias_act_backward");
  VSAE_CHECK(dy.shape == y.shape, "bias_act_backward: dy is " << dy.shape << ", y is " << y.shape);
  VSAE_CHECK(db.shape == Shape{d.c}, "bias_act_backward: db is " << db.shape << ", expected ("
                                                                 << d.c << ") for y " << y.shape);
  float* dx_data = nullptr;
  if (dx.defined()) {
    check_on(be, dx, DType::f32, "bias_act_backward: dx");
    VSAE_CHECK(dx.shape == y.shape,
               "bias_act_backward: dx is " << dx.shape << ", y is " << y.shape);
    dx_data = dx.ptr<float>();
  }
  if (be.device() == Device::cpu) {
    cpu_kernels::bias_act_backward(y.ptr<float>(), dy.ptr<float>(), dx_data, db.ptr<float>(), d.n,
                                   d.c, d.s, act);
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be.cuda();
  std::size_t scratch_floats = cuda_kernels::bias_act_backward_scratch_floats(d.n, d.c, d.s);
  float* scratch = scratch_floats == 0
                       ? nullptr
                       : static_cast<float*>(ctx.scratch(scratch_floats * sizeof(float)));
  cuda_kernels::bias_act_backward(y.ptr<float>(), dy.ptr<float>(), dx_data, db.ptr<float>(),
                                  scratch, d.n, d.c, d.s, act, ctx.stream());
#endif
}

void bias_act_prepare(Backend& be, const Shape& y) {
  Dims d = channel_dims(y, "bias_act_prepare");
#if VSAE_HAVE_CUDA
  if (be.is_cuda())
    be.cuda().reserve_scratch(cuda_kernels::bias_act_backward_scratch_floats(d.n, d.c, d.s) *
                              sizeof(float));
#else
  (void)be;
  (void)d;
#endif
}

}  // namespace vsae
