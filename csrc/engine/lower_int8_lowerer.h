// The INT8 lowering's worker (private to csrc/engine/lower_int8*.cc; the
// contract is lower_int8.h): one Lowerer walks the source network in
// topological order and writes the lowered one. Its members are defined by
// concern: lower_int8.cc (tensors, int8 layouts, the lowering table, float
// layers, element-wise tables), lower_int8_linear.cc (Conv, ConvTranspose,
// Gemm / MatMul), lower_int8_attention.cc (the attention chain as one
// QAttention), lower_int8_spatial.cc (pooling, Add, Concat, channel gates,
// Resize), lower_int8_move_nodes.cc (data movement, Shape, Flatten) and
// lower_int8_channel_grids.cc (per-channel grids of calibrated tensors).
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/int8_plan_recorder.h"
#include "engine/lower_int8.h"
#include "engine/lut_region.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/head_mix.h"
#include "engine/ops/int8/probs_keys.h"
#include "graph/network_index.h"
#include "int8rt/quantization.h"

namespace int8rt {
namespace engine {

inline std::vector<int64_t> nchw_to_nhwc(const std::vector<int64_t>& s) {
  if (s.size() != 4) return s;
  return {s[0], s[2], s[3], s[1]};
}

class Lowerer {
 public:
  Lowerer(const Network& src, const LoweringOptions& opt);

  // A float32-kept Conv's fused epilogue (fuse_swish / fuse_float_chain run
  // on a copy of the source, lower_int8()): the fused node's attributes, the
  // tensor it writes and the source nodes it absorbs. The grids are still
  // decided on the unfused source, so its int8 readers quantize what they did.
  struct FloatEpilogue {
    Attributes attrs;
    std::string output;
    std::vector<std::string> absorbed;
  };
  void set_float_epilogues(std::map<std::string, FloatEpilogue> e) { float_epilogues_ = std::move(e); }

  LoweringResult run();

 private:
  // ---- tensors ----
  // scales_: the calibrated scales (LoweringOptions::scales) and those a
  // pre-quantized model's QuantizeLinear nodes define (lower_int8_qdq.cc).
  bool has_scale(int t) const {
    auto it = scales_.find(src_.tensor(t).name);
    return it != scales_.end() && std::isfinite(it->second) && it->second > 0.f;
  }
  float scale(int t) const { return scales_.at(src_.tensor(t).name); }
  // The model gives t one scale per channel (channel_scales_), not one scale.
  bool has_channel_scales(int t) const { return channel_scales_.count(t) > 0; }

  // The zero point of t's int8 form: the one it carries once int8, else
  // the one the model defines for it (0: symmetric, as calibration makes).
  int32_t zero_point_of(int t) const {
    if (is_int8(t)) return qzero_[t];
    auto it = zero_.find(t);
    return it == zero_.end() ? 0 : it->second;
  }

  int get_float(int t);

  // ---- int8 layouts ----
  // A rank-4 int8 tensor is held either channels-last (NHWC: what convs,
  // pools, gates and resizes read and write) or in the float tensor's own
  // element order ("logical": what MatMuls read and write, attention's
  // [batch, heads, sequence, dim]). Other ranks are always logical. An op
  // that reads one layout asks int8_in(t, layout), which converts the other
  // once per tensor (an int8 QTranspose); element-wise and data-movement
  // layers keep their input's layout.
  enum class Layout { kNhwc, kLogical };
  bool is_logical(int t) const { return src_.tensor(t).shape.size() != 4 || !nhwc_[t]; }
  Layout layout_of(int t) const { return is_logical(t) ? Layout::kLogical : Layout::kNhwc; }

  // Source tensor t in int8 and in layout `want` (only rank 4 has a choice):
  // quantized from float in that layout if it is not int8 yet.
  int int8_in(int t, Layout want);

  // at_scale > 0: quantized at that scale instead of t's own (quantize_before_move).
  int get_int8(int t, Layout layout = Layout::kNhwc, float at_scale = 0.f);

  void set_int8(int dst_id, const std::vector<int64_t>& nchw_shape, Layout layout = Layout::kNhwc) {
    dst_.tensor(dst_id).dtype = DataType::kInt8;
    dst_.tensor(dst_id).shape = layout == Layout::kNhwc ? nchw_to_nhwc(nchw_shape) : nchw_shape;
  }

