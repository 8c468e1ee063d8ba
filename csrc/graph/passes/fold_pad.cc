// fold_pad (passes.h): a zero Pad of the spatial dimensions in front of a
// Conv becomes the Conv's own padding. Exporters write such Pads for
// asymmetric or "same" padding (torch.onnx for F.pad / ZeroPad2d and
// TF-style "same" convolutions; EfficientNet-Lite exports carry 17); left
// alone, an INT8 engine leaves int8 before every such Conv (Dequantize, a
// float32 Pad, Quantize) and comes back after it.
//
// Exact: a Conv reads a zero where its pads lie, as it reads the Pad's zeros,
// so the folded network computes the same values. (TensorRT and ONNX Runtime's
// graph optimizer fold the same pattern.)
#include <string>
#include <vector>

#include "graph/passes/pass_util.h"

namespace int8rt {
namespace {

// The Pad's per-dimension [begin..., end...] over all `rank` dims, or false
// when it is not a constant-zero Pad with known, non-negative constant pads.
bool zero_pad_amounts(const Network& net, const Node& pad, size_t rank, std::vector<int64_t>* out) {
  if (pad.attrs.get_string("mode", "constant") != "constant" || pad.outputs.size() != 1) return false;
  const Tensor* pads = passes::constant_or_null(net, passes::input_at(pad, 1));
  if (!pads || pads->dtype != DataType::kInt64) return false;
  const Tensor* value = passes::constant_or_null(net, passes::input_at(pad, 2));
  if (passes::input_at(pad, 2) >= 0 && (!value || value->dtype != DataType::kFloat32 || value->f32.size() != 1 ||
                                        value->f32[0] != 0.0f)) {
    return false;
  }
  std::vector<int64_t> axes;
  if (passes::input_at(pad, 3) >= 0) {
    const Tensor* a = passes::constant_or_null(net, passes::input_at(pad, 3));
    if (!a || a->dtype != DataType::kInt64) return false;
    for (int64_t ax : a->i64) axes.push_back(ax < 0 ? ax + static_cast<int64_t>(rank) : ax);
  } else {
    for (size_t d = 0; d < rank; ++d) axes.push_back(static_cast<int64_t>(d));
  }
  if (pads->i64.size() != 2 * axes.size()) return false;
  out->assign(2 * rank, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t ax = axes[i];
    if (ax < 0 || ax >= static_cast<int64_t>(rank)) return false;
    const int64_t begin = pads->i64[i], end = pads->i64[i + axes.size()];
    if (begin < 0 || end < 0) return false;  // cropping is not padding
    (*out)[static_cast<size_t>(ax)] += begin;
    (*out)[static_cast<size_t>(ax) + rank] += end;
  }
  return true;
}

}  // namespace

void fold_pad(Network& net, PassReport* report) {
  for (size_t p = 0; p < net.nodes().size(); ++p) {
    const Node& pad = net.nodes()[p];
    if (pad.op != "Pad" || pad.inputs.empty() || pad.outputs.size() != 1) continue;
    const int conv_id = passes::sole_consumer(net, pad.outputs[0]);
    if (conv_id < 0) continue;
    const Node& conv = net.nodes()[conv_id];
    if (conv.op != "Conv" || conv.inputs.empty() || conv.inputs[0] != pad.outputs[0]) continue;
    if (conv.attrs.get_string("auto_pad", "NOTSET") != "NOTSET") continue;
    const Tensor* w = passes::constant_or_null(net, passes::input_at(conv, 1));
    if (!w || w->shape.size() < 3) continue;
    const size_t rank = w->shape.size(), spatial = rank - 2;
    std::vector<int64_t> amounts;
    if (!zero_pad_amounts(net, pad, rank, &amounts)) continue;
    // Batch and channel padding change the Conv's input channels: not foldable.
    if (amounts[0] || amounts[1] || amounts[rank] || amounts[rank + 1]) continue;
    std::vector<int64_t> pads = conv.attrs.get_ints("pads", std::vector<int64_t>(2 * spatial, 0));
    if (pads.size() != 2 * spatial) continue;
    for (size_t d = 0; d < spatial; ++d) {
      pads[d] += amounts[2 + d];
      pads[d + spatial] += amounts[rank + 2 + d];
    }
    const std::string line = "folded " + passes::describe(pad) + " into the padding of " + passes::describe(conv);
    const int data = pad.inputs[0];
    Node& target = net.nodes()[static_cast<size_t>(conv_id)];
    target.attrs.set("pads", Attribute::of_ints(pads));
    target.inputs[0] = data;
    passes::kill_node(net, static_cast<int>(p));
    if (report) report->add(line);
  }
  net.compact();
}

}  // namespace int8rt
