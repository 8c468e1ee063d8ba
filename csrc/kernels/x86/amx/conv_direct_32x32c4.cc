// int8 direct convolution microkernel, AMX-INT8, tile 32 pixels x 32
// channels, reduction (tap, 64-byte chunk): A read straight from
// the driver's padded phase planes (amx/conv_direct.h), no im2col.
//
// Tile registers (amx_tile.h's configure_2x2, loaded once per call, every
// tile 16 rows, so a call never reconfigures):
//   tmm0 / tmm1  C grid rows 0-15 x channels 0-15 / 16-31  (int32)
//   tmm2 / tmm3  C grid rows 16-31 x the same channels
//   tmm4 / tmm5  A: 16 grid pixels each, one 64-byte chunk of one tap,
//                rows pixel_stride apart (tileloadd straight from the planes)
//   tmm6 / tmm7  B: one 64-byte reduction chunk of a block of 16 channels
// Per job (32 grid pixels, pair of blocks): for each tap and chunk, 2 A and
// 2 B loads, 4 dot products; then the 4 C tiles go to a 32 x 32 int32
// buffer. The epilogue of a job runs a few rows after each (tap,
// chunk) step of the next job's products (the tile unit works meanwhile;
// issued after them all, it waited behind the tile queue), its last rows
// before that job's tile stores.
//
// Packed B: x86/conv_amx_pack.h's tiles over reduction index
// tap * cchunks * 64 + chunk byte (zero where the byte is no weight's),
// block b at w + b * w_block_stride.
// Rows of u8 codes (q + 128; the planes' padding is code_byte(pad_value))
// take tdpbusd from acc_init's -128 * sum(w); int8 codes tdpbssd from zero:
// the sums are exactly sum(q * w) either way (amx/igemm_32x32c4.cc).
//
// Epilogue: avx512vnni/epilogue.h (ref/requantize.h's arithmetic), grid row
// p stored at output pixel (p / grid_w) * out_w + p % grid_w, junk columns
// skipped. int8 rows take the packed row store (its loop reads everything
// from locals), natively with the u8 output / residual xors too; the
// emulated build (whose epilogue has no u8 xors) and float rows take the
// per-block store, with the u8 xors done here, as the GEMM tile does.
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

// The epilogue of one job (32 grid rows from p0, channels [c0, c0 + n),
// accumulators in acc), run a few rows at a time (rows_to) between the next
// job's tile products.
class Pending {
 public:
  bool active() const { return i_ < rows_; }

  void start(const AmxConvStrip& s, int64_t p0, int c0, int n, const int32_t* acc) {
    s_ = &s;
    acc_ = acc;
    n_ = n;
    ep_ = s.ep;
    ep_.scale += c0;
    if (ep_.bias) ep_.bias += c0;
    ep_.y = ep_.out_f32 ? static_cast<void*>(static_cast<float*>(ep_.y) + c0)
                        : static_cast<void*>(static_cast<int8_t*>(ep_.y) + c0);
    if (ep_.residual) ep_.residual += c0;
    out_xor_ = ep_.out_f32 ? 0 : ep_.out_xor;
    res_xor_ = ep_.residual ? ep_.residual_xor : 0;
    ep_.out_xor = ep_.residual_xor = 0;
#if INT8RT_EPILOGUE_U8_CODES
    // Native: the packed row store does the u8 xors itself.
    packed_row_ = !ep_.out_f32;
    flip_ = _mm512_set1_epi8(static_cast<char>(out_xor_));
    res_flip_ = _mm_set1_epi8(static_cast<char>(res_xor_));
#else
    packed_row_ = !ep_.out_f32 && !out_xor_ && !res_xor_;
#endif
    nb_ = n > 16 ? 2 : 1;
    for (int b = 0; b < nb_; ++b) ce_[b] = ep512::load_channel_epilogue(ep_, 16 * b, n - 16 * b < 16 ? n - 16 * b : 16);
    if (nb_ == 1) ce_[1] = ce_[0];  // copied by packed_rows_to, never applied
    lo_ = _mm512_set1_ps(ep_.lo);
    hi_ = _mm512_set1_ps(ep_.hi);
    rows_ = s.p_end - p0 < 32 ? static_cast<int>(s.p_end - p0) : 32;
    i_ = 0;
    oh_ = p0 / s.grid_w;
    ow_ = static_cast<int>(p0 % s.grid_w);
  }

  // Requantizes and stores the valid rows up to `end` (at most all of them).
  void rows_to(int end) {
    if (end > rows_) end = rows_;
    if (i_ >= end) return;  // none due (or no job yet: s_ unset)
    if (packed_row_) {
      packed_rows_to(end);
      return;
    }
    for (; i_ < end; ++i_, ++ow_) {
      if (ow_ == s_->grid_w) {
        ow_ = 0;
        ++oh_;
      }
      if (ow_ < s_->out_w) row(oh_ * s_->out_w + ow_, acc_ + 32 * i_);
    }
  }

