// Batch assembly from the resident uint8 dataset: one pass gathers and converts to float.
#pragma once

#include "engine/core/backend.hpp"

namespace vsae {

// images: u8 (M, C, H, W); order: i32 (P), a permutation (or list) of image indices;
// cursor: i32 (1), the position in `order` of this batch's first image, read on the device;
// out: f32 (B, C, H, W) with out[b] = scale · images[order[(cursor + b) mod P]]; the wrap keeps a
// device-side cursor in bounds without a host check. Indices in `order` must be in [0, M): an index
// outside fills that row with NaN on both backends (a kernel cannot raise an error without a sync),
// so the loss shows it.
void gather_batch(Backend& be, const Tensor& images, const Tensor& order, const Tensor& cursor,
                  const Tensor& out, float scale);

// counter: i32 (1); counter += delta on the device (step numbers, batch cursors).
void advance_counter(Backend& be, const Tensor& counter, int delta);

}  // namespace vsae
