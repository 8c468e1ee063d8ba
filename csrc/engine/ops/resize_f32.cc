// Float32 Resize (ONNX opset 11+) and Upsample (opset 7/9), modes nearest and
// linear. Output size per dim: `sizes` (input 3) or floor(in * scale) with
// `scales` (input 2, or Upsample's input 1 / attribute); an empty tensor
// counts as absent; opset 18 `axes` restricts them to some dims. The scale
// used for coordinates is the given one, or out / in when sizes are given.
//
// Output coordinate x maps to the input coordinate (float32, as ONNX
// Runtime computes it) per coordinate_transformation_mode:
//   half_pixel (default)  (x + 0.5) / scale - 0.5
//   pytorch_half_pixel    out > 1 ? (x + 0.5) / scale - 0.5 : 0
//   half_pixel_symmetric  in/2 * (1 - out/(scale*in)) + (x + 0.5) / scale - 0.5
//   align_corners         out == 1 ? 0 : x * (in - 1) / (out - 1)
//   asymmetric            x / scale
// nearest: nearest_mode round_prefer_floor (default) / round_prefer_ceil /
// floor / ceil, then clamped to [0, in - 1]. linear: the coordinate is
// clamped to [0, in - 1] and the two neighbours are blended (bilinear on
// the last two dims; only the last two dims may be resized in linear mode).
// Upsample is asymmetric with floor for nearest. Not supported (NotSupported
// at creation): cubic, tf_crop_and_resize, antialias, keep_aspect_ratio_policy
// other than stretch.
#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

enum class Coord { kHalfPixel, kPytorchHalfPixel, kHalfPixelSymmetric, kAlignCorners, kAsymmetric };
enum class Round { kPreferFloor, kPreferCeil, kFloor, kCeil };

struct Config {
  bool linear = false;
  Coord coord = Coord::kHalfPixel;
  Round round = Round::kPreferFloor;
  bool upsample = false;
  std::vector<int64_t> axes;
  std::vector<float> scales_attr;  // Upsample opset 7
};

float original_coord(const Config& c, int64_t x, float scale, int64_t in, int64_t out) {
  const float xf = static_cast<float>(x);
  switch (c.coord) {
    case Coord::kHalfPixel: return (xf + 0.5f) / scale - 0.5f;
    case Coord::kPytorchHalfPixel: return out > 1 ? (xf + 0.5f) / scale - 0.5f : 0.f;
    case Coord::kHalfPixelSymmetric: {
      const float adjustment = static_cast<float>(out) / (scale * static_cast<float>(in));
      const float center = static_cast<float>(in) / 2.f;
      return center * (1.f - adjustment) + (xf + 0.5f) / scale - 0.5f;
    }
    case Coord::kAlignCorners:
      return out == 1 ? 0.f : xf * static_cast<float>(in - 1) / static_cast<float>(out - 1);
    case Coord::kAsymmetric: return xf / scale;
  }
  return 0.f;
}

int64_t nearest_index(const Config& c, float v, int64_t in) {
  float r = v;
  switch (c.round) {
    case Round::kFloor: r = std::floor(v); break;
    case Round::kCeil: r = std::ceil(v); break;
    case Round::kPreferFloor: r = v == std::floor(v) + 0.5f ? std::floor(v) : std::round(v); break;
    case Round::kPreferCeil: r = v == std::floor(v) + 0.5f ? std::ceil(v) : std::round(v); break;
  }
  return std::min<int64_t>(in - 1, std::max<int64_t>(0, static_cast<int64_t>(r)));
}

