// Dead-neuron revival ops (issue 6, beyond the paper): the per-unit steps-since-fired counters
// that define "dead" for revival, the AuxK pieces (dead-unit mask of the pre-activations, the
// stop-gradient residual e = h − ĥ) and the resampling of dead units' SAE weights.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/core/backend.hpp"

namespace vsae {

// a: f32 (B, W) training codes; since: i32 (W). since[j] = 0 if unit j fired (a > 0) in this
// batch, else since[j] + 1 (saturating at INT32_MAX). Device-side, so a step never syncs.
void steps_since_fired_update(Backend& be, const Tensor& a, const Tensor& since);

// z_pre, z_dead: f32 (B, W); since: i32 (W). z_dead = z_pre on dead units (since >= dead_steps)
// and -Inf on live ones, so a Top-k over z_dead selects only dead units (AuxK).
void mask_live_units(Backend& be, const Tensor& z_pre, const Tensor& since, std::int32_t dead_steps,
                     const Tensor& z_dead);

// target, approx, e: f32, same shape. e = target − approx (the SAE residual h − ĥ; no backward).
void residual_forward(Backend& be, const Tensor& target, const Tensor& approx, const Tensor& e);

// The SAE tensors resampling rewrites: parameters and both Adam moments, PyTorch layouts
// (W_enc (W, H), b_enc (W), W_dec (H, W)).
struct SaeResampleTensors {
  Tensor w_enc, b_enc, w_dec;
  Tensor m_w_enc, v_w_enc, m_b_enc, v_b_enc, m_w_dec, v_w_dec;
};

// Re-initialises the SAE units `units` (host list, distinct, in [0, W)): unit units[i] takes the
// direction d of row sources[i] of directions (f32 (R, H)), normalised (the basis vector
// e_(u mod H) for a zero row): W_dec[:, u] = d, W_enc[u, :] = enc_norm·d, b_enc[u] = 0, all their
// Adam moments 0, and since[u] = 0. index_scratch: i32 with >= 2·units.size() elements on `be`,
// where the lists are uploaded (between steps: upload waits for the device).
void resample_units(Backend& be, const std::vector<std::int32_t>& units,
                    const std::vector<std::int32_t>& sources, const Tensor& index_scratch,
                    const Tensor& directions, float enc_norm, const SaeResampleTensors& targets,
                    const Tensor& since);

}  // namespace vsae
