// fuse_residual (passes.h): Add(conv_out, other) folded into the Conv as
// "int8rt_residual" (contract in passes.h), the ResNet shortcut fusion that
// TensorRT performs. Only exact-shape adds are folded (no broadcasting), so
// the layer adds element by element. The Conv then writes the Add's output
// tensor; a following Relu is fused afterwards by fuse_activation.
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

bool fully_known(const std::vector<int64_t>& shape) {
  if (shape.empty()) return false;
  for (size_t d = 1; d < shape.size(); ++d) {
    if (shape[d] <= 0) return false;
  }
  return shape[0] > 0 || shape[0] == -1;
}

}  // namespace

void fuse_residual(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& conv = net.nodes()[n];
    if (conv.op != "Conv" || conv.outputs.size() != 1 || conv.inputs.size() > 3) continue;
    bool fused_already = false;
    for (const auto& kv : conv.attrs.values()) fused_already |= kv.first.rfind("int8rt_", 0) == 0;
    if (fused_already) continue;
    int out = conv.outputs[0];
    int add_id = passes::sole_consumer(net, out);
    if (add_id < 0) continue;
    const Node& add = net.nodes()[add_id];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
    int other = add.inputs[0] == out ? add.inputs[1] : add.inputs[0];
    const Tensor& o = net.tensor(other);
    const Tensor& c = net.tensor(out);
    if (o.is_constant || o.dtype != DataType::kFloat32 || !fully_known(o.shape) || o.shape != c.shape) continue;
    std::string line = "fused residual " + passes::describe(add) + " into " + passes::describe(conv);
    int add_out = add.outputs[0];
    Node& target = net.nodes()[n];
    target.inputs.resize(3, -1);
    target.inputs.push_back(other);
    target.attrs.set("int8rt_residual", Attribute::of_int(3));
    passes::take_over_output(net, static_cast<int>(n), 0, add_out);
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
