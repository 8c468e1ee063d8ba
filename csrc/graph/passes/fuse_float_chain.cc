// fuse_float_chain (passes.h): a chain of element-wise float32 ops with
// scalar constants after a Conv becomes the Conv's "Chain" activation, run
// on the output while it is in cache instead of one pass over memory per op.
// The case that asked for it: paddle2onnx spells hardswish as Add(z, 3),
// Clip(0, 6), Mul(z, .), Div(., 6), then a learnable affine Mul(w), Add(b)
// (PP-OCRv4 rec: six float layers after each conv, and in a mixed-precision
// engine 31 ms of its 79 ms, RESULTS_accuracy.md acc37). A HardSwish op is
// fuse_swish's, Relu / Clip alone fuse_activation's; this rule takes what
// they leave. Exact: each step is the unfused layer's operation in the
// graph's order - Add / Sub / Mul / Div on the binary_f32 kernel family with
// the operands in the node's order, Clip and Relu by the unary layers'
// formulas (engine/ops/op_util.h) - so the fused conv writes the bits the
// unfused layers wrote (tests/test_float_chain.py compares with ==).
// Steps (contract in passes.h): each node reads the running value t, and
// may read the conv's output z and one scalar float32 constant; every
// intermediate tensor has that one reader and is no network output; every
// reader of z is in the chain (the chain is cut back to the longest prefix
// for which that holds). Conv only, float32 output, no activation yet.
// Used by FP32 engines (builder) and by the INT8 lowering on the convs a
// mixed-precision engine keeps in float (lower_int8.cc).
#include <cmath>
#include <limits>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// Clip's omitted bounds: ONNX's defaults, the float32 range's ends (as the Clip layer, unary_f32.cc).
constexpr double kFloatMax = std::numeric_limits<float>::max();

// A one-element float32 constant's value, or false; of rank at most
// `max_rank` (the conv output's: a [1, 1, 1, 1, 1] constant would broadcast
// a 2-D conv's output to rank 5, which the fused conv does not write).
bool scalar(const Network& net, int id, size_t max_rank, float* v) {
  const Tensor* t = passes::constant_or_null(net, id);
  if (!t || t->dtype != DataType::kFloat32 || t->f32.size() != 1 || t->shape.size() > max_rank) return false;
  *v = t->f32[0];
  return true;
}

struct Step {
  int node = -1;
  std::string code;            // "Add:tc", "Clip", "Relu", ...
  std::vector<double> values;  // Clip: lo, hi; a binary op with a constant: that constant
};

// `node` as a step on the running value t (and z, the conv's output), or false.
bool as_step(const Network& net, int id, int t, int z, Step* s) {
  const Node& node = net.nodes()[id];
  if (node.outputs.size() != 1 || net.tensor(node.outputs[0]).dtype != DataType::kFloat32) return false;
  s->node = id;
  s->values.clear();
  const size_t rank = net.tensor(z).shape.size();
  if ((node.op == "Relu" || node.op == "Clip") && passes::input_at(node, 0) != t) return false;
  if (node.op == "Relu" && node.inputs.size() == 1) {
    s->code = "Relu";
    return true;
  }
  if (node.op == "Clip" && node.inputs.size() <= 3) {
    // The Clip layer's bounds (engine/ops/unary_f32.cc): the constant input, else the attribute, else ONNX's default.
    double lo = static_cast<float>(node.attrs.get_float("min", -kFloatMax));
    double hi = static_cast<float>(node.attrs.get_float("max", kFloatMax));
    float v = 0.f;
    for (size_t i = 1; i < node.inputs.size() && i < 3; ++i) {
      if (node.inputs[i] < 0) continue;
      if (!scalar(net, node.inputs[i], rank, &v) || std::isnan(v)) return false;
      (i == 1 ? lo : hi) = v;
    }
    s->code = "Clip";
    s->values = {lo, hi};
    return true;
  }
  if ((node.op != "Add" && node.op != "Sub" && node.op != "Mul" && node.op != "Div") || node.inputs.size() != 2) {
    return false;
  }
  std::string operands;
  for (int in : node.inputs) {
    float v = 0.f;
    if (in == t) {
      operands += 't';
    } else if (in == z) {
      operands += 'z';
    } else if (scalar(net, in, rank, &v)) {
      operands += 'c';
      s->values.push_back(v);
    } else {
      return false;
    }
  }
  if (operands.find('t') == std::string::npos) return false;
  s->code = node.op + ":" + operands;
  return true;
}

// Whether every reader of z is among steps[0..k).
bool holds_z_readers(const Network& net, int z, const std::vector<Step>& steps, size_t k) {
  for (int r : net.consumers(z)) {
    bool in = false;
    for (size_t i = 0; i < k && !in; ++i) in = steps[i].node == r;
    if (!in) return false;
  }
  return true;
}

}  // namespace

void fuse_float_chain(Network& net, PassReport* report, const std::set<std::string>* only) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& conv = net.nodes()[n];
    if (conv.op != "Conv" || conv.outputs.size() != 1 || conv.attrs.has("int8rt_activation")) continue;
    if (only && !only->count(conv.name)) continue;
    const int z = conv.outputs[0];
    if (net.tensor(z).dtype != DataType::kFloat32 || passes::is_network_output(net, z)) continue;
    std::vector<Step> steps;
    int t = z;
    while (true) {
      const std::vector<int> readers = net.consumers(t);
      if (t != z && (readers.size() != 1 || passes::is_network_output(net, t))) break;
      Step s;
      int found = 0;
      for (int r : readers) {
        Step c;
        if (as_step(net, r, t, z, &c)) {
          s = c;
          ++found;
        }
      }
      if (found != 1) break;
      steps.push_back(s);
      t = net.nodes()[s.node].outputs[0];
    }
    size_t k = steps.size();
    while (k > 0 && !holds_z_readers(net, z, steps, k)) --k;
    if (k == 0) continue;
    steps.resize(k);
    std::string code, line = "fused";
    std::vector<double> values;
    std::vector<std::string> merged;
    for (const Step& s : steps) {
      code += (code.empty() ? "" : ";") + s.code;
      values.insert(values.end(), s.values.begin(), s.values.end());
      line += (s.node == steps.front().node ? " " : ", ") + passes::describe(net.nodes()[s.node]);
      merged.push_back(net.nodes()[s.node].name);
    }
    line += " (a float chain) into " + passes::describe(conv);
    const int y = net.nodes()[steps.back().node].outputs[0];
    for (size_t i = 0; i + 1 < k; ++i) passes::kill_node(net, steps[i].node);
    Node& fused = net.nodes()[n];
    fused.attrs.set("int8rt_activation", Attribute::of_string("Chain"));
    fused.attrs.set("int8rt_chain", Attribute::of_string(code));
    fused.attrs.set("int8rt_chain_values", Attribute::of_floats(values));
    if (report) {
      std::vector<std::string>& m = report->merged_nodes[fused.name];
      if (m.empty()) m.push_back(fused.name);
      m.insert(m.end(), merged.begin(), merged.end());
      report->add(line);
    }
    passes::take_over_output(net, static_cast<int>(n), 0, y);  // kills the last step
  }
  net.compact();
}

}  // namespace int8rt
