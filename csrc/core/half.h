// IEEE 754 binary16 (float16) -> float32, exactly, in portable C++ (no F16C),
// and double (hence float32, exactly widened) -> binary16, rounded to nearest,
// ties to even (numpy's astype(float16), IEEE's default).
//
// The half's exponent and mantissa bits are shifted into float position
// (<< 13), which reads as the same number scaled by 2^-112 (the exponent bias
// differs by 127 - 15); multiplying by 2^112 restores it exactly, subnormal
// halves included (they become float subnormals first, and the product is
// exact as long as denormals are not flushed, i.e. no -ffast-math). Inf and
// NaN (exponent 31) get the float's all-ones exponent instead. The loop form
// has no branches, so the compiler vectorises it with baseline SSE2.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace int8rt {

inline float half_bits_to_float(uint16_t h) {
  const int32_t shifted = static_cast<int32_t>(h & 0x7fffu) << 13;  // exponent|mantissa, float position
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  float value;
  std::memcpy(&value, &shifted, sizeof(value));
  value *= 0x1p112f;
  int32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  // Exponent 31: Inf (mantissa 0) or NaN (payload kept in the top mantissa bits).
  const int32_t special = shifted | 0x7f800000;
  const int32_t mask = -static_cast<int32_t>(shifted >= (0x7c00 << 13));  // all ones if special
  const uint32_t out = static_cast<uint32_t>((special & mask) | (bits & ~mask)) | sign;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

// Converts n halves (raw bits) to floats.
inline void half_bits_to_float(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = half_bits_to_float(src[i]);
}

// Rounds x to the nearest binary16, ties to even; beyond the largest half
// (65504) by half an ulp or more is Inf; NaN stays NaN (quiet, sign kept).
// A double input is rounded once (no double rounding through float32). The
// scalings are by powers of two, exact; std::nearbyint rounds to even under
// the default rounding mode, which int8rt never changes.
inline uint16_t half_bits_from_double(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000u);
  const double a = std::fabs(x);
  if (std::isnan(a)) return static_cast<uint16_t>(sign | 0x7e00u);
  if (a >= 65520.0) return static_cast<uint16_t>(sign | 0x7c00u);  // Inf, or rounds to it
  if (a < 0x1p-14) {  // subnormal (or zero): a multiple of 2^-24; 1024 is the smallest normal's bits
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24)));
  }
  int e = 0;
  std::frexp(a, &e);  // a in [2^(e-1), 2^e)
  const int exponent = e - 1;  // in [-14, 15]
  const double mantissa = std::nearbyint(std::ldexp(a, 10 - exponent));  // in [1024, 2048]
  // A mantissa rounded up to 2048 carries into the exponent by the addition.
  return static_cast<uint16_t>(sign | (((exponent + 15) << 10) + (static_cast<int>(mantissa) - 1024)));
}

}  // namespace int8rt
