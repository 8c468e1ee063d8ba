// Class tiles of the igemm driver (x86/conv_igemm.cc): the output pixels of a
// padded conv grouped by the taps their windows keep inside the input (a
// pixel's class: its filter rows [r_lo, r_hi] and columns [c_lo, c_hi] that
// read input), and cut into tiles of one class each, so that a tile reduces
// only the taps its windows have inside the input. Where a padding tap adds
// nothing (the microkernel's padding byte is 0: a u8-coded input with
// pad_value -128, a non-negative one with pad_value 0, or the shifted tile
// with pad_value -128) this gives the same sums as the padded reduction,
// exactly, with fewer multiply-adds: a 3x3 conv with padding 1 spends 18% of
// them on padding at 7 x 7 and 9% at 14 x 14 (ResNet-50's last two stages;
// oneDNN's brgemm convolutions likewise leave padding taps out).
//
// Tiles span images (the class's pixels of all images of the plan, image
// after image), so a 7 x 7 plane's corners make full tiles at batch 8; a
// class whose every column keeps all S filter columns is cut output row by
// output row instead (segments of one row), where its tiles can take row
// taps (one tap of S*C values per filter row: use_row_taps).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel_types.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace igemm {

// Bytes from one input pixel, row and image to the next in the rows'
// source (conv_igemm.cc's RowSource).
struct SourceStrides {
  int64_t pixel_bytes = 0, row_bytes = 0, image_bytes = 0;
};

// One tile: mr pixels of one class and the taps they keep.
struct ClassTile {
  int32_t first = 0;      // its first pixel in ClassPlan::pixel / origin
  int32_t mr = 0;
  int32_t tap_first = 0;  // its taps: ClassPlan::tap_w / tap_off [tap_first, tap_first + taps)
  int32_t taps = 0;
  bool row_taps = false;  // each tap a filter row of S*C values (row taps), else one filter pixel
};

// The tiles of `images` images, pixels and offsets counted from the first.
struct ClassPlan {
  std::vector<int64_t> pixel;    // output pixel n * OH * OW + oh * OW + ow
  std::vector<int64_t> origin;   // byte offset of the pixel's window origin (ih0, iw0); may be negative
  std::vector<int32_t> tap_w;    // packed tap index of each listed tap (r * S + c, or r for row taps)
  std::vector<int64_t> tap_off;  // byte offset of that tap from the window origin
  std::vector<ClassTile> tiles;
};

// Fills `plan` (its vectors reused: no allocation once grown) with the class
// tiles of `images` images: balanced tiles of at most mr pixels, every pixel
// in exactly one tile. row_taps: the microkernel may take row taps
// (use_row_taps); a full-column class takes them where its rows' segments
// cut into tiles of at least mr - 1 pixels (shorter ones cost more than row taps save: section 155).
void plan_class_tiles(const ConvShape& s, const SourceStrides& src, int images, int mr, bool row_taps,
                      ClassPlan* plan);

// The fraction of a conv's window taps over an image that lie in padding
// (0 where no window reaches padding): what class tiles leave out.
double padding_tap_fraction(const ConvShape& s);

}  // namespace igemm
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