  // Adds the int8 layer `name` (computing source nodes `sources`) whose
  // int8 output is source tensor `t` at `out_scale`, laid out as `layout`.
  int add_int8_node(const std::string& op, const std::string& name, std::vector<std::string> sources,
                    const std::vector<int>& ins, Attributes a, int t, float out_scale, Layout layout = Layout::kNhwc);

  // ---- the plan (int8rt/int8_plan.h) ----
  // The source nodes behind node `node`: those a graph pass merged into it, or itself.
  std::vector<std::string> sources_of(const Node& node) const {
    auto it = opt_.merged_nodes.find(node.name);
    return it != opt_.merged_nodes.end() ? it->second : std::vector<std::string>{node.name};
  }
  void record_int8_tensor(int t, int dst_id, const std::string& producer, bool in_int8) {
    plan_.int8_tensor(dst_id, {src_.tensor(t).name, dst_.tensor(dst_id).name, qscale_[t], qzero_[t], producer,
                               in_int8, {}, src_.tensor(t).shape.size() == 4 && nhwc_[t], qchannels_[t], {}});
  }

  void note(std::string line) { report_.push_back(std::move(line)); }

  // Quantized weights are a function of the float weights (and the layout
  // the name says), so layers sharing a weight tensor share its int8 copy.
  int add_weight_constant(const std::string& name, const std::vector<int64_t>& shape, const std::vector<int8_t>& v) {
    int found = dst_.find_tensor(name);
    return found >= 0 ? found : dst_.add_constant_i8(name, shape, v);
  }

  // ---- float nodes ----
  void emit_float(const Node& node);
  // A float island's exit (lower_int8_float_exit.cc): whether float Conv
  // `node` writes its output as int8 for its readers, all int8 convs; and
  // the node so emitted, `ins` its float inputs.
  bool conv_writes_int8(const Node& node);
  void emit_conv_to_int8(const Node& node, const std::vector<int>& ins, Attributes attrs);
  // An If (lower_int8_branches.cc): `node` with each branch that calibration
  // measured lowered by a Lowerer of its own (its tensors' scales are those
  // named under branch_scope; its inputs, the captured values, at the outer
  // tensors' calibrated scales), float32 at its boundary; the branch's plan
  // joins this one's under its scope. A branch no calibration batch took, or
  // in which nothing lowers, stays as it was, float32.
  Node with_lowered_branches(const Node& node);
  // The int8 form of a fused Add + LayerNormalization's residual (inputs[3])
  // when the LayerNorm may read it as it is (layernorm_f32.cc,
  // int8rt_residual_scale): an int8 tensor of x's shape, zero point 0, read
  // by nothing else and not a network output. Else -1.
  int int8_residual_of(const Node& node) const;
  // LayerNormalization's int8 boundaries (lower_int8_layernorm.cc): its input
  // x when the layer may read it as int8 (an int8 tensor of plain rows, zero
  // point 0, read by LayerNorms alone, no broadcast residual), else -1; and
  // whether it writes its output in int8 (a scale, no network output, every
  // reader takes it in int8).
  int int8_layernorm_input(const Node& node) const;
  // Whether LayerNorm `node` would read x (its input 0) in int8 were x int8:
  // int8_layernorm_input's conditions on x that hold before x is lowered
  // (every reader of x a LayerNorm taking it as layernorm_row_input).
  bool layernorm_takes_int8_input(const Node& node, int x) const;
  bool layernorm_row_input(const Node& node, int x) const;
  bool layernorm_writes_int8(const Node& node) const;
  // Whether it writes the int8 form of its float output as one more output
  // (int8rt_int8_copy_scale: a scale, and some reader takes it in int8), and
  // that output (lowered id `out`) made the output's int8 form.
  bool layernorm_int8_copy(const Node& node) const;
  int layernorm_int8_output(const Node& node) const;
  // Readers of y that take it in int8: reads_int8, and with `residuals` reads_int8_residual.
  int int8_readers(int y, bool residuals = false) const;
  bool reads_int8_residual(const Node& r, int y) const;
  void adopt_layernorm_int8_copy(const Node& node, int out);

  // ---- int8 candidates ----
  // The lowering of each op with an int8 form (false: it stays float32,
  // unless it starts an element-wise table below).
  struct OpLowering {
    bool (Lowerer::*lower)(int n, const Node& node);
    bool reads_int8;  // a layer of this op takes its input in int8 (reads_int8)
  };
  static const std::map<std::string, OpLowering>& lowerings();

