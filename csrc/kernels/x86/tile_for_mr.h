// tile_for_mr: the one dispatcher from a row count to a register tile's
// instantiation, shared by the gemm_u8s8 tiles of every ISA (each used to
// repeat a `switch (mr)`). `make` is a generic lambda taking
// std::integral_constant<int, MR> and returning the tile for MR rows; rows
// 1 .. MaxMR - 1 get their own tile, anything else (MaxMR or more, and the
// 0 some drivers pass for "full") gets the full MaxMR tile, as the switches
// did. Pure templates, no intrinsics: an ISA file instantiates it with its
// own lambda, so the instantiation is that file's (tests/test_isa_fence.py).
#pragma once

#include <type_traits>
#include <utility>

namespace int8rt {
namespace kernels {
namespace x86 {
namespace tile_for_mr_detail {

template <typename Make, int... I>
auto pick(int mr, Make make, std::integer_sequence<int, I...>) {
  using Fn = decltype(make(std::integral_constant<int, 1>{}));
  constexpr int kMax = static_cast<int>(sizeof...(I));
  const Fn table[] = {make(std::integral_constant<int, I + 1>{})...};
  return table[mr >= 1 && mr < kMax ? mr - 1 : kMax - 1];
}

}  // namespace tile_for_mr_detail

template <int MaxMR, typename Make>
auto tile_for_mr(int mr, Make make) {
  static_assert(MaxMR >= 1, "a tile has at least one row");
  return tile_for_mr_detail::pick(mr, make, std::make_integer_sequence<int, MaxMR>{});
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
