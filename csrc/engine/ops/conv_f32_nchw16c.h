// The float32 Conv on channel-blocked tensors (int8rt_layout="nchw16c",
// engine/f32_blocked.h): X, the fused residual and Y stored [N, CB, H, W, 16].
// Made by conv_f32.cc's factory for nodes the layout pass marked.
#pragma once

#include <memory>

#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

// A dense conv of at most kMaxStemChannels input channels and more than one
// tap (a network's stem) reads its NCHW input as it is (each input channel a
// broadcast per tap; past a few, a blocked input serves better); every other
// dense conv of a region reads a blocked input. The pass and the layer both
// decide by this rule.
constexpr int64_t kMaxStemChannels = 4;
bool blocked_stem(const Shape& weights, int64_t group);

std::unique_ptr<Layer> make_blocked_conv(const Network& net, const Node& node, WindowAttrs w, int64_t group);

}  // namespace engine
}  // namespace int8rt
