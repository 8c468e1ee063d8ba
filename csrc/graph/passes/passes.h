// Graph passes over the network IR (int8rt/network.h), TensorRT-style layer
// fusion before calibration: BatchNormalization folded into the preceding
// Conv/Gemm, activations (and optionally a residual Add) fused into the
// Conv/Gemm that feeds them, sibling 1x1 convolutions merged, Q/DQ pairs of
// pre-quantized models turned into calibration hints, cheap constant
// subgraphs evaluated.
//
// Every pass keeps the network's output tensor names. Every non-constant
// tensor name that survives a pass existed in the input network, with two
// documented exceptions (fuse_horizontal's wide tensor when it goes through a
// Split, opt-in; global_mean_as_pool's pooled tensor for a ReduceMean
// without keepdims); new constants (folded biases, merged weights) get fresh names. A fused chain's
// output keeps the name of the LAST tensor of the chain (conv -> bn -> relu
// becomes one Conv writing the Relu's output tensor), so a calibration cache
// keyed by tensor names (TensorRT's) stays meaningful.
//
// Each pass leaves the network compacted (Network::compact) and valid.
//
// ---- Attribute contract for Conv / Gemm nodes (the FP32 and INT8 layers honour it) ----
// With z = the node's ONNX result (Conv: conv(x, W) + B; Gemm: alpha*A'B' + beta*C):
//   "int8rt_residual"   (int)    only on Conv: index r into node.inputs of a float32
//                                tensor of exactly the output's shape (no broadcast);
//                                inputs[2] is the bias or -1 when absent, and r == 3.
//                                z := z + inputs[r], added after the bias.
//   "int8rt_activation" (string) applied last, to the float32 value z (after the
//                                residual when both are present):
//       "Relu"       y = z > 0 ? z : 0
//       "Clip"       y = clip_f32(z, lo, hi) (kernels/ref/clip_f32.h: NaN stays NaN),
//                    lo = "int8rt_clip_min" (float; absent: ONNX's default for an omitted
//                    bound, the lowest float32), hi = "int8rt_clip_max" (float; absent:
//                    the largest float32, so +inf clips to it as in ONNX Runtime).
//                    ReLU6 is Clip with 0 and 6.
//       "LeakyRelu"  y = z >= 0 ? z : alpha * z, alpha = "int8rt_leaky_alpha" (float,
//                    default 0.01 as in ONNX)
//       "Swish"      y = z * sigmoid(z) (FP32 Conv only: fuse_swish)
//       "HardSwish"  y = z * fmin(fmax(z / 6 + 0.5, 0), 1) (FP32 Conv only: fuse_swish)
//       "Chain"      (FP32 Conv only: fuse_float_chain) t = z, then each step of
//                    "int8rt_chain" (string, steps joined by ';') in order:
//                    "Relu", "Clip" (t = clip_f32(t, lo, hi)), or "<Op>:<ab>" with Op one
//                    of Add, Sub, Mul, Div and a, b the operands in the node's order, each
//                    't' (the running value), 'z' (the conv's value) or 'c' (the next
//                    constant); the constants in order, Clip's lo and hi (the float32
//                    range's ends when absent) included, are "int8rt_chain_values"
//                    (floats); y = t.
//   The bounds/alpha are stored as doubles holding the float32 values the
//   original nodes used, so float32 arithmetic reproduces the unfused graph
//   bit for bit.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "int8rt/network.h"

