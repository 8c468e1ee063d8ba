// Channel-blocked tensors [N, CB, H, W, 16] as the blocked layers read them:
// the block count of C channels, a layer's "channels" attribute, and the
// check of a blocked input. One home for the FP32 (f32_blocked_ops.cc,
// conv_f32_nchw16c.cc) and BF16 (bf16_blocked_ops.cc) blocked layers; the
// layouts themselves are engine/f32_blocked.h's and engine/bf16_blocked.h's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/value.h"

namespace int8rt {
namespace engine {

constexpr int64_t kChannelBlock = 16;  // channels per block, FP32 and BF16 alike

// Blocks of C >= 0 channels: ceil(C / 16), the last one padded (no C + 15:
// a forged 'channels' of INT64_MAX overflowed, RESULTS.md 216).
inline int64_t channel_blocks(int64_t c) { return c / kChannelBlock + (c % kChannelBlock > 0 ? 1 : 0); }

// A blocked layer's positive "channels" attribute (the count before padding).
inline int64_t channels_attr(const Node& node) {
  const int64_t c = node.attrs.get_int("channels", 0);
  if (c <= 0) throw InvalidArgument(layer_error_prefix(node) + "needs a positive attribute 'channels'");
  return c;
}

// Input i as a blocked tensor of `dtype` (float32 or bfloat16) [N, CB, H, W,
// 16] with CB = channel_blocks(C) where C > 0; throws naming the layer otherwise.
inline const Shape& blocked_input(const std::vector<const Value*>& in, size_t i, DataType dtype, int64_t C,
                                  const std::string& prefix) {
  const Shape& s = require_input(in, i, dtype, prefix).shape();
  if (s.size() != 5 || (C > 0 && s[1] != channel_blocks(C)) || s[4] != kChannelBlock) {
    throw InvalidArgument(prefix + "needs a channel-blocked " +
                          (dtype == DataType::kBFloat16 ? "bfloat16 " : "") + "input [N, CB, H, W, 16]" +
                          (C > 0 ? " with CB = " + std::to_string(channel_blocks(C)) : std::string()) + ", got " +
                          shape_str(s));
  }
  return s;
}

}  // namespace engine
}  // namespace int8rt
