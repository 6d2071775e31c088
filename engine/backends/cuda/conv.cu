// cuDNN convolutions. Each cross-correlation shape gets one plan (descriptors, and for each of the
// three passes its candidate algorithms with their workspace), built on first use and cached; the
// transposed convolution runs the same three calls with the roles of input and output swapped.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "engine/backends/cuda/conv.hpp"
#include "engine/backends/cuda/conv_algorithms.hpp"
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

// One pass's candidates (rank_candidates) and the one in use: the first that has not failed.
template <class Algo>
struct Pass {
  Pass(const char* pass_name, const char* api_name) : name(pass_name), api(api_name) {}

  const char* name;  // "forward", "backward-data", "backward-filter"
  const char* api;   // the cuDNN call that runs it, for error messages
  std::vector<AlgoCandidate<Algo>> candidates;
  std::atomic<std::size_t> current{0};

  const AlgoCandidate<Algo>& chosen() const { return candidates[current.load()]; }
};

struct Plan {
  TensorDescriptor input, output;
  FilterDescriptor filter;
  ConvolutionDescriptor conv;
  int out_h = 0, out_w = 0;
  std::string shape;  // "input (N, C, H, W) filter (K, C, KH, KW)", for messages
  Pass<cudnnConvolutionFwdAlgo_t> forward{"forward", "cudnnConvolutionForward"};
  Pass<cudnnConvolutionBwdDataAlgo_t> backward_data{"backward-data",
                                                    "cudnnConvolutionBackwardData"};
  Pass<cudnnConvolutionBwdFilterAlgo_t> backward_filter{"backward-filter",
                                                        "cudnnConvolutionBackwardFilter"};

  // What the algorithms in use need, one pass at a time: what prepare reserves.
  std::size_t workspace_bytes() const {
    return std::max({forward.chosen().workspace_bytes, backward_data.chosen().workspace_bytes,
                     backward_filter.chosen().workspace_bytes});
  }
};

int to_int(std::int64_t v) {
  return static_cast<int>(v);
}

// Says so on stderr when a pass has to run an algorithm whose results may vary run to run; each
// candidate is taken up at most once per plan, so this prints once.
template <class Algo>
void note_if_nondeterministic(const Pass<Algo>& pass, const std::string& shape) {
  const AlgoCandidate<Algo>& c = pass.chosen();
  if (!c.deterministic)
    std::fprintf(
        stderr,
        "vsae: conv (cuda): no deterministic %s algorithm works for %s; using algorithm %d, "
        "whose results may differ between runs\n",
        pass.name, shape.c_str(), static_cast<int>(c.algo));
}

template <class Algo>
void set_candidates(Pass<Algo>& pass, std::vector<AlgoCandidate<Algo>> candidates,
                    const std::string& shape) {
  VSAE_CHECK(!candidates.empty(), "conv (cuda): cuDNN offers no algorithm for the "
                                      << pass.name << " pass of " << shape);
  pass.candidates = std::move(candidates);
  note_if_nondeterministic(pass, shape);
}

void choose_forward(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionFwdAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.input.get(), plan.filter.get(),
                                                     plan.conv.get(), plan.output.get(), max_count,
                                                     &returned, perf.data()));
  set_candidates(plan.forward,
                 rank_candidates(perf.data(), returned,
                                 [&](cudnnConvolutionFwdAlgo_t algo) {
                                   std::size_t bytes = 0;
                                   CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(
                                       handle, plan.input.get(), plan.filter.get(), plan.conv.get(),
                                       plan.output.get(), algo, &bytes));
                                   return bytes;
                                 }),
                 plan.shape);
}

void choose_backward_data(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionBwdDataAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(
      handle, plan.filter.get(), plan.output.get(), plan.conv.get(), plan.input.get(), max_count,
      &returned, perf.data()));
  set_candidates(plan.backward_data,
                 rank_candidates(perf.data(), returned,
                                 [&](cudnnConvolutionBwdDataAlgo_t algo) {
                                   std::size_t bytes = 0;
                                   CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(
                                       handle, plan.filter.get(), plan.output.get(),
                                       plan.conv.get(), plan.input.get(), algo, &bytes));
                                   return bytes;
                                 }),
                 plan.shape);
}

