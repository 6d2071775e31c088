// Where the SAE's decoder bias b_dec starts (DESIGN §10): the mean or the geometric median of the
// SAE inputs h over a sample, as the OpenAI and SAELens SAE trainers initialise it. With the
// pre-encoder bias, the SAE then encodes h − b_dec, inputs centred from the first step.
#pragma once

#include <cstdint>
#include <vector>

namespace vsae {

// rows: (n, dim) row-major, n >= 1. The mean of each column, summed in double in row order.
std::vector<float> column_mean(const std::vector<float>& rows, std::int64_t dim);

// The point minimising Σ_i ‖rows_i − y‖₂ (Weiszfeld's iteration from the mean, in double, rows in
// order): y ← Σ w_i rows_i / Σ w_i with w_i = 1 / max(‖rows_i − y‖, 1e-12), until a step moves y
// by at most tolerance·(1 + ‖y‖) or after max_iterations. Deterministic.
std::vector<float> geometric_median(const std::vector<float>& rows, std::int64_t dim, int max_iterations = 500,
                                    double tolerance = 1e-9);

}  // namespace vsae
