// CPU twin of kernels/mig.cuh: per-latent ranges and joint latent-bin × factor-class histograms.
#pragma once

#include <cstdint>

namespace vsae::cpu_kernels {

// codes: (N, L). lo, hi: (L), the min and max of each column. Returns false when a value is NaN
// or Inf (np.histogram refuses such data).
bool latent_ranges(const float* codes, std::int64_t rows, std::int64_t latents, float* lo,
                   float* hi);

// np.digitize(x, edges[:-1]) − 1 for the bins + 1 increasing edges: the number of edges[1..bins-1]
// that are <= x. x >= edges[0] is assumed (the edges span the data).
int digitize_bin(double x, const double* edges, int bins);

// codes: (N, L); factors: (N, F) class indices; class_offset: (F + 1) prefix sums of the class
// counts, S = class_offset[F]; edges: (L, bins + 1). hist: (L, bins, S), zeroed here, counts
// hist[l][bin(codes[n][l])][class_offset[f] + factors[n][f]] for every n, l, f. Returns false when
// a class index is out of its factor's range.
bool mig_histograms(const float* codes, const std::int32_t* factors, std::int64_t rows,
                    std::int64_t latents, int num_factors, const std::int32_t* class_offset,
                    const double* edges, int bins, std::int32_t* hist);

}  // namespace vsae::cpu_kernels
