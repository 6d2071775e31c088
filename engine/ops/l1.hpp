// L1 sparsifiers of the SAE: a = ReLU(z) with the penalty λ·mean_rows Σ|a|, and the proximal form
// a = max(z − τ, 0); both fuse the bias add (z = z_pre + b_enc) and the activity counts. λ and τ
// are device scalars moved by a device-side controller so that L0 tracks the target k.
#pragma once

#include "engine/core/backend.hpp"
#include "engine/ops/firing.hpp"

namespace vsae {

// z_pre, a: f32 (B, W); bias: f32 (W); a = max(z_pre + b, 0).
// lambda: f32 (1); penalty: f32 (1) or undefined: penalty = λ·(1/B)·Σ_{n,j} a[n][j]
// (deterministic reduction order; B >= 1).
void l1_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& lambda,
                const Tensor& a, const Tensor& penalty, const ActivityCounters& counters);

// Backward of a = ReLU(z) plus the penalty term: g = [a > 0]·(da + λ/B); dz_pre += g,
// db += Σ_rows g (fixed order). a, da, dz_pre: f32 (B, W); lambda: f32 (1); db: f32 (W).
void l1_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& lambda,
                 const Tensor& dz_pre, const Tensor& db);

// z_pre, a: f32 (B, W); bias: f32 (W); tau: f32 (1); a = max(z_pre + b − τ·s, 0), with
// s = *tau_scale (f32 (1)) for the relative threshold, or s = 1 when tau_scale is undefined.
void l1_prox_forward(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                     const Tensor& a, const ActivityCounters& counters,
                     const Tensor& tau_scale = Tensor());

// The relative L1-prox threshold's scale s, so that the threshold τ·s follows the
// pre-activations' size and the encoder cannot escape it by growing z. With s_b = sqrt(mean over
// the batch of (z_pre + b)²) (NaN for B = 0): update (training) sets scale = s_b and moves the
// running scale, running ← s_b while it is unset (< 0 or not finite), else
// β·running + (1 − β)·s_b, unchanged when s_b is not finite; otherwise (evaluation) scale =
// running, so a code does not depend on its batch, or s_b while the running scale is unset.
// z_pre: f32 (B, W); bias: f32 (W); running, scale: f32 (1); beta in [0, 1). s_b does not take
// part in the backward (stop-gradient), as BatchTopK's θ does not.
void l1_prox_scale(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& running,
                   float beta, bool update, const Tensor& scale);

// The per-unit L1-prox threshold t_j = μ_j + τ·σ_j, μ_j and σ_j the mean and standard deviation of
// unit j's pre-activation z = z_pre + b over the batch, so that no unit escapes the threshold by
// an offset or a scale of its own: which codes are active depends only on each unit's
// standardised z. Training (update) uses the batch's μ, σ and moves the running pair
// (running ← β·running + (1 − β)·batch, set outright while unset: running_std < 0 or either not
// finite; unchanged where the batch's pair is not finite); evaluation uses the running pair, so
// a code does not depend on its batch (the batch's while unset). z_pre: f32 (B, W); bias,
// running_mean, running_std, threshold, mean, std_dev: f32 (W), the last two receiving the pair
// used (what l1_prox_backward_per_unit needs); tau: f32 (1), signed; beta in [0, 1). B = 0 gives
// NaN thresholds. eval_active: i32 (1) or undefined, = the number of entries of z above
// μ'_j + τ_e·σ'_j, τ_e = eval_tau (f32 (1)) and (μ', σ') the pair evaluation would use after this
// call (the running pair, the batch's where unset). The batch's own statistics let more codes
// through than fixed ones at the same τ (about 5 % at k = W/10 on dSprites), and the running pair
// lags a changing encoder, so evaluation has its own τ_e, tracked on this count.
void l1_prox_unit_threshold(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                            const Tensor& running_mean, const Tensor& running_std, float beta,
                            bool update, const Tensor& threshold, const Tensor& mean,
                            const Tensor& std_dev, const Tensor& eval_tau = Tensor(),
                            const Tensor& eval_active = Tensor());

