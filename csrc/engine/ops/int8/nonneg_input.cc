// Non-negative int8 tensors of a lowered network (nonneg_input.h): the rules
// of that header, one per kind of writer.
#include "engine/ops/int8/nonneg_input.h"

#include <vector>

#include "engine/ops/int8/contracts.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {
namespace {

// Whether the int8 epilogue of a QConv / QGemm clamps every output channel
// at a lower bound >= 0 (kernels::int8_clamp_bounds with the floats
// qlinear_params hands make_epilogue). A float output (QGemm's out_scale 0): false.
bool clamps_at_nonneg(const QLinearAttrs& q) {
  std::vector<double> s_out = q.out_scales;
  if (s_out.empty()) s_out.push_back(q.out_scale);
  for (double s : s_out) {
    if (!(s > 0.0)) return false;
    float lo = 0.f, hi = 0.f;
    kernels::int8_clamp_bounds(q.act.kind, static_cast<float>(q.act.min), static_cast<float>(q.act.max),
                               static_cast<float>(s), static_cast<int32_t>(q.out_zero_point), &lo, &hi);
    if (!(lo >= 0.f)) return false;
  }
  return true;
}

}  // namespace

bool int8_tensor_nonneg(const Network& net, int id) {
  // Byte movers pass the question on to their input: follow them (a chain
  // of them is short; the bound only guards a malformed file's cycle).
  for (int hops = 0; hops < 64 && id >= 0; ++hops) {
    const Tensor& t = net.tensor(id);
    if (t.dtype != DataType::kInt8 || t.producer < 0) return false;
    const Node& node = net.nodes()[static_cast<size_t>(t.producer)];
    if (node.op == QConvAttrs::kOp) return clamps_at_nonneg(QConvAttrs::from_attrs(node));
    if (node.op == QGemmAttrs::kOp) return clamps_at_nonneg(QGemmAttrs::from_attrs(node));
    if (node.op == "int8rt.Int8ImageChain") {  // its output is its body's (engine/int8_image_chain.h)
      const Network* body = node.attrs.get_graph("body");
      return body && body->outputs().size() == 1 && int8_tensor_nonneg(*body, body->outputs()[0]);
    }
    if (node.op == QAddAttrs::kOp) {
      const QAddAttrs a = QAddAttrs::from_attrs(node);
      return a.relu && a.out_zero_point >= 0;
    }
    const bool mover = node.op == QPoolAttrs::kMaxOp || node.op == QFlattenAttrs::kOp ||
                       (!QMoveOps::source(node.op).empty() && QMoveOps::source(node.op) != "Pad");
    if (!mover || node.inputs.empty()) return false;
    id = node.inputs[0];
  }
  return false;
}

}  // namespace engine
}  // namespace int8rt
