// A PRelu folded into the int8 epilogue of the Conv it reads (Lowerer::
// fused_prelu; the layer: engine/ops/int8/qconv_prelu.cc).
//
// Without it a Conv -> PRelu (MTCNN's every stage) runs QConv -> Dequantize
// -> PRelu (float32) -> Quantize: a per-channel slope is no scalar constant,
// so it is no element-wise table (lut_region.h), and the conv's output is
// rounded to int8 before the activation, its wide negative side on a
// symmetric grid. Fake quantization of facenet-pytorch's MTCNN put most of
// the INT8 error there (benchmarks/prelu12_fakequant.py; RESULTS_accuracy.md
// acc50): PNet's relative L2 0.052 -> 0.033 with that tensor left unrounded.
// Folded, the epilogue computes t = acc * scale[k] + bias[k] (+ residual),
// t = t < 0 ? t * slope[k] : t in the PRelu output's units (PReLU commutes
// with the positive scale 1 / s_out), and rounds once at the PRelu output's
// calibrated scale (kernels::Epilogue::slope, ref/requantize.h).
//
// Folded when the Conv's output is read by that PRelu alone (not a network
// output), the slope is a float32 constant with one value per output channel
// broadcast on axis 1 ([K, 1, 1], [1, K, 1, 1]; a one-value slope stays an
// element-wise table, as LeakyRelu does), the Conv has no other fused
// activation, the input's height and width are static, and the PRelu's
// output has a calibrated per-tensor scale. Its output may have a zero
// point (a lower bound from calibration, lower_int8_zero_points.cc's
// prelu_lower_bound): the epilogue adds it after the slope
// (kernels::Epilogue::slope_offset). A PRelu kept in float32
// (LoweringOptions::fp32_layers) is not folded.
#include <vector>

#include "engine/lower_int8_lowerer.h"

namespace int8rt {
namespace engine {

int Lowerer::fused_prelu(const Node& conv, std::vector<double>* slopes) const {
  if (conv.op != "Conv" || conv.outputs.size() != 1 || conv.inputs.size() < 2) return -1;
  const int y = conv.outputs[0];
  if (y < 0 || index_.is_output(y) || index_.readers(y).size() != 1) return -1;
  const int p = index_.readers(y)[0];
  const Node& prelu = src_.nodes()[p];
  if (prelu.op != "PRelu" || opt_.fp32_layers.count(prelu.name) || prelu.inputs.size() != 2 ||
      prelu.inputs[0] != y || prelu.inputs[1] < 0 || prelu.outputs.size() != 1 || prelu.outputs[0] < 0) {
    return -1;
  }
  const Tensor& w = src_.tensor(conv.inputs[1]);
  const Tensor& slope = src_.tensor(prelu.inputs[1]);
  const Tensor& x = src_.tensor(conv.inputs[0]);
  if (w.shape.size() != 4 || x.shape.size() != 4 || x.shape[2] <= 0 || x.shape[3] <= 0) return -1;
  const int64_t K = w.shape[0];
  if (!slope.is_constant || slope.dtype != DataType::kFloat32 || K < 2 || slope.num_elements() != K ||
      static_cast<int64_t>(slope.f32.size()) != K || slope.shape.size() > 4) {
    return -1;
  }
  // Right-aligned against NCHW: K on axis 1, 1 elsewhere.
  const size_t lead = 4 - slope.shape.size();
  for (size_t i = 0; i < slope.shape.size(); ++i) {
    if (slope.shape[i] != (lead + i == 1 ? K : 1)) return -1;
  }
  const int z = prelu.outputs[0];
  ActivationAttrs act;
  if (!fused_activation(conv, act) || act.kind != kernels::Activation::kNone) return -1;
  if (!has_scale(z) || has_channel_scales(z) || has_channel_scales(y)) return -1;
  slopes->assign(slope.f32.begin(), slope.f32.end());
  return p;
}

}  // namespace engine
}  // namespace int8rt
