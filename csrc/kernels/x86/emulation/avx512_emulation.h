// The AVX-512 intrinsics that int8rt's AMX and AVX512-BF16 kernel files use
// (their epilogue, avx512vnni/epilogue.h, included), in portable C++, so the
// same kernel source runs on any x86-64 CPU (tests only; the library never
// includes this header). Reached through kernels/x86/emulation/avx512.h,
// which includes either this or <immintrin.h>.
//
// Semantics follow the Operation sections of the Intel SDM vol. 2 for the
// instruction each intrinsic names (the intrinsic guide's mapping):
//   vector registers are byte arrays, element i of a lane type at byte
//   i * sizeof(type) (little endian, as on hardware); masks are integers,
//   bit i for element i; masked loads and stores touch no byte whose bit is
//   clear (no fault there, as on hardware); aligned loads / stores of a
//   misaligned address fault (#GP), here by printing and aborting.
//   Float arithmetic is one IEEE single operation per element in the
//   default environment (round to nearest even, no DAZ / FTZ: MXCSR as
//   int8rt leaves it); compile with -ffp-contract=off.
//   VCVTPS2DQ rounds to nearest even; NaN or out of range gives 0x80000000.
//   VMAXPS / VMINPS return the second operand unless the first is strictly
//   greater / less (so NaN or equal inputs give the second).
//   VCMPPS: the four ordered quiet predicates the kernels use. VFMADD231PS
//   rounds once (std::fma).
//   VPACKSSDW / VPACKSSWB pack within each 128-bit lane (a's elements, then
//   b's), saturating. VPMOVSDB saturates int32 to int8.
//   VCVTNE2PS2BF16 / VCVTNEPS2BF16 and VDPBF16PS: kernels/ref/bf16.h, the
//   one home of those rules (written there from the same SDM entries).
//
// Names and types are the intrinsics' own (`_mm512_add_ps`, `__m512`), in
// namespace int8rt::kernels::x86::emulated: a kernel file compiled with
// INT8RT_X86_EMULATED lives in x86::emulated::<isa> and finds these by
// ordinary lookup, with its text unchanged. A translation unit that includes
// this header must not include <immintrin.h> (the two would be ambiguous to
// a reader, not to the compiler: the namespace hides the global names).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernels/ref/bf16.h"

// VCMPPS predicates (avxintrin.h's values).
#ifndef _CMP_LT_OQ
#define _CMP_LT_OQ 0x11
#define _CMP_LE_OQ 0x12
#define _CMP_GE_OQ 0x1d
#define _CMP_GT_OQ 0x1e
#endif

namespace int8rt {
namespace kernels {
namespace x86 {
namespace emulated {

// A vector register of kBytes bytes. Tag keeps apart the C types that
// <immintrin.h> keeps apart; a C cast between two of the same size keeps
// the bits, as GCC's vector casts do.
template <int kBytes, typename Tag>
struct alignas(kBytes) Vec {
  uint8_t bytes[kBytes];