void choose_backward_filter(cudnnHandle_t handle, Plan& plan) {
  int max_count = 0, returned = 0;
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithmMaxCount(handle, &max_count));
  std::vector<cudnnConvolutionBwdFilterAlgoPerf_t> perf(static_cast<std::size_t>(max_count));
  CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(
      handle, plan.input.get(), plan.output.get(), plan.conv.get(), plan.filter.get(), max_count,
      &returned, perf.data()));
  set_candidates(plan.backward_filter,
                 rank_candidates(perf.data(), returned,
                                 [&](cudnnConvolutionBwdFilterAlgo_t algo) {
                                   std::size_t bytes = 0;
                                   CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(
                                       handle, plan.input.get(), plan.output.get(), plan.conv.get(),
                                       plan.filter.get(), algo, &bytes));
                                   return bytes;
                                 }),
                 plan.shape);
}

std::unique_ptr<Plan> build_plan(cudnnHandle_t handle, const PlanKey& key) {
  auto plan = std::make_unique<Plan>();
  std::ostringstream shape;
  shape << "input " << Shape{key.n, key.c, key.h, key.w} << " filter "
        << Shape{key.k, key.c, key.kh, key.kw} << " stride " << key.stride << " pad " << key.pad;
  plan->shape = shape.str();
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
Plan& plan_for(Backend& be, const Shape& in, const Shape& filter, const Shape& out, ConvParams p) {
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

bool capturing(cudaStream_t stream) {
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  CUDA_CHECK(cudaStreamIsCapturing(stream, &capture));
  return capture != cudaStreamCaptureStatusNone;
}

// Runs one pass: `launch(algo, workspace, bytes)` makes the cuDNN call. Outside capture, an
// algorithm that cuDNN cannot run for these operands, or whose workspace cannot be allocated,
// gives way to the next candidate for good. Inside capture a failure throws: the graph would hold
// the failed call, and a new algorithm may need a larger workspace than the graph's.
template <class Algo, class Launch>
void execute(CudaContext& ctx, Pass<Algo>& pass, const std::string& shape, Launch launch) {
  for (std::size_t i = pass.current.load();; ++i) {
    const AlgoCandidate<Algo>& c = pass.candidates[i];
    const bool can_move_on = i + 1 < pass.candidates.size() && !capturing(ctx.stream());
    std::string why;
    void* workspace = nullptr;
    try {
      workspace = ctx.scratch(c.workspace_bytes);
    } catch (const Error& e) {
      if (!can_move_on) throw;
      why = e.what();
    }
    if (why.empty()) {
      const cudnnStatus_t status = launch(c.algo, workspace, c.workspace_bytes);
      if (status == CUDNN_STATUS_SUCCESS) return;
      why = detail::cudnn_error_detail(status);
      if (!can_move_on || !try_next_algorithm_after(status))
        detail::throw_api_failure("cuDNN", why, pass.api, __FILE__, __LINE__);
    }
    // Later calls start at the next candidate too (moved once, should two calls fail together).
    std::size_t expected = i;
    if (pass.current.compare_exchange_strong(expected, i + 1)) {
      std::fprintf(stderr,
                   "vsae: conv (cuda): %s algorithm %d failed for %s (%s); using algorithm %d\n",
                   pass.name, static_cast<int>(c.algo), shape.c_str(), why.c_str(),
                   static_cast<int>(pass.candidates[i + 1].algo));
      note_if_nondeterministic(pass, shape);
    }
  }
}

// out = conv(in, filter) + beta·out
void run_forward(Backend& be, Plan& plan, const Tensor& in, const Tensor& filter, const Tensor& out,
                 float beta) {
  const float alpha = 1.0f;
  CudaContext& ctx = be.cuda();
  execute(ctx, plan.forward, plan.shape,
          [&](cudnnConvolutionFwdAlgo_t algo, void* workspace, std::size_t bytes) {
            return cudnnConvolutionForward(ctx.cudnn(), &alpha, plan.input.get(), in.data,
                                           plan.filter.get(), filter.data, plan.conv.get(), algo,
                                           workspace, bytes, &beta, plan.output.get(), out.data);
          });
}

// din = convᵀ(dout, filter) + beta·din
void run_backward_data(Backend& be, Plan& plan, const Tensor& filter, const Tensor& dout,
                       const Tensor& din, float beta) {
  const float alpha = 1.0f;
  CudaContext& ctx = be.cuda();
  execute(ctx, plan.backward_data, plan.shape,
          [&](cudnnConvolutionBwdDataAlgo_t algo, void* workspace, std::size_t bytes) {
            return cudnnConvolutionBackwardData(
                ctx.cudnn(), &alpha, plan.filter.get(), filter.data, plan.output.get(), dout.data,
                plan.conv.get(), algo, workspace, bytes, &beta, plan.input.get(), din.data);
          });
}

// dfilter += the filter gradient of conv(in, ·) given dout
void run_backward_filter(Backend& be, Plan& plan, const Tensor& in, const Tensor& dout,
                         const Tensor& dfilter) {
  const float alpha = 1.0f, beta = 1.0f;
  CudaContext& ctx = be.cuda();
  execute(ctx, plan.backward_filter, plan.shape,
          [&](cudnnConvolutionBwdFilterAlgo_t algo, void* workspace, std::size_t bytes) {
            return cudnnConvolutionBackwardFilter(
                ctx.cudnn(), &alpha, plan.input.get(), in.data, plan.output.get(), dout.data,
                plan.conv.get(), algo, workspace, bytes, &beta, plan.filter.get(), dfilter.data);
          });
}

}  // namespace

void conv2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y, ConvParams p) {
  Plan& plan = plan_for(be, x.shape, w.shape, y.shape, p);
  run_forward(be, plan, x, w, y, 0.0f);
}

