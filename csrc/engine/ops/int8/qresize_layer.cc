// int8rt.QResizeNearest (contracts.h): nearest Resize of an int8 NHWC tensor
// at one scale, so a byte copy: y[n][oy][ox][:] = x[n][src_y[oy]][src_x[ox]][:].
// The index lists come from the FP32 Resize itself (nearest_sources.h): made
// by the lowering for a static input size, or, for a dynamic one, by the
// layer once per input size it meets, so the int8 engine picks exactly the
// pixels the FP32 one does.
// int8rt.QResizeLinear (contracts.h): bilinear Resize of an int8 NHWC tensor,
// the FP32 layer's blend (resize_coords.h) of the dequantized neighbours,
// quantized at the output scale: the bytes Dequantize, FP32 Resize, Quantize give;
// or, into float32 layers and network outputs, the blend itself in float32
// NCHW: the bytes Dequantize, FP32 Resize give. Taps fixed by the lowering for
// a static size, or derived by the layer per input size and run-time
// scales / sizes (resize_plan, as the FP32 layer derives them).
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/int8/contracts.h"
#include "engine/ops/int8/nearest_sources.h"
#include "engine/ops/resize_coords.h"
#include "int8rt/error.h"
#include "kernels/eltwise_s8.h"

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

// The taps of both axes for one input and output size.
struct LinearTaps {
  std::vector<ResizeTap> ty, tx;
};

// One input row (n * H + iy, or -1) dequantized and blended along x.
struct RowCache {
  // Empty (no row held) with room for `len` values; its storage is kept.
  void reset(int64_t len) {
    row = -1;
    h.resize(static_cast<size_t>(len));
  }
  int64_t row = -1;
  std::vector<float> h;
};

