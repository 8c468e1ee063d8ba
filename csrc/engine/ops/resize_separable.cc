// Resize one axis at a time in float64 (resize_separable.h), following ONNX's
// reference implementation line by line.
#include "engine/ops/resize_separable.h"

#include <algorithm>
#include <cmath>

#include "core/thread_pool.h"

namespace int8rt {
namespace engine {
namespace {

// Input coordinate of output index x (float64, the reference's _compute_x_ori).
double original_coord(const ResizeConfig& c, double x, double scale, int64_t in, int64_t out, double roi_begin,
                      double roi_end) {
  const double out_w = scale * static_cast<double>(in), in_w = static_cast<double>(in);
  if (c.tf_crop_and_resize) {
    const double v = out_w == 1.0 ? (roi_end - roi_begin) * (in_w - 1) / 2
                                   : x * (roi_end - roi_begin) * (in_w - 1) / (out_w - 1);
    return v + roi_begin * (in_w - 1);
  }
  switch (c.coord) {
    case ResizeCoord::kAlignCorners: return out_w == 1.0 ? 0.0 : x * (in_w - 1) / (out_w - 1);
    case ResizeCoord::kAsymmetric: return x / scale;
    case ResizeCoord::kPytorchHalfPixel: return out_w == 1.0 ? -0.5 : (x + 0.5) / scale - 0.5;
    case ResizeCoord::kHalfPixelSymmetric: {
      const double offset = in_w / 2 * (1 - static_cast<double>(out) / out_w);
      return offset + (x + 0.5) / scale - 0.5;
    }
    case ResizeCoord::kHalfPixel: break;
  }
  return (x + 0.5) / scale - 0.5;
}

double keys(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0.0;
}

// The reference's coefficient functions of ratio (in (0, 1]), into w (its storage reused).
void coeffs(const ResizeConfig& c, double ratio, double scale, std::vector<double>& w) {
  if (c.linear && c.antialias) {
    const double s = std::min(scale, 1.0);
    const int64_t start = static_cast<int64_t>(std::floor(-1 / s) + 1), footprint = 2 - 2 * start;
    w.resize(static_cast<size_t>(footprint));
    double sum = 0;
    for (int64_t i = 0; i < footprint; ++i) {
      w[i] = std::clamp(1 - std::fabs((static_cast<double>(start + i) - ratio) * s), 0.0, 1.0);
      sum += w[i];
    }
    for (double& v : w) v /= sum;
    return;
  }
  if (c.linear) {
    w.assign({1 - ratio, ratio});
    return;
  }
  const double a = c.cubic_a;
  if (c.cubic && c.antialias) {
    const double s = std::min(scale, 1.0);
    const int64_t start = static_cast<int64_t>(std::floor(-2 / s) + 1), end = 2 - start;
    w.clear();
    double sum = 0;
    for (int64_t i = start; i < end; ++i) {
      w.push_back(keys(s * (static_cast<double>(i) - ratio), a));
      sum += w.back();
    }
    for (double& v : w) v /= sum;
    return;
  }
  if (c.cubic) {
    const double r = ratio, q = 1 - ratio;
    w.assign({((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a, ((a + 2) * r - (a + 3)) * r * r + 1,
              ((a + 2) * q - (a + 3)) * q * q + 1, ((a * (q + 1) - 5 * a) * (q + 1) + 8 * a) * (q + 1) - 4 * a});
    return;
  }
  // nearest: [left, right] picks
  if (ratio == std::floor(ratio)) {
    w.assign({0, 1});
    return;
  }
  switch (c.round) {
    case ResizeRound::kPreferFloor: w.assign({ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0}); return;
    case ResizeRound::kPreferCeil: w.assign({ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0}); return;
    case ResizeRound::kFloor: w.assign({1, 0}); return;
    case ResizeRound::kCeil: break;
  }
  w.assign({0, 1});
}

}  // namespace

void resize_axis_taps_into(const ResizeConfig& c, int64_t in, int64_t out, double scale, double roi_begin,
                           double roi_end, AxisTaps* taps) {
  AxisTaps& t = *taps;
  t.n = 0;
  t.index.clear();
  t.weight.clear();
  t.outside.assign(static_cast<size_t>(out), 0);
  thread_local std::vector<double> w;  // one output index's coefficients, kept
  for (int64_t o = 0; o < out; ++o) {
    const double x = original_coord(c, static_cast<double>(o), scale, in, out, roi_begin, roi_end);
    if (c.tf_crop_and_resize && (x < 0 || x > static_cast<double>(in - 1))) t.outside[o] = 1;
    const double xi = std::floor(x);
    coeffs(c, x == xi ? 1.0 : x - xi, scale, w);
    const int64_t n = static_cast<int64_t>(w.size());
    if (o == 0) t.n = n;
    // The n indices nearest x, ties to the smaller (in edge-padded coordinates).
    const int64_t pad = (n + 1) / 2;
    const double xp = x + static_cast<double>(pad), p = std::floor(xp), frac = xp - p;
    const int64_t offset = n % 2 == 0 ? (frac == 0 ? -(n / 2) : -(n / 2) + 1)
                                      : (frac <= 0.5 ? -((n - 1) / 2) : -((n - 1) / 2) + 1);
    const int64_t start = static_cast<int64_t>(p) + offset - pad;
    if (c.exclude_outside) {
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) {
        if (start + k < 0 || start + k >= in) w[k] = 0;
        sum += w[k];
      }
      if (sum != 0) {
        for (double& v : w) v /= sum;
      }
    }
    for (int64_t k = 0; k < n; ++k) {
      t.index.push_back(std::clamp<int64_t>(start + k, 0, in - 1));
      t.weight.push_back(w[k]);
    }
  }
}

void resize_separable(const float* x, float* y, const std::vector<int64_t>& xs, const std::vector<int64_t>& os,
                      const std::vector<AxisTaps>& taps, float extrapolation_value) {
  // The calling thread's shape and float64 planes, kept across calls; the
  // parallel loop below reads them through these references.
  thread_local std::vector<int64_t> shape_here;
  thread_local std::vector<double> cur_here, next_here;
  std::vector<int64_t>& shape = shape_here;
  std::vector<double>&cur = cur_here, &next = next_here;
  shape.assign(xs.begin(), xs.end());
  int64_t count = 1;
  for (int64_t d : xs) count *= d;
  cur.assign(x, x + count);
  for (size_t axis = 0; axis < xs.size(); ++axis) {
    const AxisTaps& t = taps[axis];
    if (t.n == 0) continue;
    int64_t outer = 1, inner = 1;
    for (size_t d = 0; d < axis; ++d) outer *= shape[d];
    for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
    const int64_t in = shape[axis], out = os[axis];
    next.assign(static_cast<size_t>(outer * out * inner), 0.0);
    parallel_for(outer * out, std::max<int64_t>(1, 4096 / (inner * t.n)), [&](int64_t b, int64_t e) {
      for (int64_t row = b; row < e; ++row) {
        const int64_t po = row / out, o = row % out;
        double* dst = next.data() + row * inner;
        if (t.outside[o]) {
          std::fill(dst, dst + inner, static_cast<double>(extrapolation_value));
          continue;
        }
        for (int64_t k = 0; k < t.n; ++k) {
          const double w = t.weight[o * t.n + k];
          const double* src = cur.data() + (po * in + t.index[o * t.n + k]) * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] += w * src[i];
        }
      }
    });
    cur.swap(next);
    shape[axis] = out;
  }
  for (size_t i = 0; i < cur.size(); ++i) y[i] = static_cast<float>(cur[i]);
}

}  // namespace engine
}  // namespace int8rt
