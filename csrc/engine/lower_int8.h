// INT8 lowering: turns an optimized float network with calibrated scales into
// the network the engine runs, where the layers that pay run in int8.
//
// Which nodes become int8 (TensorRT's choice, "int8 where it pays"):
//   Conv (2-D, constant weights, fused Relu/Clip or none) and Gemm/MatMul with
//   constant weights on inputs of any rank >= 2, and ConvTranspose (2-D:
//   the importer lifts 1-D; explicit pads, a following Relu folded into its
//   epilogue), when their input and output tensors have scales (a MatMul's
//   following Add / Mul of a constant vector, the exporter's Linear bias and
//   layer scale, fold into the int8 GEMM); MatMul of two activations
//   (attention) with per-tensor scales for both operands (int8_matmul_pairs);
//   MaxPool, AveragePool, GlobalAveragePool, Add (same shapes, optionally
//   followed by Relu) and Concat (any axis) when their inputs are already int8;
//   data movement (Transpose, Slice, Split, Pad, Reshape, Flatten, Squeeze,
//   Unsqueeze, DepthToSpace, SpaceToDepth; lower_int8_moves.h) on an int8
//   input, at that input's scale, with no Quantize / Dequantize around it.
// A region of element-wise float ops (Add/Mul/Clip/Sigmoid... with scalar
// constants) computing one tensor from one int8 tensor becomes a 256-entry
// table, int8rt.QLut (lut_region.h), when its result has a scale and feeds
// layers that take int8 (through data movement that feeds them, too). Mul of an int8 [N, C, H, W] tensor by a computed
// [N, C, 1, 1] gate (squeeze-and-excitation) becomes int8rt.QChannelMul;
// with int8_gates a gate also counts as an int8 reader for tables, so the
// usual hardswish / swish in front of a gate becomes a table too, and the
// gate reads the table's int8 input through the region's 256 float values
// (QChannelMul's table input): the gated path computes exactly what the
// float Mul and Quantize would; the squeeze (pool) path reads the table's
// rounded output. The gate itself (HardSigmoid / Sigmoid on [N, C, 1, 1],
// read only by channel gates) emits no layer: QChannelMul reads the int8
// excitation conv's codes and the gate region's 256 float values, and a
// region whose output only leaves the network (an output Sigmoid) becomes
// int8rt.QLutFloat, int8 in and its float values out (lower_int8_gates.cc);
// both give the float path's bytes with no Dequantize or float layer.
// An If stays a float32 node; each of its branches that calibration
// measured (scales named under branch_scope, ops/control_flow.h) is lowered
// as a network of its own, float32 at the boundary, and its plan joins this
// one under its scope (lower_int8_branches.cc). Loop and Scan bodies stay
// float32.
// A LayerNormalization stays float32 inside but reads an int8 input and
// writes its int8 form itself where int8 layers are on either side
// (lower_int8_layernorm.cc), with the Quantize / Dequantize kernels.
// A tensor calibrated to exactly 0 (scale 0) is held at a nominal scale and
// named in a report warning (lower_int8_zero_range.h); a layer whose tensor
// has no usable scale (absent, negative, NaN) stays float32.
// Everything else stays float32. Rank-4 int8 activations are NHWC where
// convolutions, pools, gates and resizes make or read them, and in their
// logical order where MatMuls do (converted once per tensor between the two
// by an int8 transpose; Quantize / Dequantize carry `logical`); float ones
// keep the network's layout; Quantize/Dequantize nodes convert at the
// boundaries, created once per tensor. Every original tensor name keeps its
// float meaning (network outputs included); int8 versions are named
// "<name>::int8".
//
// Lowered ops: int8rt.Quantize / Dequantize, QConv, QConvTranspose, QGemm, QMatMul, QMaxPool,
// QAveragePool, QGlobalAveragePool, QAdd, QConcat, QFlatten, QLut, QLutFloat,
// QChannelMul, QResizeNearest, QResizeLinear and the data-movement ops
// QTranspose, QSlice, QSplit, QPad, QReshape, QSqueeze, QUnsqueeze,
// QDepthToSpace, QSpaceToDepth (a Shape of an int8 tensor reads the int8
// tensor, its dims gathered back into NCHW order); their inputs and attributes are the typed contracts of
// engine/ops/int8/contracts.h (the only place the attribute keys are
// spelled). Each source op with an int8 form has one lowering function in
// the Lowerer's table (lowerings()). What was decided is returned as data,
// the int8 plan (int8rt/int8_plan.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "graph/passes/passes.h"
#include "int8rt/int8_plan.h"
#include "int8rt/network.h"

namespace int8rt {
namespace engine {

struct LoweringOptions {
  std::map<std::string, float> scales;   // tensor name -> scale (amax / 127)
  std::set<std::string> fp32_layers;     // node names kept in float32
  bool pointwise_tables = true;          // element-wise regions as int8rt.QLut
  bool int8_gates = true;                // gates and pools may read a chain's int8 input (lower_lut)
  bool gate_regions = true;              // with int8_gates: gate / output regions read through their float
                                         // values (lower_int8_gates.cc); the CUDA runner has no such kernels
  bool int8_matmul_pairs = true;         // MatMul of two activations as int8rt.QMatMul
  bool unsigned_activations = false;     // non-negative tensors unsigned (lower_int8_zero_points.cc)
  bool asymmetric_activations = false;   // table outputs in [lo < 0, T] over 256 levels (same file)
                                         // (either: QAttention's probabilities unsigned, lower_attention)
  // Tensor name -> max |x| per channel (axis 1) over the calibration data
  // (Builder::channel_ranges): tensors whose channels spread widely may get
  // one scale per channel (lower_int8_channel_grids.cc). Empty: per tensor.
  std::map<std::string, std::vector<float>> channel_ranges;
  // Node name -> the nodes a graph pass merged into it (PassReport::merged_nodes),
  // for the plan's layer sources.
  std::map<std::string, std::vector<std::string>> merged_nodes;
  // Weight name -> a pre-quantized model's own weight scales (PassReport::weight_scales).
  std::map<std::string, PassReport::WeightScales> weight_scales;
  // Tensor name -> the fewest elements on its last axis in any calibration
  // batch (Builder::calibration_keys): attention probabilities on a dynamic
  // key axis get a grid that follows the key count below it
  // (engine/ops/int8/probs_keys.h); sharded calibration merges the
  // workers', a cache's sidecar carries them. Empty (a build from a cache
  // without its sidecar): the calibrated grid at every length, and the
  // report warns.
  std::map<std::string, int64_t> calibrated_keys;
};

struct LoweringResult {
  Network network;
  std::vector<std::string> report;  // one line per decision worth telling
  Int8Plan plan;                     // what runs in int8, at which scales
};

// `net` must carry static shapes (batch -1), e.g. from Executor::annotate_shapes.
LoweringResult lower_int8(const Network& net, const LoweringOptions& options);

}  // namespace engine
}  // namespace int8rt
