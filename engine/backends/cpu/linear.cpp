// CPU fully connected layer: three row-major OpenBLAS sgemm calls, one per pass.
#include "engine/backends/cpu/linear.hpp"

#include <cblas.h>

#include <cstdint>

namespace vsae::cpu {

namespace {
int blas_int(std::int64_t v) {
  return static_cast<int>(v);
}
}  // namespace

void linear_forward(const Tensor& x, const Tensor& w, const Tensor& y) {
  int n = blas_int(x.dim(0)), in = blas_int(x.dim(1)), out = blas_int(w.dim(0));
  // y (N, OUT) = x (N, IN) · wᵀ (IN, OUT)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x.ptr<float>(), in,
              w.ptr<float>(), in, 0.0f, y.ptr<float>(), out);
}

void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                     const Tensor& dw) {
  int n = blas_int(x.dim(0)), in = blas_int(x.dim(1)), out = blas_int(w.dim(0));
  // dx (N, IN) += dy (N, OUT) · w (OUT, IN)
  if (dx.defined())
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy.ptr<float>(), out,
                w.ptr<float>(), in, 1.0f, dx.ptr<float>(), in);
  // dw (OUT, IN) += dyᵀ (OUT, N) · x (N, IN)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy.ptr<float>(), out,
              x.ptr<float>(), in, 1.0f, dw.ptr<float>(), in);
}

}  // namespace vsae::cpu
