// The parameters of int8rt.QAdd and int8rt.QConcat nodes as every backend
// reads them (the CPU layers in qeltwise_layers.cc and the CUDA runner):
// the add's multipliers and clamp (kernels::make_add_params) and the
// concat's per-input multipliers (kernels::rescale_multiplier).
#pragma once

#include <vector>

#include "int8rt/network.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {

// InvalidArgument / NotSupported naming the node for bad scales or activation.
kernels::AddParams qadd_params(const Node& node);
std::vector<float> qconcat_multipliers(const Node& node);

}  // namespace engine
}  // namespace int8rt
