// int8 direct convolution microkernel, AMX-INT8, tile 32 pixels x 32
// channels, reduction (filter tap, 64-channel chunk): A read straight from
// the driver's padded phase planes (amx/conv_direct.h), no im2col.
//
// Tile registers (amx_tile.h's configure_2x2, loaded once per call, every
// tile 16 rows, so a call never reconfigures):
//   tmm0 / tmm1  C grid rows 0-15 x channels 0-15 / 16-31  (int32)
//   tmm2 / tmm3  C grid rows 16-31 x the same channels
//   tmm4 / tmm5  A: 16 grid pixels each, 64 channel bytes of one tap,
//                rows pixel_stride apart (tileloadd straight from the planes)
//   tmm6 / tmm7  B: one 64-byte reduction chunk of a block of 16 channels
// Per job (32 grid pixels, pair of blocks): for each tap and chunk, 2 A and
// 2 B loads, 4 dot products; then the 4 C tiles go to one of two 32 x 32
// int32 buffers. The epilogue of a job runs after the next job's dot
// products are issued (they execute in the tile unit meanwhile) and before
// its tile stores, which wait for them.
//
// Packed B: x86/conv_amx_pack.h's tiles over reduction index tap * Cp + c
// (weights of channels c >= C zero), block b at w + b * w_block_stride.
// Rows of u8 codes (q + 128; the planes' padding is code_byte(pad_value))
// take tdpbusd from acc_init's -128 * sum(w); int8 codes tdpbssd from zero:
// the sums are exactly sum(q * w) either way (amx/igemm_32x32c4.cc).
//
// Epilogue: avx512vnni/epilogue.h (ref/requantize.h's arithmetic), grid row
// p stored at output pixel (p / grid_w) * out_w + p % grid_w, junk columns
// skipped. int8 rows with no u8 residual or output take the packed row store;
// the others the per-block store, with the u8 xors done here, as the GEMM
// tile does, so that the native and emulated builds agree.
//
// Compiled twice (amx_tile.h): natively in the library and against the AMX
// and AVX-512 emulation headers in the tests.
#include <cstdint>

