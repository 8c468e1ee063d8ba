// fuse_attention_softmax (passes.h): attention's scores-to-probabilities
// chain as one Softmax layer, the way int8rt.QAttention's rows run it
// (kernels/ref/softmax_f32.h, AttentionRows) but in float32:
//   [Add(s, mask)] -> Softmax(last axis) -> [Where(IsNaN(p), 0, p)]
// becomes Softmax reading s with "int8rt_mask" = 1 (the mask as input 1,
// added to s before the softmax) and / or "int8rt_nan_to_zero" = 1 (a NaN
// probability becomes +0), writing the chain's last tensor. The contract is
// in engine/ops/softmax_f32.cc. torch's scaled_dot_product_attention export
// (BERT / MiniLM from transformers) writes exactly this chain per layer; unfused
// it is four passes over the [batch, heads, seq, seq] scores (at batch 8 the
// scores of MiniLM outgrow L2), fused one pass per row while the row is in
// L1. Exact: the Add's one IEEE addition, the same softmax rule, the same
// select (RESULTS.md section 193).
//
// The Add must be the Softmax's only producer-side change to s: its output
// read by the Softmax alone and shaped as s (a mask that widens s is no
// mask), the mask float32 and of rank <= s's. The guard applies when the
// probabilities are read by exactly one IsNaN and one Where(IsNaN, c, p)
// with c a one-value float32 constant +0.0. The fused node takes the
// chain's first node's place (its inputs exist there; every reader of the
// last tensor comes after the Where). Not part of run_default_passes: the
// INT8 lowering matches the unfused chain (lower_int8_attention.cc), so the
// builder applies it to FP32 engines only (their BF16 layers included).
#include <cstring>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// Where(IsNaN(p), +0, p) reading p, as (isnan node, where node); {-1, -1} when absent.
std::pair<int, int> nan_guard(const Network& net, int p) {
  if (passes::is_network_output(net, p)) return {-1, -1};
  const std::vector<int> readers = net.consumers(p);
  if (readers.size() != 2) return {-1, -1};
  int isnan = -1, where = -1;
  for (int r : readers) {
    const std::string& op = net.nodes()[r].op;
    if (op == "IsNaN") isnan = r;
    if (op == "Where") where = r;
  }
  if (isnan < 0 || where < 0) return {-1, -1};
  const Node& in = net.nodes()[isnan];
  const Node& w = net.nodes()[where];
  if (in.inputs.size() != 1 || in.outputs.size() != 1 || passes::sole_consumer(net, in.outputs[0]) != where) {
    return {-1, -1};
  }
  if (w.inputs.size() != 3 || w.outputs.size() != 1 || w.inputs[0] != in.outputs[0] || w.inputs[2] != p) {
    return {-1, -1};
  }
  const Tensor* zero = passes::constant_or_null(net, w.inputs[1]);
  uint32_t bits = 1;
  if (zero && zero->dtype == DataType::kFloat32 && zero->f32.size() == 1) std::memcpy(&bits, &zero->f32[0], 4);
  if (bits != 0) return {-1, -1};  // +0.0 only: the fused guard writes +0
  if (net.tensor(w.outputs[0]).shape != net.tensor(p).shape) return {-1, -1};
  return {isnan, where};
}

}  // namespace

void fuse_attention_softmax(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& sm = net.nodes()[n];
    if (sm.op != "Softmax" || sm.inputs.size() != 1 || sm.outputs.size() != 1 || sm.inputs[0] < 0) continue;
    bool fused_already = false;
    for (const auto& kv : sm.attrs.values()) fused_already |= kv.first.rfind("int8rt_", 0) == 0;
    if (fused_already || sm.attrs.get_int("coerce_2d", 0) != 0) continue;
    const int x = sm.inputs[0];
    const int64_t rank = static_cast<int64_t>(net.tensor(x).shape.size());
    const int64_t axis = sm.attrs.get_int("axis", -1);
    if (rank < 1 || (axis < 0 ? axis + rank : axis) != rank - 1 || net.tensor(x).dtype != DataType::kFloat32) continue;
    // The mask Add, when the Softmax is its only reader.
    int add_id = net.tensor(x).producer, s = x, mask = -1;
    if (add_id >= 0) {
      const Node& add = net.nodes()[add_id];
      if (add.op == "Add" && add.inputs.size() == 2 && add.outputs.size() == 1 && add.inputs[0] >= 0 &&
          add.inputs[1] >= 0 && add.inputs[0] != add.inputs[1] && passes::sole_consumer(net, x) == static_cast<int>(n)) {
        for (int slot = 0; slot < 2 && mask < 0; ++slot) {
          const Tensor& a = net.tensor(add.inputs[slot]);
          const Tensor& b = net.tensor(add.inputs[1 - slot]);
          if (a.dtype == DataType::kFloat32 && b.dtype == DataType::kFloat32 && a.shape == net.tensor(x).shape &&
              b.shape.size() <= a.shape.size()) {
            s = add.inputs[slot];
            mask = add.inputs[1 - slot];
          }
        }
      }
    }
    if (mask < 0) add_id = -1;
    const std::pair<int, int> guard = nan_guard(net, sm.outputs[0]);
    if (mask < 0 && guard.first < 0) continue;
    Node fused;
    fused.name = sm.name;
    fused.op = "Softmax";
    fused.inputs = {s};
    fused.attrs = sm.attrs;
    std::string line = "fused ";
    if (mask >= 0) {
      fused.inputs.push_back(mask);
      fused.attrs.set("int8rt_mask", Attribute::of_int(1));
      line += passes::describe(net.nodes()[add_id]) + ", ";
    }
    line += passes::describe(sm);
    int y = sm.outputs[0];
    if (guard.first >= 0) {
      fused.attrs.set("int8rt_nan_to_zero", Attribute::of_int(1));
      line += " and " + passes::describe(net.nodes()[guard.first]) + " / " + passes::describe(net.nodes()[guard.second]);
      y = net.nodes()[guard.second].outputs[0];
      passes::kill_node(net, guard.first);
      passes::kill_node(net, guard.second);
    }
    line += " into one Softmax";
    const int slot = add_id >= 0 ? add_id : static_cast<int>(n);
    passes::kill_node(net, static_cast<int>(n));
    if (add_id >= 0) passes::kill_node(net, add_id);
    fused.outputs = {y};
    net.nodes()[slot] = fused;
    net.tensor(y).producer = slot;
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
