// merge_data_movement (passes.h): chains of data movement that exporters
// leave behind, merged exactly (the values are only moved, so the result is
// bit-identical):
//   Transpose(p1) -> Transpose(p2), the first read only by the second:
//     one Transpose with perm q[i] = p1[p2[i]], or nothing when q is the
//     identity (the readers read the first's input; pass_util.h: bypass).
//   Reshape(x, s1) -> Reshape(., s2), the first read only by the second, s2
//     a constant without 0 entries (a 0 copies a dim of its input, which
//     would change meaning): Reshape(x, s2).
//   Transpose / Reshape -> Mul or Div by a float scalar constant, the move
//     read only by the product: the product first, then the move (the same
//     multiplications of the same values, in another place). torch scales
//     attention's q and k after splitting the heads; so moved, the
//     Transpose making K^T meets the MatMul reading it (the int8 lowering
//     then reads K as it is, lower_int8_lowerer.h: defer_transposed_operand),
//     and a scale chain gathers where a producer can absorb it.
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

using passes::constant_or_null;
using passes::input_at;

// The perm of a Transpose of rank `rank` (default: reversed dims), or empty.
std::vector<int64_t> perm_of(const Node& node, size_t rank) {
  std::vector<int64_t> p = node.attrs.get_ints("perm", {});
  if (p.empty()) {
    for (size_t d = rank; d-- > 0;) p.push_back(static_cast<int64_t>(d));
  }
  return p.size() == rank ? p : std::vector<int64_t>{};
}

// The first of a pair: the producer of `second`'s data input when `second`
// is its only reader and both are `op`; else -1.
int first_of_pair(const Network& net, int second, const char* op) {
  const Node& node = net.nodes()[second];
  const int x = input_at(node, 0);
  if (node.op != op || x < 0 || net.tensor(x).producer < 0) return -1;
  const int first = net.tensor(x).producer;
  if (net.nodes()[first].op != op || net.nodes()[first].outputs.size() != 1) return -1;
  return passes::sole_consumer(net, x) == second ? first : -1;
}

bool merge_transposes(Network& net, int second, PassReport* report) {
  const int first = first_of_pair(net, second, "Transpose");
  if (first < 0) return false;
  const Node& a = net.nodes()[first];
  const size_t rank = net.tensor(input_at(a, 0)).shape.size();
  const std::vector<int64_t> p1 = perm_of(a, rank), p2 = perm_of(net.nodes()[second], rank);
  if (rank == 0 || p1.empty() || p2.empty()) return false;
  std::vector<int64_t> q(rank);
  bool identity = true;
  for (size_t i = 0; i < rank; ++i) {
    if (p2[i] < 0 || p2[i] >= static_cast<int64_t>(rank)) return false;
    q[i] = p1[p2[i]];
    identity = identity && q[i] == static_cast<int64_t>(i);
  }
  const std::string what = passes::describe(a) + " and " + passes::describe(net.nodes()[second]);
  const int src = input_at(a, 0), dst = net.nodes()[second].outputs[0];
  if (identity) {
    if (passes::bypass(net, src, dst) < 0) return false;
    passes::kill_node(net, second);
    passes::kill_node(net, first);
    if (report) report->add("removed " + what + " (they cancel)");
    return true;
  }
  Node& b = net.nodes()[second];
  b.inputs[0] = src;
  b.attrs.set("perm", Attribute::of_ints(q));
  passes::kill_node(net, first);
  if (report) report->add("merged " + what + " into one Transpose");
  return true;
}

bool merge_reshapes(Network& net, int second, PassReport* report) {
  const int first = first_of_pair(net, second, "Reshape");
  if (first < 0) return false;
  const Tensor* target = constant_or_null(net, input_at(net.nodes()[second], 1));
  if (!target || target->dtype != DataType::kInt64) return false;
  for (int64_t d : target->i64) {
    if (d == 0) return false;
  }
  const std::string what = passes::describe(net.nodes()[first]) + " and " + passes::describe(net.nodes()[second]);
  net.nodes()[second].inputs[0] = input_at(net.nodes()[first], 0);
  passes::kill_node(net, first);
  if (report) report->add("merged " + what + " into one Reshape");
  return true;
}

// The data input's slot of a Mul / Div by a float32 scalar constant of no
// higher rank than its output, or -1.
int scalar_product_slot(const Network& net, const Node& node) {
  if ((node.op != "Mul" && node.op != "Div") || node.inputs.size() != 2 || node.outputs.size() != 1) return -1;
  for (int i = 0; i < (node.op == "Mul" ? 2 : 1); ++i) {
    const Tensor* c = constant_or_null(net, node.inputs[1 - i]);
    const int x = node.inputs[i];
    if (c && c->dtype == DataType::kFloat32 && c->f32.size() == 1 && x >= 0 && !net.tensor(x).is_constant &&
        net.tensor(x).dtype == DataType::kFloat32 && c->shape.size() <= net.tensor(x).shape.size()) {
      return i;
    }
  }
  return -1;
}

bool scalar_product_before_move(Network& net, int product, PassReport* report) {
  const int slot = scalar_product_slot(net, net.nodes()[product]);
  if (slot < 0) return false;
  const int t = net.nodes()[product].inputs[slot];
  const int move = net.tensor(t).producer;
  if (move < 0 || passes::sole_consumer(net, t) != product || passes::is_network_output(net, t)) return false;
  Node& mv = net.nodes()[move];
  if ((mv.op != "Transpose" && mv.op != "Reshape") || mv.outputs.size() != 1) return false;
  const int x = input_at(mv, 0);
  if (x < 0 || net.tensor(x).shape.size() < net.tensor(net.nodes()[product].inputs[1 - slot]).shape.size()) return false;
  Node& p = net.nodes()[product];
  const int y = p.outputs[0];
  // The product reads x and writes t (now x's shape); the move reads t and writes y.
  p.inputs[static_cast<size_t>(slot)] = x;
  p.outputs[0] = t;
  mv.inputs[0] = t;
  mv.outputs[0] = y;
  net.tensor(t).shape = net.tensor(x).shape;
  net.tensor(t).producer = product;
  net.tensor(y).producer = move;
  if (report) report->add("moved " + passes::describe(p) + " before " + passes::describe(mv));
  return true;
}

}  // namespace

void merge_data_movement(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    merge_transposes(net, static_cast<int>(n), report) || merge_reshapes(net, static_cast<int>(n), report);
  }
  // Each move of a product may put it after another move: repeat until none moves.
  for (bool moved = true; moved;) {
    moved = false;
    for (size_t n = 0; n < net.nodes().size(); ++n) moved = scalar_product_before_move(net, static_cast<int>(n), report) || moved;
  }
  net.compact();
}

}  // namespace int8rt
