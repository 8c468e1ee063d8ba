// Per-channel int8 table lookup, AVX2 (contract in kernels/abi/eltwise_s8.h
// LookupChannelGroupFn): y[p][c] = tables[c][x[p][c] + 128] over one group
// of <= 64 channels of rows `stride` bytes apart.
//
// Each channel has its own table, so the lookup runs channel-major, as the
// AVX-512 VBMI kernel does (avx512/lookup_channels_s8_16x64.cc). Block: 32
// pixels x 16 channels in 16 ymm, ymm i = pixel i (low lane) and pixel
// i + 16 (high lane); the in-lane 16 x 16 byte transpose (x86/transpose16x16.h) turns it into ymm c
// = channel c, pixels 0..15 | 16..31, so both lanes read the same table:
// table256.h's vpshufb per table row and vpblendvb tree, each row broadcast
// from the tables as given (no re-layout). The same transpose turns the
// results back.
// A partial block (fewer than 32 pixels or 16 channels) goes through a
// zeroed 32 x 16 copy, its missing channels not looked up and no byte past
// the block stored. A call covers one group (the driver's task), 32 pixels
// at a time across its channels, so the group's 16 KiB of tables stay in L1.
// The reference (ref::lookup_s8_channels) runs about one table load and one
// byte store per value; this tier ran it before (RESULTS.md section 236).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/x86/avx2/table256.h"
#include "kernels/x86/transpose16x16.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace avx2 {
namespace {

constexpr int kPixels = 32, kChannels = 16;

// Row r of a 256-byte table in both lanes (a broadcast load).
struct TableRows {
  const int8_t* table;
  __m256i operator()(int r) const {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * r)));
  }
};

// 32 pixels x 16 channels, rows `stride` bytes apart, every byte readable;
// channels [0, nc) looked up (the others' tables may not exist).
inline void block(int64_t stride, int nc, const int8_t* x, const int8_t* tables, int8_t* y) {
  __m256i v[kChannels];
  for (int i = 0; i < 16; ++i) {
    const __m128i lo = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i * stride));
    const __m128i hi = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + (i + 16) * stride));
    v[i] = _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
  }
  transpose16x16(v);
  for (int c = 0; c < nc; ++c) v[c] = look_up32(v[c], TableRows{tables + 256 * c});
  transpose16x16(v);
  for (int i = 0; i < 16; ++i) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i * stride), _mm256_castsi256_si128(v[i]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + (i + 16) * stride), _mm256_extracti128_si256(v[i], 1));
  }
}

// n < 32 pixels or nc < 16 channels through a zeroed copy.
void partial_block(int64_t n, int nc, int64_t stride, const int8_t* x, const int8_t* tables, int8_t* y) {
  alignas(32) int8_t xb[kPixels * kChannels] = {}, yb[kPixels * kChannels];
  for (int64_t p = 0; p < n; ++p) std::memcpy(xb + p * kChannels, x + p * stride, static_cast<size_t>(nc));
  block(kChannels, nc, xb, tables, yb);
  for (int64_t p = 0; p < n; ++p) std::memcpy(y + p * stride, yb + p * kChannels, static_cast<size_t>(nc));
}

}  // namespace

void lookup_channels(int64_t pixels, int64_t stride, int channels, const int8_t* x, const int8_t* tables, int8_t* y) {
  const int full = channels / kChannels * kChannels;
  int64_t p = 0;
  for (; p + kPixels <= pixels; p += kPixels) {
    const int64_t at = p * stride;
    for (int c0 = 0; c0 < full; c0 += kChannels) block(stride, kChannels, x + at + c0, tables + 256 * c0, y + at + c0);
    if (full < channels) partial_block(kPixels, channels - full, stride, x + at + full, tables + 256 * full, y + at + full);
  }
  if (p == pixels) return;
  for (int c0 = 0; c0 < channels; c0 += kChannels) {
    const int64_t at = p * stride + c0;
    partial_block(pixels - p, std::min(kChannels, channels - c0), stride, x + at, tables + 256 * c0, y + at);
  }
}

}  // namespace avx2
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