// The backward of a = max(z − μ_j − τ·σ_j, 0) through the batch's statistics, as BatchNorm's
// backward goes through its own (held fixed, they would let the encoder drift its offsets and
// scales without bound): with g = [a > 0]·da and G_j = Σ_rows g, dz_pre += g − (G_j/B)·(1 + τ·ẑ),
// ẑ = (z − μ_j)/σ_j (0 where σ_j is not > 0), and db += its column sums, which are 0 up to
// rounding (a shift of z_j changes nothing). z_pre, a, da, dz_pre: f32 (B, W), B >= 1; bias,
// mean, std_dev, db: f32 (W) (mean and std_dev from the forward's l1_prox_unit_threshold); tau:
// f32 (1).
void l1_prox_backward_per_unit(Backend& be, const Tensor& z_pre, const Tensor& bias, const Tensor& tau,
                               const Tensor& mean, const Tensor& std_dev, const Tensor& a,
                               const Tensor& da, const Tensor& dz_pre, const Tensor& db);

// a = max(z_pre + b − t_j, 0) with t = thresholds (f32 (W)), e.g. from l1_prox_unit_threshold.
void l1_prox_forward_per_unit(Backend& be, const Tensor& z_pre, const Tensor& bias,
                              const Tensor& thresholds, const Tensor& a,
                              const ActivityCounters& counters);

// g = [a > 0]·da; dz_pre += g, db += Σ_rows g (fixed order). τ is controlled, not learned.
void l1_prox_backward(Backend& be, const Tensor& a, const Tensor& da, const Tensor& dz_pre,
                      const Tensor& db);

struct SparsityControl {
  float eta = 0.05f;  // gain of the multiplicative update
  float lo = 1e-6f;   // clamps of the coefficient; lo > 0 keeps it able to grow again
  float hi = 1e3f;
  // The tracking controller's floor ratio ρ (0: none, the original 'adaptive' update). While L0
  // stays below k because the SAE is no denser without a penalty, the original update lowers the
  // coefficient step after step to `lo` (windup), and climbing back takes thousands of steps once k
  // falls below that natural L0. The floor keeps it within reach: ρ times the coefficient's own
  // scale on the active units, below which it barely acts (controller_floor).
  float floor_ratio = 0.0f;
  // An additive update, coef ← coef + η·(L0 − k)/k, for a signed coefficient (the per-unit
  // L1-prox threshold's τ, in standard deviations from each unit's mean); lo may then be < 0.
  bool additive = false;
};

// The per-step controller (DESIGN §5), entirely on the device: with L0 = batch_active / batch_rows
// and k = *k_target, coef ← clamp(coef·exp(η·(L0 − k)/k), max(lo, *floor), hi) (coef + η·(L0 − k)/k
// when additive). coef: f32 (1) (λ or τ); batch_active, k_target: i32 (1); floor: f32 (1), or
// undefined for none. Leaves coef unchanged when k <= 0.
void sparsity_controller_update(Backend& be, const Tensor& coef, const Tensor& batch_active,
                                const Tensor& k_target, std::int64_t batch_rows,
                                const SparsityControl& control, const Tensor& floor = Tensor());

// floor = ρ · factor · mean over the entries with a > 0 of |signal| / divisor, 0 when none is
// positive or the divisor is not > 0; a, signal: f32 of one shape; floor: f32 (1); divisor: f32
// (1), or undefined for 1. The coefficient's scale on the active units: for L1 the data gradient
// that λ/B competes with (signal = da, factor = B), for L1-prox the activation that τ shifts
// (signal = a, factor = 1, divided by the relative threshold's scale s when τ is relative).
void controller_floor(Backend& be, const Tensor& a, const Tensor& signal, float factor, float rho,
                      const Tensor& floor, const Tensor& divisor = Tensor());

// Reserves the CUDA scratch the L1 ops need for (B, W); call at plan time, before graph capture.
void l1_prepare(Backend& be, std::int64_t batch, std::int64_t width);

}  // namespace vsae
