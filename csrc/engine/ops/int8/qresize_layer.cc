// int8rt.QResizeNearest (contracts.h): nearest Resize of an int8 NHWC tensor
// at one scale, so a byte copy: y[n][oy][ox][:] = x[n][src_y[oy]][src_x[ox]][:].
// The index lists come from the FP32 Resize itself (nearest_sources.h): made
// by the lowering for a static input size, or, for a dynamic one, by the
// layer once per input size it meets, so the int8 engine picks exactly the
// pixels the FP32 one does.
// int8rt.QResizeLinear (contracts.h): bilinear Resize of an int8 NHWC tensor,
// the FP32 layer's blend (resize_coords.h) of the dequantized neighbours,
// quantized at the output scale: the bytes Dequantize, FP32 Resize, Quantize give.
#include <cstring>
#include <map>
#include <mutex>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/nearest_sources.h"
#include "engine/ops/resize_coords.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace engine {
namespace {

// An index list's entries must lie below `n` (H or W of the input).
void check_indices(const std::vector<int64_t>& v, int64_t n, const char* what, const std::string& prefix) {
  for (int64_t i : v) {
    if (i >= n) throw InvalidArgument(prefix + "source " + what + " " + std::to_string(i) + " outside " + std::to_string(n));
  }
}

class QResizeNearestLayer : public Layer {
 public:
  QResizeNearestLayer(const Network& net, const Node& node, QResizeNearestAttrs a)
      : a_(std::move(a)), prefix_(layer_error_prefix(node)) {
    if (!a_.dynamic_size) {
      fixed_.src_y = a_.src_y;
      fixed_.src_x = a_.src_x;
      return;
    }
    resize_.op = "Resize";
    resize_.name = node.name;
    resize_.attrs = a_.resize;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      params_.push_back(has_input(node, i) ? &constant_input(net, node, i, "resize parameter") : nullptr);
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4) {
      throw InvalidArgument(prefix_ + "needs an int8 [N, H, W, C] tensor, got " + shape_str(s));
    }
    const NearestSources& src = sources_for(s[1], s[2]);
    check_indices(src.src_y, s[1], "row", prefix_);
    check_indices(src.src_x, s[2], "column", prefix_);
    return {{DataType::kInt8, {s[0], static_cast<int64_t>(src.src_y.size()), static_cast<int64_t>(src.src_x.size()), s[3]}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t H = s[1], W = s[2], C = s[3];
    const NearestSources& src = sources_for(H, W);
    const int64_t OH = static_cast<int64_t>(src.src_y.size()), OW = static_cast<int64_t>(src.src_x.size());
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    parallel_for(s[0] * OH, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, OW * C)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / OH, oy = r % OH;
        const int8_t* row = x + (n * H + src.src_y[oy]) * W * C;
        int8_t* dst = y + r * OW * C;
        for (int64_t ox = 0; ox < OW; ++ox) std::memcpy(dst + ox * C, row + src.src_x[ox] * C, C);
      }
    });
  }

  std::string describe() const override { return a_.dynamic_size ? "copy (indices per input size)" : "copy"; }

 private:
  // The index lists for an H x W input: the fixed ones, or those of this
  // size, derived once (entries are never erased, so references stay valid).
  const NearestSources& sources_for(int64_t H, int64_t W) const {
    if (!a_.dynamic_size) return fixed_;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_size_.find({H, W});
    if (it != by_size_.end()) return it->second;
    if (H <= 0 || W <= 0 || H * W >= (int64_t{1} << 24)) {
      throw InvalidArgument(prefix_ + "input of " + std::to_string(H) + " x " + std::to_string(W) +
                            " pixels: int8 nearest resizing takes fewer than 2^24");
    }
    NearestSources src;
    if (!nearest_sources(resize_, params_, H, W, &src)) {
      throw InvalidArgument(prefix_ + "its resize is not a separable per-axis pick at " + std::to_string(H) + " x " +
                            std::to_string(W));
    }
    return by_size_.emplace(std::make_pair(H, W), std::move(src)).first->second;
  }

  QResizeNearestAttrs a_;
  std::string prefix_;
  NearestSources fixed_;                // static size
  Node resize_;                         // dynamic size: the FP32 Resize and
  std::vector<const Tensor*> params_;   // its constant inputs (in the network, which outlives the layer)
  mutable std::mutex mutex_;
  mutable std::map<std::pair<int64_t, int64_t>, NearestSources> by_size_;
};