  bool try_int8(int n, const Node& node);

  // For Mul(x, s) with x [N, C, H, W] and s a computed [N or 1, C, 1, 1]
  // tensor (a squeeze-and-excitation gate): the index of x among the
  // inputs, or -1.
  int channel_mul_operand(const Node& node) const;

  // y = x * gate per channel with x int8: int8rt.QChannelMul. When x is a
  // table region's output (int8_gates), the gate reads the region's int8
  // input through the region's float values (gate_tables_) and computes
  // what the float Mul and Quantize would, exactly.
  bool lower_channel_mul(int, const Node& node);

  // Mul (Div) of a tensor by a positive finite scalar constant c (torch's
  // attention scale on q and k): the factor, c (1 / c), with the tensor's
  // index among the inputs in *x; 0 when the node is no such product.
  double rescale_factor(const Node& node, int* x) const;

  // y = x * c with x int8 and every reader of y taking it in int8: y keeps
  // x's int8 values at scale s_x * c, so nothing is rounded; a QReshape
  // keeping every dim copies the bytes under y's name.
  bool lower_rescale(int, const Node& node);

  // Whether a rescale pays: y's readers are linear layers or data movement
  // reading int8 (an element-wise reader would rather fold the product into
  // its table, lower_lut).
  bool rescale_pays(const Node& node) const;

  // Ops that take tensor t as int8. Conv / Gemm / MatMul quantized the float
  // result with the same scale anyway, so behind them a table changes no
  // byte; pooling, concat, flatten, add and a channel gate (Mul by a
  // [N, C, 1, 1] tensor) then run in int8 on it instead of in float32.
  // With `layernorm_x`, also a LayerNorm taking t as its x in int8
  // (layernorm_takes_int8_input): asked only for a table's output
  // (lower_lut), so no other float tensor (BERT's, a float layer's output
  // quantized before a move) gains a rounding in front of a LayerNorm.
  bool reads_int8(const Node& node, int t, bool layernorm_x = false) const;

  // A data-movement node reads int8 when everything it feeds does: its
  // outputs are no network outputs and all their readers read int8
  // (reads_int8, `layernorm_x` passed on).
  bool moves_to_int8_readers(const Node& node, bool layernorm_x = false) const;
  // Whether `node`'s one output is a network output that no node reads.
  bool only_network_output(const Node& node) const;
  // t's values reach nothing but network outputs, directly or through data
  // movement (SqueezeNet's classifier: GlobalAveragePool -> Flatten -> logits):
  // an int8 form of t would only add a rounding to values that leave as float32.
  bool leaves_as_float_only(int t) const;

  // Quantizes a float input of a data-movement node whose readers all take
  // int8, so the node can move int8 bytes (lower_int8_move_nodes.cc).
  bool quantize_before_move(const Node& node);

  bool lower_lut(int n);
  // Marks a region's nodes consumed: their names and ops joined by '+', and their sources.
  struct ConsumedRegion {
    std::string name, ops;
    std::vector<std::string> sources;
  };
  ConsumedRegion consume_region(const LutRegion& r);

  // ---- gates and output regions read from int8 (lower_int8_gates.cc) ----
  // Mul `mul` is a channel gate that reads tensor `gate` as its gate and
  // will lower to int8rt.QChannelMul (its x int8, its output calibrated).
  bool gate_mul_lowers(const Node& mul, int gate) const;
  // A region on [N, C, 1, 1] read only by such gates (int8_gates): no layer;
  // the gates read its int8 input through its 256 float values (gate_codes_).
  bool lower_gate_region(const LutRegion& r);
  // A region whose output is wanted in float32 (a network output read by
  // no layer, or read only by layers kept float by request: a float
  // island's entry), its input made in int8: int8rt.QLutFloat.
  bool lower_float_region(const LutRegion& r);
  // A Softmax over contiguous rows whose output only leaves the network,
  // its input made in int8: int8rt.QSoftmaxFloat (lower_int8_softmax.cc).
  bool lower_output_softmax(int n, const Node& node);
  // t's float values are its int8 values (an int8 layer made t; any float
  // form is its Dequantize), so reading t in int8 rounds nothing more.
  bool made_in_int8(int t) const { return is_int8(t) && (float_id_[t] < 0 || dequantized_.count(t) > 0); }

