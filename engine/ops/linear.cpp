// Fully connected ops: shape, device and dtype checks, then dispatch to the CPU twin or cuBLAS.
#include "engine/ops/linear.hpp"

#include <climits>
#include <string>

#include "engine/backends/cpu/linear.hpp"
#if VSAE_HAVE_CUDA
#include "engine/backends/cuda/linear.hpp"
#include "engine/core/cuda_context.hpp"
#endif

namespace vsae {

namespace {

void check_shape(const char* op, const char* what, const Tensor& t, const Shape& expected,
                 const Tensor& x, const Tensor& w) {
  VSAE_CHECK(t.shape == expected, op << ": " << what << " is " << t.shape << ", expected "
                                     << expected << " for x " << x.shape << " and w " << w.shape);
}

// Returns y's shape (N, OUT) after checking that x (N, IN) and w (OUT, IN) fit together.
Shape check_operands(const Backend& be, const char* op, const Tensor& x, const Tensor& w) {
  check_f32(be, op, "x", x);
  check_f32(be, op, "w", w);
  VSAE_CHECK(x.ndim() == 2 && w.ndim() == 2 && x.dim(1) == w.dim(1),
             op << ": x " << x.shape << " must be (N, IN) and w " << w.shape << " (OUT, IN)");
  for (int i = 0; i < 2; ++i) {
    // BLAS takes int dimensions.
    VSAE_CHECK(
        x.dim(i) >= 1 && x.dim(i) <= INT_MAX && w.dim(i) >= 1 && w.dim(i) <= INT_MAX,
        op << ": every dimension must be in [1, INT_MAX], got x " << x.shape << ", w " << w.shape);
  }
  return Shape{x.dim(0), w.dim(0)};
}

}  // namespace

void linear_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y) {
  const char* op = "linear";
  Shape y_shape = check_operands(be, op, x, w);
  check_f32(be, op, "y", y);
  check_shape(op, "y", y, y_shape, x, w);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::linear_forward(be, x, w, y);
    return;
  }
#endif
  cpu::linear_forward(x, w, y);
}

void linear_prepare(Backend& be) {
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) be.cuda().cublas();
#else
  (void)be;
#endif
}

void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw) {
  const char* op = "linear_backward";
  Shape y_shape = check_operands(be, op, x, w);
  check_f32(be, op, "dy", dy);
  check_f32(be, op, "dw", dw);
  check_shape(op, "dy", dy, y_shape, x, w);
  check_shape(op, "dw", dw, w.shape, x, w);
  if (dx.defined()) {
    check_f32(be, op, "dx", dx);
    check_shape(op, "dx", dx, x.shape, x, w);
  }
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::linear_backward(be, x, w, dy, dx, dw);
    return;
  }
#endif
  cpu::linear_backward(x, w, dy, dx, dw);
}

}  // namespace vsae
