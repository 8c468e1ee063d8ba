// BF16 numerics, defined once: the FP32 -> BF16 conversion and the BF16 pair
// dot-product step (VDPBF16PS), as the Intel SDM vol. 2 writes them
// (VCVTNEPS2BF16's convert_fp32_to_bfloat16, VDPBF16PS's Operation). Every
// BF16 kernel, reference or optimized, reproduces these bit for bit; the
// AVX512-BF16 instructions do so natively (tests/cpp/test_gemm_bf16_avx512bf16.cc
// and test_avx512_emulation_native.cc check it where the CPU has them).
//
// convert: zero or denormal -> zero of the same sign (DAZ); +-inf kept;
// NaN -> its top half with the quiet bit set; otherwise round to nearest,
// ties to even (add 0x7FFF + lsb to the bits, keep the top half). A normal
// FP32 never rounds to a BF16 denormal, so converted data has none.
//
// dot step: acc = FTZ(fma(a, b, DAZ(acc))) with a, b the BF16 values as FP32
// (their product is exact unless it underflows; fma rounds once, to nearest
// even). VDPBF16PS does the odd element of each pair first, then the even one.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace int8rt {
namespace kernels {
namespace bf16 {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// FP32 -> BF16 bits, round to nearest even (convert_fp32_to_bfloat16).
inline uint16_t from_f32(float f) {
  const uint32_t u = bits_of(f);
  const uint32_t exponent = (u >> 23) & 0xFFu;
  if (exponent == 0) return static_cast<uint16_t>((u >> 16) & 0x8000u);  // zero, denormal
  if (exponent == 0xFFu) {
    return static_cast<uint16_t>((u & 0x7FFFFFu) ? ((u >> 16) | 0x40u) : (u >> 16));
  }
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// BF16 bits -> the FP32 they denote (exact).
inline float to_f32(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

// n values widened as to_f32 does (the bits in the high half), written as a
// loop the compiler vectorizes (the blocked pools' FP32 scratch rows).
inline void to_f32_run(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t u = static_cast<uint32_t>(x[i]) << 16;
    std::memcpy(y + i, &u, 4);
  }
}

// Denormal -> zero of the same sign.
inline float flush_denormal(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}

// One VDPBF16PS product step: acc + a * b with DAZ / FTZ, one rounding.
inline float dot_step(float acc, uint16_t a, uint16_t b) {
  return flush_denormal(std::fma(flush_denormal(to_f32(a)), flush_denormal(to_f32(b)),
                                 flush_denormal(acc)));
}

// VDPBF16PS on one lane: the pair (a[0], a[1]) . (b[0], b[1]) into acc,
// odd element first.
inline float dot_pair(float acc, const uint16_t* a, const uint16_t* b) {
  return dot_step(dot_step(acc, a[1], b[1]), a[0], b[0]);
}

}  // namespace bf16
}  // namespace kernels
}  // namespace int8rt
