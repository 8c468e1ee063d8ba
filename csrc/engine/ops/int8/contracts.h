// The typed contracts of the lowered int8 ops (engine/lower_int8.h): one
// struct per op with the node's attributes as fields, and ONE to_attrs /
// from_attrs pair per struct, the only place the attribute keys are spelled.
// The lowering writes nodes with to_attrs; the CPU layers (this folder), the
// CUDA runner (engine/cuda/) and the engine file's loader (through layer
// creation) read them with from_attrs.
//
// from_attrs reads nodes that may come from a hostile engine file: an
// attribute of the wrong kind or an out-of-range value is InvalidArgument
// (an activation without an int8 epilogue NotSupported) naming the node;
// an absent attribute takes the default written below, as engine files
// written before a field existed expect. Fields hold the attribute values as
// stored (scales are doubles here; the kernels' float32 parameters are
// formed where they are computed: qlinear_params, qpool_params,
// qeltwise_params). The structural checks that need the tensors (weights,
// shapes) stay with those readers.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "int8rt/network.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {

// The int8 version of source tensor `name` in a lowered network.
std::string int8_tensor_name(const std::string& name);

// Marks a lowered node's rank-4 int8 output as held in the float tensor's
// element order rather than NHWC (engine/lower_int8.cc, "int8 layouts");
// an int8rt.Quantize / Dequantize's `logical` is the same attribute. Layers
// read their own contracts; readers of the lowered graph that convert int8
// tensors themselves (the accuracy taps) read this.
void mark_logical_layout(Attributes& a);
bool has_logical_layout(const Node& node);

// int8rt.Quantize [x f32] -> s8 and int8rt.Dequantize [x s8] -> f32:
// rank-4 tensors change layout (NCHW <-> NHWC) unless `logical` (the int8
// tensor keeps the float tensor's element order, as the int8 side of a
// MatMul reads it). from_attrs: scale > 0. zero_point (int8 range, absent:
// 0) is the int8 value of real 0, as a pre-quantized model's QuantizeLinear
// defines it (lower_int8_qdq.cc): q = sat(rne(x / scale) + zero_point),
// x = (q - zero_point) * scale (kernels/ref/requantize.h). `scales`, when
// not empty, replaces `scale` with one scale per channel (axis 1 of the
// float NCHW tensor: a pre-quantized model's per-channel activation,
// lower_int8_qdq.cc) and `scale` is 0; rank 4 and not logical only.
// from_attrs: scale > 0, or scales all > 0 (then rank 4 NHWC is the
// layer's to check).
struct ConvertAttrs {
  static constexpr const char kQuantizeOp[] = "int8rt.Quantize";
  static constexpr const char kDequantizeOp[] = "int8rt.Dequantize";
  double scale = 0.0;
  bool logical = false;
  int64_t zero_point = 0;
  std::vector<double> scales{};  // empty: `scale` for every element
  Attributes to_attrs() const;
  static ConvertAttrs from_attrs(const Node& node);
};

// A fused activation as a clamp in float units (Conv / Gemm epilogues).
struct ActivationAttrs {
  kernels::Activation kind = kernels::Activation::kNone;  // none, relu or clip
  double min = -INFINITY, max = INFINITY;
};

// A 2-D window: kernel_shape (R, S), strides, pads (top, left, bottom,
// right). kernel_shape is empty when absent from a node (a Conv then takes
// its weights' dimensions); the readers check counts and ranges.
struct Window2dAttrs {
  std::vector<int64_t> kernel_shape;
  std::vector<int64_t> strides = {1, 1};
  std::vector<int64_t> pads = {0, 0, 0, 0};
};

// The input and output scales most int8 ops carry.
struct InOutScales {
  double in_scale = 0.0, out_scale = 0.0;
};

// What QConv and QGemm share: the scales and activation of their
// requantization (kernels::make_epilogue). The zero points (int8 range,
// absent: 0) are those of a pre-quantized model's asymmetric activations
// (lower_int8_qdq.cc) or of zero-point activations (lower_int8_zero_points.cc);
// qlinear_params folds them into the epilogue. A padded conv pads with its
// input zero point (kernels::ConvShape::pad_value), so padding is real 0.
// Per-channel activation scales (a pre-quantized model's QuantizeLinear with
// axis 1, lower_int8_qdq.cc): in_scales, one per input channel, replaces
// in_scale on a depthwise QConv (its input channel k feeds output channel k
// alone); out_scales, one per output channel, replaces out_scale on a QConv
// with an int8 output and no residual; the per-tensor field is then 0
// (kernels::make_epilogue's ChannelScales form; qlinear_params checks the
// counts and the op).
struct QLinearAttrs : InOutScales {
  std::vector<double> w_scales;  // one per output channel
  std::vector<double> in_scales, out_scales;  // empty: per tensor
  ActivationAttrs act;
  int64_t in_zero_point = 0, out_zero_point = 0;
};

