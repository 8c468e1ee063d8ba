// Int8 layer count and scale-coverage warnings of a build (int8_coverage.h).
#include "engine/int8_coverage.h"

#include <algorithm>
#include <cmath>

#include "core/quote.h"
#include "engine/bf16_layers.h"

namespace int8rt {
namespace engine {

const char* layer_precision(const std::string& op) {
  if (op == "int8rt.Quantize" || op == "int8rt.Dequantize") return "convert";
  return op.rfind("int8rt.Q", 0) == 0 ? "int8" : "fp32";
}

const char* layer_precision(const Node& node) {
  if (node.attrs.get_string(kPrecisionAttr, "") == "bf16") return "bf16";
  return layer_precision(node.op);
}

std::vector<std::string> int8_coverage_warnings(const Network& float_net, const Network& lowered,
                                                const std::map<std::string, float>& scales) {
  std::vector<std::string> out;
  size_t named = 0, named_inputs = 0, usable = 0;
  std::string an_input;
  for (const auto& kv : scales) {
    const int id = float_net.find_tensor(kv.first);
    if (id < 0) continue;
    ++named;
    if (std::isfinite(kv.second) && kv.second > 0.f) ++usable;
    const auto& ins = float_net.inputs();
    if (std::find(ins.begin(), ins.end(), id) != ins.end()) {
      ++named_inputs;
      an_input = kv.first;
    }
  }
  if (named == 0) {
    out.push_back("warning: none of the " + std::to_string(scales.size()) +
                  " calibration scales names a tensor of this network" +
                  (scales.empty() ? std::string() : " (the first is " + quoted(scales.begin()->first) + ")") +
                  "; the cache may belong to another model");
  } else if (named == named_inputs) {
    out.push_back("warning: the calibration scales name only network inputs (" + quoted(an_input) +
                  "); a layer runs in int8 only when its output has a scale too");
  }
  size_t layers = 0, int8_layers = 0;
  for (const Node& n : lowered.nodes()) {
    const std::string precision = layer_precision(n.op);
    if (precision == "convert") continue;
    ++layers;
    if (precision == "int8") ++int8_layers;
  }
  if (int8_layers == 0 && layers > 0) {
    std::string why = usable < named ? "; " + std::to_string(named - usable) + " of the " + std::to_string(named) +
                                           " scales that name tensors are 0, infinite or NaN, which no layer can use"
                                     : "";
    out.push_back("warning: no layer runs in int8 (0 of " + std::to_string(layers) +
                  " layers) although the engine's precision is int8" + why);
  }
  return out;
}

}  // namespace engine
}  // namespace int8rt
