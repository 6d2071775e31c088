// StepGraph: replays a whole training step as one CUDA Graph launch instead of ~150 kernel and
// library launches; on the CPU backend (or when disabled) it simply runs the step eagerly.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "engine/core/backend.hpp"

namespace vsae {

class StepGraph {
 public:
  // `enabled` is the run's switch (training.cuda_graph); it has no effect on the CPU backend.
  StepGraph(Backend& be, bool enabled);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Runs `step` once. On CUDA the first call runs it eagerly (the warm-up: cuBLAS and cuDNN
  // initialise lazily and the scratch pool reaches its size), the second captures and
  // instantiates it, and every later call replays the graph without calling `step` at all.
  // `step` must enqueue only stream-ordered work on be.cuda().stream(): no allocation, no
  // host synchronisation, and no host-side decision that differs from call to call.
  //
  // `bindings` lists every device pointer that `step` passes to a kernel by value and that its
  // owner could move (e.g. the epoch's shuffled order); together with the scratch pool's base
  // they key the graph: if any of them differs from capture time, the step is captured again.
  void run(const std::function<void()>& step, const std::vector<const void*>& bindings = {});

  std::int64_t captures() const { return captures_; }  // 1 in a normal run

 private:
  void capture(const std::function<void()>& step);
  void release();

  [[maybe_unused]] Backend& be_;  // used only when built with CUDA
  bool enabled_;
  bool warmed_up_ = false;
  std::vector<const void*> key_;
  std::int64_t captures_ = 0;
  void* graph_ = nullptr;  // cudaGraph_t and cudaGraphExec_t, opaque so CPU builds see no CUDA
  void* exec_ = nullptr;
};

}  // namespace vsae
