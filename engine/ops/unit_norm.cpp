// Unit-norm decoder column ops: shape checks, then the CPU twin or the CUDA kernels of
// kernels/unit_norm.
#include "engine/ops/unit_norm.hpp"

#include "kernels/unit_norm_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/unit_norm.cuh"
#endif

namespace vsae {

void decoder_grad_remove_parallel(Backend& be, const Tensor& w, const Tensor& dw) {
  const char* op = "decoder_grad_remove_parallel";
  check_f32(be, op, "w", w);
  check_f32(be, op, "dw", dw);
  VSAE_CHECK(w.ndim() == 2, op << ": w must be (D, W), got " << w.shape);
  VSAE_CHECK(dw.shape == w.shape, op << ": dw is " << dw.shape << ", w is " << w.shape);
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  if (rows == 0 || cols == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::decoder_grad_remove_parallel(w.ptr<float>(), dw.ptr<float>(), rows, cols);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::decoder_grad_remove_parallel(w.ptr<float>(), dw.ptr<float>(), rows, cols,
                                             be.cuda().stream());
#endif
}

void decoder_normalize_columns(Backend& be, const Tensor& w) {
  const char* op = "decoder_normalize_columns";
  check_f32(be, op, "w", w);
  VSAE_CHECK(w.ndim() == 2, op << ": w must be (D, W), got " << w.shape);
  const std::int64_t rows = w.dim(0), cols = w.dim(1);
  if (rows == 0 || cols == 0) return;
  if (be.device() == Device::cpu) {
    cpu_kernels::decoder_normalize_columns(w.ptr<float>(), rows, cols);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::decoder_normalize_columns(w.ptr<float>(), rows, cols, be.cuda().stream());
#endif
}

}  // namespace vsae
