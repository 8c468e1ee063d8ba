// int8rt.QConv with a fused PRelu (QConvAttrs::slopes): the layer the QConv
// factory (qconv_qgemm.cc) makes for such a node. Engine-internal.
#pragma once

#include <memory>

#include "engine/layer.h"

namespace int8rt {
namespace engine {

// The layer for a QConv node with slopes and a static input size.
std::unique_ptr<Layer> make_qconv_prelu_layer(const Network& net, const Node& node);

}  // namespace engine
}  // namespace int8rt
