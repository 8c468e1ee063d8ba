// Float32 Resize (ONNX opset 11+) and Upsample (opset 7/9), modes nearest,
// linear and (Resize) cubic. Output size per dim: `sizes` (input 3) or floor(in * scale) with
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
// cubic: four taps per dim with Keys' weights (resize_coords.h), bicubic on
// the last two dims (only those may be resized), cubic_coeff_a and
// exclude_outside as ONNX defines them.
// Upsample is asymmetric with floor for nearest. keep_aspect_ratio_policy
// not_larger / not_smaller (with sizes) as resize_coords.h's ResizeConfig
// says. antialias, tf_crop_and_resize (with roi, input 1, and
// extrapolation_value) and linear / cubic resizing of dims other than the
// last two run on resize_separable.h (ONNX's reference, in float64). The
// coordinate arithmetic is in resize_coords.h, shared with the int8 Resize
// layers.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "engine/ops/resize_coords.h"
#include "engine/ops/resize_separable.h"

namespace int8rt {
namespace engine {
namespace {

// What a run computes from the shapes and the scales / sizes before it
// resamples: the plan and the per-dim index or tap tables. A layer keeps one
// per thread and assigns its vectors in place, so a run allocates nothing
// once they are sized (they are a few KB: one entry per output row and column).
struct ResizeTables {
  ResizePlan plan;
  std::vector<std::vector<int64_t>> index;  // nearest: per dim, the source index of each output index
  std::vector<int64_t> stride;              // nearest: x's dense strides
  std::vector<ResizeTap> ty, tx;            // linear: the taps of the output rows and columns
  std::vector<CubicTap> cy, cx;             // cubic: likewise
  std::vector<float> roi;                   // separable: tf_crop_and_resize's roi input
  std::vector<AxisTaps> taps;               // separable: per dim (n = 0: not resized)
};

class ResizeLayer : public Layer {
 public:
  ResizeLayer(const Node& node, ResizeConfig c) : c_(std::move(c)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    ResizePlan p;
    resize_plan_into(c_, require_input(in, 0, DataType::kFloat32, prefix_).shape(), in, prefix_, &p);
    return {{DataType::kFloat32, p.out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    thread_local ResizeTables kept;
    ResizeTables& tables = kept;  // what the parallel loops capture (a helper thread reads this thread's)
    resize_plan_into(c_, require_input(in, 0, DataType::kFloat32, prefix_).shape(), in, prefix_, &tables.plan);
    const Shape& os = tables.plan.out;
    const std::vector<float>& scales = tables.plan.scales;
    const Shape& xs = in[0]->shape();
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    const size_t r = xs.size();
    if (separable(xs, os)) {
      run_separable(in, x, y, xs, os, tables);
      return;
    }
    if (c_.linear) {
      linear(x, y, xs, os, scales, tables);
      return;
    }
    if (c_.cubic) {
      cubic(x, y, xs, os, scales, tables);
      return;
    }
    std::vector<std::vector<int64_t>>& idx = tables.index;
    if (idx.size() < r) idx.resize(r);
    for (size_t d = 0; d < r; ++d) {
      idx[d].resize(static_cast<size_t>(os[d]));
      for (int64_t o = 0; o < os[d]; ++o) {
        idx[d][o] = resize_nearest_index(c_, resize_original_coord(c_, o, scales[d], xs[d], os[d]), xs[d]);
      }
    }
    std::vector<int64_t>& stride = tables.stride;
    stride.assign(r, 1);
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

  std::string describe() const override {
    return c_.linear ? "fp32 resize linear" : c_.cubic ? "fp32 resize cubic" : "fp32 resize nearest";
  }

 private:
  // The modes the fused loops below lack (see the header comment).
  bool separable(const Shape& xs, const Shape& os) const {
    if (c_.antialias || c_.tf_crop_and_resize) return true;
    for (size_t d = 0; d + 2 < xs.size(); ++d) {
      if ((c_.linear || c_.cubic) && os[d] != xs[d]) return true;
    }
    return false;
  }

  void run_separable(const std::vector<const Value*>& in, const float* x, float* y, const Shape& xs, const Shape& os,
                     ResizeTables& tables) const {
    const size_t r = xs.size();
    const std::vector<float>& scales = tables.plan.scales;
    const std::vector<int64_t>& axes = tables.plan.axes;  // the resized axes, normalised by resize_plan_into
    std::vector<float>& roi = tables.roi;
    roi.clear();
    if (c_.tf_crop_and_resize) {
      if (in.size() < 2 || !in[1] || in[1]->numel() == 0) {
        throw InvalidArgument(prefix_ + "tf_crop_and_resize needs the roi input");
      }
      float_values_into(require_input(in, 1, DataType::kFloat32, prefix_), prefix_, "roi", &roi);
    }
    if (!roi.empty() && roi.size() != 2 * axes.size() && roi.size() != 2 * r) {
      throw InvalidArgument(prefix_ + "roi has " + std::to_string(roi.size()) + " values; expected " +
                            std::to_string(2 * axes.size()));
    }
    std::vector<AxisTaps>& taps = tables.taps;
    if (taps.size() < r) taps.resize(r);
    for (size_t d = 0; d < r; ++d) taps[d].n = 0;  // not resized unless set below
    for (size_t i = 0; i < axes.size(); ++i) {
      const size_t d = static_cast<size_t>(axes[i]);
      // roi: [begins..., ends...] over `axes` (or over every dim)
      const size_t k = roi.size() == 2 * r ? d : i, half = roi.size() / 2;
      const double begin = roi.empty() ? 0.0 : roi[k], end = roi.empty() ? 1.0 : roi[half + k];
      const bool identity = os[d] == xs[d] && std::fabs(scales[d] - 1.f) < 1e-9f && begin == 0.0 && end == 1.0;
      if (!identity) resize_axis_taps_into(c_, xs[d], os[d], scales[d], begin, end, &taps[d]);
    }
    resize_separable(x, y, xs, os, taps, c_.extrapolation_value);
  }

  // Bicubic on the last two dims: per output pixel, each of the four tap
  // rows is blended along x, then the four row values along y (ONNX
  // Runtime's order).
  void cubic(const float* x, float* y, const Shape& xs, const Shape& os, const std::vector<float>& scales,
             ResizeTables& tables) const {
    const size_t r = xs.size();
    const int64_t H = r >= 2 ? xs[r - 2] : 1, W = xs[r - 1], OH = r >= 2 ? os[r - 2] : 1, OW = os[r - 1];
    std::vector<CubicTap>&ty = tables.cy, &tx = tables.cx;
    ty.clear();
    tx.clear();
    for (int64_t o = 0; o < OH; ++o) {
      ty.push_back(r >= 2 ? resize_cubic_tap(c_, o, scales[r - 2], H, OH) : CubicTap{{0, 0, 0, 0}, {0, 1, 0, 0}});
    }
    for (int64_t o = 0; o < OW; ++o) tx.push_back(resize_cubic_tap(c_, o, scales[r - 1], W, OW));
    const int64_t planes = shape_numel(xs) / (H * W);
    parallel_for(planes * OH, std::max<int64_t>(1, 1024 / OW), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t p = row / OH, oy = row % OH;
        const CubicTap& a = ty[oy];
        float* dst = y + row * OW;
        for (int64_t ox = 0; ox < OW; ++ox) {
          const CubicTap& c = tx[ox];
          float v = 0.f;
          for (int i = 0; i < 4; ++i) {
            const float* row = x + (p * H + a.i[i]) * W;
            float h = 0.f;
            for (int j = 0; j < 4; ++j) h += c.w[j] * row[c.i[j]];
            v += a.w[i] * h;
          }
          dst[ox] = v;
        }
      }
    });
  }

  void linear(const float* x, float* y, const Shape& xs, const Shape& os, const std::vector<float>& scales,
              ResizeTables& tables) const {
    const size_t r = xs.size();
    const int64_t H = r >= 2 ? xs[r - 2] : 1, W = xs[r - 1], OH = r >= 2 ? os[r - 2] : 1, OW = os[r - 1];
    std::vector<ResizeTap>&ty = tables.ty, &tx = tables.tx;
    ty.clear();
    tx.clear();
    for (int64_t o = 0; o < OH; ++o) {
      ty.push_back(r >= 2 ? resize_linear_tap(c_, o, scales[r - 2], H, OH) : ResizeTap{0, 0, 0.5f, 0.5f});
    }
    for (int64_t o = 0; o < OW; ++o) tx.push_back(resize_linear_tap(c_, o, scales[r - 1], W, OW));
    const int64_t planes = shape_numel(xs) / (H * W);
    // resize_blend's order, with each input row blended along x once
    // (h = c.w0 * x0 + c.w1 * x1) into a two-row cache that consecutive
    // output rows share; the output row is a.w0 * h_i0 + a.w1 * h_i1.
    parallel_for(planes * OH, std::max<int64_t>(8, 65536 / OW), [&](int64_t b, int64_t e) {  // each chunk starts its cache anew
      // The running thread's two rows (named here, so each helper has its own), kept across runs.
      thread_local std::vector<float> h0_here, h1_here;
      std::vector<float>&h0 = h0_here, &h1 = h1_here;
      h0.resize(static_cast<size_t>(OW));
      h1.resize(static_cast<size_t>(OW));
      int64_t row0 = -1, row1 = -1;  // the input rows (p * H + iy) h0 and h1 hold
      auto blend_x = [&](int64_t row, std::vector<float>& h) {
        const float* src = x + row * W;
        for (int64_t ox = 0; ox < OW; ++ox) h[ox] = tx[ox].w0 * src[tx[ox].i0] + tx[ox].w1 * src[tx[ox].i1];
      };
      for (int64_t row = b; row < e; ++row) {
        const int64_t p = row / OH, oy = row % OH;
        const ResizeTap& a = ty[oy];
        const int64_t want0 = p * H + a.i0, want1 = p * H + a.i1;
        if (row0 != want0) {
          if (row1 == want0) {
            std::swap(h0, h1);
            std::swap(row0, row1);
          } else {
            blend_x(want0, h0);
            row0 = want0;
          }
        }
        if (want1 != want0 && row1 != want1) {
          blend_x(want1, h1);
          row1 = want1;
        }
        const float* p0 = h0.data();
        const float* p1 = want1 == want0 ? h0.data() : h1.data();
        const float w0 = a.w0, w1 = a.w1;
        float* dst = y + row * OW;
        for (int64_t ox = 0; ox < OW; ++ox) dst[ox] = w0 * p0[ox] + w1 * p1[ox];
      }
    });
  }

  ResizeConfig c_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_resize(const Network&, const Node& node, bool upsample) {
  return std::make_unique<ResizeLayer>(node, resize_config(node, upsample));
}

INT8RT_REGISTER_LAYER("Resize", [](const Network& net, const Node& node) { return make_resize(net, node, false); });
INT8RT_REGISTER_LAYER("Upsample", [](const Network& net, const Node& node) { return make_resize(net, node, true); });

}  // namespace
}  // namespace engine
}  // namespace int8rt
