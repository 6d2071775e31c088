// Branch-free float exp and log1p for the CPU loss kernels, on the ranges those need. libm's expf
// and log1pf are calls the compiler cannot vectorise; these are selects and polynomials, so a loop
// over them vectorises (with -fno-trapping-math, which the engine is compiled with: otherwise GCC
// keeps a branch around each select of a computed float). The polynomials are Cephes' expf and logf (about 1 ulp); log1p adds the
// rounding error of 1 + x back (Goldberg's correction).
#pragma once

#include <cstdint>
#include <cstring>

namespace vsae::cpu_kernels {

inline float float_from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// e^x for x <= 0. Below -87.3 (where e^x leaves the normal floats) it returns about 1.2e-38; a
// NaN stays NaN.
inline float exp_nonpositive(float x) {
  x = x < -87.3f ? -87.3f : x;
  // n = round(x / ln 2) by the 1.5·2^23 trick (no rounding instruction needed), r = x - n·ln 2
  // in two parts, so that r is exact.
  constexpr float kRound = 12582912.0f;
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // 2^n for n in [-126, 0]: the exponent field alone. A NaN x makes p NaN, and the result with it;
  // its n is replaced first, as converting a NaN to an integer is undefined.
  const std::int32_t exponent = static_cast<std::int32_t>(n == n ? n : 0.0f) + 127;
  return p * float_from_bits(static_cast<std::uint32_t>(exponent) << 23);
}

// log(1 + x) for x in [0, 1]; a NaN stays NaN.
inline float log1p_unit(float x) {
  const float u = 1.0f + x;
  // u = m·2^k with m in [√½, √2): k is 0 or 1 on this range.
  const bool halve = u > 1.41421356f;
  const float m = halve ? u * 0.5f : u;
  const float k = halve ? 1.0f : 0.0f;
  const float f = m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float y = p * f * z - k * 2.12194440e-4f - 0.5f * z;
  y = f + y + k * 0.693359375f;
  // 1 + x rounded away c = x - (u - 1); log(1 + x) = log(u) + c / u to first order.
  return y + (x - (u - 1.0f)) / u;
}

}  // namespace vsae::cpu_kernels
