// MIG histograms on the CPU: threads own disjoint latents, so each histogram slice has one writer.
#include "kernels/mig_cpu.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_parallel.hpp"

namespace vsae::cpu_kernels {

bool latent_ranges(const float* codes, std::int64_t rows, std::int64_t latents, float* lo,
                   float* hi) {
  bool finite = true;
  for (std::int64_t l = 0; l < latents; ++l) {
    lo[l] = INFINITY;
    hi[l] = -INFINITY;
  }
  for (std::int64_t n = 0; n < rows; ++n)
    for (std::int64_t l = 0; l < latents; ++l) {
      const float v = codes[n * latents + l];
      if (!std::isfinite(v)) finite = false;
      lo[l] = std::min(lo[l], v);
      hi[l] = std::max(hi[l], v);
    }
  return finite;
}

int digitize_bin(double x, const double* edges, int bins) {
  int below = 0;
  for (int i = 1; i < bins; ++i) below += edges[i] <= x;
  return below;
}

bool mig_histograms(const float* codes, const std::int32_t* factors, std::int64_t rows,
                    std::int64_t latents, int num_factors, const std::int32_t* class_offset,
                    const double* edges, int bins, std::int32_t* hist) {
  const std::int64_t classes = class_offset[num_factors];
  std::fill(hist, hist + latents * bins * classes, 0);
  for (std::int64_t n = 0; n < rows; ++n)
    for (int f = 0; f < num_factors; ++f) {
      const std::int32_t c = factors[n * num_factors + f];
      if (c < 0 || c >= class_offset[f + 1] - class_offset[f]) return false;
    }
#pragma omp parallel for schedule(dynamic) if (worth_threads(rows * latents))
  for (std::int64_t l = 0; l < latents; ++l) {
    std::int32_t* hl = hist + l * bins * classes;
    const double* el = edges + l * (bins + 1);
    for (std::int64_t n = 0; n < rows; ++n) {
      const int bin = digitize_bin(static_cast<double>(codes[n * latents + l]), el, bins);
      for (int f = 0; f < num_factors; ++f)
        ++hl[bin * classes + class_offset[f] + factors[n * num_factors + f]];
    }
  }
  return true;
}

}  // namespace vsae::cpu_kernels
