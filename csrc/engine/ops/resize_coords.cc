// Resize's coordinate arithmetic (resize_coords.h).
#include "engine/ops/resize_coords.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {

float resize_original_coord(const ResizeConfig& c, int64_t x, float scale, int64_t in, int64_t out) {
  const float xf = static_cast<float>(x);
  switch (c.coord) {
    case ResizeCoord::kHalfPixel: return (xf + 0.5f) / scale - 0.5f;
    case ResizeCoord::kPytorchHalfPixel: return out > 1 ? (xf + 0.5f) / scale - 0.5f : 0.f;
    case ResizeCoord::kHalfPixelSymmetric: {
      const float adjustment = static_cast<float>(out) / (scale * static_cast<float>(in));
      const float center = static_cast<float>(in) / 2.f;
      return center * (1.f - adjustment) + (xf + 0.5f) / scale - 0.5f;
    }
    case ResizeCoord::kAlignCorners:
      return out == 1 ? 0.f : xf * static_cast<float>(in - 1) / static_cast<float>(out - 1);
    case ResizeCoord::kAsymmetric: return xf / scale;
  }
  return 0.f;
}

int64_t resize_nearest_index(const ResizeConfig& c, float v, int64_t in) {
  float r = v;
  switch (c.round) {
    case ResizeRound::kFloor: r = std::floor(v); break;
    case ResizeRound::kCeil: r = std::ceil(v); break;
    case ResizeRound::kPreferFloor: r = v == std::floor(v) + 0.5f ? std::floor(v) : std::round(v); break;
    case ResizeRound::kPreferCeil: r = v == std::floor(v) + 0.5f ? std::ceil(v) : std::round(v); break;
  }
  return std::min<int64_t>(in - 1, std::max<int64_t>(0, static_cast<int64_t>(r)));
}

ResizeTap resize_linear_tap(const ResizeConfig& c, int64_t o, float scale, int64_t in, int64_t out) {
  float v = resize_original_coord(c, o, scale, in, out);
  v = std::max(0.f, std::min(v, static_cast<float>(in - 1)));
  ResizeTap t;
  t.i0 = std::min<int64_t>(static_cast<int64_t>(v), in - 1);
  t.i1 = std::min<int64_t>(t.i0 + 1, in - 1);
  t.w1 = v - static_cast<float>(t.i0);
  t.w0 = 1.f - t.w1;
  if (t.i0 == t.i1) t.w0 = t.w1 = 0.5f;
  return t;
}

CubicTap resize_cubic_tap(const ResizeConfig& c, int64_t o, float scale, int64_t in, int64_t out) {
  const float v = resize_original_coord(c, o, scale, in, out);
  const float f = std::floor(v), t = v - f, A = c.cubic_a;
  const float d[4] = {t + 1.f, t, 1.f - t, 2.f - t};  // distances to the four taps
  CubicTap tap;
  float sum = 0.f;
  for (int k = 0; k < 4; ++k) {
    const float x = d[k];
    // Keys: |x| <= 1: (A + 2)|x|^3 - (A + 3)|x|^2 + 1; 1 < |x| < 2: A|x|^3 - 5A|x|^2 + 8A|x| - 4A.
    tap.w[k] = k == 1 || k == 2 ? ((A + 2.f) * x - (A + 3.f)) * x * x + 1.f : ((A * x - 5.f * A) * x + 8.f * A) * x - 4.f * A;
    const int64_t idx = static_cast<int64_t>(f) - 1 + k;
    if (c.exclude_outside && (idx < 0 || idx >= in)) tap.w[k] = 0.f;
    sum += tap.w[k];
    tap.i[k] = std::min<int64_t>(in - 1, std::max<int64_t>(0, idx));
  }
  if (c.exclude_outside && sum != 0.f) {
    for (float& w : tap.w) w /= sum;
  }
  return tap;
}

ResizeConfig resize_config(const Node& node, bool upsample) {
  ResizeConfig c;
  c.upsample = upsample;
  std::string mode = node.attrs.get_string("mode", "nearest");
  if (mode == "linear" || mode == "bilinear") c.linear = true;
  else if (mode == "cubic" && !upsample) c.cubic = true;
  else if (mode != "nearest") throw unsupported_attr(node, "mode", "'" + mode + "'");
  c.cubic_a = static_cast<float>(node.attrs.get_float("cubic_coeff_a", -0.75));
  c.exclude_outside = node.attrs.get_int("exclude_outside", 0) != 0;
  if (upsample) {
    c.coord = ResizeCoord::kAsymmetric;
    c.round = ResizeRound::kFloor;
    for (double s : node.attrs.get_floats("scales", {})) c.scales_attr.push_back(static_cast<float>(s));
    return c;
  }
  std::string coord = node.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") c.coord = ResizeCoord::kHalfPixel;
  else if (coord == "pytorch_half_pixel") c.coord = ResizeCoord::kPytorchHalfPixel;
  else if (coord == "half_pixel_symmetric") c.coord = ResizeCoord::kHalfPixelSymmetric;
  else if (coord == "align_corners") c.coord = ResizeCoord::kAlignCorners;
  else if (coord == "asymmetric") c.coord = ResizeCoord::kAsymmetric;
  else if (coord == "tf_crop_and_resize") c.tf_crop_and_resize = true;
  else throw unsupported_attr(node, "coordinate_transformation_mode", "'" + coord + "'");
  std::string round = node.attrs.get_string("nearest_mode", "round_prefer_floor");
  if (round == "round_prefer_floor") c.round = ResizeRound::kPreferFloor;
  else if (round == "round_prefer_ceil") c.round = ResizeRound::kPreferCeil;
  else if (round == "floor") c.round = ResizeRound::kFloor;
  else if (round == "ceil") c.round = ResizeRound::kCeil;
  else throw unsupported_attr(node, "nearest_mode", "'" + round + "'");
  c.antialias = (c.linear || c.cubic) && node.attrs.get_int("antialias", 0) != 0;  // nearest ignores it
  c.extrapolation_value = static_cast<float>(node.attrs.get_float("extrapolation_value", 0.0));
  std::string policy = node.attrs.get_string("keep_aspect_ratio_policy", "stretch");
  if (policy == "not_larger") c.aspect = ResizeConfig::Aspect::kNotLarger;
  else if (policy == "not_smaller") c.aspect = ResizeConfig::Aspect::kNotSmaller;
  else if (policy != "stretch") throw unsupported_attr(node, "keep_aspect_ratio_policy", "'" + policy + "'");
  c.axes = node.attrs.get_ints("axes", {});
  return c;
}