  Vec() = default;
  template <typename OtherTag>
  explicit Vec(const Vec<kBytes, OtherTag>& other) {
    std::memcpy(bytes, other.bytes, kBytes);
  }
  template <typename T>
  T get(int i) const {
    T v;
    std::memcpy(&v, bytes + i * sizeof(T), sizeof(T));
    return v;
  }
  template <typename T>
  void set(int i, T v) {
    std::memcpy(bytes + i * sizeof(T), &v, sizeof(T));
  }
};

struct IntTag {};
struct FloatTag {};
struct Bf16Tag {};

using __m128i = Vec<16, IntTag>;
using __m256i = Vec<32, IntTag>;
using __m256bh = Vec<32, Bf16Tag>;
using __m256 = Vec<32, FloatTag>;
using __m512 = Vec<64, FloatTag>;
using __m512i = Vec<64, IntTag>;
using __m512bh = Vec<64, Bf16Tag>;
using __mmask16 = uint16_t;
using __mmask32 = uint32_t;
using __mmask64 = uint64_t;

namespace detail {

inline void fault(const char* message) {
  std::fprintf(stderr, "avx512_emulation: %s\n", message);
  std::abort();
}

inline void check_aligned(const void* p, uintptr_t alignment, const char* insn) {
  if (reinterpret_cast<uintptr_t>(p) % alignment) fault(insn);
}

template <typename V>
V zero() {
  V v;
  std::memset(v.bytes, 0, sizeof(v.bytes));
  return v;
}

// Element-wise f(a[i], b[i]) over the 16 floats.
template <typename F>
__m512 map_ps(const __m512& a, const __m512& b, F f) {
  __m512 r;
  for (int i = 0; i < 16; ++i) r.set<float>(i, f(a.get<float>(i), b.get<float>(i)));
  return r;
}

template <typename Narrow, typename Wide>
Narrow saturate(Wide v) {
  constexpr Wide lo = std::numeric_limits<Narrow>::min(), hi = std::numeric_limits<Narrow>::max();
  return static_cast<Narrow>(v < lo ? lo : v > hi ? hi : v);
}

// VPACKSS*: per 128-bit lane, a's elements then b's, saturated to Narrow.
template <typename Narrow, typename Wide>
__m512i packs(const __m512i& a, const __m512i& b) {
  constexpr int per = static_cast<int>(16 / sizeof(Wide));  // wide elements per lane
  __m512i r;
  for (int lane = 0; lane < 4; ++lane) {
    for (int i = 0; i < per; ++i) {
      r.set<Narrow>(lane * 2 * per + i, saturate<Narrow>(a.get<Wide>(lane * per + i)));
      r.set<Narrow>(lane * 2 * per + per + i, saturate<Narrow>(b.get<Wide>(lane * per + i)));
    }
  }
  return r;
}

template <typename T, int kBytes, typename Tag>
void mask_store(T* p, uint64_t mask, const Vec<kBytes, Tag>& v) {
  for (int i = 0; i < kBytes / static_cast<int>(sizeof(T)); ++i) {
    if ((mask >> i) & 1u) p[i] = v.template get<T>(i);
  }
}

template <typename T, int kBytes, typename Tag>
Vec<kBytes, Tag> maskz_load(const T* p, uint64_t mask) {
  Vec<kBytes, Tag> v = zero<Vec<kBytes, Tag>>();
  for (int i = 0; i < kBytes / static_cast<int>(sizeof(T)); ++i) {
    if ((mask >> i) & 1u) v.template set<T>(i, p[i]);
  }
  return v;
}

}  // namespace detail

// Loads, stores, constants.
inline __m512i _mm512_load_si512(const void* p) {
  detail::check_aligned(p, 64, "VMOVDQA32 load: address not 64-byte aligned (#GP)");
  __m512i v;
  std::memcpy(v.bytes, p, 64);
  return v;
}
inline __m512i _mm512_loadu_si512(const void* p) {
  __m512i v;
  std::memcpy(v.bytes, p, 64);
  return v;
}
inline void _mm512_storeu_si512(void* p, __m512i v) { std::memcpy(p, v.bytes, 64); }
// VMOVUPS store: all 64 bytes, any alignment.
inline void _mm512_storeu_ps(void* p, __m512 v) { std::memcpy(p, v.bytes, 64); }
inline void _mm256_store_si256(__m256i* p, __m256i v) {
  detail::check_aligned(p, 32, "VMOVDQA store: address not 32-byte aligned (#GP)");
  std::memcpy(static_cast<void*>(p), v.bytes, 32);
}
// VMOVDQU store: all 32 bytes, any alignment.
inline void _mm256_storeu_si256(__m256i* p, __m256i v) { std::memcpy(static_cast<void*>(p), v.bytes, 32); }
inline __m512 _mm512_maskz_loadu_ps(__mmask16 m, const void* p) {
  return detail::maskz_load<float, 64, FloatTag>(static_cast<const float*>(p), m);
}
inline __m512 _mm512_loadu_ps(const void* p) {
  __m512 v;
  std::memcpy(v.bytes, p, 64);
  return v;
}
inline __m256i _mm256_maskz_loadu_epi16(__mmask16 m, const void* p) {
  return detail::maskz_load<int16_t, 32, IntTag>(static_cast<const int16_t*>(p), m);
}
inline __m512i _mm512_maskz_loadu_epi16(__mmask32 m, const void* p) {
  return detail::maskz_load<int16_t, 64, IntTag>(static_cast<const int16_t*>(p), m);
}
inline void _mm256_mask_storeu_epi16(void* p, __mmask16 m, __m256i v) {
  detail::mask_store(static_cast<int16_t*>(p), m, v);
}
inline __m128i _mm_maskz_loadu_epi8(__mmask16 m, const void* p) {
  return detail::maskz_load<int8_t, 16, IntTag>(static_cast<const int8_t*>(p), m);
}
inline void _mm512_mask_storeu_ps(void* p, __mmask16 m, __m512 v) {
  detail::mask_store(static_cast<float*>(p), m, v);
}
inline void _mm512_mask_storeu_epi8(void* p, __mmask64 m, __m512i v) {
  detail::mask_store(static_cast<int8_t*>(p), m, v);
}
inline void _mm512_mask_storeu_epi16(void* p, __mmask32 m, __m512i v) {
  detail::mask_store(static_cast<int16_t*>(p), m, v);
}
inline __m512 _mm512_setzero_ps() { return detail::zero<__m512>(); }
inline __m512i _mm512_setzero_si512() { return detail::zero<__m512i>(); }
inline __m512 _mm512_set1_ps(float x) {
  __m512 v;
  for (int i = 0; i < 16; ++i) v.set<float>(i, x);
  return v;
}
inline __m512i _mm512_set1_epi32(int x) {
  __m512i v;
  for (int i = 0; i < 16; ++i) v.set<int32_t>(i, x);
  return v;
}
// Highest element first, as the intrinsics take them.
inline __m512i _mm512_set_epi32(int e15, int e14, int e13, int e12, int e11, int e10, int e9, int e8,
                                int e7, int e6, int e5, int e4, int e3, int e2, int e1, int e0) {
  const int e[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  __m512i v;
  for (int i = 0; i < 16; ++i) v.set<int32_t>(i, e[i]);
  return v;
}
inline __m512i _mm512_set_epi16(short e31, short e30, short e29, short e28, short e27, short e26,
                                short e25, short e24, short e23, short e22, short e21, short e20,
                                short e19, short e18, short e17, short e16, short e15, short e14,
                                short e13, short e12, short e11, short e10, short e9, short e8,
                                short e7, short e6, short e5, short e4, short e3, short e2,
                                short e1, short e0) {
  const short e[32] = {e0,  e1,  e2,  e3,  e4,  e5,  e6,  e7,  e8,  e9,  e10,
                       e11, e12, e13, e14, e15, e16, e17, e18, e19, e20, e21,
                       e22, e23, e24, e25, e26, e27, e28, e29, e30, e31};
  __m512i v;
  for (int i = 0; i < 32; ++i) v.set<int16_t>(i, e[i]);
  return v;
}

// VCOMPRESSPS (zeroing): the elements whose mask bit is set, in order, in
// the lowest elements; the rest 0. VEXPANDPS load (zeroing): consecutive
// floats from p into the elements whose bit is set, in order (only
// popcount(m) floats are read); the rest 0.
inline __m512 _mm512_maskz_compress_ps(__mmask16 m, __m512 a) {
  __m512 r = detail::zero<__m512>();
  int n = 0;
  for (int i = 0; i < 16; ++i) {
    if ((m >> i) & 1u) r.set<float>(n++, a.get<float>(i));
  }
  return r;
}
inline __m512 _mm512_maskz_expandloadu_ps(__mmask16 m, const void* p) {
  __m512 r = detail::zero<__m512>();
  const float* f = static_cast<const float*>(p);
  for (int i = 0; i < 16; ++i) {
    if ((m >> i) & 1u) r.set<float>(i, *f++);
  }
  return r;
}

// Float arithmetic (VADDPS, VMULPS, VMAXPS, VMINPS, VCMPPS, VBLENDMPS).
inline __m512 _mm512_add_ps(__m512 a, __m512 b) {
  return detail::map_ps(a, b, [](float x, float y) { return x + y; });
}
inline __m512 _mm512_mul_ps(__m512 a, __m512 b) {
  return detail::map_ps(a, b, [](float x, float y) { return x * y; });
}
// VFMADD231PS: a * b + c per element, one rounding (std::fma).
inline __m512 _mm512_fmadd_ps(__m512 a, __m512 b, __m512 c) {
  __m512 r;
  for (int i = 0; i < 16; ++i) r.set<float>(i, std::fma(a.get<float>(i), b.get<float>(i), c.get<float>(i)));
  return r;
}
inline __m512 _mm512_max_ps(__m512 a, __m512 b) {
  return detail::map_ps(a, b, [](float x, float y) { return x > y ? x : y; });
}
inline __m512 _mm512_min_ps(__m512 a, __m512 b) {
  return detail::map_ps(a, b, [](float x, float y) { return x < y ? x : y; });
}
inline __mmask16 _mm512_cmp_ps_mask(__m512 a, __m512 b, const int predicate) {
  __mmask16 m = 0;
  for (int i = 0; i < 16; ++i) {
    const float x = a.get<float>(i), y = b.get<float>(i);
    bool r = false;
    switch (predicate) {  // ordered: false when either is NaN, as C's < <= >= > are
      case _CMP_LT_OQ: r = x < y; break;
      case _CMP_LE_OQ: r = x <= y; break;
      case _CMP_GE_OQ: r = x >= y; break;
      case _CMP_GT_OQ: r = x > y; break;
      default: detail::fault("VCMPPS: predicate not emulated");
    }
    m = static_cast<__mmask16>(m | (r ? 1u << i : 0u));
  }
  return m;
}
// Element i from b where bit i of m is set, else from a.
inline __m512 _mm512_mask_blend_ps(__mmask16 m, __m512 a, __m512 b) {
  __m512 r;
  for (int i = 0; i < 16; ++i) r.set<float>(i, ((m >> i) & 1u) ? b.get<float>(i) : a.get<float>(i));
  return r;
}

// Conversions (VCVTDQ2PS, VCVTPS2DQ, VPMOVSXBD, VPMOVSDB).
inline __m512 _mm512_cvtepi32_ps(__m512i a) {
  __m512 r;  // int32 -> float rounds to nearest even (the default mode)
  for (int i = 0; i < 16; ++i) r.set<float>(i, static_cast<float>(a.get<int32_t>(i)));
  return r;
}
inline __m512i _mm512_cvtps_epi32(__m512 a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) {
    const float x = std::nearbyint(a.get<float>(i));  // to nearest even, exact
    const bool fits = x >= -2147483648.0f && x < 2147483648.0f;  // false for NaN
    r.set<int32_t>(i, fits ? static_cast<int32_t>(x) : INT32_MIN);
  }
  return r;
}
// VPMOVZXWD: 16 uint16 -> 16 dwords, zero-extended.
inline __m512i _mm512_cvtepu16_epi32(__m256i a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) r.set<uint32_t>(i, a.get<uint16_t>(i));
  return r;
}
// VPSLLD (immediate): counts over 31 give 0.
inline __m512i _mm512_slli_epi32(__m512i a, unsigned int count) {
  __m512i r;
  for (int i = 0; i < 16; ++i) r.set<uint32_t>(i, count > 31 ? 0u : a.get<uint32_t>(i) << count);
  return r;
}
inline __m512i _mm512_and_si512(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 64; ++i) r.bytes[i] = static_cast<uint8_t>(a.bytes[i] & b.bytes[i]);
  return r;
}
inline __m512i _mm512_or_si512(__m512i a, __m512i b) {
  __m512i r;
  for (int i = 0; i < 64; ++i) r.bytes[i] = static_cast<uint8_t>(a.bytes[i] | b.bytes[i]);
  return r;
}
// The bits as they are.
inline __m512 _mm512_castsi512_ps(__m512i a) { return __m512(a); }
inline __m512i _mm512_cvtepi8_epi32(__m128i a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) r.set<int32_t>(i, a.get<int8_t>(i));
  return r;
}
inline void _mm512_mask_cvtsepi32_storeu_epi8(void* p, __mmask16 m, __m512i a) {
  int8_t* y = static_cast<int8_t*>(p);
  for (int i = 0; i < 16; ++i) {
    if ((m >> i) & 1u) y[i] = detail::saturate<int8_t>(a.get<int32_t>(i));
  }
}

// Packs and permutes (VPACKSSDW, VPACKSSWB, VPERMD, VPERMW).
inline __m512i _mm512_packs_epi32(__m512i a, __m512i b) { return detail::packs<int16_t, int32_t>(a, b); }
inline __m512i _mm512_packs_epi16(__m512i a, __m512i b) { return detail::packs<int8_t, int16_t>(a, b); }
// Element i is a's element idx[i] mod 16 (note the operand order: index first).
inline __m512i _mm512_permutexvar_epi32(__m512i idx, __m512i a) {
  __m512i r;
  for (int i = 0; i < 16; ++i) r.set<int32_t>(i, a.get<int32_t>(idx.get<int32_t>(i) & 15));
  return r;
}
// VPERMT2PS / VPERMI2PS: lane i is a[idx & 15] when bit 4 of idx[i] is
// clear, else b[idx & 15].
inline __m512 _mm512_permutex2var_ps(__m512 a, __m512i idx, __m512 b) {
  __m512 r;
  for (int i = 0; i < 16; ++i) {
    const int32_t k = idx.get<int32_t>(i);
    r.set<float>(i, (k & 16) ? b.get<float>(k & 15) : a.get<float>(k & 15));
  }
  return r;
}
inline __m512i _mm512_permutexvar_epi16(__m512i idx, __m512i a) {
  __m512i r;
  for (int i = 0; i < 32; ++i) r.set<int16_t>(i, a.get<int16_t>(idx.get<int16_t>(i) & 31));
  return r;
}

// AVX512-BF16 (VCVTNE2PS2BF16, VCVTNEPS2BF16, VDPBF16PS).
// Words 0-15 of the result from b, 16-31 from a.
inline __m512bh _mm512_cvtne2ps_pbh(__m512 a, __m512 b) {
  __m512bh r;
  for (int i = 0; i < 16; ++i) {
    r.set<uint16_t>(i, ::int8rt::kernels::bf16::from_f32(b.get<float>(i)));
    r.set<uint16_t>(16 + i, ::int8rt::kernels::bf16::from_f32(a.get<float>(i)));
  }
  return r;
}
inline __m256bh _mm512_cvtneps_pbh(__m512 a) {
  __m256bh r;
  for (int i = 0; i < 16; ++i) r.set<uint16_t>(i, ::int8rt::kernels::bf16::from_f32(a.get<float>(i)));
  return r;
}
// VDPBF16PS over kLanes float lanes: lane i is acc[i] + a.pair[i] . b.pair[i],
// odd element first (bf16::dot_pair).
template <int kLanes, typename F, typename BH>
inline F dpbf16_lanes(F acc, BH a, BH b) {
  F r;
  for (int i = 0; i < kLanes; ++i) {
    const uint16_t pa[2] = {a.template get<uint16_t>(2 * i), a.template get<uint16_t>(2 * i + 1)};
    const uint16_t pb[2] = {b.template get<uint16_t>(2 * i), b.template get<uint16_t>(2 * i + 1)};
    r.template set<float>(i, ::int8rt::kernels::bf16::dot_pair(acc.template get<float>(i), pa, pb));
  }
  return r;
}
inline __m512 _mm512_dpbf16_ps(__m512 acc, __m512bh a, __m512bh b) { return dpbf16_lanes<16>(acc, a, b); }
// The 256-bit form (AVX512VL): lanes 0-7.
inline __m256 _mm256_dpbf16_ps(__m256 acc, __m256bh a, __m256bh b) { return dpbf16_lanes<8>(acc, a, b); }
// Casts between the 512- and 256-bit registers: the low half; widened, the
// upper half is undefined in <immintrin.h> and +0 here.
inline __m256 _mm512_castps512_ps256(__m512 a) {
  __m256 r;
  std::memcpy(r.bytes, a.bytes, 32);
  return r;
}
inline __m256i _mm512_castsi512_si256(__m512i a) {
  __m256i r;
  std::memcpy(r.bytes, a.bytes, 32);
  return r;
}
inline __m512 _mm512_castps256_ps512(__m256 a) {
  __m512 r = detail::zero<__m512>();
  std::memcpy(r.bytes, a.bytes, 32);
  return r;
}

}  // namespace emulated
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
