// The C++ element type behind each run-time DataType, visitors that call a
// generic lambda with it, and the numeric rules of the run-time dtypes. This
// is the one home of those rules; layers apply them through Arith<T> and
// convert_element, never by spelling their own:
//
// - float32 computes in float32, float64 in double.
// - float16 is stored as its IEEE binary16 bits (Half). An op loads its
//   operands as float32, computes in float32 and rounds the result once to the
//   nearest half, ties to even. For + - * / (and sqrt) that is the correctly
//   rounded binary16 result (float32 has 24 >= 2 * 11 + 2 significand bits,
//   so rounding twice equals rounding once), which is what numpy's float16
//   (ONNX's reference) gives.
// - Integers wrap modulo 2^bits, as numpy does: + - * are formed in uint64
//   (modular, no signed-overflow UB) and truncated to the type. Division
//   truncates toward zero (ONNX Runtime's), MIN / -1 wraps to MIN; dividing
//   by zero is the layer's InvalidArgument.
// - Conversions (Cast): to float16 rounds to nearest even from the exact
//   value (double rounding avoided); float -> integer truncates toward zero
//   (C++ conversion, as ONNX Runtime); integer -> narrower integer wraps;
//   x -> bool is x != 0 (NaN -> true); bool -> x is 0 or 1. The storage
//   types (bfloat16, float8, float4, 4- and 2-bit integers) convert through
//   their exact value with core/narrow_float.h's rules (ml_dtypes'; Cast's
//   saturate applies to float8 targets).
//
// Bool is one byte (uint8_t) holding 0 or 1, like uint8, so the visitors pass
// a Bool8 tag for it rather than uint8_t.
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>

#include "core/half.h"
#include "core/narrow_float.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// A float16 element: its binary16 bits.
struct Half {
  uint16_t bits;
};
static_assert(sizeof(Half) == 2, "Half is two bytes");

// The bool element tag of the visitors (storage: uint8_t, 0 or 1).
struct Bool8 {
  uint8_t v;
};

// A storage float type's element (bfloat16: two bytes; the others: one).
template <NarrowFloat F, typename Bits>
struct NarrowFloatElement {
  Bits bits;
  static constexpr NarrowFloat kFormat = F;
};
// A float8 e8m0 element (a power of two).
struct E8M0Element {
  uint8_t bits;
};
// A 4- or 2-bit integer element, in a byte's low bits.
template <int Bits, bool Signed>
struct NarrowIntElement {
  uint8_t bits;
};

template <typename T> struct IsNarrowFloat : std::false_type {};
template <NarrowFloat F, typename B> struct IsNarrowFloat<NarrowFloatElement<F, B>> : std::true_type {};
template <typename T> struct IsNarrowInt : std::false_type {
  static constexpr int kBits = 0;
  static constexpr bool kSigned = false;
};
template <int B, bool S> struct IsNarrowInt<NarrowIntElement<B, S>> : std::true_type {
  static constexpr int kBits = B;
  static constexpr bool kSigned = S;
};

template <typename T> inline constexpr bool kIsHalf = std::is_same_v<T, Half>;
template <typename T> inline constexpr bool kIsFloat = std::is_floating_point_v<T> || kIsHalf<T>;
template <typename T> inline constexpr bool kIsInteger = std::is_integral_v<T>;

bool is_float_dtype(DataType t);    // float32, float64, float16
bool is_integer_dtype(DataType t);  // int8..int64, uint8..uint64
inline bool is_numeric_dtype(DataType t) { return is_float_dtype(t) || is_integer_dtype(t); }

// Calls f(T{}) with the element type of a numeric (non-bool) dtype and
// returns true; returns false for bool.
template <typename F>
bool visit_numeric(DataType t, F&& f) {
  switch (t) {
    case DataType::kFloat32: f(float{}); return true;
    case DataType::kFloat64: f(double{}); return true;
    case DataType::kFloat16: f(Half{}); return true;
    case DataType::kInt8: f(int8_t{}); return true;
    case DataType::kUInt8: f(uint8_t{}); return true;
    case DataType::kInt16: f(int16_t{}); return true;
    case DataType::kUInt16: f(uint16_t{}); return true;
    case DataType::kInt32: f(int32_t{}); return true;
    case DataType::kUInt32: f(uint32_t{}); return true;
    case DataType::kInt64: f(int64_t{}); return true;
    case DataType::kUInt64: f(uint64_t{}); return true;
    default: return false;  // bool and the storage types
  }
}

// Every dtype: the numeric ones, Bool8 for bool, and the storage types.
template <typename F>
void visit_dtype(DataType t, F&& f) {
  if (visit_numeric(t, f)) return;
  switch (t) {
    case DataType::kBool: f(Bool8{}); return;
    case DataType::kBFloat16: f(NarrowFloatElement<NarrowFloat::kBFloat16, uint16_t>{}); return;
    case DataType::kFloat8E4M3FN: f(NarrowFloatElement<NarrowFloat::kE4M3FN, uint8_t>{}); return;
    case DataType::kFloat8E4M3FNUZ: f(NarrowFloatElement<NarrowFloat::kE4M3FNUZ, uint8_t>{}); return;
    case DataType::kFloat8E5M2: f(NarrowFloatElement<NarrowFloat::kE5M2, uint8_t>{}); return;
    case DataType::kFloat8E5M2FNUZ: f(NarrowFloatElement<NarrowFloat::kE5M2FNUZ, uint8_t>{}); return;
    case DataType::kFloat4E2M1: f(NarrowFloatElement<NarrowFloat::kE2M1, uint8_t>{}); return;
    case DataType::kUInt4: f(NarrowIntElement<4, false>{}); return;
    case DataType::kInt4: f(NarrowIntElement<4, true>{}); return;
    case DataType::kUInt2: f(NarrowIntElement<2, false>{}); return;
    case DataType::kInt2: f(NarrowIntElement<2, true>{}); return;
    case DataType::kFloat8E8M0: f(E8M0Element{}); return;
    default: return;  // numeric: visited above
  }
}

