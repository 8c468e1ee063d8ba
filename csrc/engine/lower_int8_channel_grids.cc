// Per-channel int8 grids for calibrated activations (BuilderConfig::
// channel_activations; the Lowerer's, lower_int8_lowerer.h).
//
// A tensor whose channels' calibrated ranges spread widely (PP-LCNet's first
// HardSwish: channel peaks 0.09 to 38.5 behind folded BatchNorm scales up to
// 50, benchmarks/RESULTS_realnets.md) loses its dim channels on one
// per-tensor step. It gets one symmetric scale per channel (axis 1, the
// innermost axis of its NHWC bytes; the contract of RESULTS.md section 47)
// when, for channel maxima m_k (LoweringOptions::channel_ranges, max |x| over
// the calibration data) and the calibrated threshold T,
//   r_k = min(m_k, T),  s_k = r_k / 127  (r_k = 0: s_k = T / 127),
// max r_k / min r_k over the live channels >= kMinSpread, the mean of
// log2(step / s_k) >= kMinGainBits (step: the grid the tensor would have
// otherwise, its zero point's included), each channel has
// at least kMinChannelValues values per sample (H * W), and:
// - its writer writes per channel: a Conv (its epilogue requantizes each
//   output channel: scale[k] = s_in * s_w[k] / s_k) with no fused residual
//   and one int8 clamp for every channel; or an element-wise table region
//   (int8rt.QLut with one 256-entry table per channel) whose input is such a
//   tensor or a Conv's NHWC output;
// - every reader reads per channel: a Conv reading it as its input (a
//   depthwise one folds s_in[k] into output channel k's multiplier; any
//   other takes s_in[c] into its float weights w[o][c..] before their
//   per-output-channel quantization, SmoothQuant's migration with alpha 1,
//   and reads the int8 values at scale 1), or the table region starting at
//   it, whose output only Convs and data-free readers (reads_int8) take.
// Channel k's clip point never exceeds the per-tensor one (r_k <= T) and its
// step never exceeds T / 127, so no value is clipped that the per-tensor
// grid kept. The grid replaces a zero point lower_int8_zero_points.cc gave
// the tensor (a table output's asymmetric grid). Pre-quantized models keep
// their own grids (lower_int8_qdq.cc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/lower_int8_lowerer.h"
#include "engine/lut_region.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace engine {
namespace {

// Least max / min ratio of the channels' thresholds for a per-channel grid:
// below it one scale loses little (measured: benchmarks/RESULTS_realnets.md,
// "Per-channel activation grids").
constexpr float kMinSpread = 8.0f;
// Least mean over the channels of log2(the tensor's step / the channel's):
// the per-channel grid must halve the steps on (geometric) average, a
// tensor whose few dim channels gain while the rest lose the finer
// asymmetric grid stays as it is (measured as for kMinSpread).
constexpr double kMinGainBits = 1.0;
// Least number of values per channel and sample (H * W): a channel's max
// over a few calibration samples alone (a squeeze-and-excitation block's
// [N, C, 1, 1] tensors) underestimates what other inputs reach, and a
// per-channel grid then clips them (EfficientNet-B0: centred cosine 0.85 ->
// 0.78 with those grids, RESULTS_realnets.md "Per-channel activation grids").
constexpr int64_t kMinChannelValues = 16;

bool is_depthwise(const Network& net, const Node& conv) {
  const int64_t c = net.tensor(conv.inputs[0]).shape[1];
  const Tensor& w = net.tensor(conv.inputs[1]);
  return conv.attrs.get_int("group", 1) == c && w.shape[0] == c && w.shape[1] == 1;
}

}  // namespace

bool Lowerer::conv_reads_channels(const Node& node, int t) const {
  if (node.op != "Conv" || opt_.fp32_layers.count(node.name) || node.inputs.size() < 2 || node.inputs[0] != t) {
    return false;
  }
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == t) return false;  // also its residual
  }
  const Tensor& w = src_.tensor(node.inputs[1]);
  return w.is_constant && w.dtype == DataType::kFloat32 && w.shape.size() == 4 && node.outputs.size() == 1 &&
         (has_scale(node.outputs[0]) || channel_scales_.count(node.outputs[0]));
}

bool Lowerer::folds_input_channels(const Node& node) const {
  return node.op == "Conv" && channel_grids_.count(node.inputs[0]) && !is_depthwise(src_, node);
}

quant::QuantizedWeights Lowerer::quantize_folded_weights(const Node& node) const {
  const Tensor& wt = src_.tensor(node.inputs[1]);
  const std::vector<float>& s_in = channel_scales_.at(node.inputs[0]);
  const int64_t out = wt.shape[0], cin_group = wt.shape[1], taps = wt.shape[2] * wt.shape[3];
  const int64_t group = node.attrs.get_int("group", 1), out_group = out / group;
  std::vector<float> w(wt.f32);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t j = 0; j < cin_group; ++j) {
      const float s = s_in[static_cast<size_t>((o / out_group) * cin_group + j)];
      float* p = w.data() + (o * cin_group + j) * taps;
      for (int64_t i = 0; i < taps; ++i) p[i] *= s;
    }
  }
  return quant::quantize_weights_per_channel(w.data(), out, cin_group * taps);
}

