// fuse_matmul_epilogue (passes.h): a Linear layer as exporters write it for
// activations of rank > 2 (ViT, BERT): MatMul(x, W) with a constant 2-D W,
// then Add(bias) with a constant bias of W's N values (1-D, either operand
// order), then optionally Gelu (approximate "none", the node fuse_gelu makes).
// The MatMul takes the bias as input 2 ("int8rt_bias" = 2) and the Gelu as
// "int8rt_activation" = "Gelu" and writes the last tensor of the chain; the
// FP32 layer (engine/ops/gemm_f32.cc) applies both in the SGEMM's epilogue
// with the unfused layers' operations, so the bits do not change. ONNX
// Runtime's MatMul + Add -> Gemm / BiasGelu fusions, for FP32 engines only:
// the INT8 lowering reads the unfused form (lower_int8_linear.cc), so the
// builder runs this pass on an FP32 engine's network after calibration has
// nothing more to observe. Every intermediate must have the chain's next
// node as its only reader; a MatMul with int8rt_* attributes is left alone,
// but for int8rt_precision (a BF16 layer: its layer adds the bias in the BF16
// tile's epilogue and applies the Gelu after, the same operations).
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

bool has_int8rt_attribute(const Node& node) {
  for (const auto& kv : node.attrs.values()) {
    if (kv.first.rfind("int8rt_", 0) == 0 && kv.first != "int8rt_precision") return true;
  }
  return false;
}

// The constant bias input of Add `add` (the operand that is not `x`): a
// float32 1-D constant of n values; -1 when it is not one.
int bias_of(const Network& net, const Node& add, int x, int64_t n) {
  if (add.inputs.size() != 2 || add.outputs.size() != 1) return -1;
  const int other = add.inputs[0] == x ? add.inputs[1] : add.inputs[0];
  if (other < 0 || other == x) return -1;
  const Tensor* t = passes::constant_or_null(net, other);
  if (!t || t->dtype != DataType::kFloat32 || t->shape.size() != 1 || t->shape[0] != n ||
      static_cast<int64_t>(t->f32.size()) != n) {
    return -1;
  }
  return other;
}

}  // namespace

void fuse_matmul_epilogue(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& mm = net.nodes()[n];
    if (mm.op != "MatMul" || mm.inputs.size() != 2 || mm.outputs.size() != 1 || has_int8rt_attribute(mm)) continue;
    const Tensor* w = passes::constant_or_null(net, mm.inputs[1]);
    if (!w || w->dtype != DataType::kFloat32 || w->shape.size() != 2 || mm.inputs[0] < 0) continue;
    if (net.tensor(mm.outputs[0]).dtype != DataType::kFloat32) continue;
    const int64_t cols = w->shape[1];
    const std::string what = passes::describe(mm);
    std::string fused;
    const int add = passes::sole_consumer(net, mm.outputs[0]);
    const int bias = add >= 0 && net.nodes()[add].op == "Add" ? bias_of(net, net.nodes()[add], mm.outputs[0], cols) : -1;
    if (bias >= 0) {
      fused = passes::describe(net.nodes()[add]);
      const int out = net.nodes()[add].outputs[0];
      net.nodes()[n].inputs.push_back(bias);
      net.nodes()[n].attrs.set("int8rt_bias", Attribute::of_int(2));
      passes::take_over_output(net, static_cast<int>(n), 0, out);
    }
    const int gelu = passes::sole_consumer(net, net.nodes()[n].outputs[0]);
    if (gelu >= 0 && net.nodes()[gelu].op == "Gelu" && net.nodes()[gelu].outputs.size() == 1 &&
        net.nodes()[gelu].attrs.get_string("approximate", "none") == "none" &&
        net.nodes()[gelu].inputs.size() == 1) {
      fused += (fused.empty() ? "" : " and ") + passes::describe(net.nodes()[gelu]);
      const int out = net.nodes()[gelu].outputs[0];
      net.nodes()[n].attrs.set("int8rt_activation", Attribute::of_string("Gelu"));
      passes::take_over_output(net, static_cast<int>(n), 0, out);
    }
    if (report && !fused.empty()) report->add("fused " + fused + " into " + what);
  }
  net.compact();
}

}  // namespace int8rt