// int8rt.QConv [x s8 NHWC, w s8 OIHW, bias f32 | -1, residual s8 (optional)].
// out_scale 0 with no out_scales: the output is float32 NHWC, written from the
// accumulators (scale, bias, activation in float units; no residual, slopes
// or output zero point), as a QGemm with out_scale 0 writes float32.
struct QConvAttrs : QLinearAttrs {
  static constexpr const char kOp[] = "int8rt.QConv";
  Window2dAttrs window;
  std::vector<int64_t> dilations = {1, 1};
  int64_t group = 1;
  double residual_scale = 0.0;  // the residual input's scale; 0: none written
  int64_t residual_zero_point = 0;  // its zero point (kernels::residual_zero_point_bias)
  // A PRelu fused after the residual (lower_int8_linear.cc): one slope per
  // output channel (kernels::Epilogue::slope); empty: none. With slopes the
  // activation is none and the output zero point 0 (qlinear_params checks).
  std::vector<double> slopes;
  Attributes to_attrs() const;
  static QConvAttrs from_attrs(const Node& node);
};

// int8rt.QConvTranspose [x s8 NHWC, w s8 [C][K/group][R][S] (ONNX layout),
// bias f32 | -1] -> s8 NHWC: ONNX ConvTranspose with the same window fields
// as QConv plus output_padding (2 values); the requantization is QConv's
// (one weight scale per output channel). from_attrs reads what is present;
// the layer checks it against the weights (qlinear_params.h).
struct QConvTransposeAttrs : QLinearAttrs {
  static constexpr const char kOp[] = "int8rt.QConvTranspose";
  Window2dAttrs window;
  std::vector<int64_t> dilations = {1, 1};
  std::vector<int64_t> output_padding = {0, 0};
  int64_t group = 1;
  Attributes to_attrs() const;
  static QConvTransposeAttrs from_attrs(const Node& node);
};

// int8rt.QGemm [x s8 [M, K], w s8 [N, K], bias f32 | -1, table s8 [256]
// (optional)]; out_scale 0 means a float32 output. With a table (an int8
// output only: the element-wise region after the GEMM as int8rt.QLut's
// table, BERT's GELU, lower_int8_gemm_table.cc) each output q at out_scale
// is written as table[q + 128], the QLut's bytes.
struct QGemmAttrs : QLinearAttrs {
  static constexpr const char kOp[] = "int8rt.QGemm";
  Attributes to_attrs() const;
  static QGemmAttrs from_attrs(const Node& node);
};

// int8rt.QMatMul [a s8 [..., M, K], b s8 [..., K, N]]: the MatMul of two
// activations (attention's Q K^T and its product with V), leading dims
// broadcast as ONNX MatMul does, both operands per-tensor (scales a_scale,
// b_scale); out_scale 0 means a float32 output. With b_transposed, b is
// given as [..., N, K] (the K of Q K^T before the graph's Transpose, which
// the lowering then leaves out). a_zero_point (int8 range, absent: 0): a
// holds (a - a_zero_point) * a_scale, as QGemm's in_zero_point (the
// correction a_zero_point * the column sums of each product's b,
// engine/ops/int8/int8_products.h); attention's probabilities on the
// unsigned grid. from_attrs: a_scale and b_scale > 0, out_scale >= 0.
struct QMatMulAttrs {
  static constexpr const char kOp[] = "int8rt.QMatMul";
  double a_scale = 0.0, b_scale = 0.0, out_scale = 0.0;
  int64_t a_zero_point = 0;
  bool b_transposed = false;
  Attributes to_attrs() const;
  static QMatMulAttrs from_attrs(const Node& node);
};