Shape resize_plan(const ResizeConfig& c, const Shape& xs, const std::vector<const Value*>& in, const std::string& prefix,
                  std::vector<float>* scales) {
  ResizePlan p;
  resize_plan_into(c, xs, in, prefix, &p);
  *scales = std::move(p.scales);
  return std::move(p.out);
}

void resize_plan_into(const ResizeConfig& c, const Shape& xs, const std::vector<const Value*>& in,
                      const std::string& prefix, ResizePlan* p) {
  const size_t r = xs.size();
  if (r == 0) throw InvalidArgument(prefix + "input must have at least one dim");
  std::vector<int64_t>& axes = p->axes;
  axes.assign(c.axes.begin(), c.axes.end());
  if (axes.empty()) {
    for (size_t d = 0; d < r; ++d) axes.push_back(static_cast<int64_t>(d));
  }
  for (int64_t& a : axes) a = normalize_axis(a, static_cast<int64_t>(r), prefix);
  const size_t scales_at = c.upsample ? 1 : 2;
  std::vector<float>& given = p->given;
  std::vector<int64_t>& sizes = p->sizes;
  if (in.size() > scales_at && in[scales_at] && in[scales_at]->numel() > 0) {
    float_values_into(require_input(in, scales_at, DataType::kFloat32, prefix), prefix, "scales", &given);
  } else {
    given.assign(c.scales_attr.begin(), c.scales_attr.end());
  }
  sizes.clear();
  if (!c.upsample && in.size() > 3 && in[3] && in[3]->numel() > 0) int64_values_into(*in[3], prefix, "sizes", &sizes);
  if (given.empty() == sizes.empty()) {
    throw InvalidArgument(prefix + "exactly one of scales and sizes must be given");
  }
  const size_t n = given.empty() ? sizes.size() : given.size();
  if (n != axes.size()) {
    throw InvalidArgument(prefix + "scales/sizes have " + std::to_string(n) + " values for " +
                          std::to_string(axes.size()) + " axes of " + shape_str(xs));
  }
  Shape& os = p->out;
  os.assign(xs.begin(), xs.end());
  std::vector<float>& scales = p->scales;
  scales.assign(r, 1.f);
  if (!sizes.empty() && c.aspect != ResizeConfig::Aspect::kStretch) {
    float scale = 0.f;
    for (size_t i = 0; i < axes.size(); ++i) {
      if (sizes[i] <= 0) throw InvalidArgument(prefix + "sizes must be positive");
      const float s = static_cast<float>(sizes[i]) / static_cast<float>(xs[axes[i]]);
      scale = i == 0 ? s : c.aspect == ResizeConfig::Aspect::kNotLarger ? std::min(scale, s) : std::max(scale, s);
    }
    for (int64_t d : axes) {
      scales[d] = scale;
      os[d] = static_cast<int64_t>(std::round(scale * static_cast<float>(xs[d])));
      if (os[d] <= 0) throw InvalidArgument(prefix + "output dim " + std::to_string(d) + " would be empty");
    }
    sizes.clear();
    given.clear();
  }
  for (size_t i = 0; i < axes.size() && !(given.empty() && sizes.empty()); ++i) {
    const int64_t d = axes[i];
    if (!given.empty()) {
      if (!(given[i] > 0.f)) throw InvalidArgument(prefix + "scales must be positive");
      scales[d] = given[i];
      os[d] = static_cast<int64_t>(std::floor(static_cast<float>(xs[d]) * given[i]));
    } else {
      if (sizes[i] <= 0) throw InvalidArgument(prefix + "sizes must be positive");
      os[d] = sizes[i];
      scales[d] = static_cast<float>(sizes[i]) / static_cast<float>(xs[d]);
    }
    // An empty input dim (a batch of 0) stays empty, as in ONNX Runtime; a
    // non-empty one must not become empty, nor an empty one non-empty.
    if (xs[d] == 0 && os[d] != 0) {
      throw InvalidArgument(prefix + "input dim " + std::to_string(d) + " is empty and cannot be resized to " +
                            std::to_string(os[d]));
    }
    if (xs[d] > 0 && os[d] <= 0) {
      throw InvalidArgument(prefix + "output dim " + std::to_string(d) + " would be empty");
    }
  }
}

}  // namespace engine
}  // namespace int8rt