 private:
  // rows_to for packed_row_ jobs, from locals: the int8 stores may alias
  // any member (char aliasing), which otherwise are all reloaded per row
  // (measured alone: 5.0-5.3 ns a 32-channel row, 3.1-3.4 from locals).
  void packed_rows_to(int end) {
    const ep512::ChannelEpilogue ce[2] = {ce_[0], ce_[1]};
    const __m512 lo = lo_, hi = hi_;
    const int grid_w = s_->grid_w, out_w = s_->out_w, n = n_;
    int8_t* const y = static_cast<int8_t*>(ep_.y);
    const int8_t* const res = ep_.residual;
    const int64_t y_stride = ep_.y_stride, res_stride = ep_.residual_stride;
    const float res_scale = ep_.residual_scale;
    const int32_t* const acc = acc_;
#if INT8RT_EPILOGUE_U8_CODES
    const __m512i flip = flip_;
    const __m128i res_flip = res_flip_;
#else
    const __m512i flip = _mm512_setzero_si512();
    const __m128i res_flip{};
#endif
    int i = i_, ow = ow_;
    int64_t oh = oh_;
    for (; i < end; ++i, ++ow) {
      if (ow == grid_w) {
        ow = 0;
        ++oh;
      }
      if (ow >= out_w) continue;
      const int64_t o = oh * out_w + ow;
      const __m512i v[2] = {_mm512_load_si512(acc + 32 * i), _mm512_load_si512(acc + 32 * i + 16)};
      ep512::store_requantized_row<2>(v, ce, n, res ? res + o * res_stride : nullptr, res_scale, lo, hi,
                                      y + o * y_stride, flip, res_flip);
    }
    i_ = i;
    ow_ = ow;
    oh_ = oh;
  }

  void row(int64_t o, const int32_t* acc) const {
    TileEpilogue pe = ep_;
    alignas(64) int8_t res[32];
    if (res_xor_) {
      for (int l = 0; l < n_; ++l) res[l] = static_cast<int8_t>(ep_.residual[o * ep_.residual_stride + l] ^ res_xor_);
      pe.residual = res;
    } else if (ep_.residual) {
      pe.residual = ep_.residual + o * ep_.residual_stride;
    }
    pe.residual_stride = 0;
    pe.y = ep_.out_f32 ? static_cast<void*>(static_cast<float*>(ep_.y) + o * ep_.y_stride)
                       : static_cast<void*>(static_cast<int8_t*>(ep_.y) + o * ep_.y_stride);
    for (int b = 0; b < nb_; ++b) ep512::store_requantized(_mm512_load_si512(acc + 16 * b), ce_[b], pe, 0, 16 * b);
    if (out_xor_) {
      int8_t* y = static_cast<int8_t*>(ep_.y) + o * ep_.y_stride;
      for (int l = 0; l < n_; ++l) y[l] = static_cast<int8_t>(y[l] ^ out_xor_);
    }
  }

  const AmxConvStrip* s_ = nullptr;
  const int32_t* acc_ = nullptr;
  TileEpilogue ep_;
  ep512::ChannelEpilogue ce_[2];
  __m512 lo_, hi_;
#if INT8RT_EPILOGUE_U8_CODES
  __m512i flip_;
  __m128i res_flip_;
#endif
  int n_ = 0, nb_ = 1, rows_ = 0, i_ = 0, ow_ = 0;
  int64_t oh_ = 0;
  uint8_t out_xor_ = 0, res_xor_ = 0;
  bool packed_row_ = true;
};

// Issues the dot products of 32 grid rows from `a` (tap 0, chunk 0) against
// block w (and w + block stride when kTwo) over every tap and chunk.
template <bool kU8, bool kTwo>
void issue_dots(const AmxConvStrip& s, const int8_t* a, const int8_t* w, const int32_t* init, Pending& pending,
                int step) {
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
      pending.rows_to(step * (t * s.cchunks + kc + 1));
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

template <bool kU8>
void strip(const AmxConvStrip& s) {
  configure_2x2(16, 16, 64);
  alignas(64) int32_t acc[32 * 32];
  const int blocks = (s.nc + 15) / 16;
  // Rows of the previous job's epilogue per (tap, chunk) step: all 32 over
  // the first half of the steps, so the last ones leave the tile unit busy;
  // but under 15 steps (3x3 over 64 channels, the stems), where that takes
  // more than 4 a step, over 8 steps (4 a step) or all of them if fewer
  // (3x3 64 @56: 4 a step over 8 of 9 steps, not 7 over 5: about 3% faster,
  // RESULTS.md section 207).
  const int steps = s.taps * s.cchunks;
  const int over = steps > 14 ? (steps + 1) / 2 : steps < 8 ? steps : 8;  // steps the rows take
  const int step = (32 + over - 1) / over;
  Pending pending;  // the previous job, in acc until its last rows are stored
  for (int64_t p0 = s.p_begin; p0 < s.p_end; p0 += 32) {
    const int8_t* a = s.image + p0 * s.pixel_stride;
    for (int b = 0; b < blocks; b += 2) {
      const bool two = b + 1 < blocks;
      const int8_t* w = s.w + b * s.w_block_stride;
      const int32_t* init = kU8 ? s.acc_init + 16 * b : nullptr;
      two ? issue_dots<kU8, true>(s, a, w, init, pending, step) : issue_dots<kU8, false>(s, a, w, init, pending, step);
      pending.rows_to(32);
      store_tiles(two, acc);
      pending.start(s, p0, 16 * b, s.nc - 16 * b < 32 ? s.nc - 16 * b : 32, acc);
    }
  }
  INT8RT_TILE_RELEASE();
  pending.rows_to(32);
}

}  // namespace

void conv_direct_strip(const AmxConvStrip& s) { strip<false>(s); }
void conv_direct_strip_u8(const AmxConvStrip& s) { strip<true>(s); }

}  // namespace INT8RT_AMX_NS
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
