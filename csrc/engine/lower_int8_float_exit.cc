// A float island's exit written by its last float layer: a float32-kept
// Conv (a mixed engine's, with its fused chain, lower_int8.cc) whose output
// only int8 convs read writes that output as int8 NHWC itself
// (int8rt_output_scale / int8rt_output_zero_point, engine/ops/conv_f32.cc)
// instead of a float tensor and an int8rt.Quantize after it. It is the
// Quantize's own arithmetic (ops/int8/quantize_rule.h) at the grid the
// Quantize would have taken (get_int8 for a conv reader: the tensor's scale
// and zero point, NHWC), so the int8 readers see the same bytes; the int8
// plan still records the conversion (`<tensor>::quantize`), now done inside
// the conv.
#include "engine/lower_int8_lowerer.h"

namespace int8rt {
namespace engine {

bool Lowerer::conv_writes_int8(const Node& node) {
  if (node.op != "Conv" || node.outputs.size() != 1 || node.outputs[0] < 0 || node.inputs.size() < 2 ||
      node.inputs[0] < 0 || node.inputs[1] < 0) {
    return false;
  }
  const int y = node.outputs[0];
  const std::vector<int64_t>& ys = src_.tensor(y).shape;
  const std::vector<int64_t>& xs = src_.tensor(node.inputs[0]).shape;
  // 2-D, of known rank, not a kh x 1 kernel over one-pixel-wide images (the
  // layer runs those as their row twin, conv_f32.cc's is_column_conv)
  if (ys.size() != 4 || xs.size() != 4 || src_.tensor(node.inputs[1]).shape.size() != 4 || xs[3] == 1) return false;
  if (ys[1] <= 0) return false;  // the channels known (the batch and the plane may be symbolic)
  if (index_.is_output(y) || !scales_.count(src_.tensor(y).name) || has_channel_scales(y)) return false;
  if (!(scale(y) > 0.f)) return false;  // the layer's own condition (conv_f32.cc): no grid to write on
  const std::vector<int>& readers = index_.readers(y);
  if (readers.empty()) return false;
  for (int c : readers) {  // int8 convs only: each asks int8_in(y, NHWC) at y's own scale (lower_conv)
    const Node& r = src_.nodes()[c];
    if (r.op != "Conv" || opt_.fp32_layers.count(r.name) || !reads_int8(r, y)) return false;
    // lower_conv's first conditions, so that no reader declines and then reads y dequantized
    const Tensor& w = src_.tensor(r.inputs.size() > 1 && r.inputs[1] >= 0 ? r.inputs[1] : r.inputs[0]);
    ActivationAttrs act;
    if (r.outputs.size() != 1 || r.inputs.size() < 2 || !w.is_constant || w.dtype != DataType::kFloat32 ||
        w.shape.size() != 4 || !has_scale(r.outputs[0]) || !fused_activation(r, act)) {
      return false;
    }
  }
  return true;
}

void Lowerer::emit_conv_to_int8(const Node& node, const std::vector<int>& ins, Attributes attrs) {
  const int y = node.outputs[0];
  const Tensor& t = src_.tensor(y);
  const float s = scale(y);
  const int32_t z = zero_point_of(y);
  attrs.set("int8rt_output_scale", Attribute::of_float(s));
  attrs.set("int8rt_output_zero_point", Attribute::of_int(z));
  const int out = dst_.add_node(node.op, node.name, ins, std::move(attrs), {int8_tensor_name(t.name)})[0];
  set_int8(out, t.shape, Layout::kNhwc);
  qscale_[y] = s;
  qzero_[y] = z;
  nhwc_[y] = true;
  const std::string convert = t.name + "::quantize";
  record_int8_tensor(y, out, convert, /*in_int8=*/false);
  plan_.convert(out, convert, ConvertAttrs::kQuantizeOp, t.name, s);
  int8_id_[y] = out;
  note("layer '" + node.name + "' (Conv, float) writes '" + t.name +
       "' as int8 for its int8 readers (no Quantize layer)");
}

}  // namespace engine
}  // namespace int8rt
