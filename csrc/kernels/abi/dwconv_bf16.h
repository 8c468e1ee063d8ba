// The BF16 depthwise-convolution microkernel boundary (the dwconv_bf16
// family, kernels/dwconv_bf16.h): a float Conv with group == C == M that
// runs in BF16 (engine/bf16_layers.h). Output planes [first, first + count)
// of the N * C planes (plane t is channel t % C), each
//   v = bias (0 when null)
//   for (ky, kx) in row-major order:
//     v = fma(w[ky][kx], x(oy * sh - ph + ky * dh, ox * sw - pw + kx * dw), v)
//   v = v + residual (when given; one FP32 add), then the clip when asked
//   (clip_f32 of kernels/ref/clip_f32.h: NaN stays NaN), then the store: FP32
//   as it is, or BF16 (bf16::from_f32, round to nearest even) into y16.
// x is a BF16 tensor (its bits), read as the FP32 values it denotes, and +0
// outside the image (every tap is taken: a padded tap adds w * +0). The
// weights are BF16 values held as FP32 (rounded once when the layer is
// made). A product of two BF16 values is exact in FP32 (8 + 8 significand
// bits) unless it underflows, so the fma above is one rounding per tap, the
// same whether a kernel fuses it or not; kernels compute exactly this, in
// this order, and give the reference's bits (tests compare with ==).
//
// Bound against the FP32 depthwise layer (tests/test_bf16_layers.py): with
// S = |bias| + sum over taps of |w x| on the FP32 operands and T = kh * kw,
//   |v - v32| <= (2^-7 + 2^-16) S + 2 (T + 2) 2^-24 S
// before the output's own rounding (2^-8 |y| more for a BF16 output), as the
// BF16 GEMM's bound (abi/gemm_bf16.h) with K = T.
//
// Workspace: the kernel converts each input row once into zero-padded FP32
// rows split into sw column phases and reads every tap from them; the
// caller gives `work`, dwconv_bf16_work_floats(p) floats (dwconv_bf16.h),
// owned by the calling thread. Plain structs and declarations, so ISA
// translation units may include it (STYLE.md, "ISA code is fenced").
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

struct DwConvBf16Plane {
  const uint16_t* x = nullptr;      // input planes [N * C][H][W], BF16 bits
  const float* w = nullptr;         // taps [C][kh][kw], BF16 values as FP32
  const float* bias = nullptr;      // [C], or nullptr for 0
  float* y = nullptr;               // output planes [N * C][oh][ow] (FP32), or
  uint16_t* y16 = nullptr;          // the same as BF16 bits: exactly one is set
  const float* residual = nullptr;  // FP32, laid out as the output; or nullptr
  bool clip = false;                // then clamp to [lo, hi]
  float lo = 0.f, hi = 0.f;
  int64_t C = 1, first = 0, count = 1;
  int64_t H = 0, W = 0, oh = 0, ow = 0;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, ph = 0, pw = 0;
  float* work = nullptr;  // dwconv_bf16_work_floats(*this) floats
  // The padded rows' geometry (dwconv_bf16_work_floats fills them): rows
  // held (a ring of the rows one output row reads; the whole plane when
  // flat), the width of one column phase, floats per padded row (sw phases);
  // flat: a small stride-1 plane walked as one run of oh x row_floats
  // outputs (row_floats = ow + (kw - 1) * dw, the columns past ow computed
  // and dropped).
  int64_t pad_rows = 0, phase_w = 0, row_floats = 0;
  bool flat = false;
  // The channel-blocked walk of small planes (vector kernels; the reference
  // ignores it): when blk_rows > 0, runs of 16 consecutive planes are
  // transposed, a band of output rows at a time, into a zero-padded
  // [blk_rows][blk_cols][16] FP32 block at dwconv_bf16_block(p) (blk_rows:
  // the padded rows one band's window reads, (band - 1) * sh + span;
  // blk_cols: the padded columns the window reads) and the band's outputs
  // gathered in [band * ow][16] after it; leftover planes take the walks
  // above.
  int64_t blk_rows = 0, blk_cols = 0;
};
using DwConvBf16Fn = void (*)(const DwConvBf16Plane&);

// The channel-blocked walk's block: the first 64-byte boundary after the
// per-plane walks' pad_rows * row_floats floats (the workspace holds 16
// floats of slack for it).
inline float* dwconv_bf16_block(const DwConvBf16Plane& p) {
  const uintptr_t at = reinterpret_cast<uintptr_t>(p.work + p.pad_rows * p.row_floats);
  return reinterpret_cast<float*>((at + 63) / 64 * 64);
}

// Outputs per vector step of the kernels: the padded plane holds the
// columns a step of this many outputs reads past ow.
constexpr int64_t kDwBf16Step = 64;
// The largest plane (oh x row_floats outputs) walked flat (28 x 28 with a
// 3 x 3 window: 840).
constexpr int64_t kDwBf16FlatMax = 1024;
// The channel-blocked walk: planes of at most this many outputs (28 x 28:
// 784; 14 x 14, 7 x 7), or of a strided window at most the second (56 x 56
// from 112 x 112), walked in bands of output rows whose padded rows
// ([rows][cols][16] floats) fit kDwBf16BandFloats (64 KiB: the block and
// the band's outputs stay in L1 / L2), at least one output row per band;
// planes whose one-row band exceeds kDwBf16BlockMax floats are not blocked.
constexpr int64_t kDwBf16BlockedOutputs = 1024;
constexpr int64_t kDwBf16BlockedStridedOutputs = 4096;
constexpr int64_t kDwBf16BandFloats = 16384;
constexpr int64_t kDwBf16BlockMax = 65536;

namespace ref {
void dwconv_bf16_plane(const DwConvBf16Plane& p);  // ref/dwconv_bf16.cc, baseline
}  // namespace ref
namespace x86 {
namespace avx512bf16 {
// AVX-512 FMA on the padded plane, 16 outputs per zmm, up to four zmm per
// step; VCVTNEPS2BF16 for a BF16 output (x86/avx512bf16/dwconv_bf16_16.cc).
void dwconv_bf16_plane(const DwConvBf16Plane& p);
}  // namespace avx512bf16
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
