// int8rt.AveragePoolBf16x16c: AveragePool (2-D windows, strides, pads,
// auto_pad, ceil_mode, dilations, count_include_pad as ONNX defines them) on
// a BF16 channel-blocked tensor [N, CB, H, W, 16] (engine/bf16_blocked.h),
// blocked bfloat16 in and out. Where the region left it (ECA-ResNet's and
// NFNet's avg-down shortcuts, RESULTS.md sections 272 / 276 / 282), the
// tensor went FromBf16x16c (widened, exact), through the FP32 AveragePool
// and ToBf16x16c (bf16::from_f32) into its reader; this layer gives those
// bits without the two layout conversions: the way ops/bf16_maxpool.h pools
// bfloat16 planes (widen, the FP32 kernel, narrow), per task the input rows
// of a run of output rows of one channel block are widened (exact) into a
// per-thread FP32 window, pooled by the nchw16c_f32 family's avgpool (its
// sums in the NCHW AveragePool's tap order over op_util.h's pool_divisors:
// the FP32 layer's bits, tests/test_f32_blocked_inception.py) and rounded
// once (bf16::from_f32). Padded lanes (+0) pool to +0. The scratch stays in
// cache; memory sees the BF16 tensors only.
#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "engine/bf16_blocked.h"
#include "engine/layer.h"
#include "engine/ops/blocked_tensor.h"
#include "engine/ops/op_util.h"
#include "engine/ops/pool_window_2d.h"
#include "kernels/nchw16c_f32.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace engine {
namespace {

class Bf16BlockedAvgPoolLayer : public Layer {
 public:
  explicit Bf16BlockedAvgPoolLayer(const Node& node)
      : C_(channels_attr(node)),
        include_pad_(node.attrs.get_int("count_include_pad", 0) != 0),
        prefix_(layer_error_prefix(node)) {
    w_ = parse_window(node, true, true);
    if (w_.kernel.size() != 2) throw NotSupported(prefix_ + "a channel-blocked BF16 AveragePool is 2-D");
    fill_window_defaults(w_, 2, node);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = blocked_input(in, 0, DataType::kBFloat16, C_, prefix_);
    return {{DataType::kBFloat16, Shape{s[0], s[1], window_geometry(w_, 0, s[2], prefix_).out,
                                        window_geometry(w_, 1, s[3], prefix_).out, kChannelBlock}}};
  }

  // Runs of output rows of about kTaskBytes of output per task.
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const DimGeom gh = window_geometry(w_, 0, s[2], prefix_), gw = window_geometry(w_, 1, s[3], prefix_);
    kernels::PoolNchw16c g;
    set_pool_window_2d(g, w_, s[2], s[3], gh, gw);
    const std::vector<float> count_h = pool_divisors(g.H, g.kh, g.sh, g.dh, gh, include_pad_),
                             count_w = pool_divisors(g.W, g.kw, g.sw, g.dw, gw, include_pad_);
    const int64_t line = g.W * kChannelBlock, out_line = g.ow * kChannelBlock;
    const int64_t rows = std::min(g.oh, std::max<int64_t>(1, kTaskBytes / (out_line * 2)));
    const int64_t runs = (g.oh + rows - 1) / rows;
    const uint16_t* x = in[0]->data<uint16_t>();
    uint16_t* y = out[0]->data<uint16_t>();
    // Each task's rows in steps whose widened input rows fit kScratchFloats (L1).
    const int64_t span = (g.kh - 1) * g.dh + 1;
    const int64_t step = std::max<int64_t>(1, (kScratchFloats / line - span) / g.sh + 1);
    parallel_for(s[0] * s[1] * runs, 1, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> wide, pooled;
      for (int64_t t = begin; t < end; ++t) {
        const int64_t plane = t / runs, first = (t % runs) * rows, last = std::min(g.oh, first + rows);
        for (int64_t oy0 = first; oy0 < last; oy0 += step) {
          const int64_t oy1 = std::min(last, oy0 + step);
          // The input rows [r0, r1) that output rows [oy0, oy1) read; the
          // kernel sees them as a plane of r1 - r0 rows whose top padding
          // is what lies above r0 (>= 0: r0 is at or past the first tap
          // row), so a tap outside [r0, r1) is one outside the image,
          // skipped as there.
          const int64_t r0 = std::max<int64_t>(0, oy0 * g.sh - g.ph);
          const int64_t r1 = std::min(g.H, (oy1 - 1) * g.sh - g.ph + span);
          const int64_t n_in = std::max<int64_t>(0, r1 - r0) * line, n_out = (oy1 - oy0) * out_line;
          wide.resize(static_cast<size_t>(std::max<int64_t>(1, n_in)));
          pooled.resize(static_cast<size_t>(n_out));
          // Local pointers and bounds (as ops/bf16_maxpool.cc: through the
          // vectors the loops reload their bounds and run scalar).
          const uint16_t* src = x + (plane * g.H + r0) * line;
          float* w = wide.data();
          kernels::bf16::to_f32_run(src, w, n_in);
          kernels::PoolNchw16c a = g;
          a.x = w;
          a.y = pooled.data();
          a.H = std::max<int64_t>(0, r1 - r0);
          a.ph = g.ph + r0 - oy0 * g.sh;
          a.oh = oy1 - oy0;
          a.oy0 = 0;
          a.oy1 = oy1 - oy0;
          a.count_h = count_h.data() + oy0;
          a.count_w = count_w.data();
          kernel_->avgpool(a);
          const float* r = pooled.data();
          uint16_t* dst = y + (plane * g.oh + oy0) * out_line;
          for (int64_t i = 0; i < n_out; ++i) dst[i] = kernels::bf16::from_f32(r[i]);  // the one rounding
        }
      }
    });
  }

  std::string describe() const override { return "bf16 avgpool NCHW16c " + std::string(kernel_->name()); }

 private:
  static constexpr int64_t kTaskBytes = 64 << 10;  // output bytes per task
  static constexpr int64_t kScratchFloats = 4096;  // widened input per step: 16 KiB
  int64_t C_;
  bool include_pad_;
  WindowAttrs w_;
  std::string prefix_;
  const kernels::Nchw16cF32Kernel* kernel_ = &kernels::choose<kernels::Nchw16cF32Kernel>();
};

INT8RT_REGISTER_LAYER(kBf16BlockedAvgPoolOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedAvgPoolLayer>(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
