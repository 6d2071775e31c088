// Launchers for the MIG statistics on the GPU: per-latent ranges, and the joint latent-bin ×
// factor-class histograms of every latent and factor at once, built in shared memory and merged.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace vsae::cuda_kernels {

constexpr int kMigMaxFactors = 32;

// codes: (N, L). key_lo, key_hi: (L), written with ordered_key of each column's min and max
// (decode with ordered_key_value). nonfinite: (1), set to 1 if any code is NaN or ±Inf, else 0.
void latent_ranges(const float* codes, std::int64_t rows, std::int64_t latents,
                   std::uint32_t* key_lo, std::uint32_t* key_hi, std::int32_t* nonfinite,
                   cudaStream_t stream);

// codes: (N, L); factors: (N, F) class indices, F <= kMigMaxFactors; class_offset: (F + 1) host
// prefix sums of the class counts, S = class_offset[F]; edges: (L, bins + 1) on the device, each
// latent's increasing np.histogram edges in double. hist: (L, bins, S) on the device, overwritten:
// hist[l][b][class_offset[f] + c] = #{n : bin(codes[n][l]) = b, factors[n][f] = c}, where bin is
// np.digitize(x, edges[:-1]) − 1. bad_class: (1), set to 1 if a class index is out of range.
void mig_histograms(const float* codes, const std::int32_t* factors, std::int64_t rows,
                    std::int64_t latents, int num_factors, const std::int32_t* class_offset,
                    const double* edges, int bins, std::int32_t* hist, std::int32_t* bad_class,
                    cudaStream_t stream);

}  // namespace vsae::cuda_kernels
