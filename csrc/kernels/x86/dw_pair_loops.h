// The loops that the pair- and quad-row depthwise microkernels of every
// tier share (abi/dwconv_pairs_s8.h: avx2/dwconv_pairs_8c.cc, avx512vnni/
// dwconv_pairs_16c.cc and dwconv_quads_16c.cc); each tier supplies the
// vector work as a lambda.
// Internal linkage (an unnamed namespace): every ISA file compiles its own
// copy with its own flags, so the linker cannot hand one tier's copy to
// another (the ISA fence, x86/CMakeLists.txt).
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels/abi/dwconv_pairs_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// For each column j of the pair row s builds: column(o, a, b), o the
// column's output ([cb][2] int16), a and b the input columns of the pair
// (iw = j * col_step - pad_left and iw + dilation_w), null where one is
// padding (the column then holds pad_value).
template <class Column>
inline void for_each_pair_column(const DwPairSource& s, Column&& column) {
  for (int j = 0; j < s.cols; ++j) {
    const int iw = j * s.col_step - s.pad_left, iw2 = iw + s.dilation_w;
    const int8_t* a = s.x != nullptr && iw >= 0 && iw < s.W ? s.x + int64_t{iw} * s.C : nullptr;
    const int8_t* b = s.x != nullptr && iw2 >= 0 && iw2 < s.W ? s.x + int64_t{iw2} * s.C : nullptr;
    column(s.out + int64_t{j} * s.cb * 2, a, b);
  }
}

// The same for a quad row (abi/dwconv_pairs_s8.h): column(o, src), src[t]
// the input column iw + t * dilation_w (t = 0..3), null where it is padding.
template <class Column>
inline void for_each_quad_column(const DwPairSource& s, Column&& column) {
  for (int j = 0; j < s.cols; ++j) {
    const int8_t* src[4];
    for (int t = 0; t < 4; ++t) {
      const int iw = j * s.col_step - s.pad_left + t * s.dilation_w;
      src[t] = s.x != nullptr && iw >= 0 && iw < s.W ? s.x + int64_t{iw} * s.C : nullptr;
    }
    column(s.out + int64_t{j} * s.cb * 2, src);
  }
}

// The row's `blocks` channel blocks in groups of kGroup (a last group of 1..3):
// group(std::integral_constant<int, NB>, b0) for blocks [b0, b0 + NB).
template <int kGroup, class Group>
inline void for_block_groups(int blocks, Group&& group) {
  int b0 = 0;
  for (; b0 + kGroup <= blocks; b0 += kGroup) group(std::integral_constant<int, kGroup>{}, b0);
  switch (blocks - b0) {
    case 3: group(std::integral_constant<int, 3>{}, b0); break;
    case 2: group(std::integral_constant<int, 2>{}, b0); break;
    case 1: group(std::integral_constant<int, 1>{}, b0); break;
    default: break;
  }
}

}  // namespace
}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
