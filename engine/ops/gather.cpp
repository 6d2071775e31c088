// Batch gather and counter ops: shape checks, then the CPU twin or the CUDA kernels of
// kernels/gather.
#include "engine/ops/gather.hpp"

#include "kernels/gather_cpu.hpp"

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_context.hpp"
#include "kernels/gather.cuh"
#endif

namespace vsae {

void gather_batch(Backend& be, const Tensor& images, const Tensor& order, const Tensor& cursor,
                  const Tensor& out, float scale) {
  check_on(be, images, DType::u8, "gather_batch: images");
  check_on(be, order, DType::i32, "gather_batch: order");
  check_on(be, cursor, DType::i32, "gather_batch: cursor");
  check_on(be, out, DType::f32, "gather_batch: out");
  VSAE_CHECK(images.ndim() >= 2 && images.dim(0) > 0,
             "gather_batch: images must be (M, ...) with M > 0, got " << images.shape);
  VSAE_CHECK(out.ndim() == images.ndim(), "gather_batch: out " << out.shape << " and images "
                                                               << images.shape
                                                               << " differ in rank");
  for (int i = 1; i < out.ndim(); ++i)
    VSAE_CHECK(out.dim(i) == images.dim(i), "gather_batch: out " << out.shape << " and images "
                                                                 << images.shape
                                                                 << " differ in image shape");
  VSAE_CHECK(order.ndim() == 1 && order.numel() > 0,
             "gather_batch: order must be (P) with P > 0, got " << order.shape);
  VSAE_CHECK(cursor.numel() == 1, "gather_batch: cursor must hold one value, got " << cursor.shape);
  const std::int64_t m = images.dim(0), d = images.numel() / m, p = order.numel(), b = out.dim(0);
  if (be.device() == Device::cpu) {
    cpu_kernels::gather_batch(images.ptr<std::uint8_t>(), m, d, order.ptr<std::int32_t>(), p,
                              cursor.ptr<std::int32_t>(), out.ptr<float>(), b, scale);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::gather_batch(images.ptr<std::uint8_t>(), m, d, order.ptr<std::int32_t>(), p,
                             cursor.ptr<std::int32_t>(), out.ptr<float>(), b, scale,
                             be.cuda().stream());
#endif
}

void advance_counter(Backend& be, const Tensor& counter, int delta) {
  check_on(be, counter, DType::i32, "advance_counter: counter");
  VSAE_CHECK(counter.numel() == 1,
             "advance_counter: counter must hold one value, got " << counter.shape);
  if (be.device() == Device::cpu) {
    cpu_kernels::advance_counter(counter.ptr<std::int32_t>(), delta);
    return;
  }
#if VSAE_HAVE_CUDA
  cuda_kernels::advance_counter(counter.ptr<std::int32_t>(), delta, be.cuda().stream());
#endif
}

}  // namespace vsae
