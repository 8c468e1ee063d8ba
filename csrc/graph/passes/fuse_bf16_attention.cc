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
//
// Then the heads' moves (BERT-class exports): when q is Transpose(x, perm
// [0, 2, 1, 3]) of a 4-D x [B, S, H, D], kt Transpose(k, [0, 2, 3, 1]) of
// k [B, N, H, D] and v Transpose(w, [0, 2, 1, 3]) of w [B, N, H, Dv], each
// optionally followed (or preceded, before the heads' Reshape as well: see
// pre_scale) by a Mul by a float32 scalar constant (the exports' q * d^-1/4
// and kt * d^-1/4), every intermediate read by that chain alone,
// the node reads x, k and w in place (attribute int8rt_heads = 1) and
// applies the scalars itself (int8rt_q_scale / _k_scale / _v_scale): the
// Transposes only move values and the Muls are the same one float multiply
// per value (Mul by a scalar commutes with a move), so the layer sees the
// values it saw before and the bits are unchanged; the Transposes and Muls
// no longer run, nor write q, kt and v to memory (RESULTS.md section 220).
// A Shape reading a moved tensor (BERT's q) is the one other reader allowed:
// it reads the unmoved tensor and its Gathers pick the permuted index
// (ShapeFix).
#include <algorithm>

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

// A Shape reader of a moved tensor (q's Transpose output also feeds Shape ->
// Gather in BERT's export): a Shape without start / end whose every reader
// is a Gather on axis 0 with constant int64 indices. Rewritten, it reads the
// unmoved tensor and each Gather picks perm[i] instead of i: the same values.
struct ShapeFix {
  int shape = -1;
  std::vector<int> gathers;
};

// The readers of `t` other than node `next`, all Shape readers as above, into
// *fixes; false when `t` has another reader or is a network output.
bool readers_ok(const Network& net, int t, int next, std::vector<ShapeFix>* fixes) {
  if (passes::is_network_output(net, t)) return false;
  bool seen_next = false;
  for (int r : net.consumers(t)) {
    const Node& n = net.nodes()[r];
    if (r == next && !seen_next && std::count(n.inputs.begin(), n.inputs.end(), t) == 1) {
      seen_next = true;
      continue;
    }
    if (n.op != "Shape" || n.inputs.size() != 1 || n.outputs.size() != 1 || n.attrs.has("start") ||
        n.attrs.has("end") || passes::is_network_output(net, n.outputs[0])) {
      return false;
    }
    ShapeFix f{r, net.consumers(n.outputs[0])};
    for (int g : f.gathers) {
      const Node& gn = net.nodes()[g];
      const Tensor* idx = passes::constant_or_null(net, passes::input_at(gn, 1));
      if (gn.op != "Gather" || gn.inputs.size() != 2 || gn.inputs[0] != n.outputs[0] ||
          gn.attrs.get_int("axis", 0) != 0 || !idx || idx->dtype != DataType::kInt64 || idx->i64.empty()) {
        return false;
      }
      for (int64_t i : idx->i64) {
        if (i < -4 || i >= 4) return false;
      }
    }
    fixes->push_back(f);
  }
  return seen_next;
}

// Applies the fixes of a Transpose of `x` by `perm` (readers_ok's).
void fix_shapes(Network& net, int x, const std::vector<int64_t>& perm, const std::vector<ShapeFix>& fixes) {
  for (const ShapeFix& f : fixes) {
    net.nodes()[f.shape].inputs[0] = x;
    for (int g : f.gathers) {
      const Tensor& idx = net.tensor(net.nodes()[g].inputs[1]);
      std::vector<int64_t> moved;
      for (int64_t i : idx.i64) moved.push_back(perm[static_cast<size_t>(i < 0 ? i + 4 : i)]);
      const std::vector<int64_t> shape = idx.shape;
      const std::string name = passes::fresh_name(net, net.nodes()[g].name + "_heads_index");
      net.nodes()[g].inputs[1] = net.add_constant_i64(name, shape, moved);
    }
  }
}

