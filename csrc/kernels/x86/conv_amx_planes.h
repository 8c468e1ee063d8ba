// The AMX direct conv's padded phase planes (x86/conv_amx_direct.cc copies
// each group of images into them per run; amx/conv_direct.h's microkernel
// reads its tiles from them): where every tap, grid pixel and plane lives,
// and the copy. Baseline code. Plane pixels are padded input pixels, padding
// code_byte(pad_value); every tap reads the 16 rows of a tile at one
// constant stride. Three layouts:
//   rows mode (dilation_w 1, the usual case): planes per row phase only,
//     pixels of C bytes as in the input (whole rows copied), rows padded to a
//     whole number of width strides. A "tap" is a filter row: its S pixels
//     are S * C contiguous bytes, reduced in ceil(S * C / 64) chunks (bytes
//     past the window meet zero weights); the width stride is the row stride
//     of the tile (stride_w * C bytes).
//   channel mode (dilation_w > 1, C >= 32): planes per row and column phase,
//     pixels of Cp = 64 * ceil(C / 64) bytes (zero past C); a tap is one
//     filter position, reduced in Cp / 64 chunks; tile rows Cp bytes apart.
// Rows mode reduces no more chunks than channel mode (S * C rounded up once
// rather than C rounded up S times) and copies rows rather than pixels.
//   space-to-depth (a rows-mode conv of stride st = stride_h = stride_w >= 2,
//     no dilation, where it takes fewer (tap, chunk) steps: the C = 3 stems):
//     one plane whose pixel (i, j) holds the st x st padded pixels
//     (st * i + dr, st * j + dc), byte (dr * st + dc) * C + c, so the conv is
//     a stride-1 rows-mode conv over st * st * C channels with a
//     ceil(R / st) x ceil(S / st) window (weights past R or S zero): the 7x7/2
//     stem's 7 taps of 21 bytes become 4 taps of 48 bytes. The copy moves
//     st * C contiguous input bytes per piece (as many bytes as the input).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/conv_gemm_s8.h"
#include "kernels/abi/conv_gemm_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

// Where every pixel of s's phase planes and grid lives (conv_direct.h and
// the file comment): per filter row (rows mode, space-to-depth) or per
// filter position (channel mode).
struct AmxDirectGeometry {
  static constexpr int kTileRows = 32;  // grid rows per microkernel job
  // Channel mode needs this many input channels (fewer would leave most of
  // each 64-byte chunk zero; the gather packs them).
  static constexpr int kMinChannels = 32;

  bool rows = false;
  int s2d = 0;          // space-to-depth: the stride st folded into the pixel, else 0
  int pixel = 0;        // bytes per plane pixel: Cp, C in rows mode, st * st * C in space-to-depth
  int cchunks = 0, taps = 0, hq = 0, wq = 0, grid_w = 0, oh = 0, ow = 0;
  int64_t pixel_stride = 0, plane_bytes = 0, image_bytes = 0, grid = 0, tiles = 0, buffer_bytes = 0;
  std::vector<int64_t> tap_offset;

  AmxDirectGeometry() = default;
  explicit AmxDirectGeometry(const ConvShape& s);

  // (tap, chunk) steps of rows mode and of space-to-depth for s.
  static int64_t rows_steps(const ConvShape& s) { return int64_t{s.R} * chunks(int64_t{s.S} * s.C); }
  static int64_t s2d_steps(const ConvShape& s) {
    const int st = s.stride_h;
    return int64_t{(s.R + st - 1) / st} * chunks(int64_t{(s.S + st - 1) / st} * st * st * s.C);
  }
  static bool s2d_pays(const ConvShape& s) {
    return s.dilation_h == 1 && s.dilation_w == 1 && s.stride_h == s.stride_w && s.stride_h >= 2 &&
           int64_t{s.stride_h} * s.stride_h * s.C <= amx::kKChunk && s2d_steps(s) < rows_steps(s);
  }

 private:
  static int64_t chunks(int64_t bytes) { return (bytes + amx::kKChunk - 1) / amx::kKChunk; }

  void space_to_depth(const ConvShape& s);
  void finish(int64_t max_offset);
};

// Copies `batch` images of x (NHWC codes) into g's planes at dst (image n at
// dst + n * g.image_bytes; the buffer holds (batch - 1) * g.image_bytes +
// g.buffer_bytes).
void fill_amx_direct_planes(const ConvShape& s, const AmxDirectGeometry& g, int batch, const int8_t* x,
                            int8_t* dst);

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
