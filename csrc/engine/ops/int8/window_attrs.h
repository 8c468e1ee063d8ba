// Checks a lowered node's 2-D window (contracts.h Window2dAttrs: kernel_shape,
// strides, pads as top, left, bottom, right) into a kernels::ConvShape or
// kernels::PoolShape, with one error message for both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/checked_math.h"
#include "engine/ops/int8/contracts.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {

// `kernel_shape` is the window's, or the default where the node has none.
// `prefix` names the node (layer_error_prefix).
template <typename WindowShape>
void apply_window(const Window2dAttrs& w, const std::vector<int64_t>& kernel_shape, const std::string& prefix,
                  WindowShape& s) {
  const auto& ks = kernel_shape;
  const auto& st = w.strides;
  const auto& pd = w.pads;
  if (ks.size() != 2 || st.size() != 2 || pd.size() != 4) {
    throw InvalidArgument(prefix + "kernel_shape and strides need 2 values, pads 4");
  }
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
