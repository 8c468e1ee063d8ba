// The float32 Conv on channel-blocked tensors (int8rt_layout="nchw16c",
// engine/f32_blocked.h): X, the fused residual and Y stored [N, CB, H, W, 16].
// Made by conv_f32.cc's factory for nodes the layout pass marked.
#pragma once

#include <memory>

#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

std::unique_ptr<Layer> make_blocked_conv(const Network& net, const Node& node, WindowAttrs w, int64_t group);

}  // namespace engine
}  // namespace int8rt
