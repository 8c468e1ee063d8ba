// Int8 layer count and scale-coverage warnings of a build (int8_coverage.h).
#include "engine/int8_coverage.h"

#include <algorithm>
#include <cmath>

#include "core/quote.h"
#include "engine/bf16_layers.h"
#include "engine/ops/control_flow.h"

namespace int8rt {
namespace engine {
namespace {

// Whether `name` is a tensor of `net` or, under an If branch's scope
// (branch_scope: how calibration names a branch's tensors), of that branch.
bool names_tensor(const Network& net, const std::string& name) {
  if (net.find_tensor(name) >= 0) return true;
  for (const Node& n : net.nodes()) {
    if (n.op != "If") continue;
    for (const char* attr : {"then_branch", "else_branch"}) {
      const std::string scope = branch_scope(n.name, attr);
      const Network* g = n.attrs.get_graph(attr);
      if (g && name.compare(0, scope.size(), scope) == 0 && names_tensor(*g, name.substr(scope.size()))) return true;
    }
  }
  return false;
}

// Layers (conversions not counted) of `net` and of its subgraphs, and how many run in int8.
void count_layers(const Network& net, size_t& layers, size_t& int8_layers) {
  for (const Node& n : net.nodes()) {
    const std::string precision = layer_precision(n.op);
    if (precision != "convert") {
      ++layers;
      if (precision == "int8") ++int8_layers;
    }
    for (const auto& kv : n.attrs.values()) {
      if (kv.second.kind == Attribute::Kind::kGraph) count_layers(*kv.second.graph, layers, int8_layers);
    }
  }
}

}  // namespace

const char* layer_precision(const std::string& op) {
  if (op == "int8rt.Quantize" || op == "int8rt.Dequantize") return "convert";
  if (op == "int8rt.Int8ImageChain") return "int8";  // its body's int8 layers (engine/int8_image_chain.h)
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
    if (!names_tensor(float_net, kv.first)) continue;
    const int id = float_net.find_tensor(kv.first);
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
  size_t layers = 0, int8_layers = 0;  // a branch's count too: an If may hold the whole network (Silero VAD)
  count_layers(lowered, layers, int8_layers);
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