  // Why a node that try_int8 left without a word stays float32.
  std::string float_reason(const Node& node) const;

  bool decline(const Node& node, const std::string& why) {
    note("layer '" + node.name + "' (" + node.op + ") stays float32: " + why);
    return false;
  }

  bool is_int8(int t) const { return t >= 0 && int8_id_[t] >= 0; }

  // The conv/gemm's fused activation (passes.h: int8rt_activation) as its
  // int8 epilogue's; false when it has none.
  static bool fused_activation(const Node& node, ActivationAttrs& act);

  bool lower_conv(int, const Node& node);
  // The PRelu that Conv `conv` folds into its int8 epilogue
  // (lower_int8_prelu.cc): its node index, with one slope per output
  // channel in *slopes; -1 where none does.
  int fused_prelu(const Node& conv, std::vector<double>* slopes) const;
  // Why Conv `node` cannot take its per-channel int8 input (not depthwise)
  // or write its per-channel output (a fused residual, or an activation
  // whose int8 clamp differs between channels); "" when it can or has none.
  std::string per_channel_conv_blocker(const Node& node, bool residual, const ActivationAttrs& act) const;

  // Weights w (rows x cols, row = output channel, along source axis `axis`
  // of weight tensor `name`) quantized with the model's own scales
  // (LoweringOptions::weight_scales) when they give back every weight
  // exactly: q = rne(w / s) in [-127, 127] and (float)q * s == w. Else
  // quant::quantize_weights_per_channel's amax / 127, as for any weight.
  quant::QuantizedWeights quantize_weights(const std::string& name, int64_t axis, const float* w, int64_t rows,
                                           int64_t cols) const;

  // ConvTranspose with constant float32 weights [C][M/group][kh][kw] (2-D;
  // the importer lifts 1-D to H = 1): int8rt.QConvTranspose, weights
  // quantized per output channel m (the values w[c][m % (M/group)][..] of
  // the channels c of m's group), and a Relu that is its output's only
  // reader folded into the epilogue.
  bool lower_conv_transpose(int, const Node& node);

  bool lower_gemm(int, const Node& node);
  // The QGemm `name` (inputs ins, attributes a, int8 output y) with the
  // element-wise region that alone reads y as its table, emitted as one
  // layer (lower_int8_gemm_table.cc); false, and nothing emitted, where that
  // fusion does not apply.
  bool lower_gemm_table(const std::string& name, std::vector<std::string> sources, std::vector<int> ins,
                        const QGemmAttrs& a, int y);

  // LSTM / GRU / RNN with constant weights (lower_int8_rnn.cc):
  // int8rt.QLSTM / QGRU / QRNN, X int8, W and (where the state has a
  // calibrated scale) R int8 per gate row; float32 outputs.
  bool lower_rnn(int, const Node& node);

  // The sole reader of MatMul output y when it is an Add or Mul of a
  // constant float32 vector of n finite values over the last axis (shape [n]
  // or [1, .., 1, n], no wider than y), or -1.
  int affine_tail_reader(int y, int64_t n) const;
  // y is a residual branch whose int8 step is far coarser than the skip it is added to (QGemm: float out).
  bool coarse_residual_branch(int y) const;

  // Whether Conv output y (no fused residual / PRelu when those are false)
  // is written as float32: it is a network output itself or reaches only
  // network outputs through data movement (leaves_as_float_only), and has no
  // zero point (lower_int8_conv_head.cc).
  bool conv_head_writes_float(int y, bool residual, bool prelu) const;
  // The QConv `name` (no output scale in `a`) writing source tensor y as
  // float32 NHWC, then a float32 Transpose to y's logical order.
  void add_conv_float_output(const std::string& name, std::vector<std::string> sources, const std::vector<int>& ins,
                             Attributes a, int y);

  // The layer `name` (a MatMul or Gemm lowered to `op`, computing source
  // nodes `sources`) writing source tensor y in int8 at y's scale (logical
  // layout) or, when not int8_out, in float32.
  void add_linear_output(const char* op, const std::string& name, std::vector<std::string> sources,
                         const std::vector<int>& ins, Attributes a, int y, bool int8_out);

