// The INT8 lowering's LayerNormalization boundaries (lower_int8.h): a
// LayerNorm between int8 layers (BERT's: the dense layer's int8 output in,
// the next block's int8 GEMMs out) reads its int8 input and writes its int8
// output itself (engine/ops/layernorm_f32.cc, int8rt_input_scale /
// int8rt_output_scale), row by row by the rules the Dequantize and Quantize
// layers follow (kernels/ref/layernorm_f32.h), so no Dequantize / Quantize
// layer and no float tensor in memory on either side; the bits are the chain's. Where float layers read
// the output too (BERT's next LayerNorm adds it as its residual), the layer
// writes it as float and, as one more output, its int8 form
// (int8rt_int8_copy_scale) for the int8 readers.
#include "engine/lower_int8_lowerer.h"
#include "engine/lower_int8_moves.h"

namespace int8rt {
namespace engine {

namespace {
// A tensor whose int8 form one LayerNorm row loop can take or write as it
// is: a known rank other than 4 (no NHWC form), so rows are the logical rows.
bool plain_rows(const Tensor& t) { return !t.shape.empty() && t.shape.size() != 4; }
// A move whose output holds every value of its input, rearranged (no
// selection, no padding): its output's calibrated range is its input's.
bool moves_every_value(const std::string& op) {
  return op == "Reshape" || op == "Transpose" || op == "Squeeze" || op == "Unsqueeze";
}
}  // namespace

// LayerNorm `node` can read x (its input 0) as int8 rows itself.
bool Lowerer::layernorm_row_input(const Node& node, int x) const {
  if (node.op != "LayerNormalization" || node.inputs.empty() || opt_.fp32_layers.count(node.name)) return false;
  if (x < 0 || node.inputs[0] != x || zero_point_of(x) != 0 || has_channel_scales(x) || !plain_rows(src_.tensor(x))) {
    return false;
  }
  // A fused Add's residual of another shape is added to float rows of the broadcast shape first.
  return !node.attrs.has("int8rt_residual") ||
         (node.inputs.size() == 4 && node.inputs[3] >= 0 && src_.tensor(node.inputs[3]).shape == src_.tensor(x).shape);
}

// Every reader of x is a LayerNorm reading it as its input 0 in int8 (so x
// needs no float form): one LayerNorm (BERT's, behind its dense layer), or
// an SVTR block's two (LN1(x), and LN2(x + attention(LN1(x))) with the Add
// fused into LN2).
bool Lowerer::layernorm_takes_int8_input(const Node& node, int x) const {
  if (!layernorm_row_input(node, x) || index_.is_output(x)) return false;
  for (int c : index_.readers(x)) {
    if (consumed_[c] || !layernorm_row_input(src_.nodes()[c], x)) return false;
  }
  return true;
}

int Lowerer::int8_layernorm_input(const Node& node) const {
  const int x = node.inputs.empty() ? -1 : node.inputs[0];
  if (!is_int8(x) || float_id_[x] >= 0 || qzero_[x] != 0 || !qchannels_[x].empty()) return -1;
  return layernorm_takes_int8_input(node, x) ? x : -1;
}

// Output 0 of a LayerNorm node when its int8 form is one the layer may
// write as it normalises: one scale, zero point 0, plain rows, and no
// data-movement reader of a rank other than 4, which would quantize y at
// its own output's scale instead (quantize_before_move) and take the
// LayerNorm's int8 form, at y's scale, if there were one. A move to rank 4
// (PP-OCR rec's last SVTR LayerNorm: Reshape to [N, 1, W, C] ->
// Transpose(0, 3, 1, 2) -> Conv) stays float32 in quantize_before_move
// (rank 4 is the convs' layout business), so there y's int8 form is moved
// instead when the move rearranges every value (same range, so y's scale is
// the one calibrated for the move's output) and reaches int8 readers only.
// Else -1.
int Lowerer::layernorm_int8_output(const Node& node) const {
  if (node.op != "LayerNormalization" || node.outputs.empty() || opt_.fp32_layers.count(node.name)) return -1;
  const int y = node.outputs[0];
  if (!has_scale(y) || has_channel_scales(y) || zero_point_of(y) != 0 || !plain_rows(src_.tensor(y))) return -1;
  for (int c : index_.readers(y)) {
    const Node& r = src_.nodes()[c];
    if (!is_move_op(r.op)) continue;
    const bool to_rank4 = r.outputs.size() == 1 && r.outputs[0] >= 0 && src_.tensor(r.outputs[0]).shape.size() == 4;
    if (!to_rank4 || !moves_every_value(r.op) || !moves_to_int8_readers(r)) return -1;
  }
  return y;
}

// A LayerNorm with a fused Add reads its residual (inputs[3]) in int8 where
// that is an int8 tensor of its input's shape with no float form
// (int8_residual_of). Not counted for a LayerNorm's own output y: that would
// make the next LayerNorm add y's int8 form where it added y (BERT's residual
// stream quantized: centred cosine of BERT-base's hidden states 0.9963 ->
// 0.9889, RESULTS.md section 96).
bool Lowerer::reads_int8_residual(const Node& r, int y) const {
  return r.op == "LayerNormalization" && !opt_.fp32_layers.count(r.name) &&
         r.attrs.get_int("int8rt_residual", -1) == 3 && r.inputs.size() == 4 && r.inputs[3] == y &&
         r.inputs[0] != y && r.inputs[0] >= 0 && src_.tensor(r.inputs[0]).shape == src_.tensor(y).shape;
}

int Lowerer::int8_readers(int y, bool residuals) const {
  int count = 0;
  for (int c : index_.readers(y)) {
    const Node& r = src_.nodes()[c];
    count += (!opt_.fp32_layers.count(r.name) && reads_int8(r, y)) || (residuals && reads_int8_residual(r, y));
  }
  return count;
}

bool Lowerer::layernorm_writes_int8(const Node& node) const {
  const int y = layernorm_int8_output(node);
  if (y < 0 || node.outputs.size() != 1 || node.attrs.has("int8rt_sum_output") || index_.is_output(y)) return false;
  // Every reader takes y in int8: a float reader would read y's int8 form dequantized, not y.
  const size_t readers = index_.readers(y).size();
  return readers > 0 && static_cast<size_t>(int8_readers(y)) == readers;
}

bool Lowerer::layernorm_int8_copy(const Node& node) const {
  const int y = layernorm_int8_output(node);
  return y >= 0 && int8_readers(y) > 0;
}

void Lowerer::adopt_layernorm_int8_copy(const Node& node, int out) {
  const int y = node.outputs[0];
  set_int8(out, src_.tensor(y).shape, Layout::kLogical);
  qscale_[y] = scale(y);
  qzero_[y] = 0;
  nhwc_[y] = false;
  record_int8_tensor(y, out, node.name, /*in_int8=*/false);
  int8_id_[y] = out;
  note("layer '" + node.name + "' (LayerNormalization) writes '" + src_.tensor(y).name +
       "' as float32 and, for its int8 readers, as int8 (no Quantize layer)");
}

}  // namespace engine
}  // namespace int8rt
