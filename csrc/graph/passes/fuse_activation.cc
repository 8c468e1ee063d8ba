// fuse_activation (passes.h): vertical fusion of Conv/Gemm + activation, as
// TensorRT fuses conv+bias+ReLU into one layer. The activation becomes the
// "int8rt_activation" attribute family documented in passes.h and the
// Conv/Gemm writes the activation's output tensor, so the last name of the
// chain survives. Clip bounds follow ONNX: constant inputs 1/2 (opset >= 11,
// either may be omitted) or min/max attributes (opset < 11).
#include <cmath>
#include <limits>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// A scalar float32 constant at `index`: true with *value set; true with
// *present false when the input is omitted; false when not a constant scalar.
bool scalar_input(const Network& net, const Node& node, size_t index, bool* present, float* value) {
  int id = passes::input_at(node, index);
  *present = id >= 0;
  if (id < 0) return true;
  const Tensor* t = passes::constant_or_null(net, id);
  if (!t || t->dtype != DataType::kFloat32 || t->f32.size() != 1) return false;
  *value = t->f32[0];
  return true;
}

// Writes the activation attributes of `act` into `attrs`; false if it cannot fuse.
bool activation_attributes(const Network& net, const Node& act, bool leaky_relu, Attributes* attrs) {
  if (act.outputs.size() != 1) return false;
  if (act.op == "Relu") {
    attrs->set("int8rt_activation", Attribute::of_string("Relu"));
    return true;
  }
  if (act.op == "LeakyRelu" && leaky_relu) {
    attrs->set("int8rt_activation", Attribute::of_string("LeakyRelu"));
    // The standalone layer computes with the float32 alpha; store that value.
    attrs->set("int8rt_leaky_alpha",
               Attribute::of_float(static_cast<float>(act.attrs.get_float("alpha", 0.01))));
    return true;
  }
  if (act.op != "Clip") return false;
  bool has_lo = false, has_hi = false;
  float lo = 0.f, hi = 0.f;
  if (act.inputs.size() > 1) {
    if (!scalar_input(net, act, 1, &has_lo, &lo) || !scalar_input(net, act, 2, &has_hi, &hi)) return false;
  } else {
    has_lo = act.attrs.has("min");
    has_hi = act.attrs.has("max");
    lo = static_cast<float>(act.attrs.get_float("min", 0.0));
    hi = static_cast<float>(act.attrs.get_float("max", 0.0));
  }
  if ((has_lo && std::isnan(lo)) || (has_hi && std::isnan(hi))) return false;
  attrs->set("int8rt_activation", Attribute::of_string("Clip"));
  if (has_lo) attrs->set("int8rt_clip_min", Attribute::of_float(lo));
  if (has_hi) attrs->set("int8rt_clip_max", Attribute::of_float(hi));
  return true;
}

}  // namespace

void fuse_activation(Network& net, PassReport* report, bool leaky_relu) {
  for (size_t n = 0; n < net.nodes().size(); ++n) {
    const Node& p = net.nodes()[n];
    if ((p.op != "Conv" && p.op != "Gemm") || p.outputs.size() != 1) continue;
    if (p.attrs.has("int8rt_activation")) continue;
    int act_id = passes::sole_consumer(net, p.outputs[0]);
    if (act_id < 0) continue;
    const Node& act = net.nodes()[act_id];
    if (passes::input_at(act, 0) != p.outputs[0]) continue;  // e.g. the conv feeds Clip's bound
    Attributes fused;
    if (!activation_attributes(net, act, leaky_relu, &fused)) continue;
    std::string line = "fused " + passes::describe(act) + " into " + passes::describe(p);
    int act_out = act.outputs[0];
    for (const auto& kv : fused.values()) net.nodes()[n].attrs.set(kv.first, kv.second);
    passes::take_over_output(net, static_cast<int>(n), 0, act_out);
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
