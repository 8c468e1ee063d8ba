// Epilogue parameter construction; the formulas are stated in requant_params.h
// and this file follows them operation for operation.
#include "kernels/requant_params.h"

#include <cmath>
#include <limits>
#include <string>

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

}  // namespace

Epilogue EpilogueStorage::epilogue(const int8_t* residual, float residual_scale) const {
  Epilogue ep;
  ep.scale = scale.data();
  ep.bias = bias.empty() ? nullptr : bias.data();
  ep.clamp_lo = clamp_lo;
  ep.clamp_hi = clamp_hi;
  ep.residual = residual;
  ep.residual_scale = residual_scale;
  ep.out_type = out_type;
  return ep;
}

EpilogueStorage make_epilogue(float s_in, const float* s_w, int64_t K, const float* bias, float s_out,
                     OutputType out_type, Activation act, float clip_min, float clip_max) {
  if (K <= 0) throw InvalidArgument("requantization: channel count must be > 0");
  if (!s_w) throw InvalidArgument("requantization: weight scales are missing");
  check_scale(s_in, "input scale");
  const bool int8_out = out_type == OutputType::kInt8;
  if (int8_out) check_scale(s_out, "output scale");

  float act_lo = -kInf, act_hi = kInf;
  switch (act) {
    case Activation::kNone: break;
    case Activation::kRelu: act_lo = 0.0f; break;
    case Activation::kRelu6: act_lo = 0.0f; act_hi = 6.0f; break;
    case Activation::kClip:
      if (std::isnan(clip_min) || std::isnan(clip_max) || clip_min > clip_max) {
        throw InvalidArgument("requantization: Clip needs min <= max, got [" +
                              std::to_string(clip_min) + ", " + std::to_string(clip_max) + "]");
      }
      act_lo = clip_min;
      act_hi = clip_max;
      break;
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
    float s = s_in * s_w[k];
    rq.scale[k] = int8_out ? s / s_out : s;
    rq.bias[k] = int8_out ? b / s_out : b;
  }
  if (int8_out) {
    float lo = act_lo / s_out;
    float hi = act_hi / s_out;
    rq.clamp_lo = lo >= -128.0f ? lo : -128.0f;
    rq.clamp_hi = hi <= 127.0f ? hi : 127.0f;
    if (rq.clamp_lo > rq.clamp_hi) {
      throw InvalidArgument("requantization: the activation range lies outside the int8 range "
                            "of the output scale");
    }
  } else {
    rq.clamp_lo = act_lo;
    rq.clamp_hi = act_hi;
  }
  return rq;
}

float residual_multiplier(float s_res, float s_out) {
  check_scale(s_res, "residual scale");
  check_scale(s_out, "output scale");
  return s_res / s_out;
}

AddParams make_add_params(float s_a, float s_b, float s_y, bool relu) {
  check_scale(s_a, "add input A scale");
  check_scale(s_b, "add input B scale");
  check_scale(s_y, "add output scale");
  AddParams p;
  p.a_mult = s_a / s_y;
  p.b_mult = s_b / s_y;
  p.clamp_lo = relu ? 0.0f : -128.0f;
  p.clamp_hi = 127.0f;
  return p;
}

float rescale_multiplier(float s_in, float s_out) {
  check_scale(s_in, "input scale");
  check_scale(s_out, "output scale");
  return s_in / s_out;
}

}  // namespace kernels
}  // namespace int8rt