// int8rt.QAttention [q s8 [..., M, d], k s8 [..., d, N] (or [..., N, d] with
// k_transposed), v s8 [..., N, dv] (or [..., dv, N] with v_transposed),
// optional mask f32, optional mask2 f32]: softmax(q k (*|/) c + mask + mask2) v,
// fused so that each product's scores stay in cache. Per product of the
// broadcast batch: the scores q k as int8rt.QMatMul computes them in float32
// (scales q_scale, k_scale), times or divided by the constant scores_factor
// when non-zero (scores_divide: /) as the float Mul / Div does (BERT's
// 1 / sqrt(d)), plus the mask, then plus mask2, each as the float Add does
// (two roundings: Swin's relative-position bias, then its shifted-window
// mask). Each mask broadcasts to the scores [..., M, N], or, when its view
// (mask_view, mask2_view: leading dims, one of them -1 at most, whose
// product is the scores' batch) is given, to the scores reshaped to
// [view..., M, N] (a Reshape of the batch dims only, row-major, so product
// t of the batch is element t of the view's dims too: Swin's
// [B * nW, heads] viewed as [B, nW, heads] against a mask [1, nW, 1, N, N]). Then softmax
// over each row (kernels/ref/softmax_f32.h), with nan_to_zero a NaN probability (a row
// masked everywhere) set to 0 as HuggingFace's Where(IsNaN(p), 0, p) does,
// the probabilities quantized at probs_scale and probs_zero_point as
// int8rt.Quantize does (zero point -128: the unsigned grid, 255 levels over
// [0, threshold], quant::lower_bounded_grid with lo 0; absent: 0, the
// symmetric grid, codes 0..127 only), and their product with v as
// int8rt.QMatMul computes it (scales probs_scale, v_scale, out_scale;
// a_zero_point probs_zero_point; out_scale 0: float32 output). So bit for
// bit that unfused chain. v's batch dims broadcast to the scores'.
// from_attrs: the four operand scales > 0, out_scale >= 0 (finite as float32), the zero point
// in the int8 range, views of dims >= 1 or -1 (once).
struct QAttentionAttrs {
  static constexpr const char kOp[] = "int8rt.QAttention";
  double q_scale = 0.0, k_scale = 0.0, probs_scale = 0.0, v_scale = 0.0, out_scale = 0.0;
  int64_t probs_zero_point = 0;
  std::vector<int64_t> mask_view, mask2_view;  // empty: the scores' own batch dims
  float scores_factor = 0.0f;  // 0: none
  bool scores_divide = false, k_transposed = false, v_transposed = false, nan_to_zero = false;
  Attributes to_attrs() const;
  static QAttentionAttrs from_attrs(const Node& node);
};

// int8rt.QMaxPool (window only: the scale passes through),
// int8rt.QAveragePool (window, count_include_pad, scales) and
// int8rt.QGlobalAveragePool (scales only), on [x s8 NHWC, optional table f32
// [256]: x stands for table[x + 128], in_scale is x's]. from_attrs:
// positive scales for the averaging pools. out_zero_point (int8 range,
// absent: 0; unsigned activations, a pre-quantized model's): the averaging
// pools' output zero point, taken by the global pool's table form only (the
// layer refuses it without a table); in_zero_point: the windowed average
// pool's input zero point (the global pool's is in its table).
struct QPoolAttrs : InOutScales {
  static constexpr const char kMaxOp[] = "int8rt.QMaxPool";
  static constexpr const char kAverageOp[] = "int8rt.QAveragePool";
  static constexpr const char kGlobalAverageOp[] = "int8rt.QGlobalAveragePool";
  enum class Kind { kMax, kAverage, kGlobalAverage };
  Kind kind = Kind::kMax;
  Window2dAttrs window;
  bool count_include_pad = false;
  int64_t in_zero_point = 0, out_zero_point = 0;
  const char* op() const;
  Attributes to_attrs() const;
  static QPoolAttrs from_attrs(const Node& node);  // kind from node.op
};

// int8rt.QAdd [a s8, b s8] (same shapes), optionally followed by Relu.
// Zero points (int8 range, absent: 0) as QLinearAttrs' (make_add_params).
struct QAddAttrs {
  static constexpr const char kOp[] = "int8rt.QAdd";
  double a_scale = 0.0, b_scale = 0.0, out_scale = 0.0;
  bool relu = false;
  int64_t a_zero_point = 0, b_zero_point = 0, out_zero_point = 0;  // after relu: {s_a, s_b, s_y, relu} still reads
  Attributes to_attrs() const;
  static QAddAttrs from_attrs(const Node& node);
};

