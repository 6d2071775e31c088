// cuDNN convolutions. Each cross-correlation shape gets one plan (descriptors, the three
// algorithms, their workspace), built on first use and cached; the transposed convolution runs the
// same three calls with the roles of input and output swapped.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <vector>

#include "engine/backends/cuda/conv.hpp"
#include "engine/core/cuda_check.hpp"
#include "engine/core/cuda_context.hpp"

namespace vsae::cuda {

namespace {

// Owns one cuDNN descriptor; destruction only logs, like every destructor here.
template <class Handle, cudnnStatus_t (*Create)(Handle*), cudnnStatus_t (*Destroy)(Handle)>
class Descriptor {
 public:
  Descriptor() { CUDNN_CHECK(Create(&handle_)); }
  ~Descriptor() {
    if (Destroy(handle_) != CUDNN_STATUS_SUCCESS)
      std::fprintf(stderr, "vsae: destroying a cuDNN descriptor failed\n");
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;

  Handle get() const { return handle_; }

 private:
  Handle handle_{};
};

using TensorDescriptor =
    Descriptor<cudnnTensorDescriptor_t, cudnnCreateTensorDescriptor, cudnnDestroyTensorDescriptor>;
using FilterDescriptor =
    Descriptor<cudnnFilterDescriptor_t, cudnnCreateFilterDescriptor, cudnnDestroyFilterDescriptor>;
using ConvolutionDescriptor =
    Descriptor<cudnnConvolutionDescriptor_t, cudnnCreateConvolutionDescriptor,
               cudnnDestroyConvolutionDescriptor>;

// A cross-correlation: input (N, C, H, W), filter (K, C, KH, KW), stride, pad, and the math mode.
// Algorithms depend on the GPU, so the device is part of the key.
struct PlanKey {
  int device;
  int n, c, h, w;
  int k, kh, kw;
  int stride, pad;
  bool tf32;

  bool operator<(const PlanKey& o) const {
    return std::tie(device, n, c, h, w, k, kh, kw, stride, pad, tf32) <
           std::tie(o.device, o.n, o.c, o.h, o.w, o.k, o.kh, o.kw, o.stride, o.pad, o.tf32);
  }
};

struct Plan {
  TensorDescriptor input, output;
  FilterDescriptor filter;
  ConvolutionDescriptor conv;
  int out_h = 0, out_w = 0;
  cudnnConvolutionFwdAlgo_t forward_algo{};
  cudnnConvolutionBwdDataAlgo_t backward_data_algo{};
  cudnnConvolutionBwdFilterAlgo_t backward_filter_algo{};
  std::size_t workspace_bytes = 0;  // the largest of the three algorithms' needs
};

int to_int(std::int64_t v) {
  return static_cast<int>(v);
}

// The heuristics' ranking, restricted to deterministic algorithms so that runs reproduce; the
// first working one is the fallback should a shape have no deterministic algorithm.
template <class Perf>
auto pick_algorithm(const std::vector<Perf>& perf, int returned, const char* pass) {
  const Perf* fallback = nullptr;
  for (int i = 0; i < returned; ++i) {
    if (perf[i].status != CUDNN_STATUS_SUCCESS) continue;
    if (perf[i].determinism == CUDNN_DETERMINISTIC) return perf[i].algo;
    if (fallback == nullptr) fallback = &perf[i];
  }
  VSAE_CHECK(fallback != nullptr,
             "conv (cuda): cuDNN offers no algorithm for the " << pass << " pass");
  return fallback->algo;
}

void choose_forward(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.input.get(), plan.filter.get(),
                                                     plan.conv.get(), plan.output.get(), max_count,
                                                     &returned, perf.data()));
  plan.forward_algo = pick_algorithm(perf, returned, "forward");
  std::size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle, plan.input.get(), plan.filter.get(),
                                                      plan.conv.get(), plan.output.get(),
                                                      plan.forward_algo, &bytes));
  plan.workspace_bytes = std::max(plan.workspace_bytes, bytes);
}

void choose_backward_data(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      handle, plan.filter.get(), plan.output.get(), plan.conv.get(), plan.input.get(), max_count,
      &returned, perf.data()));
  plan.backward_data_algo = pick_algorithm(perf, returned, "backward-data");
  std::size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
      handle, plan.filter.get(), plan.output.get(), plan.conv.get(), plan.input.get(),
      plan.backward_data_algo, &bytes));
  plan.workspace_bytes = std::max(plan.workspace_bytes, bytes);
}

void choose_backward_filter(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      handle, plan.input.get(), plan.output.get(), plan.conv.get(), plan.filter.get(), max_count,
      &returned, perf.data()));
  plan.backward_filter_algo = pick_algorithm(perf, returned, "backward-filter");
  std::size_t bytes = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
      handle, plan.input.get(), plan.output.get(), plan.conv.get(), plan.filter.get(),
      plan.backward_filter_algo, &bytes));
  plan.workspace_bytes = std::max(plan.workspace_bytes, bytes);
}