  // MatMul of two activations (attention's Q K^T and its product with V):
  // int8rt.QMatMul with per-tensor scales for both operands, in their
  // logical layout. Its output is int8 when an int8 layer reads it (the
  // product with V feeding the output projection), float32 otherwise (the
  // scores, which a mask Add and a Softmax read in float): one rounding less.
  bool lower_matmul_pair(const Node& node);

  // Attention: MatMul pair -> [Mul / Div by a scalar] -> up to two Add(mask), each
  // maybe inside a Reshape of the batch dims and back (Swin: Add(bias) ->
  // Reshape -> Add(window mask) -> Reshape) -> Softmax over the last axis ->
  // [Where(IsNaN(p), 0, p)] -> MatMul pair, each the sole reader of what it
  // reads, becomes one int8rt.QAttention, whose scores stay in cache.
  struct AttentionMask {
    int tensor = -1;
    std::vector<int64_t> view;  // the batch dims it is added over (QAttentionAttrs); empty: the scores'
  };
  struct AttentionMatch {
    const Node* first = nullptr;        // the scores' MatMul
    std::vector<const Node*> between;   // Mul / Div, Add, Reshape, Softmax, IsNaN, Where: consumed
    std::vector<AttentionMask> masks;   // in the order they are added
    int probs = -1;                     // the probabilities the second MatMul reads
    float scores_factor = 0.0f;         // 0: no scale
    bool scores_divide = false, nan_to_zero = false;
    TalkingHeads heads;                 // CaiT's mixes over the heads (head_mix.h); inactive: none
  };
  // At the first MatMul: true when the pattern holds; the nodes between are
  // consumed and the match waits in attention_at_ for the second MatMul.
  bool match_attention(const Node& node);
  // At the second MatMul `mm`: emits the layer.
  void lower_attention(const AttentionMatch& m, const Node& mm);
  // The grid rule for probabilities `probs` (a softmax over their last
  // axis) that an int8 product reads: active where their key axis is
  // unknown at build time and calibration recorded its fewest keys
  // (LoweringOptions::calibrated_keys; engine/ops/int8/probs_keys.h).
  ProbsKeys probs_keys(int probs) const;
  // probs_keys for the first operand of an unfused int8 product `node`
  // where it applies there (lower_int8_linear.cc).
  ProbsKeys unfused_probs_keys(const Node& node) const;
  // A report warning when such probabilities that the int8 product `layer`
  // reads keep the calibrated grid (`grid` inactive) on a dynamic key axis
  // with a threshold at most 1/2: rows over fewer keys than 1/threshold
  // clip (lower_int8_attention.cc).
  void warn_short_rows(int probs, const std::string& layer, const ProbsKeys& grid);
  // Whether t is the output of a Softmax over its last axis.
  bool is_last_axis_softmax(int t) const;
  // Whether `reshape` (between the scores and the softmax) regroups only the
  // batch dims of `scores` with a constant target: *view = its output's batch
  // dims (one -1 at most), or cleared when it restores the scores' shape.
  bool attention_view(const Node& reshape, int scores, std::vector<int64_t>* view) const;

  // The node reading t alone when it is `op` (sole_reader), else null.
  const Node* sole_reader_of(int t, const char* op) const;
  // Talking heads' mix over the heads of t [B, H, M, N] (head_mix.h):
  // Transpose (0, 2, 3, 1) -> MatMul by a constant [H, H] -> [Add of a
  // constant [H]] -> Transpose (0, 3, 1, 2), each the sole reader of what
  // it reads: *mix, the nodes appended to *nodes, and the mixed tensor
  // returned; else -1 (nothing appended).
  int head_mix_after(int t, HeadMix* mix, std::vector<const Node*>* nodes) const;

  // Whether MatMul output y is written in int8: it has a scale, is no
  // network output and an int8 layer reads it.
  bool int8_output_wanted(int y) const;

  // Operand t as the layer reads it: t, or with *transposed the input of the
  // Transpose left to the layer (defer_transposed_operand), whose name is
  // added to *sources.
  int untransposed(int t, bool* transposed, std::vector<std::string>* sources) const;

  // Whether lower_matmul_pair will lower MatMul `mm` (asked before its
  // operands are lowered: the answer must not change by then).
  bool matmul_pair_lowers(const Node& mm) const;

  // A Transpose of a logical int8 tensor x whose only reader is a MatMul
  // pair taking it as B (Q K^T's K^T), when its perm is the last two axes
  // swapped after a permutation that keeps the innermost axis: that
  // permutation alone runs (nothing when it is the identity) and the MatMul
  // reads its result as b_transposed (QMatMul packs [N][K] directly), so no
  // byte-by-byte transpose runs, here or in the packing.
  bool defer_transposed_operand(const Node& node);