// beta 0 writes dx whole, 1 adds to it.
float dx_beta(DxMode mode) { return mode == DxMode::accumulate ? 1.0f : 0.0f; }

void conv2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                     const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode) {
  Plan& plan = plan_for(be, x.shape, w.shape, dy.shape, p);
  if (dx.defined()) run_backward_data(be, plan, w, dy, dx, dx_beta(dx_mode));
  run_backward_filter(be, plan, x, dy, dw);
}

// The transposed convolution's plan is that of the conv from y's shape to x's shape: its filter
// (I, O, KH, KW) is read by cuDNN as K = I output and C = O input channels.
void conv_transpose2d_forward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& y,
                              ConvParams p) {
  Plan& plan = plan_for(be, y.shape, w.shape, x.shape, p);
  run_backward_data(be, plan, w, x, y, 0.0f);
}

void conv_transpose2d_backward(Backend& be, const Tensor& x, const Tensor& w, const Tensor& dy,
                               const Tensor& dx, const Tensor& dw, ConvParams p, DxMode dx_mode) {
  Plan& plan = plan_for(be, dy.shape, w.shape, x.shape, p);
  if (dx.defined()) run_forward(be, plan, dy, w, dx, dx_beta(dx_mode));
  run_backward_filter(be, plan, dy, x, dw);
}

void conv2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p) {
  Plan& plan = plan_for(be, x, w, conv2d_output_shape(x, w, p), p);
  be.cuda().reserve_scratch(plan.workspace_bytes());
}

void conv_transpose2d_prepare(Backend& be, const Shape& x, const Shape& w, ConvParams p) {
  Plan& plan = plan_for(be, conv_transpose2d_output_shape(x, w, p), w, x, p);
  be.cuda().reserve_scratch(plan.workspace_bytes());
}

}  // namespace vsae::cuda
