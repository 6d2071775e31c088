// Float <-> unsigned keys whose unsigned order is the float order, shared by the CUDA kernels and
// their CPU twins so both rank values (ties, ±0, ±Inf, NaN) identically.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define VSAE_KEY_HD __host__ __device__ __forceinline__
#else
#define VSAE_KEY_HD inline
#endif

namespace vsae {

VSAE_KEY_HD std::uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

VSAE_KEY_HD float bits_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Monotone map: a < b (as floats) <=> key(a) < key(b). −0 maps to the key of +0 so the two tie as
// they compare equal, and every NaN maps to the largest key (above +Inf).
VSAE_KEY_HD std::uint32_t ordered_key(float f) {
  if (f != f) return 0xFFFFFFFFu;
  std::uint32_t u = f == 0.0f ? 0u : float_bits(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// Inverse of ordered_key: −0 comes back as +0 and the NaN key as a quiet NaN.
VSAE_KEY_HD float ordered_key_value(std::uint32_t key) {
  return bits_float((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

}  // namespace vsae
