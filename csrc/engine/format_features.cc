// The table of attributes whose meaning an older reader would drop, and the
// version rule over it (format_features.h). Seeded from `git log -S` over
// the keys the lowering, the passes and the layers spell since format 3 was
// set (9ca97ef0, 2026-12-03), and from the keys each contracts.cc struct
// reads then and now; each entry names the commit that added it.
#include "engine/format_features.h"

#include <algorithm>
#include <iterator>

#include "core/quote.h"
#include "int8rt/error.h"

namespace int8rt {
namespace engine {
namespace {

constexpr SemanticAttribute kSemanticAttributes[] = {
    // int8rt.QAttention: a second additive mask and the masks' batch views
    // (b291a3b6), probabilities on the unsigned grid (88ad4418), their grid
    // from the calibration's fewest keys (d582449f).
    {"int8rt.QAttention", "mask_view", 4, true},
    {"int8rt.QAttention", "mask2_view", 4, true},
    {"int8rt.QAttention", "probs_zero_point", 4, true},
    {"int8rt.QAttention", "probs_calibrated_keys", 4, true},
    // Talking-heads mixes before / after the softmax (5ef9b7df, this
    // session's, 2026-12-07 18:57; the first entries under the rule).
    {"int8rt.QAttention", "scores_head_mix", 4, false},
    {"int8rt.QAttention", "probs_head_mix", 4, false},
    // The unfused attention's probabilities grid (d582449f).
    {"int8rt.QMatMul", "probs_calibrated_keys", 4, true},
    {"int8rt.Quantize", "probs_calibrated_keys", 4, true},
    // Per-channel int8 activations (e324539c, 91c97c89): the linear ops
    // share one reader (contracts.cc, Reader::linear), and QLut.
    {"int8rt.QConv", "in_scales", 4, true},
    {"int8rt.QConv", "out_scales", 4, true},
    {"int8rt.QConvTranspose", "in_scales", 4, true},
    {"int8rt.QConvTranspose", "out_scales", 4, true},
    {"int8rt.QGemm", "in_scales", 4, true},
    {"int8rt.QGemm", "out_scales", 4, true},
    {"int8rt.QLut", "in_scales", 4, true},
    {"int8rt.QLut", "out_scales", 4, true},
    {"int8rt.Quantize", "scales", 4, true},
    {"int8rt.Dequantize", "scales", 4, true},
    // A fused per-channel PRelu epilogue (bc2d95aa).
    {"int8rt.QConv", "slopes", 4, true},
    // Zero points (asymmetric activations) on ops that had none at format
    // 3: QConcat (31ecc9f3), QLut (e4b09ca6), QAveragePool (f55841bb),
    // QGlobalAveragePool (93c8e0bf), QMatMul's a (88ad4418). Written only
    // when not 0, so symmetric engines keep format 3.
    {"int8rt.QConcat", "in_zero_points", 4, true},
    {"int8rt.QConcat", "out_zero_point", 4, true},
    {"int8rt.QLut", "in_zero_point", 4, true},
    {"int8rt.QLut", "out_zero_point", 4, true},
    {"int8rt.QAveragePool", "in_zero_point", 4, true},
    {"int8rt.QAveragePool", "out_zero_point", 4, true},
    {"int8rt.QGlobalAveragePool", "out_zero_point", 4, true},
    {"int8rt.QMatMul", "a_zero_point", 4, true},
    // FP32 MatMul + bias (+ Gelu) epilogue (f4b84d3b).
    {"MatMul", "int8rt_bias", 4, true},
    {"MatMul", "int8rt_activation", 4, true},
    // A float conv's element-wise chain as its epilogue (93b0e152) and an
    // int8 exit written by the conv itself (c60afdaa). Not its layout
    // (int8rt_layout, 9fe60810 / a2a28543): a region's Convs come with the
    // conversion ops of the same commits, which an older reader refuses.
    {"Conv", "int8rt_chain", 4, true},
    {"Conv", "int8rt_chain_values", 4, true},
    {"Conv", "int8rt_output_scale", 4, true},
    {"Conv", "int8rt_output_zero_point", 4, true},
    // LayerNormalization reading / writing int8 itself (3261917c,
    // 28bcd439, 45073ee7).
    {"LayerNormalization", "int8rt_residual_scale", 4, true},
    {"LayerNormalization", "int8rt_input_scale", 4, true},
    {"LayerNormalization", "int8rt_output_scale", 4, true},
    {"LayerNormalization", "int8rt_int8_copy_scale", 4, true},
    // Attention's mask and NaN guard fused into the Softmax (e6a54e20).
    {"Softmax", "int8rt_mask", 4, true},
    {"Softmax", "int8rt_nan_to_zero", 4, true},
    // ConvInteger's float epilogue (6ae1e7a1).
    {"ConvInteger", "int8rt_float_output", 4, true},
    // Bf16Attention (634f5b58) reading the heads in place (576723f5).
    {"int8rt.Bf16Attention", "int8rt_heads", 4, true},
    {"int8rt.Bf16Attention", "int8rt_q_scale", 4, true},
    {"int8rt.Bf16Attention", "int8rt_k_scale", 4, true},
    {"int8rt.Bf16Attention", "int8rt_v_scale", 4, true},
    // A blocked BF16 stem reading the float32 image (43a2e444).
    {"int8rt.ConvBf16x16c", "int8rt_f32_input", 4, true},
};

const SemanticAttribute* find_listed(const std::string& op, const std::string& attr) {
  for (const SemanticAttribute& s : kSemanticAttributes) {
    if (op == s.op && attr == s.attr) return &s;
  }
  return nullptr;
}

// Calls visit(node, key, entry) for every listed attribute in `net` and its
// subgraphs.
template <typename Visit>
void for_each_listed(const Network& net, const Visit& visit) {
  for (const Node& node : net.nodes()) {
    for (const auto& kv : node.attrs.values()) {
      if (kv.second.kind == Attribute::Kind::kGraph && kv.second.graph) for_each_listed(*kv.second.graph, visit);
      if (const SemanticAttribute* s = find_listed(node.op, kv.first)) visit(node, *s);
    }
  }
}

}  // namespace

const SemanticAttribute* semantic_attributes(size_t* count) {
  *count = std::size(kSemanticAttributes);
  return kSemanticAttributes;
}

uint32_t least_format_version(const Network& net) {
  uint32_t version = kBaseEngineFormatVersion;
  for_each_listed(net, [&](const Node&, const SemanticAttribute& s) { version = std::max(version, s.since); });
  return version;
}

void check_format_stamp(const Network& net, uint32_t version, const std::string& what) {
  for_each_listed(net, [&](const Node& node, const SemanticAttribute& s) {
    if (s.legacy || s.since <= version) return;
    throw FormatError(what + ": node " + quoted(node.name) + " (" + clipped(node.op) + ") carries attribute " +
                      quoted(s.attr) + ", which needs engine format " + std::to_string(s.since) +
                      ", but the file is stamped format " + std::to_string(version) +
                      ": the engine file is corrupted (its version was edited); rebuild the engine");
  });
}

}  // namespace engine
}  // namespace int8rt
