// Reads a lowered node's 2-D window attributes (kernel_shape, strides,
// pads as top, left, bottom, right, and dilations for convolutions) into a
// kernels::ConvShape or kernels::PoolShape, with one error message for both.
#pragma once

#include <cstdint>
#include <vector>

#include "core/checked_math.h"
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
  const std::string prefix = layer_error_prefix(node);
  s.R = checked_int(ks[0], prefix + "kernel_shape[0]", 1, kMaxWindowAttr);
  s.S = checked_int(ks[1], prefix + "kernel_shape[1]", 1, kMaxWindowAttr);
  s.stride_h = checked_int(st[0], prefix + "strides[0]", 1, kMaxWindowAttr);
  s.stride_w = checked_int(st[1], prefix + "strides[1]", 1, kMaxWindowAttr);
  s.pad_top = checked_int(pd[0], prefix + "pads[0]", 0, kMaxWindowAttr);
  s.pad_left = checked_int(pd[1], prefix + "pads[1]", 0, kMaxWindowAttr);
  s.pad_bottom = checked_int(pd[2], prefix + "pads[2]", 0, kMaxWindowAttr);
  s.pad_right = checked_int(pd[3], prefix + "pads[3]", 0, kMaxWindowAttr);
}

}  // namespace engine
}  // namespace int8rt
