// Capture, instantiation and replay of one training step as a CUDA Graph (eager on the CPU).
#include "engine/graph/step_graph.hpp"

#include <cstdio>

#if VSAE_HAVE_CUDA
#include "engine/core/cuda_check.hpp"
#include "engine/core/cuda_context.hpp"
#endif

namespace vsae {

StepGraph::StepGraph(Backend& be, bool enabled) : be_(be), enabled_(enabled && be.is_cuda()) {}

StepGraph::~StepGraph() { release(); }

void StepGraph::run(const std::function<void()>& step, const std::vector<const void*>& bindings) {
  if (!enabled_ || !warmed_up_) {
    step();
    warmed_up_ = true;
    return;
  }
#if VSAE_HAVE_CUDA
  CudaContext& ctx = be_.cuda();
  std::vector<const void*> key = bindings;
  key.push_back(ctx.scratch_base());
  if (exec_ == nullptr || key != key_) {
    capture(step);
    // Capturing records the work without running it: the graph's first launch below is the step.
    key_ = std::move(key);
    // A second capture means a pointer moved mid-run; correct, but worth knowing (it costs ms).
    if (captures_ > 1) std::fprintf(stderr, "vsae: training step re-captured (a bound buffer moved)\n");
  }
  CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec_), ctx.stream()));
#else
  (void)bindings;  // unreachable: without CUDA the runner is never enabled
#endif
}

void StepGraph::capture(const std::function<void()>& step) {
#if VSAE_HAVE_CUDA
  release();
  cudaStream_t stream = be_.cuda().stream();
  // ThreadLocal: an unsafe call (cudaMalloc, a synchronisation) made by this thread while it
  // captures fails loudly, which is what catches an op that would allocate or sync in a step;
  // unlike Global it leaves other threads (dataset fill, a concurrent sweep member) free to
  // allocate. Relaxed would let such calls through silently into a broken graph.
  CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
  try {
    step();
  } catch (...) {
    // End the capture so the stream is usable again; the original error is the one to report.
    cudaGraph_t partial = nullptr;
    if (cudaStreamEndCapture(stream, &partial) == cudaSuccess && partial) cudaGraphDestroy(partial);
    throw;
  }
  cudaGraph_t graph = nullptr;
  CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
  graph_ = graph;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  exec_ = exec;
  // Moves the executable graph to the device now rather than on its first launch.
  CUDA_CHECK(cudaGraphUpload(exec, stream));
  ++captures_;
#else
  (void)step;
#endif
}

void StepGraph::release() {
#if VSAE_HAVE_CUDA
  // Called from the destructor, so it only logs.
  if (exec_ && cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec_)) != cudaSuccess)
    std::fprintf(stderr, "vsae: cudaGraphExecDestroy failed\n");
  if (graph_ && cudaGraphDestroy(static_cast<cudaGraph_t>(graph_)) != cudaSuccess)
    std::fprintf(stderr, "vsae: cudaGraphDestroy failed\n");
#endif
  exec_ = nullptr;
  graph_ = nullptr;
}

}  // namespace vsae
