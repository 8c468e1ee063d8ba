// Reads a lowered node's 2-D window attributes (kernel_shape, strides,
// pads as top, left, bottom, right, and dilations for convolutions) into a
// kernels::ConvShape or kernels::PoolShape, with one error message for both.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/layer.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

template <typename WindowShape>
void read_window_attrs(const Node& node, const std::vector<int64_t>& default_kernel, WindowShape& s) {
  auto ks = node.attrs.get_ints("kernel_shape", default_kernel);
  auto st = node.attrs.get_ints("strides", {1, 1});
  auto pd = node.attrs.get_ints("pads", {0, 0, 0, 0});
  if (ks.size() != 2 || st.size() != 2 || pd.size() != 4) {
    throw InvalidArgument(layer_error_prefix(node) + "kernel_shape and strides need 2 values, pads 4");
  }
  s.R = static_cast<int>(ks[0]);
  s.S = static_cast<int>(ks[1]);
  s.stride_h = static_cast<int>(st[0]);
  s.stride_w = static_cast<int>(st[1]);
  s.pad_top = static_cast<int>(pd[0]);
  s.pad_left = static_cast<int>(pd[1]);
  s.pad_bottom = static_cast<int>(pd[2]);
  s.pad_right = static_cast<int>(pd[3]);
}

}  // namespace engine
}  // namespace int8rt