  bool lower_pool(int, const Node& node);

  // ---- pre-quantized models (lower_int8_qdq.cc) ----
  // A Q or DQ node's parameters, the zero point shifted to int8 (uint8
  // z -> z - 128); ok false when it has no such form. Per tensor (scales
  // empty) or per channel: axis 1 of a rank-4 input, one scale per channel
  // in `scales` (scale 0), one zero point for every channel.
  struct QdqParams {
    bool ok = false;
    float scale = 0.f;
    int32_t zero = 0;
    std::vector<float> scales;
    bool same(const QdqParams& o) const { return ok && o.ok && scale == o.scale && zero == o.zero && scales == o.scales; }
  };
  QdqParams qdq_params(const Node& n) const;
  // Activation Q `q` lowers: float input, every reader a DQ of the same
  // parameters, and when per channel every reader of those DQs a depthwise
  // conv (per_channel_blocker).
  bool quantize_lowers(const Node& q) const;
  // Why a per-channel Q's int8 form has no reader that takes it: the first
  // reader of its DQs that is no depthwise Conv reading it as its input
  // (in words), or "" when all are.
  std::string per_channel_blocker(const Node& q) const;
  // Fills scales_ and zero_ from the Qs that lower (called once, before the walk).
  void read_model_quantization();
  // Source tensor y is, byte for byte, x's int8 form.
  void alias_int8(int y, int x);
  bool lower_quantize_linear(int, const Node& node);
  bool lower_dequantize_linear(int, const Node& node);
  // The node touches a tensor with a non-zero zero point and its lowering takes none.
  bool zero_point_blocks(const Node& node) const;
  // An int8 layer of this op writes its input's parameters (a byte mover or max pool).
  static bool passes_zero_point_on(const std::string& op);
  // ---- zero-point activations (lower_int8_zero_points.cc) ----
  // Gives the tensors with a proven lower bound lo <= 0 whose readers all
  // take a zero point exactly the grid quant::lower_bounded_grid makes of
  // their calibrated scale and lo (unsigned: zero point -128, scale
  // threshold / 255) in scales_ / zero_, with the max pools and data
  // movement passing them on (called once, before the walk, when
  // LoweringOptions::unsigned_activations or asymmetric_activations).
  void adopt_zero_point_activations();
  // Gives a Conv / Gemm output whose every reader is a table region flat
  // below v < 0 (a HardSwish: 0 below -3) the grid quant::flat_below_grid
  // makes of its calibrated scale and v, in scales_ / zero_, and records it
  // in flat_inputs_ (called first by adopt_zero_point_activations, with
  // LoweringOptions::asymmetric_activations).
  void adopt_flat_input_grids();
  // Each tensor's lower bound (NaN: none): proven, or for a folded PRelu's
  // output from calibration (prelu_lower_bound); the tensors with a grid of
  // their own (not a mover's output) are appended to *roots.
  std::vector<float> lower_bounds(std::vector<int>* roots) const;
  // For a table region starting at node n (none of whose nodes is marked in
  // in_region; its nodes get marked): the least of its 256 float values (0
  // when all are above), its output in *y; NaN when n starts no region.
  float table_lower_bound(int n, std::vector<char>& in_region, int* y) const;
  // The lower bound of the output of a PRelu with these per-channel slopes
  // folded into the Conv writing y (its pre-activation): min(0, min over
  // slopes[k] > 0 of -slopes[k] * y's calibrated channel k max |x|); NaN
  // without channel ranges for y.
  float prelu_lower_bound(int y, const std::vector<double>& slopes) const;
  // Node writes a tensor that is never negative: a Conv / Gemm / MatMul
  // with a fused Relu or Clip(min >= 0).
  static bool writes_non_negative(const Node& node);
  // Every reader of t takes t's zero point exactly; the outputs of the max
  // pools and data movement among them (whose readers must too) are added
  // to *passed. `why` names the first reader that does not.
  bool readers_take_zero_point(int t, std::vector<int>* passed, std::string* why) const;
  // ---- Concat inputs on the Concat's grid (lower_int8_concat_grids.cc) ----
  // A Concat input whose only reader is the Concat and whose writer
  // quantizes at any grid (writes_any_grid) gets the Concat output's scale
  // and zero point in scales_ / zero_: one rounding instead of two, and the
  // Concat a copy (called once, before the walk, after the zero points are
  // adopted; not for a pre-quantized model).
  void share_concat_grids();
  // node writes its int8 output at the scale and zero point scales_ / zero_
  // give it, whatever they are: a Conv, a Gemm / MatMul with constant weights.
  bool writes_any_grid(const Node& node) const;

