// fuse_bf16_attention (passes.h): a BF16 engine's attention, MatMul(q, kt)
// -> Softmax (last axis; plain or fused by fuse_attention_softmax) ->
// MatMul(p, v), both MatMuls marked bf16 (int8rt_precision) with
// activation operands, becomes one int8rt.Bf16Attention node (inputs q, kt,
// v and the Softmax's mask when it has one; attribute int8rt_nan_to_zero
// copied) writing the second MatMul's output. The layer
// (engine/ops/bf16_attention.cc) runs one product of the batch at a time so
// that its scores stay in L2 instead of going to memory and back three
// times (RESULTS.md section 193); each step is the unfused layer's own call,
// so the bits are the unfused chain's. The batch dims of q, kt and v must
// be the scores' own (no broadcast between them; the layer checks it per
// run). The node takes the second MatMul's place: everything it reads exists
// there (the mask may be computed after the first product, as MiniLM's
// first layer does), and nothing between the two products reads the scores
// or the probabilities. Runs after mark_bf16_layers and fuse_attention_softmax, FP32
// engines only (builder.cc).
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

bool bf16_product(const Network& net, const Node& n) {
  return n.op == "MatMul" && n.inputs.size() == 2 && n.outputs.size() == 1 && n.inputs[0] >= 0 && n.inputs[1] >= 0 &&
         n.attrs.get_string("int8rt_precision", "") == "bf16" && !net.tensor(n.inputs[0]).is_constant &&
         !net.tensor(n.inputs[1]).is_constant && net.tensor(n.inputs[0]).dtype == DataType::kFloat32 &&
         net.tensor(n.inputs[1]).dtype == DataType::kFloat32;
}

// The batch dims (all but the last two) of `t`, rank >= 2, else false.
bool batch_of(const Network& net, int t, std::vector<int64_t>* batch) {
  const std::vector<int64_t>& s = net.tensor(t).shape;
  if (s.size() < 2) return false;
  batch->assign(s.begin(), s.end() - 2);
  return true;
}

}  // namespace

void fuse_bf16_attention(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& qk = net.nodes()[n];
    if (!bf16_product(net, qk)) continue;
    const int sm_id = passes::sole_consumer(net, qk.outputs[0]);
    if (sm_id < 0) continue;
    const Node& sm = net.nodes()[sm_id];
    if (sm.op != "Softmax" || sm.inputs.empty() || sm.inputs[0] != qk.outputs[0] || sm.outputs.size() != 1 ||
        sm.attrs.get_int("coerce_2d", 0) != 0) {
      continue;
    }
    const int64_t rank = static_cast<int64_t>(net.tensor(qk.outputs[0]).shape.size());
    const int64_t axis = sm.attrs.get_int("axis", -1);
    if (rank < 2 || (axis < 0 ? axis + rank : axis) != rank - 1) continue;
    const bool masked = sm.attrs.get_int("int8rt_mask", 0) != 0;
    if ((masked && sm.inputs.size() != 2) || (!masked && sm.inputs.size() != 1)) continue;
    const int pv_id = passes::sole_consumer(net, sm.outputs[0]);
    if (pv_id < 0) continue;
    const Node& pv = net.nodes()[pv_id];
    if (!bf16_product(net, pv) || pv.inputs[0] != sm.outputs[0]) continue;
    std::vector<int64_t> bq, bk, bv, bs;
    if (!batch_of(net, qk.inputs[0], &bq) || !batch_of(net, qk.inputs[1], &bk) || !batch_of(net, pv.inputs[1], &bv) ||
        !batch_of(net, qk.outputs[0], &bs) || bq != bs || bk != bs || bv != bs) {
      continue;
    }
    const int v = pv.inputs[1], mask = masked ? sm.inputs[1] : -1;
    Node fused;
    fused.name = pv.name;
    fused.op = "int8rt.Bf16Attention";
    fused.inputs = {qk.inputs[0], qk.inputs[1], v};
    if (masked) fused.inputs.push_back(mask);
    if (sm.attrs.get_int("int8rt_nan_to_zero", 0) != 0) fused.attrs.set("int8rt_nan_to_zero", Attribute::of_int(1));
    fused.attrs.set("int8rt_precision", Attribute::of_string("bf16"));
    const int y = pv.outputs[0];
    fused.outputs = {y};
    const std::string line = "fused " + passes::describe(qk) + ", " + passes::describe(sm) + " and " +
                             passes::describe(pv) + " into one int8rt.Bf16Attention";
    passes::kill_node(net, pv_id);
    passes::kill_node(net, sm_id);
    passes::kill_node(net, static_cast<int>(n));
    net.nodes()[pv_id] = fused;
    net.tensor(y).producer = pv_id;
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
