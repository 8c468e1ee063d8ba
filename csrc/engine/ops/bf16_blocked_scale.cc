// int8rt.ChannelScaleBf16x16c, the squeeze-and-excitation Mul of a BF16
// channel-blocked region (engine/bf16_blocked.h): a blocked bfloat16 x
// [N, CB, H, W, 16] times a float32 s [N, C, 1, 1] (either input order),
// y = bf16::from_f32(x * s) blocked, the padded lanes +0. After the FP32
// region's int8rt.ChannelScale16c (ops/f32_blocked_ops.cc).
//
// It runs on the nchw16c_bf16 family's depthwise kernel as a 1x1 window
// (ops/bf16_unit_window.h) whose taps are the image's 16 gates of the block
// and whose bias is -0:
// the kernel's v = fma(s, x, -0) is the product x * s rounded once (a
// nonzero product plus -0 is itself; a zero one keeps its sign, as -0 + -0
// is -0 and +0 + -0 is +0), then its epilogue rounds to BF16, so the bits
// of a float32 Mul of the widened x rounded to BF16, on every tier.
// An optional third input r, blocked like x (the residual of PP-OCR's
// x + x * s, fused by bf16_blocked_moves.h): y = bf16::from_f32(x * s + r),
// the product rounded to float32, r added in float32 (the kernel's residual
// step), then one BF16 rounding. A fused Relu / Clip ("int8rt_activation",
// bf16_blocked_moves.h): clip_f32 after the residual, before the rounding.
// Tasks: runs of rows of one block of one image (ops/bf16_unit_window.h).
#include <algorithm>

#include "engine/bf16_blocked.h"
#include "engine/bf16_blocked_moves.h"
#include "engine/layer.h"
#include "engine/ops/bf16_unit_window.h"
#include "engine/ops/blocked_tensor.h"
#include "engine/ops/op_util.h"
#include "kernels/nchw16c_bf16.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::kBf16Block;

class Bf16BlockedScaleLayer : public Layer {
 public:
  explicit Bf16BlockedScaleLayer(const Node& node)
      : prefix_(layer_error_prefix(node)), channels_(node.attrs.get_int("channels", 0)) {
    if (node.inputs.size() != 2 && node.inputs.size() != 3) throw InvalidArgument(prefix_ + "needs 2 or 3 inputs");
    residual_ = node.inputs.size() == 3;
    clip_.on = bf16_fused_clip(node, prefix_, &clip_.lo, &clip_.hi);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const int xi = blocked_index(in);
    const Shape& s = require_input(in, 1 - xi, DataType::kFloat32, prefix_).shape();
    if (scalar(in, xi)) {
      if (channels_ <= 0) throw InvalidArgument(prefix_ + "a scalar scale needs the channels attribute");
      const Shape& x = blocked_input(in, xi, DataType::kBFloat16, channels_, prefix_);
      if (in.size() == 3 && blocked_input(in, 2, DataType::kBFloat16, channels_, prefix_) != x) {
        throw InvalidArgument(prefix_ + "residual " + shape_str(in[2]->shape()) + " differs from " + shape_str(x));
      }
      return {{DataType::kBFloat16, x}};
    }
    const Shape& x = blocked_input(in, xi, DataType::kBFloat16, s.size() == 4 ? s[1] : 0, prefix_);
    if (s.size() != 4 || s[0] != x[0] || s[2] != 1 || s[3] != 1 || (channels_ > 0 && s[1] != channels_)) {
      throw InvalidArgument(prefix_ + "needs scales [" + std::to_string(x[0]) + ", C, 1, 1], got " + shape_str(s));
    }
    if (in.size() == 3 && blocked_input(in, 2, DataType::kBFloat16, s[1], prefix_) != x) {
      throw InvalidArgument(prefix_ + "residual " + shape_str(in[2]->shape()) + " differs from " + shape_str(x));
    }
    return {{DataType::kBFloat16, x}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int xi = blocked_index(in);
    const Shape& xs = in[xi]->shape();
    const bool one = scalar(in, xi);
    const int64_t N = xs[0], CB = xs[1], H = xs[2], W = xs[3], C = one ? channels_ : in[1 - xi]->shape()[1];
    const int64_t plane = H * W * kBf16Block;
    const uint16_t* x = in[xi]->data<uint16_t>();
    const float* s = in[1 - xi]->data<float>();
    const uint16_t* r = in.size() == 3 ? in[2]->data<uint16_t>() : nullptr;
    uint16_t* y = out[0]->data<uint16_t>();
    for_bf16_row_tasks(N * CB, H, W, [&](int64_t block, int64_t oy0, int64_t oy1) {
      const int64_t n = block / CB, c0 = (block % CB) * kBf16Block, lanes = std::min(kBf16Block, C - c0);
      float gates[kBf16Block] = {};
      if (one) {
        std::fill(gates, gates + lanes, s[0]);
      } else {
        std::copy(s + n * C + c0, s + n * C + c0 + lanes, gates);
      }
      run_unit_window(*kernel_, x + block * plane, gates, r ? r + block * plane : nullptr, y + block * plane, lanes, H,
                      W, oy0, oy1, clip_);
    });
  }

  std::string describe() const override {
    return std::string("NCHW16c bf16 ") + (residual_ ? "+ residual " : "") + (clip_.on ? "clip " : "") + kernel_->name();
  }

 private:
  // The blocked (5-D) input's position (0 or 1; a residual is input 2).
  int blocked_index(const std::vector<const Value*>& in) const {
    if (in.size() < 2 || in.size() > 3 || !in[0] || !in[1]) throw InvalidArgument(prefix_ + "needs two or three inputs");
    return in[0]->shape().size() == 5 ? 0 : 1;
  }
  // Whether the scale (input 1 - xi) is one value for every lane (a scalar
  // Mul's; gates [1, 1, 1, 1] of one channel are the same product).
  bool scalar(const std::vector<const Value*>& in, int xi) const {
    return channels_ > 0 && in[1 - xi]->numel() == 1;
  }
  std::string prefix_;
  int64_t channels_ = 0;  // the "channels" attribute, 0 where absent (SE scales before it)
  bool residual_ = false;
  UnitWindowClip clip_;  // a fused Relu / Clip (bf16_blocked_moves.h)
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

}  // namespace

INT8RT_REGISTER_LAYER(kBf16BlockedScaleOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedScaleLayer>(node));
});

}  // namespace engine
}  // namespace int8rt