  // ---- per-channel grids of calibrated tensors (lower_int8_channel_grids.cc) ----
  // Gives the tensors whose channels' ranges spread widely, and whose writer
  // and readers take one scale per channel, their grids in channel_scales_
  // (channel_grids_ lists them; called once, before the walk, after the
  // zero points are adopted, whose grid it replaces on those tensors).
  void adopt_channel_grids();
  // The per-channel scales t would get (min(channel max, threshold) / 127),
  // or none: no ranges, a network output, or channels that spread little.
  std::vector<float> channel_grid(int t) const;
  // Conv `node` reads t as its input (only there) and will lower.
  bool conv_reads_channels(const Node& node, int t) const;
  // Conv `node` writes its output at per-channel scales s_out (no fused
  // residual; one int8 clamp for every channel).
  bool conv_writes_channels(const Node& node, const std::vector<float>& s_out) const;
  // The element-wise table region whose input is t (starting at a reader of t), or none.
  LutRegion region_reading(int t) const;
  // Conv `node` reads a calibrated per-channel grid and is not depthwise: its
  // weights take the input's channel scales (quantize_folded_weights) and it
  // reads the int8 values at scale 1.
  bool folds_input_channels(const Node& node) const;
  // w[o][c][..] * s_in[c] (c the input channel of o's group), quantized per output channel.
  quant::QuantizedWeights quantize_folded_weights(const Node& node) const;

  bool lower_global_avgpool(int, const Node& node);

  bool lower_add(int, const Node& node);

  // Concat of int8 tensors along any axis (mapped to the int8 layout). Inputs
  // that all carry one scale keep it: a pure copy, exact. Otherwise each is
  // requantized to the calibrated output scale (QConcat's rescale, one
  // rounding of q * s_in / s_out: at most 1 step from Dequantize, float
  // Concat, Quantize).
  bool lower_concat(int, const Node& node);

  // A data-movement node on an int8 input (lower_int8_moves.h): int8rt.Q<Op>
  // at the input's scale, between int8 layout transposes when it reads or
  // writes the logical (NCHW) element order.
  bool lower_move(int, const Node& node);

  // A Transpose that only renames the int8 layout: perm (0, 2, 3, 1) of an
  // NHWC tensor is, byte for byte, its result [N, H, W, C] in logical order,
  // and perm (0, 3, 1, 2) of a logical [N, H, W, C] tensor is its result
  // [N, C, H, W] held NHWC (ConvNeXt's permutes around its Linears). No
  // element moves: the layout flag changes, and a QReshape keeping every dim
  // copies the bytes under the output's name.
  bool lower_layout_rename(const Node& node);

  // The sole reader of t, or -1 (none, several, or t is a network output).
  int sole_reader(int t) const;

  // ShuffleNet's channel shuffle, Reshape [N, C, H, W] -> [N, g, C/g, H, W],
  // Transpose (0, 2, 1, 3, 4), Reshape back to [N, C, H, W]: a permutation of
  // the channels, which in the NHWC bytes is a transpose of each pixel's
  // [g, C/g] block. Run as that, on [N*H*W, g, C/g] views, with no NCHW round trip.
  bool lower_channel_shuffle(const Node& node);

  // A vision transformer's patch tokens, x.flatten(2).transpose(1, 2):
  // Reshape [N, C, H, W] -> [N, C, H*W], Transpose (0, 2, 1) -> [N, H*W, C].
  // Of an NHWC int8 x that is x's bytes as they lie: one QReshape to
  // [N, H*W, C] instead of a transpose to NCHW, a copy and a transpose back.
  bool lower_token_flatten(const Node& node);

  // Shape of an int8 tensor, read off the int8 tensor itself (no Dequantize
  // just for its dims): a rank-4 one is NHWC, so its dims are gathered back
  // into NCHW order, and start / end become a Slice of that.
  bool lower_shape(int, const Node& node);

