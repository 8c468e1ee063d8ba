// INT8 lowering: turns an optimized float network with calibrated scales into
// the network the engine runs, where the layers that pay run in int8.
//
// Which nodes become int8 (TensorRT's choice, "int8 where it pays"):
//   Conv (2-D, constant weights, fused Relu/Clip or none) and Gemm/MatMul with
//   constant weights, when their input and output tensors have scales;
//   MaxPool, AveragePool, GlobalAveragePool, Add (same shapes, optionally
//   followed by Relu) and Concat (channels) when their inputs are already int8.
// A region of element-wise float ops (Add/Mul/Clip/Sigmoid... with scalar
// constants) computing one tensor from one int8 tensor becomes a 256-entry
// table, int8rt.QLut (lut_region.h), when its result has a scale and feeds
// layers that take int8. Mul of an int8 [N, C, H, W] tensor by a computed
// [N, C, 1, 1] gate (squeeze-and-excitation) becomes int8rt.QChannelMul;
// with int8_gates a gate also counts as an int8 reader for tables, so the
// usual hardswish in front of a gate becomes a table too (faster, one more
// rounding: the gate then multiplies int8 x, not float x).
// Everything else stays float32. Int8 activations are NHWC; float ones keep
// the network's NCHW layout; Quantize/Dequantize nodes convert at the
// boundaries, created once per tensor. Every original tensor name keeps its
// float meaning (network outputs included); int8 versions are named
// "<name>::int8".
//
// Lowered ops and their attributes (the contract of csrc/engine/ops/int8/):
//   int8rt.Quantize   [x f32]            scale; rank-4 input is NCHW -> NHWC
//   int8rt.Dequantize [x s8]             scale; rank-4 output is NHWC -> NCHW
//   int8rt.QConv      [x s8 NHWC, w s8 OIHW, bias f32 | -1]
//                     kernel_shape, strides, pads (t,l,b,r), dilations, group,
//                     in_scale, out_scale, w_scales, act ("none"|"relu"|"clip"),
//                     act_min, act_max (float units)
//   int8rt.QGemm      [x s8 [M,K], w s8 [N,K], bias f32 | -1]
//                     in_scale, w_scales, out_scale (0: float32 output), act...
//   int8rt.QMaxPool   [x s8 NHWC] kernel_shape, strides, pads (scale unchanged)
//   int8rt.QAveragePool [x s8 NHWC] kernel_shape, strides, pads,
//                     count_include_pad, in_scale, out_scale
//   int8rt.QGlobalAveragePool [x s8 NHWC] in_scale, out_scale
//   int8rt.QAdd       [a s8, b s8] a_scale, b_scale, out_scale, act
//   int8rt.QConcat    [x s8 ...] in_scales, out_scale (channel axis)
//   int8rt.QLut       [x s8, table s8 [256]] in_scale, out_scale, ops (names)
//   int8rt.QChannelMul [x s8 NHWC, gate f32 [N|1, C, 1, 1]] in_scale, out_scale
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct LoweringOptions {
  std::map<std::string, float> scales;   // tensor name -> scale (amax / 127)
  std::set<std::string> fp32_layers;     // node names kept in float32
  bool pointwise_tables = true;          // element-wise regions as int8rt.QLut
  bool int8_gates = false;               // tables may form in front of channel gates
};

struct LoweringResult {
  Network network;
  std::vector<std::string> report;  // one line per decision worth telling
};

// `net` must carry static shapes (batch -1), e.g. from Executor::annotate_shapes.
LoweringResult lower_int8(const Network& net, const LoweringOptions& options);

}  // namespace engine
}  // namespace int8rt
