// The INT8 lowering's GEMM + table fusion (lower_int8_lowerer.h,
// lower_gemm_table): a fully connected layer whose int8 output y is read
// only by an element-wise region that lower_lut would turn into one
// int8rt.QLut (BERT's FC1 -> GELU, RESULTS.md section 179) becomes one
// int8rt.QGemm with that table as its input 3 (contracts.h): the GEMM
// requantizes to y's codes at y's scale as before, and each code q is
// written as table[q + 128], the table lower_lut computes (compute_lut, the
// region's float layers on y's 256 levels, quantized at the region output's
// scale and zero point). So the layer's bytes are the QGemm -> QLut chain's;
// the AMX GEMM applies the table to each step's output while it is in L1,
// other kernels after the GEMM (engine/ops/int8/qconv_qgemm.cc).
// Only the plain form: one scale on each side, y symmetric, no fused
// activation, every reader of the region's output an int8 reader and none
// a channel gate or pool that reads the region's float values instead
// (lower_lut's gate form); not an affine region (those other rules take
// exactly, see below); and only for kMinTableFeatures output features or
// more (BERT-class FFNs: 1536-4096), where the table's own pass reads and
// writes a tensor too large for the caches. Below, that pass is cheap and y
// keeps an int8 tensor of its own, which tools that read the engine's int8
// tensors (accuracy/taps.py) can tap: the fused layer holds y only inside.
// Otherwise the GEMM and the table stay two layers.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/lower_int8_lowerer.h"
#include "engine/lut_region.h"
#include "engine/ops/int8/contracts.h"

namespace int8rt {
namespace engine {

namespace {
constexpr int64_t kMinTableFeatures = 256;
}  // namespace

bool Lowerer::lower_gemm_table(const std::string& name, std::vector<std::string> sources, std::vector<int> ins,
                               const QGemmAttrs& a, int y) {
  if (!opt_.pointwise_tables || a.act.kind != kernels::Activation::kNone || a.out_zero_point != 0 ||
      zero_point_of(y) != 0 || channel_grids_.count(y) || !a.out_scales.empty() ||
      a.w_scales.size() < static_cast<size_t>(kMinTableFeatures)) {
    return false;
  }
  // The region from y's first reader; every reader of y must be in it (a
  // tanh-GELU spelled out reads y in three nodes).
  if (index_.is_output(y) || index_.readers(y).empty()) return false;
  const int c = index_.readers(y)[0];
  auto kept = [&](int m) { return consumed_[m] || opt_.fp32_layers.count(src_.nodes()[m].name) > 0; };
  if (kept(c) || !is_lut_op(src_.nodes()[c].op) || lut_region_input(src_, c) != y) return false;
  const LutRegion r = find_lut_region(src_, index_, c, kept);
  if (r.nodes.empty() || r.input != y) return false;
  for (int m : index_.readers(y)) {
    if (std::find(r.nodes.begin(), r.nodes.end(), m) == r.nodes.end()) return false;
  }
  // A region of Mul / Div / Add / Sub by constants alone is affine: other
  // rules take those exactly (a scaling moves y's codes under a new scale,
  // with no rounding: BERT's key scaled by d^-1/4), which a table would
  // round again at the region output's scale.
  const bool affine = std::all_of(r.nodes.begin(), r.nodes.end(), [&](int m) {
    const std::string& op = src_.nodes()[m].op;
    return op == "Mul" || op == "Div" || op == "Add" || op == "Sub";
  });
  if (affine) return false;
  const int out = r.output;
  if (index_.is_output(out) || !has_scale(out) || channel_grids_.count(out)) return false;
  for (int m : index_.readers(out)) {
    const Node& reader = src_.nodes()[m];
    if (!reads_int8(reader, out, /*layernorm_x=*/true) || channel_mul_operand(reader) >= 0 ||
        reader.op == "GlobalAveragePool") {
      return false;
    }
  }
  const std::vector<int8_t> table = compute_lut(src_, r, scale(y), scale(out), zero_point_of(out), 0);
  ConsumedRegion region = consume_region(r);
  for (std::string& s : region.sources) sources.push_back(std::move(s));
  ins.push_back(dst_.add_constant_i8(src_.tensor(out).name + "::table", {256}, table));
  const std::string fused = name + "+" + region.name;
  add_int8_node(QGemmAttrs::kOp, fused, std::move(sources), ins, a.to_attrs(), out, scale(out), Layout::kLogical);
  // y is still held in int8, inside the layer (the codes the table reads): in
  // the plan, as the unfused QGemm -> QLut had it, for the Q/DQ export and
  // for auto's choice of the tensors whose thresholds matter.
  Int8TensorPlan inner;
  inner.tensor = src_.tensor(y).name;
  inner.scale = scale(y);
  inner.producer = fused;
  inner.produced_in_int8 = true;
  inner.readers = {fused};
  plan_.inner_int8_tensor(std::move(inner));
  note("layer '" + name + "' writes '" + src_.tensor(out).name + "' through the table of its element-wise " +
       region.ops + " (one int8rt.QGemm: no int8rt.QLut pass over '" + src_.tensor(y).name + "')");
  return true;
}

}  // namespace engine
}  // namespace int8rt