class QResizeLinearLayer : public Layer {
 public:
  QResizeLinearLayer(const Node& node, const QResizeLinearAttrs& a)
      : y0_(a.y0), y1_(a.y1), x0_(a.x0), x1_(a.x1), s_in_(static_cast<float>(a.in_scale)),
        inv_out_(1.0f / static_cast<float>(a.out_scale)), prefix_(layer_error_prefix(node)) {
    for (size_t i = 0; i < a.y0.size(); ++i) {
      ty_.push_back({a.y0[i], a.y1[i], static_cast<float>(a.wy0[i]), static_cast<float>(a.wy1[i])});
    }
    for (size_t i = 0; i < a.x0.size(); ++i) {
      tx_.push_back({a.x0[i], a.x1[i], static_cast<float>(a.wx0[i]), static_cast<float>(a.wx1[i])});
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4) {
      throw InvalidArgument(prefix_ + "needs an int8 [N, H, W, C] tensor, got " + shape_str(s));
    }
    check_indices(y0_, s[1], "row", prefix_);
    check_indices(y1_, s[1], "row", prefix_);
    check_indices(x0_, s[2], "column", prefix_);
    check_indices(x1_, s[2], "column", prefix_);
    return {{DataType::kInt8, {s[0], static_cast<int64_t>(ty_.size()), static_cast<int64_t>(tx_.size()), s[3]}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t H = s[1], W = s[2], C = s[3];
    const int64_t OH = static_cast<int64_t>(ty_.size()), OW = static_cast<int64_t>(tx_.size());
    const int8_t* x = in[0]->data<int8_t>();
    int8_t* y = out[0]->data<int8_t>();
    const float s_in = s_in_, inv_out = inv_out_;
    parallel_for(s[0] * OH, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, OW * C)), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / OH;
        const ResizeTap& a = ty_[r % OH];
        const int8_t* r0 = x + (n * H + a.i0) * W * C;
        const int8_t* r1 = x + (n * H + a.i1) * W * C;
        int8_t* dst = y + r * OW * C;
        for (int64_t ox = 0; ox < OW; ++ox) {
          const ResizeTap& t = tx_[ox];
          const int8_t *p00 = r0 + t.i0 * C, *p01 = r0 + t.i1 * C, *p10 = r1 + t.i0 * C, *p11 = r1 + t.i1 * C;
          for (int64_t c = 0; c < C; ++c) {
            const float v = resize_blend(a, t, static_cast<float>(p00[c]) * s_in, static_cast<float>(p01[c]) * s_in,
                                         static_cast<float>(p10[c]) * s_in, static_cast<float>(p11[c]) * s_in);
            dst[ox * C + c] = kernels::ref::quantize_value(v, inv_out);
          }
        }
      }
    });
  }

  std::string describe() const override { return "bilinear"; }

 private:
  std::vector<int64_t> y0_, y1_, x0_, x1_;  // for the checks in infer
  std::vector<ResizeTap> ty_, tx_;
  float s_in_, inv_out_;
  std::string prefix_;
};

INT8RT_REGISTER_LAYER(QResizeLinearAttrs::kOp, [](const Network&, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QResizeLinearLayer>(node, QResizeLinearAttrs::from_attrs(node));
});

INT8RT_REGISTER_LAYER(QResizeNearestAttrs::kOp, [](const Network& net, const Node& node) -> std::unique_ptr<Layer> {
  require_inputs(node, 1);
  return std::make_unique<QResizeNearestLayer>(net, node, QResizeNearestAttrs::from_attrs(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