std::vector<float> Lowerer::channel_grid(int t) const {
  const Tensor& tt = src_.tensor(t);
  if (tt.shape.size() != 4 || index_.is_output(t) || !has_scale(t)) return {};
  if (tt.shape[2] < 0 || tt.shape[3] < 0 || tt.shape[2] * tt.shape[3] < kMinChannelValues) return {};
  auto it = opt_.channel_ranges.find(tt.name);
  if (it == opt_.channel_ranges.end() || static_cast<int64_t>(it->second.size()) != tt.shape[1]) return {};
  auto base = opt_.scales.find(tt.name);
  if (base == opt_.scales.end() || !(base->second > 0.f)) return {};
  const float s_t = base->second, T = s_t * 127.f;
  std::vector<float> s(it->second.size());
  float lo = std::numeric_limits<float>::infinity(), hi = 0.f;
  for (size_t k = 0; k < s.size(); ++k) {
    const float r = std::min(it->second[k], T);
    const float sk = r > 0.f && std::isfinite(r) ? quant::scale_from_amax(r) : 0.f;
    if (!(sk >= std::numeric_limits<float>::min())) {
      // A dead channel, or one whose range is so small that r / 127 is below
      // float32's smallest normal (zero or subnormal: no table divides by it):
      // any scale holds its (all but) zero values.
      s[k] = s_t;
      continue;
    }
    s[k] = sk;
    lo = std::min(lo, r);
    hi = std::max(hi, r);
  }
  if (!(hi >= kMinSpread * lo)) return {};
  // The grid t has otherwise (a zero point's (T - lo) / 255 is finer than T / 127).
  const double step = scales_.at(tt.name);
  double bits = 0.0;
  for (float sk : s) bits += std::log2(step / sk);
  if (bits < kMinGainBits * static_cast<double>(s.size())) return {};
  return s;
}

bool Lowerer::conv_writes_channels(const Node& node, const std::vector<float>& s_out) const {
  if (node.op != "Conv" || opt_.fp32_layers.count(node.name) || node.attrs.has("int8rt_residual")) return false;
  const Tensor& w = src_.tensor(node.inputs[1]);
  if (!w.is_constant || w.dtype != DataType::kFloat32 || w.shape.size() != 4) return false;
  ActivationAttrs act;
  if (!fused_activation(node, act)) return false;
  std::vector<float> lo(s_out.size()), hi(s_out.size());
  for (size_t k = 0; k < s_out.size(); ++k) {
    kernels::int8_clamp_bounds(act.kind, static_cast<float>(act.min), static_cast<float>(act.max), s_out[k], 0,
                               &lo[k], &hi[k]);
    if (lo[k] > hi[k]) return false;
  }
  float l = 0.f, h = 0.f;
  return kernels::common_int8_clamp(lo.data(), hi.data(), static_cast<int64_t>(lo.size()), &l, &h);
}

LutRegion Lowerer::region_reading(int t) const {
  for (int c : index_.readers(t)) {
    if (!is_lut_op(src_.nodes()[c].op) || lut_region_input(src_, c) != t) continue;
    LutRegion r = find_lut_region(src_, index_, c, [&](int m) { return opt_.fp32_layers.count(src_.nodes()[m].name) > 0; });
    if (!r.nodes.empty() && r.input == t) return r;
  }
  return {};
}

void Lowerer::adopt_channel_grids() {
  if (opt_.channel_ranges.empty() || !opt_.pointwise_tables) return;
  // Writers before readers: a table's output may take a grid only when its
  // input is known to be NHWC int8 (a Conv's output, or a grid chosen here).
  std::vector<int> region_out(src_.tensors().size(), -1);  // table output -> its input
  for (int n : src_.topological_order()) {
    const Node& node = src_.nodes()[n];
    for (int t : node.outputs) {
      if (t < 0) continue;
      const bool conv_out = node.op == "Conv";
      const int x = region_out[t];
      if (!conv_out && x < 0) continue;
      if (x >= 0 && !channel_grids_.count(x)) {
        const int w = src_.tensor(x).producer;
        if (w < 0 || src_.nodes()[w].op != "Conv") continue;  // its int8 input may be laid out otherwise
      }
      std::vector<float> s = channel_grid(t);
      if (s.empty() || (conv_out && !conv_writes_channels(node, s))) continue;
      // Every reader a Conv reading t as its input, or the table region starting at t.
      const LutRegion region = region_reading(t);
      bool readers_ok = !index_.readers(t).empty();
      for (int c : index_.readers(t)) {
        const bool in_region = std::find(region.nodes.begin(), region.nodes.end(), c) != region.nodes.end();
        readers_ok = readers_ok && (conv_reads_channels(src_.nodes()[c], t) || in_region);
      }
      if (!readers_ok) continue;
      if (!region.nodes.empty()) {
        // The table's output must be read in int8 by layers that take a plain
        // int8 input (no gate or pool reading the region's float values).
        const int y = region.output;
        bool ok = has_scale(y) && !index_.is_output(y) && !index_.readers(y).empty();
        for (int c : index_.readers(y)) {
          const Node& r = src_.nodes()[c];
          ok = ok && r.op != "GlobalAveragePool" && channel_mul_operand(r) < 0 && reads_int8(r, y);
        }
        if (!ok) continue;
        region_out[y] = t;
      }
      channel_scales_[t] = std::move(s);
      channel_grids_.insert(t);
      zero_.erase(t);
      scales_[src_.tensor(t).name] = opt_.scales.at(src_.tensor(t).name);
      note("tensor '" + src_.tensor(t).name + "' is int8 per channel (its channels' calibrated ranges spread " +
           "widely; its writer and readers take one scale per channel)");
    }
    // A table region whose input has a grid (or is a Conv's output) may give its output one.
    for (int t : node.outputs) {
      if (t < 0 || (node.op != "Conv" && !channel_grids_.count(t))) continue;
      const LutRegion region = region_reading(t);
      if (!region.nodes.empty() && region_out[region.output] < 0) region_out[region.output] = t;
    }
  }
}

}  // namespace engine
}  // namespace int8rt