#include "kernels/x86/amx/amx_tile.h"
#include "kernels/x86/amx/conv_direct.h"
#include "kernels/x86/avx512vnni/epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace INT8RT_AMX_NS {
namespace {

namespace ep512 = INT8RT_X86_NS(avx512vnni);

constexpr int kTileBytes = 16 * 64;
constexpr int kAccStride = 32 * 4;  // bytes per row of an accumulator buffer

#define INT8RT_DIRECT_DOT(c, a, b)  \
  do {                              \
    if constexpr (kU8) {            \
      INT8RT_TILE_DPBUSD(c, a, b);  \
    } else {                        \
      INT8RT_TILE_DPBSSD(c, a, b);  \
    }                               \
  } while (0)
#define INT8RT_DIRECT_START(c, init)     \
  do {                                   \
    if constexpr (kU8) {                 \
      INT8RT_TILE_LOADD(c, init, 0);     \
    } else {                             \
      INT8RT_TILE_ZERO(c);               \
    }                                    \
  } while (0)

// Issues the dot products of 32 grid rows from `a` (tap 0, chunk 0) against
// block w (and w + block stride when kTwo) over every tap and chunk.
template <bool kU8, bool kTwo>
void issue_dots(const AmxConvStrip& s, const int8_t* a, const int8_t* w, const int32_t* init) {
  INT8RT_DIRECT_START(0, init);
  INT8RT_DIRECT_START(2, init);
  if constexpr (kTwo) {
    INT8RT_DIRECT_START(1, init + 16);
    INT8RT_DIRECT_START(3, init + 16);
  }
  const int64_t stride = s.pixel_stride;
  const int8_t* w1 = w + s.w_block_stride;
  for (int t = 0; t < s.taps; ++t) {
    const int8_t* at = a + s.tap_offset[t];
    for (int kc = 0; kc < s.cchunks; ++kc) {
      INT8RT_TILE_LOADD(4, at + 64 * kc, stride);
      INT8RT_TILE_LOADD(6, w, 64);
      INT8RT_DIRECT_DOT(0, 4, 6);
      INT8RT_TILE_LOADD(5, at + 16 * stride + 64 * kc, stride);
      INT8RT_DIRECT_DOT(2, 5, 6);
      if constexpr (kTwo) {
        INT8RT_TILE_LOADD(7, w1, 64);
        INT8RT_DIRECT_DOT(1, 4, 7);
        INT8RT_DIRECT_DOT(3, 5, 7);
        w1 += kTileBytes;
      }
      w += kTileBytes;
    }
  }
}

#undef INT8RT_DIRECT_DOT
#undef INT8RT_DIRECT_START

void store_tiles(bool two, int32_t* acc) {
  INT8RT_TILE_STORED(0, acc, kAccStride);
  INT8RT_TILE_STORED(2, acc + 16 * 32, kAccStride);
  if (two) {
    INT8RT_TILE_STORED(1, acc + 16, kAccStride);
    INT8RT_TILE_STORED(3, acc + 16 * 32 + 16, kAccStride);
  }
}

// One job's place: grid pixel p0 (32 rows), channels [c0, c0 + n).
struct Job {
  int64_t p0 = -1;
  int c0 = 0, n = 0;
};

// Requantizes and stores the valid rows of job j from acc.
void epilogue(const AmxConvStrip& s, const Job& j, const int32_t* acc) {
  TileEpilogue ep = s.ep;
  ep.scale += j.c0;
  if (ep.bias) ep.bias += j.c0;
  ep.y = ep.out_f32 ? static_cast<void*>(static_cast<float*>(ep.y) + j.c0)
                    : static_cast<void*>(static_cast<int8_t*>(ep.y) + j.c0);
  if (ep.residual) ep.residual += j.c0;
  const uint8_t out_xor = ep.out_f32 ? 0 : ep.out_xor;
  const uint8_t res_xor = ep.residual ? ep.residual_xor : 0;
  ep.out_xor = ep.residual_xor = 0;
  const bool packed_row = !ep.out_f32 && !out_xor && !res_xor;
  const int nb = j.n > 16 ? 2 : 1;
  ep512::ChannelEpilogue ce[2];
  for (int b = 0; b < nb; ++b) ce[b] = ep512::load_channel_epilogue(ep, 16 * b, j.n - 16 * b < 16 ? j.n - 16 * b : 16);
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  const int rows = s.p_end - j.p0 < 32 ? static_cast<int>(s.p_end - j.p0) : 32;
  int64_t oh = j.p0 / s.grid_w;
  int ow = static_cast<int>(j.p0 % s.grid_w);
  for (int i = 0; i < rows; ++i, ++ow) {
    if (ow == s.grid_w) {
      ow = 0;
      ++oh;
    }
    if (ow >= s.out_w) continue;
    const int64_t o = oh * s.out_w + ow;
    const int32_t* row = acc + 32 * i;
    if (packed_row) {
      const __m512i v[2] = {_mm512_load_si512(row), _mm512_load_si512(row + 16)};
      ep512::store_requantized_row<2>(v, ce, j.n, ep.residual ? ep.residual + o * ep.residual_stride : nullptr,
                                      ep.residual_scale, lo, hi, static_cast<int8_t*>(ep.y) + o * ep.y_stride);
      continue;
    }
    TileEpilogue pe = ep;
    alignas(64) int8_t res[32];
    if (res_xor) {
      for (int l = 0; l < j.n; ++l) res[l] = static_cast<int8_t>(ep.residual[o * ep.residual_stride + l] ^ res_xor);
      pe.residual = res;
    } else if (ep.residual) {
      pe.residual = ep.residual + o * ep.residual_stride;
    }
    pe.residual_stride = 0;
    pe.y = ep.out_f32 ? static_cast<void*>(static_cast<float*>(ep.y) + o * ep.y_stride)
                      : static_cast<void*>(static_cast<int8_t*>(ep.y) + o * ep.y_stride);
    for (int b = 0; b < nb; ++b) ep512::store_requantized(_mm512_load_si512(row + 16 * b), ce[b], pe, 0, 16 * b);
    if (out_xor) {
      int8_t* y = static_cast<int8_t*>(ep.y) + o * ep.y_stride;
      for (int l = 0; l < j.n; ++l) y[l] = static_cast<int8_t>(y[l] ^ out_xor);
    }
  }
}

template <bool kU8>
void strip(const AmxConvStrip& s) {
  configure_2x2(16, 16, 64);
  alignas(64) int32_t acc[2][32 * 32];
  const int blocks = (s.nc + 15) / 16;
  Job pending;  // stored in acc[pending_buf], epilogue not yet run
  int pending_buf = 0;
  for (int64_t p0 = s.p_begin; p0 < s.p_end; p0 += 32) {
    const int8_t* a = s.image + p0 * s.pixel_stride;
    for (int b = 0; b < blocks; b += 2) {
      const bool two = b + 1 < blocks;
      const int8_t* w = s.w + b * s.w_block_stride;
      const int32_t* init = kU8 ? s.acc_init + 16 * b : nullptr;
      two ? issue_dots<kU8, true>(s, a, w, init) : issue_dots<kU8, false>(s, a, w, init);
      if (pending.p0 >= 0) epilogue(s, pending, acc[pending_buf]);
      pending_buf ^= 1;
      store_tiles(two, acc[pending_buf]);
      pending.p0 = p0;
      pending.c0 = 16 * b;
      pending.n = s.nc - 16 * b < 32 ? s.nc - 16 * b : 32;
    }
  }
  INT8RT_TILE_RELEASE();
  if (pending.p0 >= 0) epilogue(s, pending, acc[pending_buf]);
}

}  // namespace

void conv_direct_strip(const AmxConvStrip& s) { strip<false>(s); }
void conv_direct_strip_u8(const AmxConvStrip& s) { strip<true>(s); }

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