// int8rt.QConcat [x s8 ...] along `axis` of the int8 tensors as laid out
// (rank 4: NHWC); one input scale per input. axis -1 (absent, as in engine
// files written before it existed): the last dim, the channels of NHWC.
// from_attrs: axis >= 0 when present (the layer checks it against the rank).
// Zero points (int8 range; absent: 0, as engine files of symmetric networks
// hold them): in_zero_points one per input or empty (all 0), out_zero_point
// (zero-point activations, lower_int8_zero_points.cc; ref::concat_s8's formula).
struct QConcatAttrs {
  static constexpr const char kOp[] = "int8rt.QConcat";
  std::vector<double> in_scales;
  double out_scale = 0.0;
  int64_t axis = -1;
  std::vector<int64_t> in_zero_points;
  int64_t out_zero_point = 0;
  Attributes to_attrs() const;
  static QConcatAttrs from_attrs(const Node& node);
};

// Data movement on int8 tensors: int8rt.QTranspose, QSlice, QSplit, QPad,
// QReshape, QSqueeze, QUnsqueeze, QDepthToSpace, QSpaceToDepth, QGather
// [x s8, the ONNX op's other inputs]. Each is its ONNX op (same attributes and
// inputs, read by the op's own layer, which moves elements of any dtype) on
// int8 elements at one scale, so the bytes are copied, never rescaled. Axes,
// perm and pads are in the layout the engine holds the tensor in (rank 4:
// NHWC, lower_int8_moves.h maps them); QPad's constant value (input 2) is an
// int8 scalar. The layer refuses a non-int8 data input. One exception to "one
// scale": a Mul / Div by a positive scalar lowered as a QReshape
// (Lowerer::lower_rescale) keeps the bytes and relabels their scale; that
// node carries the output's scale as `out_scale` (float), which no layer
// reads: it tells tools that dequantize the tensor (int8rt compare, the build
// report) what its codes mean.
struct QMoveOps {
  // "Transpose" -> "int8rt.QTranspose", for the ops above.
  static std::string lowered(const std::string& source_op);
  // "int8rt.QTranspose" -> "Transpose"; "" for any other op.
  static std::string source(const std::string& lowered_op);
  static const std::vector<std::string>& source_ops();
};

// int8rt.QFlatten [x s8 [N, 1, 1, C]] -> [N, C]: no attributes.
struct QFlattenAttrs {
  static constexpr const char kOp[] = "int8rt.QFlatten";
};

// int8rt.QResizeNearest [x s8 [N, H, W, C]] -> [N, OH, OW, C]: nearest
// Resize of the spatial dims, output row oy = input row src_y[oy], column
// ox = input column src_x[ox] (the FP32 Resize's own choice, see
// lower_int8.cc); same scale in and out, so bytes are copied. from_attrs:
// both lists non-empty, every index >= 0 (the layer checks them against H, W).
// With dynamic_size (an input whose height or width is dynamic) the lists
// are absent: the node carries the FP32 Resize's own attributes (`resize`)
// and its constant inputs 1.. (roi, scales, sizes), and the layer derives
// the lists for each input size (ops/int8/nearest_sources.h).
struct QResizeNearestAttrs {
  static constexpr const char kOp[] = "int8rt.QResizeNearest";
  std::vector<int64_t> src_y, src_x;
  bool dynamic_size = false;
  Attributes resize;  // dynamic_size only: the FP32 Resize's attributes
  Attributes to_attrs() const;
  static QResizeNearestAttrs from_attrs(const Node& node);
};

// int8rt.QResizeLinear [x s8 [N, H, W, C]] -> [N, OH, OW, C]: bilinear
// Resize of the spatial dims with the FP32 Resize's own taps (resize_coords.h):
// output row oy blends input rows y0[oy], y1[oy] with float32 weights
// wy0[oy], wy1[oy], columns alike (x0, x1, wx0, wx1), by resize_blend on the
// dequantized values (q * in_scale), quantized at out_scale
// (kernels::ref::quantize_value): the same float operations, in the same
// order, as Dequantize, the FP32 Resize and Quantize, so the same bytes.
// dynamic_size: no tap lists; the node's inputs after x are the FP32
// Resize's own (roi, scales, sizes: constants or run-time tensors, -1 where
// omitted), `resize` holds its attributes, and the layer derives the output
// size (resize_plan) and the taps for each input size and sizes/scales it
// meets. float_out: the output is the blend itself in float32, in the float
// tensor's [N, C, OH, OW] order (what Dequantize then the FP32 Resize give,
// byte for byte; out_scale is not used and is written as 1).
// from_attrs: static: the four lists of each axis equally long and
// non-empty, indices >= 0; positive scales (the layer checks indices
// against H, W and, when dynamic, that N and C are not resized).
struct QResizeLinearAttrs : InOutScales {
  static constexpr const char kOp[] = "int8rt.QResizeLinear";
  std::vector<int64_t> y0, y1, x0, x1;
  std::vector<double> wy0, wy1, wx0, wx1;
  bool dynamic_size = false;
  bool float_out = false;
  Attributes resize;  // dynamic_size only: the FP32 Resize's attributes
  Attributes to_attrs() const;
  static QResizeLinearAttrs from_attrs(const Node& node);
};

