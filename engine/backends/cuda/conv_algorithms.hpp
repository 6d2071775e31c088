// The algorithms cuDNN offers for one convolution pass, in the order the CUDA backend tries them.
// Host code on cuDNN's types only, so it is tested without a GPU.
#pragma once

#include <cudnn.h>

#include <cstddef>
#include <vector>

namespace vsae::cuda {

template <class Algo>
struct AlgoCandidate {
  Algo algo;
  std::size_t workspace_bytes;
  bool deterministic;
};

// From the heuristics' answers (`perf[0, returned)`, ranked by expected speed): those cuDNN can
// run, the deterministic ones first so that runs reproduce, each group in the heuristics' order.
// `workspace(algo)` gives an algorithm's workspace in bytes.
template <class Perf, class Workspace>
auto rank_candidates(const Perf* perf, int returned, Workspace workspace) {
  std::vector<AlgoCandidate<decltype(perf->algo)>> candidates;
  for (bool deterministic : {true, false})
    for (int i = 0; i < returned; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS &&
          (perf[i].determinism == CUDNN_DETERMINISTIC) == deterministic)
        candidates.push_back({perf[i].algo, workspace(perf[i].algo), deterministic});
  return candidates;
}

// Whether an execution that failed with `status` may move on to the next candidate: cuDNN 9 puts
// "this algorithm cannot run these operands" in the NOT_SUPPORTED category; anything else is a
// real error that another algorithm would only hide.
inline bool try_next_algorithm_after(cudnnStatus_t status) {
  return CUDNN_STATUS_CATEGORY(status) == CUDNN_STATUS_NOT_SUPPORTED;
}

}  // namespace vsae::cuda
