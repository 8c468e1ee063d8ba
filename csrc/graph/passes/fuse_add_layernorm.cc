// fuse_add_layernorm (passes.h): Add(a, b) -> LayerNormalization becomes one
// LayerNormalization that normalises a + b itself ("int8rt_residual" = 3,
// reading b as a 4th input; the contract is in passes.h and
// engine/ops/layernorm_f32.cc), ONNX Runtime's SkipLayerNormalization. A
// transformer's residual stream is summed and normalised in one pass over
// each row instead of a full Add layer writing the sum and the LayerNorm
// reading it back. When other layers read the sum too (pre-LN encoders: the
// next residual Add), the fused node also writes it, as its second output
// ("int8rt_sum_output" = 1). Exact: the same float additions, then the same
// normalisation.
//
// The fused node takes the Add's place in the node order (its other inputs,
// Scale and B, must be constants), so every reader of the sum still comes
// after its producer.
#include "graph/passes/pass_util.h"

namespace int8rt {

void fuse_add_layernorm(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& ln = net.nodes()[n];
    if (ln.op != "LayerNormalization" || ln.outputs.size() != 1 || ln.inputs.size() < 2 || ln.inputs.size() > 3) {
      continue;
    }
    bool fused_already = false;
    for (const auto& kv : ln.attrs.values()) fused_already |= kv.first.rfind("int8rt_", 0) == 0;
    if (fused_already) continue;
    const int x = ln.inputs[0];
    const int add_id = net.tensor(x).producer;
    if (add_id < 0) continue;
    const Node& add = net.nodes()[add_id];
    if (add.op != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1 || add.inputs[0] < 0 ||
        add.inputs[1] < 0) {
      continue;
    }
    if (net.tensor(x).dtype != DataType::kFloat32 || net.tensor(add.inputs[0]).dtype != DataType::kFloat32 ||
        net.tensor(add.inputs[1]).dtype != DataType::kFloat32) {
      continue;
    }
    const int scale = ln.inputs[1], bias = passes::input_at(ln, 2);
    if (!passes::constant_or_null(net, scale) || (bias >= 0 && !passes::constant_or_null(net, bias))) continue;
    const bool keep_sum = passes::sole_consumer(net, x) != static_cast<int>(n);
    Node fused;
    fused.name = ln.name;
    fused.op = ln.op;
    fused.inputs = {add.inputs[0], scale, bias, add.inputs[1]};
    fused.attrs = ln.attrs;
    fused.attrs.set("int8rt_residual", Attribute::of_int(3));
    const int y = ln.outputs[0];
    fused.outputs = {y};
    if (keep_sum) {
      fused.attrs.set("int8rt_sum_output", Attribute::of_int(1));
      fused.outputs.push_back(x);
    }
    const std::string line = "fused " + passes::describe(add) + " into " + passes::describe(ln) +
                             (keep_sum ? " (which also writes the sum)" : "");
    passes::kill_node(net, static_cast<int>(n));
    passes::kill_node(net, add_id);
    net.nodes()[add_id] = fused;
    net.tensor(y).producer = add_id;
    if (keep_sum) net.tensor(x).producer = add_id;
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
