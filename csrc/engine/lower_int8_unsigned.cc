// Unsigned activations in the INT8 lowering (LoweringOptions::
// unsigned_activations; BuilderConfig::unsigned_activations; why:
// docs/numerics.md): a tensor that is never negative gets 256 levels over
// [0, threshold] instead of symmetric int8's 128, as ONNX Runtime's and
// NNCF's uint8 activations do. It is held as int8 q - 128: zero point
// -128, scale threshold / 255 (quant::unsigned_scale_from_scale of its
// calibrated symmetric scale), the same zero-point arithmetic a
// pre-quantized model's uint8 tensors take (lower_int8_qdq.cc).
//
// A tensor with a calibrated scale is adopted when (1) it is proven
// non-negative: the output of a Conv, Gemm or MatMul whose fused
// activation is Relu or Clip(min >= 0), or of a Concat, AveragePool or
// GlobalAveragePool of non-negative tensors (max pools and data movement of a non-negative
// tensor are too, and carry its form); and (2) every reader takes its zero
// point exactly: a Conv (as input, or as the fused residual; a padded one's
// kernels pad with the zero point, kernels::ConvShape::pad_value), a Gemm /
// MatMul with constant weights (as
// input), an Add, a Concat (QConcatAttrs' zero points), a Shape, a
// float32-kept layer (through a Dequantize carrying the zero point), a
// GlobalAveragePool (its float-table form, lower_global_avgpool), an
// AveragePool (QPoolAttrs' zero points, ref::avgpool_s8), or a
// max pool / data movement op (the byte movers of lower_int8_qdq.cc, as
// data input) whose own outputs' readers do; those outputs carry the same
// scale and zero point. A tensor read by anything else (tables, resize,
// ...) stays symmetric, so no layer without a zero point
// ever sees one.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "engine/lower_int8_lowerer.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {
namespace {

// The byte movers that pass a zero point on (lower_int8_qdq.cc's list, Pad
// aside: its constant is a float value, not the zero point).
bool passes_on(const std::string& op) {
  static const std::set<std::string> kOps = {"MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose",
                                             "Slice", "Split", "Gather", "DepthToSpace", "SpaceToDepth"};
  return kOps.count(op) > 0;
}

// The input positions at which `node` reads t.
std::vector<size_t> positions(const Node& node, int t) {
  std::vector<size_t> at;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == t) at.push_back(i);
  }
  return at;
}

}  // namespace

bool Lowerer::writes_non_negative(const Node& node) {
  if (node.op != "Conv" && node.op != "Gemm" && node.op != "MatMul") return false;
  ActivationAttrs act;
  return fused_activation(node, act) && act.kind != kernels::Activation::kNone && act.min >= 0.0;
}

bool Lowerer::readers_take_zero_point(int t, std::vector<int>* passed, std::string* why) const {
  for (int r : index_.readers(t)) {
    const Node& node = src_.nodes()[r];
    if (opt_.fp32_layers.count(node.name)) continue;  // reads the float value its Dequantize gives
    const std::vector<size_t> at = positions(node, t);
    const auto only = [&](std::initializer_list<size_t> ok) {
      return std::all_of(at.begin(), at.end(), [&](size_t i) { return std::find(ok.begin(), ok.end(), i) != ok.end(); });
    };
    bool takes = false;
    if (node.op == "Conv") {
      takes = only({0, 3});  // input, fused residual (inputs[3])
    } else if (node.op == "Gemm" || node.op == "MatMul") {
      takes = only({0}) && node.inputs.size() > 1 && node.inputs[1] >= 0 && src_.tensor(node.inputs[1]).is_constant;
    } else if (node.op == "Add" || node.op == "Concat" || node.op == "Shape") {
      takes = true;
    } else if (node.op == "GlobalAveragePool") {
      takes = only({0}) && src_.tensor(t).shape.size() == 4;  // through its float table (lower_global_avgpool)
    } else if (node.op == "AveragePool") {
      takes = only({0}) && src_.tensor(t).shape.size() == 4;  // its zero points (lower_pool)
    } else if (passes_on(node.op) && only({0})) {
      takes = true;
      for (int o : node.outputs) {
        if (o < 0) continue;
        passed->push_back(o);
        if (!readers_take_zero_point(o, passed, why)) return false;
      }
    }
    if (!takes) {
      *why = "'" + node.name + "' (" + node.op + ")";
      return false;
    }
  }
  return true;
}

void Lowerer::adopt_unsigned_activations() {
  // Non-negative tensors, in topological order.
  std::vector<char> non_negative(src_.tensors().size(), 0);
  const auto all_non_negative = [&](const std::vector<int>& ids) {
    return !ids.empty() && std::all_of(ids.begin(), ids.end(), [&](int id) { return id >= 0 && non_negative[id]; });
  };
  std::vector<int> roots;  // tensors with a form of their own: written by a Conv / Gemm / MatMul or a Concat
  for (int n : src_.topological_order()) {
    const Node& node = src_.nodes()[n];
    if (node.outputs.empty()) continue;
    bool yes = false, root = true;
    if (writes_non_negative(node)) {
      yes = node.outputs.size() == 1;
    } else if (node.op == "Concat" || node.op == "GlobalAveragePool" || node.op == "AveragePool") {
      yes = node.outputs.size() == 1 && all_non_negative(node.inputs);
    } else if (passes_on(node.op)) {
      yes = !node.inputs.empty() && node.inputs[0] >= 0 && non_negative[node.inputs[0]];
      root = false;
    }
    if (!yes) continue;
    for (int o : node.outputs) {
      if (o >= 0) non_negative[o] = 1;
    }
    if (root) roots.push_back(node.outputs[0]);
  }
  int adopted = 0, kept = 0;
  std::string example;
  for (int t : roots) {
    if (t < 0 || !has_scale(t) || zero_.count(t)) continue;  // no calibrated scale, or a model's own zero point
    std::vector<int> passed;
    std::string why;
    if (!readers_take_zero_point(t, &passed, &why) ||
        std::any_of(passed.begin(), passed.end(), [&](int o) { return zero_.count(o) > 0; })) {
      ++kept;
      if (example.empty()) example = "'" + src_.tensor(t).name + "' is read by " + why;
      continue;
    }
    const float s = quant::unsigned_scale_from_scale(scale(t));
    passed.push_back(t);  // with the outputs of the movers passing it on
    for (int id : passed) {
      scales_[src_.tensor(id).name] = s;
      zero_[id] = quant::kUnsignedZeroPoint;
    }
    ++adopted;
  }
  note("unsigned activations: " + std::to_string(adopted) + " non-negative tensor(s) held with zero point -128 and " +
       "scale threshold / 255" +
       (kept ? "; " + std::to_string(kept) + " kept symmetric, a reader taking no zero point (e.g. " + example + ")"
             : ""));
}

}  // namespace engine
}  // namespace int8rt
