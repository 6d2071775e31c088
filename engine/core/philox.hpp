// Counter-based Philox4x32-10 (Salmon et al., SC'11), written once for host and device so both
// backends draw bit-identical random integers for noise, shuffles and initialisation.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define VSAE_HD __host__ __device__ __forceinline__
#else
#define VSAE_HD inline
#endif

namespace vsae {

struct PhiloxBlock {
  std::uint32_t v[4];
};

// Distinct purposes draw from disjoint counter spaces.
enum class RngStream : std::uint32_t {
  reparam_noise = 1,
  shuffle = 2,
  init = 3,
  eval_subset = 4,
  dataset_subset = 5,
  sae_init_sample = 6,  // the training images whose h initialise the SAE decoder bias
  test = 100,
};

VSAE_HD void philox_mulhilo(std::uint32_t a, std::uint32_t b, std::uint32_t& hi, std::uint32_t& lo) {
  std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}

VSAE_HD PhiloxBlock philox4x32_10(PhiloxBlock ctr, std::uint32_t k0, std::uint32_t k1) {
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, ctr.v[0], hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, ctr.v[2], hi1, lo1);
    ctr = PhiloxBlock{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return ctr;
}

// Four random words for (seed, stream, a, b); a and b are the caller's counters (index, step).
VSAE_HD PhiloxBlock philox_draw(std::uint64_t seed, RngStream stream, std::uint32_t a, std::uint32_t b) {
  return philox4x32_10(PhiloxBlock{{a, b, static_cast<std::uint32_t>(stream), 0u}},
                       static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}

// Uniform in the open interval (0, 1) from the top 24 bits: exactly representable in float.
VSAE_HD float philox_uniform(std::uint32_t word) {
  return (static_cast<float>(word >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

// One standard normal per (seed, stream, index, step) by Box-Muller on the first two words.
VSAE_HD float philox_normal(std::uint64_t seed, RngStream stream, std::uint32_t index, std::uint32_t step) {
  PhiloxBlock r = philox_draw(seed, stream, index, step);
  float u1 = philox_uniform(r.v[0]);
  float u2 = philox_uniform(r.v[1]);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

}  // namespace vsae
