// Fused Adam over one parameter group (Graph::param_groups): its parameters, gradients and both
// moments are each one flat buffer, so one launch updates every tensor of the group (multi-tensor
// apply without lists).
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

struct AdamHyper {
  float lr = 1e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
};

// params, grads, m, v: flat f32 of equal size. step: i32 (1), the 1-based step number AFTER this
// update (so >= 1), read on the device for bias correction (PyTorch semantics, no weight decay).
void adam_step(Backend& be, const Tensor& params, const Tensor& grads, const Tensor& m, const Tensor& v,
               const Tensor& step, const AdamHyper& hyper);

}  // namespace vsae