// How an op computes on T: load to the compute type C, compute, store back.
// The float32 / float64 / integer loads and stores are identities, so their
// loops compile as before.
template <typename T>
struct Arith {
  using C = T;
  static C load(T v) { return v; }
  static T store(C v) { return v; }
  static T add(T a, T b) {
    if constexpr (kIsInteger<T>) return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else return a + b;
  }
  static T sub(T a, T b) {
    if constexpr (kIsInteger<T>) return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
    else return a - b;
  }
  static T mul(T a, T b) {
    if constexpr (kIsInteger<T>) return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else return a * b;
  }
  // Integer division by a non-zero b (the layer refuses zero): truncates
  // toward zero; MIN / -1 wraps to MIN like the other integer ops (the
  // hardware divide would trap: SIGFPE).
  static T div(T a, T b) {
    static_assert(kIsInteger<T>, "float division is load(a) / load(b)");
    if constexpr (std::is_signed_v<T>) {
      if (b == -1) return sub(T{0}, a);
    }
    return static_cast<T>(a / b);
  }
};

template <>
struct Arith<Half> {
  using C = float;
  static float load(Half v) { return half_bits_to_float(v.bits); }
  static Half store(float v) { return Half{half_bits_from_double(v)}; }
  static Half add(Half a, Half b) { return store(load(a) + load(b)); }
  static Half sub(Half a, Half b) { return store(load(a) - load(b)); }
  static Half mul(Half a, Half b) { return store(load(a) * load(b)); }
};

// The ONNX TensorProto element type `to` (Cast's `to`, QuantizeLinear's
// output_dtype...) as a DataType, if the engine has it.
inline std::optional<DataType> dtype_from_onnx(int64_t to) {
  switch (to) {
    case 1: return DataType::kFloat32;
    case 2: return DataType::kUInt8;
    case 3: return DataType::kInt8;
    case 4: return DataType::kUInt16;
    case 5: return DataType::kInt16;
    case 6: return DataType::kInt32;
    case 7: return DataType::kInt64;
    case 9: return DataType::kBool;
    case 10: return DataType::kFloat16;
    case 11: return DataType::kFloat64;
    case 12: return DataType::kUInt32;
    case 13: return DataType::kUInt64;
    case 16: return DataType::kBFloat16;
    case 17: return DataType::kFloat8E4M3FN;
    case 18: return DataType::kFloat8E4M3FNUZ;
    case 19: return DataType::kFloat8E5M2;
    case 20: return DataType::kFloat8E5M2FNUZ;
    case 21: return DataType::kUInt4;
    case 22: return DataType::kInt4;
    case 23: return DataType::kFloat4E2M1;
    case 25: return DataType::kUInt2;
    case 24: return DataType::kFloat8E8M0;
    case 26: return DataType::kInt2;
    default: return std::nullopt;
  }
}

// Cast's attributes: saturate (float8 targets), round_mode (float8 e8m0).
struct CastOptions {
  bool saturate = true;
  E8M0Rounding rounding = E8M0Rounding::kUp;
};

// Cast's conversion of one element (rules in the header comment).
template <typename To, typename From>
To convert_element(From x, const CastOptions& o = {}) {
  if constexpr (std::is_same_v<From, Half>) {
    return convert_element<To>(half_bits_to_float(x.bits), o);
  } else if constexpr (std::is_same_v<From, Bool8>) {
    return convert_element<To>(static_cast<uint8_t>(x.v != 0), o);
  } else if constexpr (IsNarrowFloat<From>::value) {
    return convert_element<To>(narrow_float_decode(From::kFormat, x.bits), o);
  } else if constexpr (std::is_same_v<From, E8M0Element>) {
    return convert_element<To>(e8m0_decode(x.bits), o);
  } else if constexpr (IsNarrowInt<From>::value) {
    return convert_element<To>(narrow_int_decode(x.bits, IsNarrowInt<From>::kBits, IsNarrowInt<From>::kSigned),
                               o);
  } else if constexpr (std::is_same_v<To, Bool8>) {
    return Bool8{static_cast<uint8_t>(x != From(0))};
  } else if constexpr (std::is_same_v<To, Half>) {
    return Half{half_bits_from_double(static_cast<double>(x))};
  } else if constexpr (IsNarrowFloat<To>::value) {
    const bool sat = o.saturate && To::kFormat != NarrowFloat::kBFloat16;
    return To{static_cast<decltype(To::bits)>(narrow_float_encode(To::kFormat, static_cast<double>(x), sat))};
  } else if constexpr (std::is_same_v<To, E8M0Element>) {
    return E8M0Element{e8m0_encode(static_cast<float>(x), o.saturate, o.rounding)};
  } else if constexpr (IsNarrowInt<To>::value) {
    constexpr int kBits = IsNarrowInt<To>::kBits;
    if constexpr (std::is_floating_point_v<From>) {
      return To{narrow_int_from_float(x, kBits, IsNarrowInt<To>::kSigned)};
    } else {
      return To{narrow_int_from_integer(static_cast<int64_t>(x), kBits)};
    }
  } else {
    return static_cast<To>(x);
  }
}

}  // namespace engine
}  // namespace int8rt
