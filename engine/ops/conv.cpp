// Convolution ops: shape, device and dtype checks, then dispatch to the CPU twin or cuDNN.
#include "engine/ops/conv.hpp"

#include <climits>
#include <cstdint>
#include <string>

#include "engine/backends/cpu/conv.hpp"
#if VSAE_HAVE_CUDA
#include "engine/backends/cuda/conv.hpp"
#endif

namespace vsae {

namespace {

void check_geometry(const char* op, const Shape& x, const Shape& w, ConvParams p) {
  VSAE_CHECK(p.stride >= 1 && p.pad >= 0, op << ": needs stride >= 1 and pad >= 0, got stride "
                                             << p.stride << ", pad " << p.pad);
  VSAE_CHECK(x.ndim() == 4 && w.ndim() == 4,
             op << ": x " << x << " and w " << w << " must both be 4-D");
  for (int i = 0; i < 4; ++i) {
    // cuDNN and BLAS take int dimensions.
    VSAE_CHECK(x[i] >= 1 && x[i] <= INT_MAX && w[i] >= 1 && w[i] <= INT_MAX,
               op << ": every dimension must be in [1, INT_MAX], got x " << x << ", w " << w);
  }
}

// The conv whose input is (N, C, H, W) and weight (O, C, KH, KW); shared by both directions.
Shape cross_correlation_shape(const char* op, const Shape& in, const Shape& w, ConvParams p) {
  std::int64_t h = in[2] + 2 * p.pad - w[2], wd = in[3] + 2 * p.pad - w[3];
  VSAE_CHECK(h >= 0 && wd >= 0, op << ": kernel " << w[2] << "x" << w[3] << " is larger than the "
                                   << "padded input " << in << " (pad " << p.pad << ")");
  return Shape{in[0], w[0], h / p.stride + 1, wd / p.stride + 1};
}

void check_output(const char* op, const char* what, const Tensor& t, const Shape& expected,
                  const Tensor& x, const Tensor& w) {
  VSAE_CHECK(t.shape == expected, op << ": " << what << " is " << t.shape << ", expected "
                                     << expected << " for x " << x.shape << " and w " << w.shape);
}

// The checks both backward ops share: dy matches the forward output, dw matches w, and dx (when
// given) matches x.
void check_backward(Backend& be, const char* op, const Tensor& x, const Tensor& w, const Tensor& dy,
                    const Tensor& dx, const Tensor& dw, const Shape& y_shape) {
  check_f32(be, op, "x", x);
  check_f32(be, op, "w", w);
  check_f32(be, op, "dy", dy);
  check_f32(be, op, "dw", dw);
  check_output(op, "dy", dy, y_shape, x, w);
  check_output(op, "dw", dw, w.shape, x, w);
  if (dx.defined()) {
    check_f32(be, op, "dx", dx);
    check_output(op, "dx", dx, x.shape, x, w);
  }
}

void check_forward(Backend& be, const char* op, const Tensor& x, const Tensor& w, const Tensor& y,
                   const Shape& expected, const ConvEpilogue& epilogue) {
  check_f32(be, op, "x", x);
  check_f32(be, op, "w", w);
  check_f32(be, op, "y", y);
  check_output(op, "y", y, expected, x, w);
  if (epilogue.bias != nullptr) {
    check_f32(be, op, "bias", *epilogue.bias);
    check_output(op, "bias", *epilogue.bias, Shape{expected[1]}, x, w);
  } else {
    VSAE_CHECK(epilogue.act == Activation::none, op << ": an activation needs a bias");
  }
}

const float* bias_data(const ConvEpilogue& epilogue) {
  return epilogue.bias != nullptr ? epilogue.bias->ptr<float>() : nullptr;
}

// The output pass as its own step: bias_act in place on the convolution's output.
void apply_epilogue(Backend& be, const Tensor& y, const ConvEpilogue& epilogue) {
  if (epilogue.bias != nullptr) bias_act_forward(be, y, *epilogue.bias, y, epilogue.act);
}

}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& w, ConvParams p) {
  check_geometry("conv2d", x, w, p);
  VSAE_CHECK(x[1] == w[1], "conv2d: x " << x << " has " << x[1] << " channels but w " << w
                                        << " expects " << w[1]);
  return cross_correlation_shape("conv2d", x, w, p);
}