// A chain feeding input `slot` of attention node `a`: the 4-D tensor whose
// Transpose by `perm` (then a scalar Mul, optionally) the input is, each step
// read only by the next (the Transpose's output also by Shapes, see ShapeFix):
// its id, the scalar in *scale and *has_scale; -1 when it is not such a chain.
struct HeadsChain {
  int x = -1;
  float scale = 1.f;
  bool has_scale = false;
  std::vector<int> dead;  // the Transpose and the Mul
  std::vector<ShapeFix> fixes;
  int reshape = -1, reshape_input = -1;  // a Reshape reading the Mul's operand once the Mul is gone
};
// A scalar Mul before the Transpose (other passes move scalar Muls toward
// the graph's inputs: BERT's k * d^-1/4 ends up on the key Linear's output,
// before the heads' Reshape): Mul -> Transpose node `tr`, or Mul -> Reshape ->
// Transpose, each tensor read by the next alone. Then the Mul goes too: the
// Transpose's input x is the Mul's operand (or the Reshape, a view, reads it)
// and the layer multiplies, the same one multiply per value.
void pre_scale(const Network& net, int tr, HeadsChain* c) {
  int t = c->x, reshape = -1;
  int p = net.tensor(t).producer;
  if (p >= 0 && net.nodes()[p].op == "Reshape" && passes::sole_consumer(net, t) == tr) {
    reshape = p;
    t = net.nodes()[p].inputs[0];
    p = t >= 0 ? net.tensor(t).producer : -1;
  }
  if (p < 0 || passes::sole_consumer(net, t) != (reshape >= 0 ? reshape : tr)) return;
  const Node& m = net.nodes()[p];
  int other = -1;
  float s = 1.f;
  if (m.op != "Mul" || !m.attrs.values().empty() || !passes::scalar_and_other(net, m, &s, &other) ||
      net.tensor(other).is_constant || net.tensor(other).shape.size() != net.tensor(t).shape.size() ||
      net.tensor(other).dtype != DataType::kFloat32) {
    return;
  }
  c->scale = s;
  c->has_scale = true;
  c->dead.push_back(p);
  if (reshape >= 0) {
    c->reshape = reshape;
    c->reshape_input = other;
  } else {
    c->x = other;
  }
}

HeadsChain moved_heads(const Network& net, int a, int slot, const std::vector<int64_t>& perm) {
  HeadsChain c;
  int t = net.nodes()[a].inputs[slot], reader = a;
  int p = t >= 0 ? net.tensor(t).producer : -1;
  if (p < 0 || !readers_ok(net, t, a, &c.fixes) || !c.fixes.empty()) return {};
  const Node* n = &net.nodes()[p];
  int other = -1;
  if (n->op == "Mul") {
    if (!n->attrs.values().empty() || !passes::scalar_and_other(net, *n, &c.scale, &other) ||
        net.tensor(t).shape.size() != 4 || net.tensor(other).shape.size() != 4 || net.tensor(other).is_constant) {
      return {};
    }
    c.has_scale = true;
    c.dead.push_back(p);
    reader = p;
    t = other;
    p = net.tensor(t).producer;
    if (p < 0) return {};
    n = &net.nodes()[p];
  }
  if (n->op != "Transpose" || n->inputs.size() != 1 || n->outputs.size() != 1 || n->inputs[0] < 0 ||
      n->attrs.get_ints("perm", {}) != perm || net.tensor(n->inputs[0]).shape.size() != 4 ||
      net.tensor(n->inputs[0]).dtype != DataType::kFloat32 || !readers_ok(net, t, reader, &c.fixes)) {
    return {};
  }
  c.dead.push_back(p);
  c.x = n->inputs[0];
  if (!c.has_scale) pre_scale(net, p, &c);
  return c;
}

// The heads' moves folded into attention node `a` (the comment above), or nothing.
void fold_heads(Network& net, int a, PassReport* report) {
  const std::vector<int64_t> split{0, 2, 1, 3}, keys{0, 2, 3, 1};
  const HeadsChain q = moved_heads(net, a, 0, split), k = moved_heads(net, a, 1, keys),
                   v = moved_heads(net, a, 2, split);
  if (q.x < 0 || k.x < 0 || v.x < 0) return;
  Node& att = net.nodes()[a];
  att.inputs[0] = q.x;
  att.inputs[1] = k.x;
  att.inputs[2] = v.x;
  att.attrs.set("int8rt_heads", Attribute::of_int(1));
  const char* keys_of[] = {"int8rt_q_scale", "int8rt_k_scale", "int8rt_v_scale"};
  size_t folded = 0;
  int i = 0;
  for (const HeadsChain* c : {&q, &k, &v}) {
    if (c->has_scale) net.nodes()[a].attrs.set(keys_of[i], Attribute::of_float(c->scale));
    fix_shapes(net, c->x, i == 1 ? keys : split, c->fixes);
    if (c->reshape >= 0) net.nodes()[c->reshape].inputs[0] = c->reshape_input;
    for (int d : c->dead) passes::kill_node(net, d);
    folded += c->dead.size();
    ++i;
  }
  if (report) {
    report->add("folded " + std::to_string(folded) + " head Transposes / scalar Muls into int8rt.Bf16Attention " +
                net.nodes()[a].name);
  }
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
    fold_heads(net, pv_id, report);
  }
  net.compact();
}

}  // namespace int8rt
