// fuse_swish (passes.h): Swish / SiLU as exporters write it after a
// convolution (EfficientNet, YOLOv5+, ...): y = Conv(...), s = Sigmoid(y),
// z = Mul(y, s) (either operand order). The Conv takes the pair over as
// "int8rt_activation" = "Swish" and writes z; its FP32 layer
// (engine/ops/conv_f32.cc) applies x * sigmoid(x) by the unary_f32 family's
// Silu on each output tile while it is in cache, one pass where the graph
// made two and wrote s in between. Exact: Silu is the tier's own Sigmoid
// then one IEEE multiply, the unfused layers' operations
// (kernels/ref/math_f32.h); for a NaN input only the NaN's sign bit may
// differ (the AVX tiers' clamped exp, RESULTS.md §123). ONNX Runtime fuses the same pair (into
// QuickGelu). For FP32 engines only, like fuse_matmul_epilogue: the INT8
// lowering reads the unfused pair (a swish table, engine/lut_region.h) and
// its conv epilogue has Relu / Clip only, so the builder runs this pass on an
// FP32 engine's network after calibration has nothing more to observe, and
// the INT8 lowering on the Convs a mixed engine keeps in float (`only`).
// Conditions: y is read by exactly the Sigmoid and the Mul, s by the Mul
// only, neither is a network output, and the Conv has no activation yet.
// HardSwish (MobileNetV3: opset 14's HardSwish op after 20 of its convs) the
// same way: a Conv whose float32 output only a HardSwish reads takes it over
// as "HardSwish", applied by the unary_f32 family's HardSwish, the
// standalone layer's function (kernels/ref/math_f32.h), so exact too. ONNX
// Runtime fuses it into its NCHWc Conv as well. Conv only (not ConvInteger).
#include <algorithm>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// The Sigmoid and Mul nodes of a swish on tensor y, or false.
bool swish_of(const Network& net, int y, int* sig_out, int* mul_out) {
  if (passes::is_network_output(net, y)) return false;
  std::vector<int> readers = net.consumers(y);
  if (readers.size() != 2) return false;
  for (int k = 0; k < 2; ++k) {
    const Node& sig = net.nodes()[readers[k]];
    const Node& mul = net.nodes()[readers[1 - k]];
    if (sig.op != "Sigmoid" || sig.inputs.size() != 1 || sig.outputs.size() != 1) continue;
    if (mul.op != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
    const int s = sig.outputs[0];
    const bool pair = (mul.inputs[0] == y && mul.inputs[1] == s) || (mul.inputs[0] == s && mul.inputs[1] == y);
    if (!pair || passes::sole_consumer(net, s) != readers[1 - k]) continue;
    if (net.tensor(mul.outputs[0]).dtype != DataType::kFloat32) continue;
    *sig_out = readers[k];
    *mul_out = readers[1 - k];
    return true;
  }
  return false;
}

}  // namespace

void fuse_swish(Network& net, PassReport* report, const std::set<std::string>* only) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& conv = net.nodes()[n];
    if (only && !only->count(conv.name)) continue;
    // Also a ConvInteger whose float tail is fused (fuse_conv_integer_float.cc): a float32 output.
    const bool float_conv_integer = conv.op == "ConvInteger" && conv.attrs.get_int("int8rt_float_output", 0) != 0;
    if ((conv.op != "Conv" && !float_conv_integer) || conv.outputs.size() != 1 || conv.attrs.has("int8rt_activation")) {
      continue;
    }
    const int y = conv.outputs[0];
    if (net.tensor(y).dtype != DataType::kFloat32) continue;
    const int hs = passes::sole_consumer(net, y);
    if (conv.op == "Conv" && hs >= 0 && net.nodes()[hs].op == "HardSwish" && net.nodes()[hs].inputs.size() == 1 &&
        net.nodes()[hs].outputs.size() == 1 && net.tensor(net.nodes()[hs].outputs[0]).dtype == DataType::kFloat32) {
      const std::string line = "fused " + passes::describe(net.nodes()[hs]) + " into " + passes::describe(conv);
      if (report) report->merged_nodes[conv.name] = {conv.name, net.nodes()[hs].name};
      net.nodes()[n].attrs.set("int8rt_activation", Attribute::of_string("HardSwish"));
      passes::take_over_output(net, static_cast<int>(n), 0, net.nodes()[hs].outputs[0]);  // kills the HardSwish
      if (report) report->add(line);
      continue;
    }
    int sig = -1, mul = -1;
    if (!swish_of(net, y, &sig, &mul)) continue;
    const std::string line = "fused " + passes::describe(net.nodes()[sig]) + " and " +
                             passes::describe(net.nodes()[mul]) + " (Swish) into " + passes::describe(conv);
    const int z = net.nodes()[mul].outputs[0];
    if (report) report->merged_nodes[conv.name] = {conv.name, net.nodes()[sig].name, net.nodes()[mul].name};
    passes::kill_node(net, sig);
    net.nodes()[n].attrs.set("int8rt_activation", Attribute::of_string("Swish"));
    passes::take_over_output(net, static_cast<int>(n), 0, z);  // kills the Mul
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
