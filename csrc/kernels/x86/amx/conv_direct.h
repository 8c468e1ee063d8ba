// The AMX int8 direct convolution (spatial R x S > 1, one group): its call
// descriptor and entry points (amx/conv_direct_32x32c4.cc; driver
// x86/conv_amx_direct.cc). Baseline header: no ISA code, no intrinsics.
//
// The driver copies each image once per run into padded phase planes
// (x86/conv_amx_direct.cc, which has the two modes' details): plane pixel
// (i, j) of phase ph holds padded input pixel (sh * i + ph, ...), so that for
// output pixel (oh, ow) every tap t reads, over the "grid"
// p = oh * grid_w + ow (grid_w >= OW; columns ow >= OW are junk, computed
// and dropped), bytes at image + tap_offset[t] + p * pixel_stride + 64 * chunk:
// one tileloadd of stride pixel_stride reads 16 grid rows of a chunk.
#pragma once

#include <cstdint>

#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// One call: grid pixels [p_begin, p_end) of one image (p_begin a multiple of
// 32; rows up to the next multiple of 32 are read and computed, never
// stored) against every block of 16 output channels up to nc.
struct AmxConvStrip {
  const int8_t* image = nullptr;        // this image's phase planes
  const int64_t* tap_offset = nullptr;  // [taps] bytes from image to tap t's grid pixel 0
  int taps = 0;
  int cchunks = 0;                      // 64-byte chunks per tap
  int64_t pixel_stride = 0;             // bytes between grid pixels
  int64_t p_begin = 0, p_end = 0;
  int grid_w = 0, out_w = 0;            // grid pixel p is output (p / grid_w, p % grid_w) if p % grid_w < out_w
  // Packed B of the first block (x86/conv_amx_pack.h's layout with
  // reduction index tap * cchunks * 64 + chunk byte), blocks w_block_stride
  // bytes apart.
  const int8_t* w = nullptr;
  int64_t w_block_stride = 0;
  int nc = 0;                           // valid output channels
  const int32_t* acc_init = nullptr;    // u8 codes: -128 * sum(w) per channel (AmxTile::acc_init)
  TileEpilogue ep;                      // at the image's output pixel 0, channel 0 of the call
};
using AmxConvStripFn = void (*)(const AmxConvStrip&);

namespace amx {
// tdpbssd on int8 codes; the _u8 twin: tdpbusd on u8 codes from acc_init.
void conv_direct_strip(const AmxConvStrip& s);
void conv_direct_strip_u8(const AmxConvStrip& s);
}  // namespace amx

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
