// fuse_conv_integer_float (passes.h): the float tail that dynamically quantized
// CNNs write after every ConvInteger (ddddocr, quantize_dynamic of a Conv):
//   Y = Mul(Cast<float>(Add(ConvInteger(x, w, zx, zw), bias)), s)
// with bias an int32 vector per output channel (a Reshape to [1, -1, 1, 1] or
// [1, M, 1, 1]) and s one float (the input's DynamicQuantizeLinear scale, a
// one-element constant, or their product), becomes one ConvInteger with
// "int8rt_float_output" = 1 reading bias as input 4 (or none) and s as input
// 5. The layer (engine/ops/conv_integer.cc) adds bias[m] to each int32 sum
// (wrapping, as the int32 Add) and stores float(sum) * s in float32 (the Cast
// then the Mul, each rounded once): the same arithmetic in the product's
// epilogue (kernels/gemm_u8s8.h, GemmU8S8AEpilogue) instead of three layers
// over the output. The fused node takes the Mul's place in the node order,
// so bias and s are computed before it.
#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// One float value whatever the run: a one-element float32 constant of rank <= max_rank, a
// DynamicQuantizeLinear's y_scale (a scalar by the spec), or a Mul of two such (depth 1).
bool is_scalar_float(const Network& net, int id, size_t max_rank, int depth) {
  if (id < 0) return false;
  const Tensor& t = net.tensor(id);
  if (t.is_constant) return t.dtype == DataType::kFloat32 && t.f32.size() == 1 && t.shape.size() <= max_rank;
  if (t.producer < 0) return false;
  const Node& p = net.nodes()[t.producer];
  if (p.op == "DynamicQuantizeLinear") return p.outputs.size() > 1 && p.outputs[1] == id;
  if (p.op == "Mul" && depth == 0 && p.inputs.size() == 2) {
    return is_scalar_float(net, p.inputs[0], max_rank, 1) && is_scalar_float(net, p.inputs[1], max_rank, 1);
  }
  return false;
}

// An int32 value per output channel, shaped [1, M, 1, ...] of the conv's rank: a Reshape to a
// constant shape of that form (the channel -1 or M).
bool is_channel_bias(const Network& net, int id, int64_t M, size_t rank) {
  if (id < 0) return false;
  const Tensor& t = net.tensor(id);
  if (t.producer < 0 || t.is_constant) return false;
  const Node& r = net.nodes()[t.producer];
  if (r.op != "Reshape" || r.inputs.size() < 2 || r.attrs.get_int("allowzero", 0) != 0) return false;
  const Tensor* shape = passes::constant_or_null(net, r.inputs[1]);
  if (!shape || shape->dtype != DataType::kInt64 || shape->i64.size() != rank) return false;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t v = shape->i64[d];
    if (d == 1 ? (v != -1 && v != M) : v != 1) return false;
  }
  return true;
}

}  // namespace

void fuse_conv_integer_float(Network& net, PassReport* report) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& conv = net.nodes()[n];
    if (conv.op != "ConvInteger" || conv.outputs.size() != 1 || conv.inputs.size() < 2 || conv.inputs.size() > 4 ||
        conv.attrs.get_int("int8rt_float_output", 0) != 0) {
      continue;
    }
    const Tensor& w = net.tensor(conv.inputs[1]);
    if (!w.is_constant || (w.shape.size() != 3 && w.shape.size() != 4)) continue;
    const size_t rank = w.shape.size();
    int at = passes::sole_consumer(net, conv.outputs[0]);
    if (at < 0) continue;
    int add_id = -1, bias = -1;
    if (net.nodes()[at].op == "Add" && net.nodes()[at].inputs.size() == 2) {
      const Node& add = net.nodes()[at];
      bias = add.inputs[0] == conv.outputs[0] ? add.inputs[1] : add.inputs[0];
      if (!is_channel_bias(net, bias, w.shape[0], rank)) continue;
      add_id = at;
      at = passes::sole_consumer(net, add.outputs[0]);
      if (at < 0) continue;
    }
    const Node& cast = net.nodes()[at];
    if (cast.op != "Cast" || cast.attrs.get_int("to", -1) != 1 || cast.outputs.size() != 1) continue;
    const int cast_id = at;
    const int mul_id = passes::sole_consumer(net, cast.outputs[0]);
    if (mul_id < 0) continue;
    const Node& mul = net.nodes()[mul_id];
    if (mul.op != "Mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
    const int scale = mul.inputs[0] == cast.outputs[0] ? mul.inputs[1] : mul.inputs[0];
    if (!is_scalar_float(net, scale, rank, 0)) continue;

    Node fused = conv;
    fused.inputs.resize(6, -1);
    fused.inputs[4] = bias;
    fused.inputs[5] = scale;
    fused.attrs.set("int8rt_float_output", Attribute::of_int(1));
    const int y = mul.outputs[0];
    fused.outputs = {y};
    const std::string line = "fused the int32 bias, Cast and Mul after " + passes::describe(conv) +
                             " into its output (" + passes::describe(mul) + ")";
    passes::kill_node(net, static_cast<int>(n));
    if (add_id >= 0) passes::kill_node(net, add_id);
    passes::kill_node(net, cast_id);
    net.nodes()[mul_id] = fused;
    net.tensor(y).producer = mul_id;
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