class QResizeLinearLayer : public Layer {
 public:
  QResizeLinearLayer(const Node& node, const QResizeLinearAttrs& a)
      : dynamic_(a.dynamic_size), float_out_(a.float_out), s_in_(static_cast<float>(a.in_scale)),
        out_scale_(static_cast<float>(a.out_scale)), prefix_(layer_error_prefix(node)) {
    if (dynamic_) {
      Node resize;
      resize.op = "Resize";
      resize.name = node.name;
      resize.attrs = a.resize;
      config_ = resize_config(resize, /*upsample=*/false);
      if (!config_.linear || config_.antialias || config_.tf_crop_and_resize || !config_.axes.empty()) {
        throw InvalidArgument(prefix_ + "needs a linear Resize without antialias, tf_crop_and_resize or axes");
      }
      return;
    }
    for (size_t i = 0; i < a.y0.size(); ++i) {
      fixed_.ty.push_back({a.y0[i], a.y1[i], static_cast<float>(a.wy0[i]), static_cast<float>(a.wy1[i])});
    }
    for (size_t i = 0; i < a.x0.size(); ++i) {
      fixed_.tx.push_back({a.x0[i], a.x1[i], static_cast<float>(a.wx0[i]), static_cast<float>(a.wx1[i])});
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = in[0]->shape();
    if (in[0]->dtype() != DataType::kInt8 || s.size() != 4) {
      throw InvalidArgument(prefix_ + "needs an int8 [N, H, W, C] tensor, got " + shape_str(s));
    }
    const LinearTaps& t = taps_for(in);
    for (const auto& [taps, n, what] : {std::make_tuple(&t.ty, s[1], "row"), std::make_tuple(&t.tx, s[2], "column")}) {
      for (const ResizeTap& tap : *taps) {
        if (tap.i0 < 0 || tap.i1 < 0 || tap.i0 >= n || tap.i1 >= n) {
          throw InvalidArgument(prefix_ + "source " + what + " " + std::to_string(std::max(tap.i0, tap.i1)) +
                                " outside " + std::to_string(n));
        }
      }
    }
    const int64_t OH = static_cast<int64_t>(t.ty.size()), OW = static_cast<int64_t>(t.tx.size());
    if (float_out_) return {{DataType::kFloat32, {s[0], s[3], OH, OW}}};
    return {{DataType::kInt8, {s[0], OH, OW, s[3]}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const LinearTaps& taps = taps_for(in);
    if (float_out_) {
      run_float(in[0]->data<int8_t>(), out[0]->data<float>(), s, taps);
    } else {
      run_int8(in[0]->data<int8_t>(), out[0]->data<int8_t>(), s, taps);
    }
  }

  std::string describe() const override {
    return std::string("bilinear") + (float_out_ ? " to float32" : "") + (dynamic_ ? " (taps per size)" : "");
  }

 private:
  // int8 out, per output row in resize_blend's order: each input row is
  // dequantized (the Dequantize kernel: q * in_scale) and blended along x
  // once, h = b.w0 * x0 + b.w1 * x1, into a two-row cache (channels-last);
  // the output row is a.w0 * h_i0 + a.w1 * h_i1, quantized by the Quantize kernel.
  void run_int8(const int8_t* x, int8_t* y, const Shape& s, const LinearTaps& taps) const {
    const int64_t H = s[1], W = s[2], C = s[3];
    const int64_t OH = static_cast<int64_t>(taps.ty.size()), OW = static_cast<int64_t>(taps.tx.size());
    const int64_t row_len = OW * C;
    // Chunks of many rows: each chunk starts its row cache anew.
    parallel_for(s[0] * OH, std::max<int64_t>(8, 262144 / std::max<int64_t>(1, row_len)), [&](int64_t b, int64_t e) {
      // The running thread's rows (named here, so each helper has its own), kept across runs.
      thread_local std::vector<float> src_here, v_here;
      thread_local RowCache h0_here, h1_here;
      std::vector<float>&src = src_here, &v = v_here;
      RowCache &h0 = h0_here, &h1 = h1_here;  // the x-blended rows i0 and i1 of the current output row
      src.resize(static_cast<size_t>(W * C));
      v.resize(static_cast<size_t>(row_len));
      h0.reset(row_len);
      h1.reset(row_len);
      auto blend_x = [&](int64_t n, int64_t iy, RowCache& slot) {
        slot.row = n * H + iy;
        dequantize_->dequantize(W * C, x + slot.row * W * C, s_in_, src.data());
        blend_row(src.data(), slot.h.data(), C, taps);
      };
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / OH, oy = r % OH;
        const ResizeTap& a = taps.ty[oy];
        if (h0.row != n * H + a.i0) {
          if (h1.row == n * H + a.i0) std::swap(h0, h1);
          else blend_x(n, a.i0, h0);
        }
        const RowCache& hb = a.i1 == a.i0 ? h0 : h1;
        if (hb.row != n * H + a.i1) blend_x(n, a.i1, h1);
        const float *p0 = h0.h.data(), *p1 = hb.h.data();
        const float w0 = a.w0, w1 = a.w1;
        for (int64_t k = 0; k < row_len; ++k) v[k] = w0 * p0[k] + w1 * p1[k];
        quantize_->quantize(row_len, v.data(), out_scale_, 0, y + r * row_len);
      }
    });
  }

  // float32 out: first every input row dequantized and blended along x into
  // per-channel planes hx [N][C][H][OW]; then each output plane row is
  // a.w0 * hx[i0] + a.w1 * hx[i1], written plane by plane as the FP32 layer
  // writes it (the same float operations in the same order).
  void run_float(const int8_t* x, float* y, const Shape& s, const LinearTaps& taps) const {
    const int64_t N = s[0], H = s[1], W = s[2], C = s[3];
    const int64_t OH = static_cast<int64_t>(taps.ty.size()), OW = static_cast<int64_t>(taps.tx.size());
    // Scratch kept by the calling thread across runs (no page faults per run;
    // a context runs on one thread at a time, the workers only share it).
    thread_local std::vector<float> scratch;
    if (scratch.size() < static_cast<size_t>(N * C * H * OW)) scratch.resize(static_cast<size_t>(N * C * H * OW));
    float* const hx = scratch.data();
    parallel_for(N * H, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, OW * C)), [&](int64_t b, int64_t e) {
      thread_local std::vector<float> src_here, row_here;  // the running thread's, kept across runs
      std::vector<float>&src = src_here, &row = row_here;
      src.resize(static_cast<size_t>(W * C));
      row.resize(static_cast<size_t>(OW * C));
      for (int64_t r = b; r < e; ++r) {
        const int64_t n = r / H, iy = r % H;
        dequantize_->dequantize(W * C, x + r * W * C, s_in_, src.data());
        blend_row(src.data(), row.data(), C, taps);
        float* base = hx + (n * C * H + iy) * OW;
        for (int64_t c = 0; c < C; ++c) {
          for (int64_t ox = 0; ox < OW; ++ox) base[c * H * OW + ox] = row[ox * C + c];
        }
      }
    });
    parallel_for(N * C * OH, std::max<int64_t>(8, 65536 / std::max<int64_t>(1, OW)), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t p = t / OH, oy = t % OH;  // p = n * C + c
        const ResizeTap& a = taps.ty[oy];
        const float *h0 = hx + (p * H + a.i0) * OW, *h1 = hx + (p * H + a.i1) * OW;
        const float w0 = a.w0, w1 = a.w1;
        float* dst = y + t * OW;
        for (int64_t ox = 0; ox < OW; ++ox) dst[ox] = w0 * h0[ox] + w1 * h1[ox];
      }
    });
  }

  // One dequantized channels-last row [W][C] blended along x: h[ox][c] = t.w0 * x[t.i0][c] + t.w1 * x[t.i1][c].
  static void blend_row(const float* src, float* h, int64_t C, const LinearTaps& taps) {
    const int64_t OW = static_cast<int64_t>(taps.tx.size());
    for (int64_t ox = 0; ox < OW; ++ox) {
      const ResizeTap& t = taps.tx[ox];
      const float *x0 = src + t.i0 * C, *x1 = src + t.i1 * C;
      for (int64_t c = 0; c < C; ++c) h[ox * C + c] = t.w0 * x0[c] + t.w1 * x1[c];
    }
  }

  // The taps: the fixed ones, or those of this input's size and the
  // run-time scales / sizes, derived once (entries are never erased, so
  // references stay valid).
  const LinearTaps& taps_for(const std::vector<const Value*>& in) const {
    if (!dynamic_) return fixed_;
    const Shape& s = in[0]->shape();
    thread_local Shape xs;  // kept with the plan: a run at a known size allocates nothing
    thread_local ResizePlan plan;
    xs.assign({s[0], s[3], s[1], s[2]});  // the float tensor's [N, C, H, W]
    resize_plan_into(config_, xs, in, prefix_, &plan);
    const Shape& os = plan.out;
    const std::vector<float>& scales = plan.scales;
    if (os[0] != xs[0] || os[1] != xs[1]) {
      throw InvalidArgument(prefix_ + "int8 linear resizing changes H and W only; its sizes/scales give " +
                            shape_str(os) + " for " + shape_str(xs));
    }
    const TapKey key{xs[2], xs[3], os[2], os[3], scales[2], scales[3]};
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_size_.find(key);
    if (it != by_size_.end()) return it->second;
    LinearTaps t;
    for (int64_t o = 0; o < os[2]; ++o) t.ty.push_back(resize_linear_tap(config_, o, scales[2], xs[2], os[2]));
    for (int64_t o = 0; o < os[3]; ++o) t.tx.push_back(resize_linear_tap(config_, o, scales[3], xs[3], os[3]));
    return by_size_.emplace(key, std::move(t)).first->second;
  }

  using TapKey = std::tuple<int64_t, int64_t, int64_t, int64_t, float, float>;  // H, W, OH, OW, scale_h, scale_w
  bool dynamic_, float_out_;
  LinearTaps fixed_;
  ResizeConfig config_;  // dynamic only
  float s_in_, out_scale_;
  std::string prefix_;
  const kernels::DequantizeS8Kernel* dequantize_ = &kernels::choose<kernels::DequantizeS8Kernel>();  // once per layer
  const kernels::QuantizeS8Kernel* quantize_ = &kernels::choose<kernels::QuantizeS8Kernel>();
  mutable std::mutex mutex_;
  mutable std::map<TapKey, LinearTaps> by_size_;
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