std::unique_ptr<Plan> build_plan(cudnnHandle_t handle, const PlanKey& key) {
  auto plan = std::make_unique<Plan>();
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->input.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                         key.n, key.c, key.h, key.w));
  CUDNN_CHECK(cudnnSetFilter4dDescriptor(plan->filter.get(), CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                         key.k, key.c, key.kh, key.kw));
  // Cross-correlation is what PyTorch calls convolution; FMA math keeps TF32 off unless asked.
  CUDNN_CHECK(cudnnSetConvolution2dDescriptor(plan->conv.get(), key.pad, key.pad, key.stride,
                                              key.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                              CUDNN_DATA_FLOAT));
  CUDNN_CHECK(cudnnSetConvolutionMathType(plan->conv.get(),
                                          key.tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH));
  int n = 0, k = 0;
  CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(
      plan->conv.get(), plan->input.get(), plan->filter.get(), &n, &k, &plan->out_h, &plan->out_w));
  CUDNN_CHECK(cudnnSetTensor4dDescriptor(plan->output.get(), CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n,
                                         k, plan->out_h, plan->out_w));
  choose_forward(handle, *plan);
  choose_backward_data(handle, *plan);
  choose_backward_filter(handle, *plan);
  return plan;
}

// The plan for the cross-correlation from `in` (N, C, H, W) through `filter` (K, C, KH, KW) to
// `out`. Plans live for the whole process: a model has a handful of shapes.
const Plan& plan_for(Backend& be, const Shape& in, const Shape& filter, const Shape& out,
                     ConvParams p) {
  static std::mutex mutex;
  static std::map<PlanKey, std::unique_ptr<Plan>> plans;

  CudaContext& ctx = be.cuda();
  PlanKey key{
      ctx.device_index(), to_int(in[0]),     to_int(in[1]),     to_int(in[2]), to_int(in[3]),
      to_int(filter[0]),  to_int(filter[2]), to_int(filter[3]), p.stride,      p.pad,
      be.tf32()};
  std::lock_guard<std::mutex> lock(mutex);
  std::unique_ptr<Plan>& plan = plans[key];
  if (!plan) plan = build_plan(ctx.cudnn(), key);
  VSAE_CHECK(plan->out_h == out[2] && plan->out_w == out[3],
             "conv (cuda): cuDNN computes a " << plan->out_h << "x" << plan->out_w
                                              << " output for input " << in << " and filter "
                                              << filter << ", the op expects " << out);
  return *plan;
}

// out = conv(in, filter) + beta·out
void run_forward(Backend& be, const Plan& plan, const Tensor& in, const Tensor& filter,
                 const Tensor& out, float beta) {
  const float alpha = 1.0f;
  CudaContext& ctx = be.cuda();
  void* workspace = ctx.scratch(plan.workspace_bytes);
  CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn(), &alpha, plan.input.get(), in.data,
                                      plan.filter.get(), filter.data, plan.conv.get(),
                                      plan.forward_algo, workspace, plan.workspace_bytes, &beta,
                                      plan.output.get(), out.data));
}

// din = convᵀ(dout, filter) + beta·din
void run_backward_data(Backend& be, const Plan& plan, const Tensor& filter, const Tensor& dout,
                       const Tensor& din, float beta) {
  const float alpha = 1.0f;
  CudaContext& ctx = be.cuda();
  void* workspace = ctx.scratch(plan.workspace_bytes);
  CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn(), &alpha, plan.filter.get(), filter.data,
                                           plan.output.get(), dout.data, plan.conv.get(),
                                           plan.backward_data_algo, workspace, plan.workspace_bytes,
                                           &beta, plan.input.get(), din.data));
}

// dfilter += the filter gradient of conv(in, ·) given dout
void run_backward_filter(Backend& be, const Plan& plan, const Tensor& in, const Tensor& dout,
                         const Tensor& dfilter) {
  const float alpha = 1.0f, beta = 1.0f;
  CudaContext& ctx = be.cuda();
  void* workspace = ctx.scratch(plan.workspace_bytes);
  CUDNN_CHECK(cudnnConvolutionBackwardFilter(
      ctx.cudnn(), &alpha, plan.input.get(), in.data, plan.output.get(), dout.data, plan.conv.get(),
      plan.backward_filter_algo, workspace, plan.workspace_bytes, &beta, plan.filter.get(),
      dfilter.data));
}

}  // namespace

void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  const Plan& plan = plan_for(be, x.shape, w.shape, y.shape, p);
  run_forward(be, plan, x, w, y, 0.0f);
}

void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p) {
  const Plan& plan = plan_for(be, x.shape, w.shape, dy.shape, p);
  if (dx.defined()) run_backward_data(be, plan, w, dy, dx, 1.0f);
  run_backward_filter(be, plan, x, dy, dw);
}

// The transposed convolution's plan is that of the conv from y's shape to x's shape: its filter
// (I, O, KH, KW) is read by cuDNN as K = I output and C = O input channels.
void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y,
                              ConvParams p) {
  const Plan& plan = plan_for(be, y.shape, w.shape, x.shape, p);
  run_backward_data(be, plan, w, x, y, 0.0f);
}

void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p) {
  const Plan& plan = plan_for(be, dy.shape, w.shape, x.shape, p);
  if (dx.defined()) run_forward(be, plan, dy, w, dx, 1.0f);
  run_backward_filter(be, plan, dy, x, dw);
}

void conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p) {
  const Plan& plan = plan_for(be, x, w, conv2d_output_shape(x, w, p), p);
  be.cuda().reserve_scratch(plan.workspace_bytes);
}

void conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p) {
  const Plan& plan = plan_for(be, conv_transpose2d_output_shape(x, w, p), w, x, p);
  be.cuda().reserve_scratch(plan.workspace_bytes);
}

}  // namespace vsae::cuda