class ResizeLayer : public Layer {
 public:
  ResizeLayer(const Node& node, Config c) : c_(std::move(c)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    std::vector<float> scales;
    return {{DataType::kFloat32, plan(in, &scales)}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    std::vector<float> scales;
    const Shape os = plan(in, &scales);
    const Shape& xs = in[0]->shape();
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const size_t r = xs.size();
    if (c_.linear) {
      linear(x, y, xs, os, scales);
      return;
    }
    std::vector<std::vector<int64_t>> idx(r);
    for (size_t d = 0; d < r; ++d) {
      for (int64_t o = 0; o < os[d]; ++o) {
        idx[d].push_back(nearest_index(c_, original_coord(c_, o, scales[d], xs[d], os[d]), xs[d]));
      }
    }
    std::vector<int64_t> stride(r, 1);
    for (size_t d = r; d-- > 1;) stride[d - 1] = stride[d] * xs[d];
    const int64_t inner = os[r - 1];
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < r; ++d) rows *= os[d];
    parallel_for(rows, std::max<int64_t>(1, 8192 / inner), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        int64_t off = 0, t = row;
        for (size_t d = r - 1; d-- > 0;) {
          off += idx[d][t % os[d]] * stride[d];
          t /= os[d];
        }
        const float* s = x + off;
        float* dst = y + row * inner;
        for (int64_t i = 0; i < inner; ++i) dst[i] = s[idx[r - 1][i]];
      }
    });
  }

  std::string describe() const override { return c_.linear ? "fp32 resize linear" : "fp32 resize nearest"; }

 private:
  struct Tap {
    int64_t i0, i1;
    float w0, w1;
  };

  Tap tap(int64_t o, float scale, int64_t in, int64_t out) const {
    float v = original_coord(c_, o, scale, in, out);
    v = std::max(0.f, std::min(v, static_cast<float>(in - 1)));
    Tap t;
    t.i0 = std::min<int64_t>(static_cast<int64_t>(v), in - 1);
    t.i1 = std::min<int64_t>(t.i0 + 1, in - 1);
    t.w1 = v - static_cast<float>(t.i0);
    t.w0 = 1.f - t.w1;
    if (t.i0 == t.i1) t.w0 = t.w1 = 0.5f;
    return t;
  }

  void linear(const float* x, float* y, const Shape& xs, const Shape& os, const std::vector<float>& scales) const {
    const size_t r = xs.size();
    const int64_t H = r >= 2 ? xs[r - 2] : 1, W = xs[r - 1], OH = r >= 2 ? os[r - 2] : 1, OW = os[r - 1];
    std::vector<Tap> ty, tx;
    for (int64_t o = 0; o < OH; ++o) ty.push_back(r >= 2 ? tap(o, scales[r - 2], H, OH) : Tap{0, 0, 0.5f, 0.5f});
    for (int64_t o = 0; o < OW; ++o) tx.push_back(tap(o, scales[r - 1], W, OW));
    const int64_t planes = shape_numel(xs) / (H * W);
    parallel_for(planes * OH, std::max<int64_t>(1, 4096 / OW), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t p = t / OH, oy = t % OH;
        const Tap& a = ty[oy];
        const float* r0 = x + (p * H + a.i0) * W;
        const float* r1 = x + (p * H + a.i1) * W;
        float* dst = y + t * OW;
        for (int64_t ox = 0; ox < OW; ++ox) {
          const Tap& c = tx[ox];
          dst[ox] = a.w0 * (c.w0 * r0[c.i0] + c.w1 * r0[c.i1]) + a.w1 * (c.w0 * r1[c.i0] + c.w1 * r1[c.i1]);
        }
      }
    });
  }

  // Output shape; fills the per-dim scales used for coordinates.
  Shape plan(const std::vector<const Value*>& in, std::vector<float>* scales) const {
    const Value& X = require_input(in, 0, DataType::kFloat32, prefix_);
    const Shape& xs = X.shape();
    const size_t r = xs.size();
    if (r == 0) throw InvalidArgument(prefix_ + "input must have at least one dim");
    std::vector<int64_t> axes = c_.axes;
    if (axes.empty()) {
      for (size_t d = 0; d < r; ++d) axes.push_back(static_cast<int64_t>(d));
    }
    for (int64_t& a : axes) a = normalize_axis(a, static_cast<int64_t>(r), prefix_);
    const size_t scales_at = c_.upsample ? 1 : 2;
    std::vector<float> given = c_.scales_attr;
    if (in.size() > scales_at && in[scales_at] && in[scales_at]->numel() > 0) {
      given = float_values(require_input(in, scales_at, DataType::kFloat32, prefix_), prefix_, "scales");
    }
    std::vector<int64_t> sizes;
    if (!c_.upsample && in.size() > 3 && in[3] && in[3]->numel() > 0) sizes = int64_values(*in[3], prefix_, "sizes");
    if (given.empty() == sizes.empty()) {
      throw InvalidArgument(prefix_ + "exactly one of scales and sizes must be given");
    }
    const size_t n = given.empty() ? sizes.size() : given.size();
    if (n != axes.size()) {
      throw InvalidArgument(prefix_ + "scales/sizes have " + std::to_string(n) + " values for " +
                            std::to_string(axes.size()) + " axes of " + shape_str(xs));
    }
    Shape os = xs;
    scales->assign(r, 1.f);
    for (size_t i = 0; i < axes.size(); ++i) {
      const int64_t d = axes[i];
      if (!given.empty()) {
        if (!(given[i] > 0.f)) throw InvalidArgument(prefix_ + "scales must be positive");
        (*scales)[d] = given[i];
        os[d] = static_cast<int64_t>(std::floor(static_cast<float>(xs[d]) * given[i]));
      } else {
        if (sizes[i] <= 0) throw InvalidArgument(prefix_ + "sizes must be positive");
        os[d] = sizes[i];
        (*scales)[d] = static_cast<float>(sizes[i]) / static_cast<float>(xs[d]);
      }
      if (os[d] <= 0) throw InvalidArgument(prefix_ + "output dim " + std::to_string(d) + " would be empty");
    }
    if (c_.linear) {
      for (size_t d = 0; d + 2 < r; ++d) {
        if (os[d] != xs[d]) {
          throw NotSupported(prefix_ + "linear resize of dim " + std::to_string(d) +
                             " (only the last two dims may be resized)");
        }
      }
    }
    return os;
  }

  Config c_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_resize(const Network&, const Node& node, bool upsample) {
  Config c;
  c.upsample = upsample;
  std::string mode = node.attrs.get_string("mode", "nearest");
  if (mode == "linear" || mode == "bilinear") c.linear = true;
  else if (mode != "nearest") throw unsupported_attr(node, "mode", "'" + mode + "'");
  if (upsample) {
    c.coord = Coord::kAsymmetric;
    c.round = Round::kFloor;
    for (double s : node.attrs.get_floats("scales", {})) c.scales_attr.push_back(static_cast<float>(s));
    return std::make_unique<ResizeLayer>(node, std::move(c));
  }
  std::string coord = node.attrs.get_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") c.coord = Coord::kHalfPixel;
  else if (coord == "pytorch_half_pixel") c.coord = Coord::kPytorchHalfPixel;
  else if (coord == "half_pixel_symmetric") c.coord = Coord::kHalfPixelSymmetric;
  else if (coord == "align_corners") c.coord = Coord::kAlignCorners;
  else if (coord == "asymmetric") c.coord = Coord::kAsymmetric;
  else throw unsupported_attr(node, "coordinate_transformation_mode", "'" + coord + "'");
  std::string round = node.attrs.get_string("nearest_mode", "round_prefer_floor");
  if (round == "round_prefer_floor") c.round = Round::kPreferFloor;
  else if (round == "round_prefer_ceil") c.round = Round::kPreferCeil;
  else if (round == "floor") c.round = Round::kFloor;
  else if (round == "ceil") c.round = Round::kCeil;
  else throw unsupported_attr(node, "nearest_mode", "'" + round + "'");
  if (node.attrs.get_int("antialias", 0) != 0) throw unsupported_attr(node, "antialias", "1");
  std::string policy = node.attrs.get_string("keep_aspect_ratio_policy", "stretch");
  if (policy != "stretch") throw unsupported_attr(node, "keep_aspect_ratio_policy", "'" + policy + "'");
  c.axes = node.attrs.get_ints("axes", {});
  return std::make_unique<ResizeLayer>(node, std::move(c));
}

INT8RT_REGISTER_LAYER("Resize", [](const Network& net, const Node& node) { return make_resize(net, node, false); });
INT8RT_REGISTER_LAYER("Upsample", [](const Network& net, const Node& node) { return make_resize(net, node, true); });

}  // namespace
}  // namespace engine
}  // namespace int8rt
