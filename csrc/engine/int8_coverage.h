// Which layers of a lowered network run in int8, and the warnings a build
// gives when its calibration scales leave the network in float32.
//
// A cache that belongs to another model, names only the network inputs, or
// holds scales no layer can use (0, +inf: TensorRT writes them for tensors it
// saw as all zeros or overflowing) builds an engine whose precision says
// "int8" while every layer runs in float32. The builder puts these lines in
// the engine's report (so `int8rt inspect` and Engine.report() show them) and
// the Python builder logs them as warnings on the "int8rt" logger.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

// "int8" for a lowered int8 layer (int8rt.QConv, ...), "convert" for
// int8rt.Quantize / int8rt.Dequantize, "fp32" for everything else.
const char* layer_precision(const std::string& op);
// The same for a node, "bf16" for a float layer running in BF16 (bf16_layers.h).
const char* layer_precision(const Node& node);

// Report lines, each starting "warning: ", for the scales an int8 build used
// (`float_net`: the network the scales name, its If branches' tensors under
// their scopes, control_flow.h; `lowered`: the lowering's result, its
// branches' layers counted too).
// Empty when at least one layer runs in int8 and the scales name more than
// the network inputs.
std::vector<std::string> int8_coverage_warnings(const Network& float_net, const Network& lowered,
                                                const std::map<std::string, float>& scales);

}  // namespace engine
}  // namespace int8rt
