// The narrow float formats ONNX's Cast converts to and from (bfloat16, the
// float8 variants, float4 e2m1) and the 4- and 2-bit integers, one element
// per byte (two for bfloat16) as numpy's ml_dtypes holds them: decode to
// double (exact) and encode from double. The rules are those of ml_dtypes,
// which ONNX's reference implementation and its Cast test data use:
//
// - Encoding rounds to nearest, ties to even, once, from the exact value.
// - saturate (ONNX Cast's attribute, default 1; float8 only): values beyond
//   the largest finite value, infinities included, become it (with their
//   sign). Without it, overflow is Inf where the format has one (e5m2), else
//   NaN. float4 e2m1 has neither Inf nor NaN: overflow saturates, NaN
//   becomes the code 0x8 (-0) for a NaN with a clear sign bit, 0x0 otherwise
//   (ml_dtypes' choice). bfloat16 keeps Inf.
// - NaN codes: e4m3fn 0x7f, e5m2 0x7e, bfloat16 0x7fc0 (sign kept); the
//   "fnuz" formats have one NaN, 0x80, and no negative zero (-0 encodes 0).
// - float8 e8m0 (a power of two 2^(code - 127), 0xff NaN) follows ONNX's
//   numpy_helper.to_float8e8m0 on the value's float32 bits: the exponent
//   field, rounded up ("up", Cast's default), kept ("down"), or to nearest
//   by the guard/round/sticky bits; saturate keeps 0xfe from rounding to
//   0xff; Inf and NaN become 0xff; the sign is dropped.
// - 4- and 2-bit integers (int4, uint4, int2, uint2) are held in the low bits
//   of a byte. From a float: truncated toward zero, and a value outside the
//   type's range (NaN included) becomes 0; from an integer: the low bits
//   (wraparound), as ml_dtypes converts.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace int8rt {

enum class NarrowFloat { kBFloat16, kE4M3FN, kE4M3FNUZ, kE5M2, kE5M2FNUZ, kE2M1 };

struct NarrowFloatFormat {
  int exponent_bits, mantissa_bits, bias;
  bool ieee_specials;  // exponent all ones is Inf / NaN (bfloat16, e5m2)
  bool fnuz;           // 0x80 is the only NaN, no negative zero
  uint32_t max_code;   // largest finite magnitude's code
  uint32_t nan_code;   // without the sign (fnuz: the whole code)
};

constexpr NarrowFloatFormat narrow_float_format(NarrowFloat f) {
  switch (f) {
    case NarrowFloat::kBFloat16: return {8, 7, 127, true, false, 0x7f7f, 0x7fc0};
    case NarrowFloat::kE4M3FN: return {4, 3, 7, false, false, 0x7e, 0x7f};
    case NarrowFloat::kE4M3FNUZ: return {4, 3, 8, false, true, 0x7f, 0x80};
    case NarrowFloat::kE5M2: return {5, 2, 15, true, false, 0x7b, 0x7e};
    case NarrowFloat::kE5M2FNUZ: return {5, 2, 16, false, true, 0x7f, 0x80};
    case NarrowFloat::kE2M1: return {2, 1, 1, false, false, 0x7, 0x8};
  }
  return {8, 7, 127, true, false, 0x7f7f, 0x7fc0};
}

inline double narrow_float_decode(NarrowFloat f, uint32_t code) {
  const NarrowFloatFormat t = narrow_float_format(f);
  const int width = 1 + t.exponent_bits + t.mantissa_bits;
  const uint32_t sign_bit = 1u << (width - 1);
  if (t.fnuz && code == 0x80) return std::numeric_limits<double>::quiet_NaN();
  const uint32_t magnitude = code & (sign_bit - 1);
  const uint32_t exponent = magnitude >> t.mantissa_bits;
  const uint32_t mantissa = magnitude & ((1u << t.mantissa_bits) - 1);
  const uint32_t all_ones = (1u << t.exponent_bits) - 1;
  double v;
  if (t.ieee_specials && exponent == all_ones) {
    v = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  } else if (!t.ieee_specials && !t.fnuz && f != NarrowFloat::kE2M1 && magnitude == t.nan_code) {
    v = std::numeric_limits<double>::quiet_NaN();  // e4m3fn: S.1111.111
  } else if (exponent == 0) {
    v = std::ldexp(static_cast<double>(mantissa), 1 - t.bias - t.mantissa_bits);
  } else {
    v = std::ldexp(static_cast<double>(mantissa | (1u << t.mantissa_bits)),
                   static_cast<int>(exponent) - t.bias - t.mantissa_bits);
  }
  return (code & sign_bit) ? -v : v;
}

