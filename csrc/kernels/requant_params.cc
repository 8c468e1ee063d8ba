// Epilogue parameter construction; the formulas are stated in requant_params.h
// and this file follows them operation for operation.
#include "kernels/requant_params.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "int8rt/error.h"

namespace int8rt {
namespace kernels {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

void check_scale(float s, const std::string& what) {
  if (!(std::isfinite(s) && s > 0.0f)) {
    throw InvalidArgument("requantization: " + what + " must be finite and > 0, got " +
                          std::to_string(s));
  }
}

void check_zero_point(int32_t z, const char* what) {  // (a literal: no string made per call)
  if (z < -128 || z > 127) throw InvalidArgument(std::string("requantization: ") + what + " must lie in [-128, 127]");
}

void activation_range(Activation act, float clip_min, float clip_max, float* act_lo, float* act_hi) {
  *act_lo = -kInf;
  *act_hi = kInf;
  if (act == Activation::kRelu || act == Activation::kRelu6) *act_lo = 0.0f;
  if (act == Activation::kRelu6) *act_hi = 6.0f;
  if (act == Activation::kClip) {
    *act_lo = clip_min;
    *act_hi = clip_max;
  }
}

// The int8 clamp of an epilogue with output scales s_out (per tensor or per
// channel) and zero point z_out, written into rq.
void set_int8_clamp(EpilogueStorage& rq, ChannelScales s_out, Activation act, float clip_min, float clip_max,
                    int32_t z_out) {
  const int64_t K = s_out.per_channel() ? s_out.count : 1;
  // Per thread, grown, never shrunk: an int8 product whose zero point folds into its epilogue
  // per run (engine/ops/int8/int8_products.h) allocates nothing here once sized.
  thread_local std::vector<float> lo, hi;
  lo.resize(static_cast<size_t>(K));
  hi.resize(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) int8_clamp_bounds(act, clip_min, clip_max, s_out[k], z_out, &lo[k], &hi[k]);
  for (int64_t k = 0; k < K; ++k) {
    if (lo[k] > hi[k]) {
      throw InvalidArgument(std::string("requantization: the activation range lies outside the int8 range ") +
                            "of the output scale" + (z_out != 0 ? " and zero point" : "") +
                            (K > 1 ? " of channel " + std::to_string(k) : ""));
    }
  }
  if (!common_int8_clamp(lo.data(), hi.data(), K, &rq.clamp_lo, &rq.clamp_hi)) {
    throw InvalidArgument("requantization: the activation's clamp differs between output channels at their "
                          "per-channel output scales (one int8 clamp per epilogue)");
  }
}

}  // namespace

void int8_clamp_bounds(Activation act, float clip_min, float clip_max, float s_out, int32_t z_out, float* lo,
                       float* hi) {
  float act_lo = 0.0f, act_hi = 0.0f;
  activation_range(act, clip_min, clip_max, &act_lo, &act_hi);
  const float l = act_lo / s_out + static_cast<float>(z_out);
  const float h = act_hi / s_out + static_cast<float>(z_out);
  *lo = l >= -128.0f ? l : -128.0f;
  *hi = h <= 127.0f ? h : 127.0f;
}

bool common_int8_clamp(const float* lo, const float* hi, int64_t K, float* lo_out, float* hi_out) {
  auto common = [K](const float* b, float* out) {
    if (std::all_of(b, b + K, [&](float v) { return v == b[0]; })) {
      *out = b[0];
      return true;
    }
    const float n = std::nearbyint(b[0]);
    // Rounding is monotone: a true distance of 0.5 or more never computes as less.
    if (!std::all_of(b, b + K, [&](float v) { return std::fabs(v - n) < 0.5f; })) return false;
    *out = n;
    return true;
  };
  return K >= 1 && common(lo, lo_out) && common(hi, hi_out);
}

void apply_zero_points(EpilogueStorage& rq, ChannelScales s_in, const float* s_w, const int64_t* w_sum,
                       const float* bias, ChannelScales s_out, Activation act, float clip_min, float clip_max,
                       int32_t z_in, int32_t z_out) {
  if (z_in == 0 && z_out == 0) return;
  check_zero_point(z_in, "input zero point");
  check_zero_point(z_out, "output zero point");
  const bool int8_out = rq.out_type == OutputType::kInt8;
  if (!int8_out && z_out != 0) throw InvalidArgument("requantization: a float output has no zero point");
  const int64_t K = static_cast<int64_t>(rq.scale.size());
  for (int64_t k = 0; k < K; ++k) {
    const float b = bias ? bias[k] : 0.0f;
    const float s = s_in[k] * s_w[k];
    const float corr = static_cast<float>(static_cast<int64_t>(z_in) * w_sum[k]) * s;
    const float centred = b - corr;
    rq.bias[k] = int8_out ? centred / s_out[k] + static_cast<float>(z_out) : centred;
  }
  if (int8_out) set_int8_clamp(rq, s_out, act, clip_min, clip_max, z_out);
}

void apply_residual_zero_point(EpilogueStorage& rq, float residual_scale, int32_t z_r) {
  if (z_r == 0) return;
  check_zero_point(z_r, "residual zero point");
  const float shift = static_cast<float>(z_r) * residual_scale;
  for (float& b : rq.bias) b = b - shift;
}

Epilogue EpilogueStorage::epilogue(const int8_t* residual, float residual_scale) const {
  Epilogue ep;
  ep.scale = scale.data();
  ep.bias = bias.empty() ? nullptr : bias.data();
  ep.clamp_lo = clamp_lo;
  ep.clamp_hi = clamp_hi;
  ep.residual = residual;
  ep.residual_scale = residual_scale;
  ep.out_type = out_type;
  ep.slope = slope.empty() ? nullptr : slope.data();
  return ep;
}

EpilogueStorage make_epilogue(float s_in, const float* s_w, int64_t K, const float* bias, float s_out,
                              OutputType out_type, Activation act, float clip_min, float clip_max) {
  return make_epilogue(ChannelScales{&s_in, 1}, s_w, K, bias, ChannelScales{&s_out, 1}, out_type, act, clip_min,
                       clip_max);
}

EpilogueStorage make_epilogue(ChannelScales s_in, const float* s_w, int64_t K, const float* bias, ChannelScales s_out,
                              OutputType out_type, Activation act, float clip_min, float clip_max) {
  if (K <= 0) throw InvalidArgument("requantization: channel count must be > 0");
  if (!s_w) throw InvalidArgument("requantization: weight scales are missing");
  const bool int8_out = out_type == OutputType::kInt8;
  for (const auto& [s, what] : {std::pair<ChannelScales, const char*>{s_in, "input scale"}, {s_out, "output scale"}}) {
    if (!s.values || (s.count != 1 && s.count != K)) {
      throw InvalidArgument(std::string("requantization: ") + what + "s must be one or one per channel");
    }
  }
  if (!int8_out && s_out.per_channel()) {
    throw InvalidArgument("requantization: a float output has no per-channel output scales");
  }
  for (int64_t k = 0; k < s_in.count; ++k) {
    check_scale(s_in.values[k], s_in.per_channel() ? "input scale of channel " + std::to_string(k) : "input scale");
  }
  if (int8_out) {
    for (int64_t k = 0; k < s_out.count; ++k) {
      check_scale(s_out.values[k], s_out.per_channel() ? "output scale of channel " + std::to_string(k) : "output scale");
    }
  }
  if (act == Activation::kClip && (std::isnan(clip_min) || std::isnan(clip_max) || clip_min > clip_max)) {
    throw InvalidArgument("requantization: Clip needs min <= max, got [" + std::to_string(clip_min) + ", " +
                          std::to_string(clip_max) + "]");
  }

  EpilogueStorage rq;
  rq.out_type = out_type;
  rq.scale.resize(K);
  rq.bias.resize(K);
  for (int64_t k = 0; k < K; ++k) {
    check_scale(s_w[k], "weight scale of channel " + std::to_string(k));
    float b = bias ? bias[k] : 0.0f;
    if (!std::isfinite(b)) {
      throw InvalidArgument("requantization: bias of channel " + std::to_string(k) +
                            " is not finite");
    }
    float s = s_in[k] * s_w[k];
    rq.scale[k] = int8_out ? s / s_out[k] : s;
    rq.bias[k] = int8_out ? b / s_out[k] : b;
  }
  if (int8_out) {
    set_int8_clamp(rq, s_out, act, clip_min, clip_max, 0);
  } else {
    activation_range(act, clip_min, clip_max, &rq.clamp_lo, &rq.clamp_hi);
  }
  return rq;
}

float residual_multiplier(float s_res, float s_out) {
  check_scale(s_res, "residual scale");
  check_scale(s_out, "output scale");
  return s_res / s_out;
}

AddParams make_add_params(float s_a, float s_b, float s_y, bool relu, int32_t z_a, int32_t z_b, int32_t z_y) {
  check_scale(s_a, "add input A scale");
  check_scale(s_b, "add input B scale");
  check_scale(s_y, "add output scale");
  AddParams p;
  p.a_mult = s_a / s_y;
  p.b_mult = s_b / s_y;
  p.clamp_lo = relu ? 0.0f : -128.0f;
  p.clamp_hi = 127.0f;
  if (z_a != 0 || z_b != 0 || z_y != 0) {
    check_zero_point(z_a, "add input A zero point");
    check_zero_point(z_b, "add input B zero point");
    check_zero_point(z_y, "add output zero point");
    float t = static_cast<float>(z_y) - static_cast<float>(z_a) * p.a_mult;
    p.offset = t - static_cast<float>(z_b) * p.b_mult;
    if (relu) p.clamp_lo = static_cast<float>(z_y);
  }
  return p;
}

float rescale_multiplier(float s_in, float s_out) {
  check_scale(s_in, "input scale");
  check_scale(s_out, "output scale");
  return s_in / s_out;
}

}  // namespace kernels
}  // namespace int8rt