namespace int8rt {

// What the passes did, for `inspect` and logs, plus calibration hints.
struct PassReport {
  // Human-readable lines, one per rewrite, e.g.
  // "folded BatchNormalization 'bn1' into Conv 'conv1'".
  std::vector<std::string> lines;
  // Tensor name -> float32 activation scale taken from a removed
  // QuantizeLinear/DequantizeLinear pair (symmetric int8, zero point 0): the
  // scale the exporter chose for that tensor (TensorRT: scale = threshold/127).
  std::map<std::string, float> calibration_hints;
  // Weight tensor name -> the float32 scales of the int8 DequantizeLinear
  // (zero point 0) folded into it: one (per tensor) or one per index of
  // `axis`. The INT8 lowering quantizes such weights with them, so a
  // pre-quantized model's int8 weights come back unchanged (it checks that
  // they do; a weight a later pass rewrote is quantized as any other).
  struct WeightScales {
    int64_t axis = 0;
    std::vector<float> scales;
  };
  std::map<std::string, WeightScales> weight_scales;
  // Node name -> the nodes merged into it (fuse_horizontal; fuse_swish and
  // fuse_float_chain: the conv first, then the nodes its epilogue took over), for the int8
  // plan's layer sources (int8rt/int8_plan.h).
  std::map<std::string, std::vector<std::string>> merged_nodes;

