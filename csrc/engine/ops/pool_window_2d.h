// A 2-D pooling window's geometry into a pool kernel's argument struct: the
// one place the channel-blocked FP32 and BF16 pools (f32_blocked_ops.cc,
// bf16_blocked_ops.cc) fill H, W, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw from
// the node's window (op_util.h: WindowAttrs, window_geometry).
#pragma once

#include <cstdint>

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

// Input rows H / cols W and the two dims' geometry gh / gw (window_geometry).
template <class PoolArgs>
void set_pool_window_2d(PoolArgs& g, const WindowAttrs& w, int64_t H, int64_t W, const DimGeom& gh,
                        const DimGeom& gw) {
  g.H = H; g.W = W; g.oh = gh.out; g.ow = gw.out; g.kh = w.kernel[0]; g.kw = w.kernel[1];
  g.sh = w.strides[0]; g.sw = w.strides[1]; g.dh = w.dilations[0]; g.dw = w.dilations[1];
  g.ph = gh.pad_begin; g.pw = gw.pad_begin;
}

}  // namespace engine
}  // namespace int8rt