// int8rt.QLut [x s8, table s8 [256]]; ops names the float ops the table
// replaces ("Mul+Add+Clip", for `inspect`). out_zero_point (absent: 0) is
// the zero point the table was built for (a lower-bounded output,
// lower_int8_zero_points.cc): a record for the plan readers, the table
// bytes being the whole arithmetic. Per channel (lower_int8_channel_grids.cc):
// table s8 [C, 256] over the innermost axis of x (NHWC), y = table[c][x + 128]
// for channel c; in_scales and out_scales (C each) record each channel's
// grids (a per-tensor side repeats its scale; its in_scale / out_scale is
// then that scale, a per-channel side's 0). from_attrs: both or neither.
struct QLutAttrs : InOutScales {
  static constexpr const char kOp[] = "int8rt.QLut";
  std::string ops;
  int64_t out_zero_point = 0;
  std::vector<double> in_scales, out_scales;  // per channel, or empty
  // x's zero point: 0, or a grid clipped below the table's flat part
  // (lower_int8_zero_points.cc); the table is built for it, the lookup is the same
  int64_t in_zero_point = 0;
  Attributes to_attrs() const;
  static QLutAttrs from_attrs(const Node& node);
};

// int8rt.QChannelMul [x s8 NHWC, gate f32 or s8 [N|1, C, 1, 1], optional
// table f32 [256], gate table f32 [256] with an s8 gate]: with the table, x
// stands for the float values table[x + 128] (the float region in front of
// the gate, engine/lut_region.h) and in_scale is x's; an s8 gate is the code
// of the tensor the float gate region (HardSigmoid, Sigmoid, ...) reads, and
// the gate value is gate_table[code + 128], that region's float result
// (ref::lookup_f32_s8), so the gate is never rounded.
// int8rt.QLutFloat [x s8, table f32 [256]] -> f32: a float element-wise
// region (a network's output Sigmoid) read straight from its int8 input,
// y = table[x + 128] (ref::lookup_f32_s8), written in the logical (NCHW)
// order; `logical`: x is in that order too (else rank-4 x is NHWC).
struct QLutFloatAttrs {
  static constexpr const char kOp[] = "int8rt.QLutFloat";
  std::string ops;
  bool logical = false;
  Attributes to_attrs() const;
  static QLutFloatAttrs from_attrs(const Node& node);
};

struct QChannelMulAttrs : InOutScales {
  static constexpr const char kOp[] = "int8rt.QChannelMul";
  Attributes to_attrs() const;
  static QChannelMulAttrs from_attrs(const Node& node);  // scales > 0
};

// int8rt.QLSTM / int8rt.QGRU / int8rt.QRNN [x s8 in the logical order of
// X, w s8 [dirs, G*H, input], r s8 [dirs, G*H, H] when h_scale > 0 else the
// float R, then the float op's optional inputs (B, sequence_lens, initial_h,
// initial_c, P) unchanged]: the ONNX recurrent layer (ops/rnn_f32.cc) whose
// x W' for all steps at once and, when h_scale > 0, H R' at each step are
// int8 GEMMs with one weight scale per gate row (w_scales, r_scales:
// dirs * G * H each) and float32 results; gates, cell and state stay
// float32. The float op's attributes (hidden_size, direction, layout, clip,
// ...) are kept on the node beside these. from_attrs: x_scale > 0,
// h_scale >= 0, every w_scales / r_scales value > 0, each finite as float32.
struct QRnnAttrs {
  static constexpr const char kLstmOp[] = "int8rt.QLSTM";
  static constexpr const char kGruOp[] = "int8rt.QGRU";
  static constexpr const char kRnnOp[] = "int8rt.QRNN";
  double x_scale = 0.0, h_scale = 0.0;
  std::vector<double> w_scales, r_scales;
  // The float op's attributes `base` with these fields added.
  Attributes to_attrs(Attributes base) const;
  static QRnnAttrs from_attrs(const Node& node);
};

}  // namespace engine
}  // namespace int8rt