Shape conv_transpose2d_output_shape(const Shape& x, const Shape& w, ConvParams p) {
  const char* op = "conv_transpose2d";
  check_geometry(op, x, w, p);
  VSAE_CHECK(x[1] == w[0], op << ": x " << x << " has " << x[1] << " channels but w " << w
                              << " expects " << w[0]);
  std::int64_t h = (x[2] - 1) * p.stride - 2 * p.pad + w[2];
  std::int64_t wd = (x[3] - 1) * p.stride - 2 * p.pad + w[3];
  VSAE_CHECK(h >= 1 && wd >= 1 && h <= INT_MAX && wd <= INT_MAX,
             op << ": x " << x << ", w " << w << ", stride " << p.stride << ", pad " << p.pad
                << " give an empty output");
  return Shape{x[0], w[1], h, wd};
}

void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                    const ConvEpilogue& epilogue, ConvNodeState* node) {
  check_forward(be, "conv2d", x, w, y, conv2d_output_shape(x.shape, w.shape, p), epilogue);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv2d_forward(be, x, w, y, p);
    apply_epilogue(be, y, epilogue);
    return;
  }
#endif
  cpu::conv2d_forward(x, w, y, p, bias_data(epilogue), epilogue.act, node);
}

void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode, const ConvNodeState* node) {
  Shape y_shape = conv2d_output_shape(x.shape, w.shape, p);
  check_backward(be, "conv2d_backward", x, w, dy, dx, dw, y_shape);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv2d_backward(be, x, w, dy, dx, dw, p, dx_mode);
    return;
  }
#endif
  cpu::conv2d_backward(x, w, dy, dx, dw, p, dx_mode, node);
}

void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p,
                              const ConvEpilogue& epilogue, ConvNodeState* node) {
  check_forward(be, "conv_transpose2d", x, w, y, conv_transpose2d_output_shape(x.shape, w.shape, p), epilogue);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv_transpose2d_forward(be, x, w, y, p);
    apply_epilogue(be, y, epilogue);
    return;
  }
#endif
  // oneDNN 2.6 applies a transposed convolution's bias and post-ops outside its JIT kernel, element
  // by element: with both, decoder.deconv3's forward at batch 64 took 58.5 ms instead of 1.7.
  cpu::conv_transpose2d_forward(x, w, y, p, node);
  apply_epilogue(be, y, epilogue);
}

void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode,
                               const ConvNodeState* node) {
  Shape y_shape = conv_transpose2d_output_shape(x.shape, w.shape, p);
  check_backward(be, "conv_transpose2d_backward", x, w, dy, dx, dw, y_shape);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv_transpose2d_backward(be, x, w, dy, dx, dw, p, dx_mode);
    return;
  }
#endif
  cpu::conv_transpose2d_backward(x, w, dy, dx, dw, p, dx_mode, node);
}

std::shared_ptr<ConvNodeState> conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p,
                                              const ConvEpilogue& epilogue, ConvNodeState* producer) {
  const Shape y = conv2d_output_shape(x, w, p);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv2d_prepare(be, x, w, p);
    return nullptr;
  }
#else
  (void)be;
#endif
  return cpu::conv_node_state(x, w, y, p, false, epilogue.bias != nullptr, epilogue.act, producer);
}

std::shared_ptr<ConvNodeState> conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p) {
  const Shape y = conv_transpose2d_output_shape(x, w, p);
#if VSAE_HAVE_CUDA
  if (be.is_cuda()) {
    cuda::conv_transpose2d_prepare(be, x, w, p);
    return nullptr;
  }
#else
  (void)be;
#endif
  // The CPU's transposed convolution applies its output pass after the primitive (above).
  return cpu::conv_node_state(x, w, y, p, true, false, Activation::none, nullptr);
}

}  // namespace vsae
