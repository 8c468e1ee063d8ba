// Narrow pointwise int8 conv microkernel, AVX512-VNNI: one pixel's <= 16
// output channels per zmm, reduction c4 (kernels/abi/igemm_narrow_s8.h).
//
// Register tile: 8 pixels x 1 zmm of 16 output channels = 8 int32
// accumulators (independent vpdpbusd chains), the Q = ceil(C/4) <= 8 weight
// zmm of the whole reduction loaded once per call. Each step broadcasts one
// pixel's group of 4 u8 input bytes and multiplies it with the group's
// 16 x 4 weights. Signed rows (NarrowRows::shift) have each broadcast
// xor-ed with 0x80 (one vpxord per vpdpbusd: a stack copy of the tile
// xor-ed in zmm was slower, its 4-byte reloads of 64-byte stores not
// forwarded). The
// sum starts at acc_init (-128 * sum(w) for shifted rows), so it is exactly
// sum(q * w); vpdpbusd adds mod 2^32 and the true sum fits int32.
// An incomplete last group (C % 4) is loaded with a byte mask (zeros meet
// zero weights), so no byte past a row is read.
// Epilogue: ref::requantize's operations (epilogue.h). With K == 16 four
// consecutive pixels are one contiguous 64-byte output row, narrowed and
// stored at once (store_requantized_row over 4 "blocks" that are 4 pixels);
// otherwise, and for float outputs, one masked store per pixel.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/abi/igemm_narrow_s8.h"
#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx512vnni {
namespace {

constexpr int kPixels = 8;

// Group q of a row's 4-byte groups broadcast, xor-ed with `flip` (signed
// rows: 0x80 in every byte, q + 128; else 0).
template <int Q, bool Shift>
inline __m512i group(const uint8_t* row, int q, int tail, __m512i flip) {
  __m512i v;
  if (tail && q == Q - 1) {
    const __mmask16 m = static_cast<__mmask16>((1u << tail) - 1u);
    v = _mm512_broadcastd_epi32(_mm_maskz_loadu_epi8(m, row + 4 * q));
  } else {
    int32_t g;
    std::memcpy(&g, row + 4 * q, 4);
    v = _mm512_set1_epi32(g);
  }
  return Shift ? _mm512_xor_si512(v, flip) : v;
}

// Pixels [0, n) of r from pixel p0, n in 1..kPixels.
template <int Q, bool Shift>
inline void pixels(const NarrowRows& r, const __m512i* wv, __m512i init, int64_t p0, int n, int tail,
                   const ChannelEpilogue& ce) {
  __m512i acc[kPixels];
  #pragma GCC unroll 8
  for (int i = 0; i < kPixels; ++i) acc[i] = init;
  const uint8_t* x = reinterpret_cast<const uint8_t*>(r.x) + p0 * r.C;
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  #pragma GCC unroll 8
  for (int q = 0; q < Q; ++q) {
    #pragma GCC unroll 8
    for (int i = 0; i < kPixels; ++i) {
      if (i < n) acc[i] = _mm512_dpbusd_epi32(acc[i], group<Q, Shift>(x + i * r.C, q, tail, flip), wv[q]);
    }
  }
  const TileEpilogue& ep = r.ep;
  if (r.K == 16 && !ep.out_f32) {
    const ChannelEpilogue ce4[4] = {ce, ce, ce, ce};
    const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
    const __m512i out_flip = _mm512_set1_epi8(static_cast<char>(ep.out_xor));
    const __m128i res_flip = _mm_set1_epi8(static_cast<char>(ep.residual_xor));
    int8_t* y = static_cast<int8_t*>(ep.y) + p0 * 16;
    const int8_t* res = ep.residual ? ep.residual + p0 * 16 : nullptr;
    #pragma GCC unroll 2
    for (int h = 0; h < kPixels / 4; ++h) {
      const int valid = n - 4 * h;
      if (valid <= 0) break;
      store_requantized_row<4>(acc + 4 * h, ce4, 16 * (valid < 4 ? valid : 4), res ? res + 64 * h : nullptr,
                               ep.residual_scale, lo, hi, y + 64 * h, out_flip, res_flip);
    }
    return;
  }
  #pragma GCC unroll 8
  for (int i = 0; i < kPixels; ++i) {
    if (i < n) store_requantized(acc[i], ce, ep, p0 + i, 0);
  }
}

template <int Q, bool Shift>
void narrow_rows(const NarrowRows& r) {
  __m512i wv[Q];
  #pragma GCC unroll 8
  for (int q = 0; q < Q; ++q) wv[q] = _mm512_loadu_si512(r.w + 64 * q);
  const __m512i init = r.acc_init ? _mm512_loadu_si512(r.acc_init) : _mm512_setzero_si512();
  const int tail = r.C % 4;
  const ChannelEpilogue ce = load_channel_epilogue(r.ep, 0, r.K);
  int64_t p = 0;
  for (; p + kPixels <= r.pixels; p += kPixels) pixels<Q, Shift>(r, wv, init, p, kPixels, tail, ce);
  if (p < r.pixels) pixels<Q, Shift>(r, wv, init, p, static_cast<int>(r.pixels - p), tail, ce);
}

template <bool Shift>
constexpr NarrowRowsFn kByGroups[kNarrowMaxC / 4] = {narrow_rows<1, Shift>, narrow_rows<2, Shift>,
                                                     narrow_rows<3, Shift>, narrow_rows<4, Shift>,
                                                     narrow_rows<5, Shift>, narrow_rows<6, Shift>,
                                                     narrow_rows<7, Shift>, narrow_rows<8, Shift>};

}  // namespace

void igemm_narrow_rows(const NarrowRows& r) {
  (r.shift ? kByGroups<true> : kByGroups<false>)[(r.C + 3) / 4 - 1](r);
}

}  // namespace avx512vnni
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