  // An int8 layout change (NHWC <-> NCHW of a rank-4 int8 tensor) as int8rt.QTranspose.
  int add_layout_transpose(const std::string& name, int in, const std::vector<int64_t>& perm, const std::string& out,
                           const std::vector<std::string>& sources);

  // Flatten(axis=1) of an int8 [N, C, 1, 1] tensor: NHWC and NCHW orders
  // coincide when H = W = 1, so the int8 bytes are already the flattened
  // [N, C] tensor (global pooling -> flatten -> fully connected stays int8).
  bool lower_flatten(int, const Node& node);

  // Nearest Resize of the spatial dims of an int8 tensor: a byte copy at
  // the input's scale. Which source row and column each output pixel reads
  // is taken from the FP32 layer itself (ops/int8/nearest_sources.h): here
  // for a static input size, by the layer for each size when it is dynamic.
  bool lower_resize(int, const Node& node);

  // Bilinear Resize of the spatial dims of an int8 tensor: int8rt.QResizeLinear
  // with the FP32 layer's taps (resize_coords.h; fixed here for static sizes
  // and constant scales / sizes, else derived by the layer per size),
  // quantized at y's scale, so the bytes of Dequantize, FP32 Resize,
  // Quantize, where y has a scale and every reader takes it in int8; else
  // writing float32, the bytes of Dequantize, FP32 Resize.
  bool lower_resize_linear(const Node& node);

  const Network& src_;
  const LoweringOptions& opt_;
  const NetworkIndex index_;  // readers and outputs of src_, which never changes
  Network dst_;
  std::vector<std::string> report_;
  std::vector<int> float_id_, int8_id_;
  std::map<int, std::pair<int, std::string>> transposed_b_;  // deferred K^T -> (x, the Transpose's name)
  std::map<int, AttentionMatch> attention_at_;  // second MatMul's node index -> its attention
  // A table region's output read by a channel gate (int8_gates) -> the
  // region's int8 input and the float [256] constant of its values, read by
  // the gates and global pools (lower_lut, lower_channel_mul,
  // lower_global_avgpool); sources: the region's nodes when no table layer
  // computes them (the first gate lists them).
  struct GateTable {
    int x = -1, values = -1;
    std::vector<std::string> sources;
  };
  std::map<int, GateTable> gate_tables_;
  // A gate region's output -> its int8 input (the gate's codes) and the float
  // [256] constant of its values; sources: the region's nodes, listed by the
  // first gate (lower_gate_region, lower_channel_mul).
  struct GateCodes {
    int codes = -1, values = -1;
    std::vector<std::string> sources;
  };
  std::map<int, GateCodes> gate_codes_;
  std::set<int> dequantized_;  // tensors whose float form is a Dequantize of their int8 one (get_float)
  std::vector<int> other_layout_id_;  // a rank-4 int8 tensor in its other layout (int8_in), or -1
  std::vector<char> nhwc_;            // int8_id_ of a rank-4 tensor is NHWC (else logical)
  std::vector<float> qscale_;
  std::vector<int32_t> qzero_;            // zero point of int8_id_ (0 unless a model's or zero_points.cc's)
  // Per-channel scales of int8_id_ (axis 1 of the source tensor; qscale_ is
  // then 0), empty for per-tensor ones: a pre-quantized model's per-channel
  // activation, which depthwise convs read (lower_int8_qdq.cc).
  std::vector<std::vector<float>> qchannels_;
  std::map<int, std::vector<float>> channel_scales_;  // the model's per-channel scales by source tensor
  std::set<int> channel_grids_;  // tensors whose channel_scales_ calibration made (adopt_channel_grids)
  std::map<std::string, float> scales_;   // see has_scale
  std::map<int, int32_t> zero_;           // the model's zero points by source tensor (zero_point_of)
  std::set<int> flat_inputs_;             // tables' inputs clipped below their flat part (adopt_flat_input_grids)
  bool has_zero_points_ = false;
  std::vector<char> consumed_;
  std::map<std::string, FloatEpilogue> float_epilogues_;  // by Conv name (set_float_epilogues)
  // Emits float32 Conv `node` with its epilogue, the absorbed nodes consumed.
  void emit_float_epilogue(const Node& node, const FloatEpilogue& e);
  Int8PlanRecorder plan_;
};

}  // namespace engine
}  // namespace int8rt
