// Unit-norm decoder columns (as in the OpenAI and SAELens SAE trainers): before the optimizer step
// the gradient loses its component along each decoder column, and after it each column is scaled
// back to unit length. The decoder weight has PyTorch's Linear layout (D, W), so unit j's
// direction is column j (stride W).
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// w, dw: f32 (D, W). For every column j: dw[:, j] −= (⟨dw_j, w_j⟩ / ⟨w_j, w_j⟩)·w_j, leaving the
// part of the gradient that does not change ‖w_j‖ to first order. A column with ⟨w_j, w_j⟩ = 0 is
// left untouched. Dot products run in double over the rows in an order fixed by D (bitwise
// reproducible); NaN in a column of w or dw reaches that column of dw only.
void decoder_grad_remove_parallel(Backend& be, const Tensor& w, const Tensor& dw);

// w: f32 (D, W), in place. For every column j: w[:, j] /= ‖w_j‖₂, the norm taken in double (no
// overflow or underflow of the squares) in an order fixed by D. A zero column stays zero: it has no
// direction to keep. NaN in a column makes that column NaN and no other.
void decoder_normalize_columns(Backend& be, const Tensor& w);

}  // namespace vsae
