// cuBLAS fully connected layer. cuBLAS is column-major, so every row-major matrix is read as its
// transpose: y = x wᵀ becomes yᵀ = w xᵀ, with no copies.
#include "engine/backends/cuda/linear.hpp"
#include "engine/core/cuda_check.hpp"
#include "engine/core/cuda_context.hpp"

namespace vsae::cuda {

namespace {

int to_int(std::int64_t v) {
  return static_cast<int>(v);
}

// C (m, n) = op(A) op(B) + beta·C, all column-major f32; TF32 tensor cores only when be.tf32().
void gemm(Backend& be, cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k,
          const Tensor& a, int lda, const Tensor& b, int ldb, float beta, const Tensor& c,
          int ldc) {
  const float alpha = 1.0f;
  cublasComputeType_t compute = be.tf32() ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
  CUBLAS_CHECK(cublasGemmEx(be.cuda().cublas(), op_a, op_b, m, n, k, &alpha, a.data, CUDA_R_32F,
                            lda, b.data, CUDA_R_32F, ldb, &beta, c.data, CUDA_R_32F, ldc, compute,
                            CUBLAS_GEMM_DEFAULT));
}

}  // namespace

void linear_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y) {
  int n = to_int(x.dim(0)), in = to_int(x.dim(1)), out = to_int(w.dim(0));
  // yᵀ (OUT, N) = w (OUT, IN) · xᵀ (IN, N); w's buffer is wᵀ column-major.
  gemm(be, CUBLAS_OP_T, CUBLAS_OP_N, out, n, in, w, in, x, in, 0.0f, y, out);
}

void linear_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw) {
  int n = to_int(x.dim(0)), in = to_int(x.dim(1)), out = to_int(w.dim(0));
  // dxᵀ (IN, N) += wᵀ (IN, OUT) · dyᵀ (OUT, N)
  if (dx.defined()) gemm(be, CUBLAS_OP_N, CUBLAS_OP_N, in, n, out, w, in, dy, out, 1.0f, dx, in);
  // dwᵀ (IN, OUT) += xᵀ (IN, N) · dy (N, OUT)
  gemm(be, CUBLAS_OP_N, CUBLAS_OP_T, in, out, n, x, in, dy, out, 1.0f, dw, in);
}

}  // namespace vsae::cuda