inline uint32_t narrow_float_encode(NarrowFloat f, double x, bool saturate) {
  const NarrowFloatFormat t = narrow_float_format(f);
  const int width = 1 + t.exponent_bits + t.mantissa_bits;
  const uint32_t sign = std::signbit(x) ? 1u << (width - 1) : 0u;
  const uint32_t inf_code = ((1u << t.exponent_bits) - 1) << t.mantissa_bits;
  if (std::isnan(x)) {
    if (t.fnuz) return t.nan_code;
    if (f == NarrowFloat::kE2M1) return sign ? 0x0 : 0x8;
    return sign | t.nan_code;
  }
  const bool no_overflow_code = f == NarrowFloat::kE2M1;  // saturates always
  const double max_value = narrow_float_decode(f, t.max_code);
  double a = std::fabs(x);
  if (a > max_value && (saturate || no_overflow_code)) a = max_value;
  uint32_t code;
  const double min_normal = std::ldexp(1.0, 1 - t.bias);
  if (std::isinf(a)) {
    code = t.max_code + 1;  // overflow, below
  } else if (a < min_normal) {  // subnormal or zero; 2^mantissa_bits is the smallest normal's code
    code = static_cast<uint32_t>(std::nearbyint(std::ldexp(a, t.bias - 1 + t.mantissa_bits)));
  } else {
    int e = 0;
    std::frexp(a, &e);  // a in [2^(e-1), 2^e)
    const int exponent = e - 1;
    const double mantissa = std::nearbyint(std::ldexp(a, t.mantissa_bits - exponent));
    // A mantissa rounded up to 2^(bits + 1) carries into the exponent by the addition.
    code = (static_cast<uint32_t>(exponent + t.bias) << t.mantissa_bits) +
           (static_cast<uint32_t>(mantissa) - (1u << t.mantissa_bits));
  }
  if (code > t.max_code) {
    if (t.ieee_specials) return sign | inf_code;
    return t.fnuz ? t.nan_code : sign | t.nan_code;
  }
  if (code == 0 && t.fnuz) return 0;
  return sign | code;
}

enum class E8M0Rounding { kUp, kDown, kNearest };

inline double e8m0_decode(uint8_t code) {
  return code == 0xff ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(1.0, static_cast<int>(code) - 127);
}

inline uint8_t e8m0_encode(float x, bool saturate, E8M0Rounding rounding) {
  uint32_t f;
  std::memcpy(&f, &x, sizeof(f));
  uint32_t exponent = (f >> 23) & 0xff;
  if (exponent == 0xff) return 0xff;
  bool up = false;
  if (rounding == E8M0Rounding::kUp) {
    up = (f & 0x7fffff) != 0;
  } else if (rounding == E8M0Rounding::kNearest) {
    const bool guard = f & 0x400000, round = f & 0x200000, sticky = f & 0x1fffff, lsb = exponent > 0;
    up = guard && (round || sticky || lsb);
  }
  if (up && !(saturate && exponent == 0xfe)) ++exponent;
  return static_cast<uint8_t>(exponent);
}

// The 4- and 2-bit integers (bits = 4 or 2), held in a byte's low bits.
inline int32_t narrow_int_decode(uint8_t code, int bits, bool is_signed) {
  const int32_t v = code & ((1 << bits) - 1);
  return is_signed && v >= (1 << (bits - 1)) ? v - (1 << bits) : v;
}

inline uint8_t narrow_int_from_integer(int64_t v, int bits) {
  return static_cast<uint8_t>(static_cast<uint64_t>(v) & ((1u << bits) - 1));
}

inline uint8_t narrow_int_from_float(double x, int bits, bool is_signed) {
  const double t = std::trunc(x);
  const double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double hi = is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  if (!(t >= lo && t <= hi)) return 0;  // NaN too
  return narrow_int_from_integer(static_cast<int64_t>(t), bits);
}

}  // namespace int8rt