  void add(std::string line) { lines.push_back(std::move(line)); }
};

// Which passes run_default_passes applies.
struct PassOptions {
  bool remove_identity = true;
  bool remove_qdq_pairs = true;
  // A pre-quantized model built from its own scales (BuilderConfig::
  // keep_activation_qdq): remove_qdq_pairs still folds weight DQs and
  // cancels DQ -> Q, but activation Q -> DQ pairs stay for the INT8 lowering
  // (engine/lower_int8_qdq.cc), so every rounding the model defines happens.
  bool keep_activation_qdq = false;
  bool fold_constants = true;
  bool gather_before_cast = true;  // Gather(Cast(constant)) -> Cast(Gather(constant)) (gather_before_cast.cc)
  bool fold_batchnorm = true;
  bool fold_scale_bias = true;
  bool fold_input_affine = true;  // Mul / Add by constants -> MatMul / Gemm (fold_input_affine.cc)
  bool fold_pad = true;
  bool global_mean_as_pool = true;
  bool batchnorm_as_depthwise = true;
  bool merge_duplicates = true;  // common-subexpression elimination (merge_duplicates.cc)
  bool merge_data_movement = true;
  bool fuse_residual = true;   // the FP32 Conv and the INT8 QConv both honour int8rt_residual
  bool fuse_activation = true;
  bool fuse_gelu = true;  // Div/Erf/Add/Mul/Mul -> Gelu (fuse_gelu.cc)
  bool fuse_layernorm = true;  // ReduceMean/Sub/Pow/.../Add -> LayerNormalization (fuse_layernorm.cc)
  bool fuse_add_layernorm = true;  // Add -> LayerNormalization as one layer (fuse_add_layernorm.cc)
  bool fuse_conv_integer_float = true;  // ConvInteger -> Add -> Cast -> Mul as one layer (fuse_conv_integer_float.cc)
  bool fuse_leaky_relu = false;  // the INT8 conv epilogue has Relu/Clip only: a fused
                                 // LeakyRelu would keep the whole Conv in float32
  bool fuse_horizontal = true;
  // Also merge siblings whose outputs are not exactly one Concat's inputs,
  // through a Split. Off by default: the wide tensor is a new name that a
  // TensorRT calibration cache cannot carry, and Split has no int8 layer, so
  // an INT8 engine would gain a float round trip instead of a speed-up.
  bool fuse_horizontal_split = false;
};

// Identity and Dropout (inference: pass-through, unused or absent mask) nodes
// are removed and their consumers read the input instead. When the removed
// node's output is a network output, the input's producer writes that output
// tensor instead (the name survives, the input's name goes); a node whose
// input and output must both keep their names (a network input copied to a
// network output) is kept.
void remove_identity(Network& net, PassReport* report);

// Nodes with the same op, attributes and inputs (small constants compared by
// value) merged into the first: common-subexpression elimination.
void merge_duplicates(Network& net, PassReport* report);

// QuantizeLinear -> DequantizeLinear with one float32 scale constant (>0,
// finite, per tensor), the same scale on both, and int8 zero points that are
// 0 becomes a pass-through; the scale is recorded in
// report->calibration_hints under the surviving tensor's name.
// DequantizeLinear -> QuantizeLinear with identical parameters cancels too.
// DequantizeLinear of a constant int8 tensor (weights) is folded into a
// float32 constant, w = float(q - zp) * scale, per tensor or per axis.
void remove_qdq_pairs(Network& net, PassReport* report, bool keep_activation_pairs = false);

// Evaluates nodes whose inputs are all constants and whose op is a cheap data
// movement: Reshape, Transpose, Unsqueeze, Squeeze, Concat, Cast (between
// float32, int64, int8), Identity. The output tensor becomes a constant with
// the same name. Other ops are left to the layers.
void fold_constants(Network& net, PassReport* report);
// Gather(Cast(constant table), indices) -> Cast(Gather(...)) where the Gather is the Cast's only
// reader: only the gathered elements are cast at run time (PassOptions::gather_before_cast; exact).
void gather_before_cast(Network& net, PassReport* report);

// Transpose -> Transpose and Reshape -> Reshape chains (the first read
// only by the second) become one node, or none when two Transposes cancel;
// a Reshape whose target has a 0 entry is left alone. Exact (values only
// move). Rules: merge_data_movement.cc.
void merge_data_movement(Network& net, PassReport* report);

// Pad (mode constant, constant value 0 or absent, constant non-negative pads
// on spatial dims only, optional constant axes) whose output's only use is
// a Conv's data input (auto_pad NOTSET) is removed and its amounts are added
// to the Conv's pads; the Conv reads the Pad's input. Exact.
void fold_pad(Network& net, PassReport* report);

// ReduceMean (float32, constant axes that are exactly the spatial dims
// 2 .. rank-1) becomes GlobalAveragePool: torch.onnx's form of
// adaptive_avg_pool2d(x, 1), which the INT8 lowering then keeps in int8;
// with keepdims 0, GlobalAveragePool into a new tensor '<output>_pooled'
// and a Flatten(axis 1) writing the output (the second exception to the
// naming rule above). Same mean; float32 rounding may differ in the last bits.
// Rules: global_mean_as_pool.cc.
void global_mean_as_pool(Network& net, PassReport* report);

// A BatchNormalization left after fold_batchnorm (float32 rank-4 input,
// constant parameters, inference form) becomes Conv(group = C, 1x1) with the
// per-channel factor and shift as weight and bias (double, rounded once);
// a following activation then fuses into it. Rules: fold_batchnorm.cc.
void batchnorm_as_depthwise(Network& net, PassReport* report);

// BatchNormalization reading the only use of a Conv, ConvTranspose or Gemm
// (constant weights and bias) output is folded into it, per output channel c:
//   f = gamma[c] / sqrt(var[c] + eps)
//   w' = w * f,  b' = (b - mean[c]) * f + beta[c]   (Gemm: b = beta_attr * C)
// computed in double and rounded to float32 once. The node then writes the
// BN's output tensor. A standalone BatchNormalization is left alone.
void fold_batchnorm(Network& net, PassReport* report);

// Mul / Add / Sub / Div of the only use of a Conv, ConvTranspose or Gemm
// output (constant weights and bias, no int8rt_* fusion yet) by a float32
// constant holding one finite value per output channel, or one value, is
// folded into the weights and bias (z/t by t != 0; t/z stays); the producer
// then writes the op's output tensor. Repeats, so Conv -> Mul -> Add becomes
// one Conv. Rules and rounding: fold_scale_bias.cc.
void fold_scale_bias(Network& net, PassReport* report);

// Mul / Add by float32 constants of exactly K values (one per input feature
// of the last axis; a scalar stays where it is), in any order, whose result
// only a MatMul or Gemm (transA 0) with constant 2-D weights [K][N] reads as
// its input A: x * f + g folded into the weights (rows of input feature k
// times f[k]) and the bias (plus g W: Gemm's C, or the constant [N] Add that
// is a MatMul's output's only reader; a MatMul without one folds only a pure
// scale). ResMLP's Affine norm before its fc1. Within a stated float bound,
// not bit-exact: fold_input_affine.cc.
void fold_input_affine(Network& net, PassReport* report);

// Add(conv_out, other) (either operand order) where conv_out is the only use
// of a Conv's output, the Conv has no fused activation yet, and `other` is a
// non-constant tensor of the same, fully known shape: the Add is folded into
// the Conv as "int8rt_residual" (see the contract above) and the Conv writes
// the Add's output tensor (PassOptions::fuse_residual).
void fuse_residual(Network& net, PassReport* report);

// A LayerNorm over the last axis written out in primitive ops (ReduceMean,
// Sub, Pow(2) or Mul, ReduceMean, Add(eps), Sqrt, Div, Mul(gamma), Add(beta);
// gamma and beta float32 [C] constants, every intermediate read only inside
// the chain) becomes one LayerNormalization writing the last Add's tensor.
// Equal up to float rounding, not bit for bit (PassOptions::fuse_layernorm;
// fuse_layernorm.cc).
void fuse_layernorm(Network& net, PassReport* report);

// Add(a, b) whose output a LayerNormalization (constant Scale and B, Y its
// only output) normalises becomes that LayerNormalization reading a (input
// 0) and b (input 3) with "int8rt_residual" = 3: it normalises a + b (the
// Add's float arithmetic, broadcast as Add does). When the sum has other
// readers, or is a network output, the node also writes it as its second
// output, with "int8rt_sum_output" = 1. The fused node takes the Add's place
// in the node order (PassOptions::fuse_add_layernorm; fuse_add_layernorm.cc).
void fuse_add_layernorm(Network& net, PassReport* report);

// ConvInteger -> [Add(int32 bias per channel)] -> Cast(float) -> Mul(one float), each the only
// reader of the last, becomes one ConvInteger with "int8rt_float_output" = 1 reading the bias as
// input 4 and the scale as input 5 (the contract: fuse_conv_integer_float.cc,
// engine/ops/conv_integer.cc); it takes the Mul's place in the node order.
void fuse_conv_integer_float(Network& net, PassReport* report);

// Conv or Gemm whose output's only use is Relu, Clip (constant bounds) or,
// when `leaky_relu` is set, LeakyRelu gets "int8rt_activation" (contract
// above) and writes the activation's output tensor.
void fuse_activation(Network& net, PassReport* report, bool leaky_relu = false);

// The exact GELU spelled as Div(x, sqrt 2) (or Mul by 1/sqrt 2), Erf, Add 1,
// Mul x, Mul 0.5 (either grouping of the two Muls, either operand order)
// becomes one Gelu node reading x and writing the last Mul's output tensor
// (PassOptions::fuse_gelu; rules and numerics in fuse_gelu.cc).
void fuse_gelu(Network& net, PassReport* report);

// MatMul with a constant 2-D float32 W whose output's only use is Add with
// a constant 1-D bias of W's N values, and / or whose (then) only use is
// Gelu (approximate "none"), takes them over: "int8rt_bias" = 2 (the bias
// as input 2, added to every row after the product) and "int8rt_activation"
// = "Gelu" (applied last); it writes the chain's last tensor. Exact (the
// FP32 layer does the unfused operations). Not part of run_default_passes:
// the INT8 lowering reads the unfused form, so the builder applies it to
// FP32 engines only (fuse_matmul_epilogue.cc).
void fuse_matmul_epilogue(Network& net, PassReport* report);

// [Add(s, mask)] -> Softmax (last axis) -> [Where(IsNaN(p), 0, p)] becomes one
// Softmax with "int8rt_mask" = 1 (input 1 added to s first) and / or
// "int8rt_nan_to_zero" = 1, writing the chain's last tensor. Exact (the
// unfused operations in their order; engine/ops/softmax_f32.cc). Not part of
// run_default_passes: the INT8 lowering reads the unfused chain, so the
// builder applies it to FP32 engines only (fuse_attention_softmax.cc).
void fuse_attention_softmax(Network& net, PassReport* report);

// A BF16 engine's MatMul(q, kt) -> Softmax (last axis, plain or fused above)
// -> MatMul(p, v), both MatMuls bf16 with activation operands whose batch
// dims are the scores', becomes one int8rt.Bf16Attention (inputs q, kt, v
// [, mask]) writing the second product's output; bits unchanged
// (engine/ops/bf16_attention.cc). The heads' Transposes of q, kt and v and
// their scalar Muls are folded into it when it is their only reader (it
// reads [B, S, H, D] in place, int8rt_heads). Builder, FP32 engines, after
// mark_bf16_layers and fuse_attention_softmax (fuse_bf16_attention.cc).
void fuse_bf16_attention(Network& net, PassReport* report);

// Conv -> Sigmoid + Mul(y, Sigmoid(y)) (Swish / SiLU) becomes the Conv with
// "int8rt_activation" = "Swish", writing the Mul's output. Exact (the FP32
// Conv applies the tier's Sigmoid then a multiply). Not part of
// run_default_passes: the INT8 lowering reads the unfused pair, so the
// builder applies it to FP32 engines only (fuse_swish.cc). Likewise a Conv
// whose output only a HardSwish reads takes it over as "HardSwish".
// With `only`, just the Convs named in it (a mixed engine's float layers).
void fuse_swish(Network& net, PassReport* report, const std::set<std::string>* only = nullptr);

// A Conv (float32 output, no activation) followed by element-wise float32
// Add / Sub / Mul / Div with scalar constants or the conv's own output,
// Clip with constant bounds and Relu, each the only reader of the last (a
// hardswish spelled Add/Clip/Mul/Div, then an affine), takes them over as
// "int8rt_activation" = "Chain" (contract above) and writes the last
// tensor. Exact (the unfused layers' operations in their order). Not part of
// run_default_passes: calibration observes the unfused tensors; the builder
// runs it on FP32 engines, and the INT8 lowering on the Convs named in
// `only` (its float layers) (fuse_float_chain.cc).
void fuse_float_chain(Network& net, PassReport* report, const std::set<std::string>* only = nullptr);

// Two or more 1x1 Convs (stride 1, no padding, group 1, constant float32
// weights, identical int8rt_* attributes, no residual) reading the same tensor
// become one Conv with the weights (and biases, zero where absent)
// concatenated along the output channels. If the siblings' outputs are used
// only, and in order, as the whole input list of one Concat on axis 1, the
// wide Conv writes the Concat's output tensor. Otherwise it writes a new
// tensor "<conv names joined by +>_output" and a Split (axis 1, split sizes
// as an int64 constant input, opset 13 form) writes the original outputs; the
// wide tensor's values are exactly the siblings' outputs side by side. That
// second form happens only when `allow_split` is set; the first keeps every
// name and always applies.
void fuse_horizontal(Network& net, PassReport* report, bool allow_split);

// Applies the enabled passes in this order: remove_identity,
// remove_qdq_pairs, fold_constants, remove_identity (again, for what Q/DQ
// removal exposed), merge_data_movement, fold_pad, fold_batchnorm,
// fold_scale_bias, fold_batchnorm and fold_scale_bias again (a producer ->
// Add(bias) -> BatchNormalization chain), fold_input_affine, fuse_gelu, fuse_residual,
// fuse_activation, fuse_horizontal; then compacts and validates.
// The default pipeline (run_default_passes) on each subgraph of a node
// (Attribute::kGraph), recursively; each keeps its inputs and outputs.
void optimize_subgraphs(Network& net, const PassOptions& options, PassReport* report);

void run_default_passes(Network& net, const PassOptions& options, PassReport* report);

}  // namespace int8rt
