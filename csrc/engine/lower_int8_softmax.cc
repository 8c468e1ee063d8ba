// INT8 lowering of a network output's Softmax (lower_int8_lowerer.h, issue
// 14 §2): PP-OCR rec's classifier ends Gemm -> Softmax, and the Softmax
// read a Dequantize of the Gemm's int8 output. When the Softmax's output
// only leaves the network, its rows are contiguous in the logical order
// (the last axis, or coerce_2d) and an int8 layer made its input (no zero
// point, one scale), it becomes int8rt.QSoftmaxFloat, which computes the
// float Softmax of the dequantized codes bit for bit
// (kernels/ref/softmax_s8.h): no Dequantize, no result changed. Otherwise
// the float Softmax stays (the lowering says why through float_reason).
#include <string>

#include "engine/int8_plan_recorder.h"
#include "engine/lower_int8_lowerer.h"
#include "engine/ops/int8/qsoftmax_float.h"

namespace int8rt {
namespace engine {

bool Lowerer::lower_output_softmax(int, const Node& node) {
  if (node.inputs.empty() || !only_network_output(node)) return false;
  const int x = node.inputs[0], y = node.outputs[0];
  if (!made_in_int8(x) || qzero_[x] != 0 || !qchannels_[x].empty() || src_.tensor(y).dtype != DataType::kFloat32) {
    return false;
  }
  const int64_t rank = static_cast<int64_t>(src_.tensor(x).shape.size());
  QSoftmaxFloatAttrs a;
  a.in_scale = qscale_[x];
  a.axis = node.attrs.get_int("axis", -1);
  a.coerce_2d = node.attrs.get_int("coerce_2d", 0) != 0;
  const int64_t axis = a.axis < 0 ? a.axis + rank : a.axis;
  if (rank < 1 || axis < 0 || axis >= rank || (!a.coerce_2d && axis != rank - 1)) return false;
  if (rank == 4 && layout_of(x) != Layout::kLogical) return false;  // NHWC rows are not the logical axis
  const int out = dst_.add_node(QSoftmaxFloatAttrs::kOp, node.name, {int8_id_[x]}, a.to_attrs(),
                                {src_.tensor(y).name})[0];
  dst_.tensor(out).shape = src_.tensor(y).shape;
  float_id_[y] = out;
  plan_.layer(node.name, QSoftmaxFloatAttrs::kOp, {node.name});
  note("Softmax '" + node.name + "' at network output '" + src_.tensor(y).name + "' reads '" + src_.tensor(x).name +
       "' as int8 (one exp per level, the float Softmax's bits; no Dequantize)");
  return true;
}

}  // namespace engine
}  // namespace int8rt
