// The layers that carry a BF16 channel-blocked region (engine/bf16_blocked.h)
// through a feature pyramid (PP-OCR det's FPN and head, RESULTS.md section
// 265) and ReXNet's partial residual: an Add of two blocked tensors, a
// nearest Resize, a Concat along channels and a Slice of channels, on
// [N, CB, H, W, 16] bfloat16 tensors, the padded lanes +0.
//   int8rt.AddBf16x16c     a + b of one shape (attribute channels):
//                          y = bf16::from_f32(f32(a) + f32(b)), the FP32
//                          sum of the widened values rounded once. It runs on
//                          the nchw16c_bf16 family's depthwise kernel as a
//                          1x1 window whose taps are 1 and bias -0 with b as
//                          the residual (v = fma(1, a, -0) is a, zeros keeping
//                          their sign; then v + b and the rounding: the
//                          kernel's epilogue), so every tier gives those bits
//                          (after ChannelScaleBf16x16c, ops/bf16_blocked_scale.cc).
//                          A fused Relu / Clip ("int8rt_activation",
//                          bf16_blocked_moves.h): clip_f32 of the sum, then
//                          the rounding (the kernel's clip epilogue).
//   int8rt.ResizeNearestBf16x16c  y[oy][ox] = x[src_y[oy]][src_x[ox]]
//                          (attributes src_y, src_x: the FP32 Resize's own
//                          picks, ops/int8/nearest_sources.h), 32-byte lines
//                          copied: the bits of the NCHW Resize of the values.
//   int8rt.ConcatBf16x16c  inputs of C_i channels (attribute channels, any
//                          counts) along channels: output channel c is
//                          input i's channel c - (C_0 + .. + C_{i-1}), lanes
//                          moved between blocks where a C_i is not a
//                          multiple of 16; copies, so the Concat's values.
//   int8rt.SliceBf16x16c   channels [start, end) of an input of `channels`
//                          (attributes; the ONNX Slice's range along axis
//                          1, step 1, resolved at build): output channel c
//                          is input channel start + c, lanes moved between
//                          blocks where start is not a multiple of 16, the
//                          padded lanes +0; copies, so the Slice's values
//                          (ReXNet's partial residual, RESULTS.md 284).
// Work in parallel over images, channel blocks and runs of rows
// (for_bf16_row_tasks, ops/bf16_unit_window.h).
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
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

class Bf16BlockedAddLayer : public Layer {
 public:
  explicit Bf16BlockedAddLayer(const Node& node) : C_(channels_attr(node)), prefix_(layer_error_prefix(node)) {
    require_inputs(node, 2);
    std::fill(ones_, ones_ + kBf16Block, 1.f);
    clip_.on = bf16_fused_clip(node, prefix_, &clip_.lo, &clip_.hi);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.size() != 2) throw InvalidArgument(prefix_ + "needs two inputs");
    const Shape& a = blocked_input(in, 0, DataType::kBFloat16, C_, prefix_);
    const Shape& b = blocked_input(in, 1, DataType::kBFloat16, C_, prefix_);
    if (a != b) throw InvalidArgument(prefix_ + "needs inputs of one shape, got " + shape_str(a) + " and " + shape_str(b));
    return {{DataType::kBFloat16, a}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t CB = s[1], H = s[2], W = s[3], plane = H * W * kBf16Block;
    const uint16_t* a = in[0]->data<uint16_t>();
    const uint16_t* b = in[1]->data<uint16_t>();
    uint16_t* y = out[0]->data<uint16_t>();
    for_bf16_row_tasks(s[0] * CB, H, W, [&](int64_t block, int64_t oy0, int64_t oy1) {
      const int64_t lanes = std::min(kBf16Block, C_ - (block % CB) * kBf16Block);
      run_unit_window(*kernel_, a + block * plane, ones_, b + block * plane, y + block * plane, lanes, H, W, oy0, oy1,
                      clip_);
    });
  }

  std::string describe() const override {
    return std::string("NCHW16c bf16 add ") + (clip_.on ? "clip " : "") + kernel_->name();
  }

 private:
  int64_t C_;
  std::string prefix_;
  UnitWindowClip clip_;
  float ones_[kBf16Block];
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

class Bf16BlockedResizeLayer : public Layer {
 public:
  explicit Bf16BlockedResizeLayer(const Node& node)
      : src_y_(node.attrs.get_ints("src_y", {})), src_x_(node.attrs.get_ints("src_x", {})),
        prefix_(layer_error_prefix(node)) {
    require_inputs(node, 1);
    if (src_y_.empty() || src_x_.empty() || *std::min_element(src_y_.begin(), src_y_.end()) < 0 ||
        *std::min_element(src_x_.begin(), src_x_.end()) < 0) {
      throw InvalidArgument(prefix_ + "needs non-empty 'src_y' and 'src_x' of indices >= 0");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Shape s = blocked_input(in, 0, DataType::kBFloat16, 0, prefix_);
    if (*std::max_element(src_y_.begin(), src_y_.end()) >= s[2] ||
        *std::max_element(src_x_.begin(), src_x_.end()) >= s[3]) {
      throw InvalidArgument(prefix_ + "picks rows / columns outside its input " + shape_str(s));
    }
    s[2] = static_cast<int64_t>(src_y_.size());
    s[3] = static_cast<int64_t>(src_x_.size());
    return {{DataType::kBFloat16, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t H = s[2], W = s[3], OH = static_cast<int64_t>(src_y_.size());
    const int64_t OW = static_cast<int64_t>(src_x_.size()), line = OW * kBf16Block;
    const uint16_t* x = in[0]->data<uint16_t>();
    uint16_t* y = out[0]->data<uint16_t>();
    for_bf16_row_tasks(s[0] * s[1], OH, OW, [&](int64_t block, int64_t oy0, int64_t oy1) {
      const uint16_t* xb = x + block * H * W * kBf16Block;
      uint16_t* yb = y + block * OH * line;
      for (int64_t oy = oy0; oy < oy1; ++oy) {
        if (oy > oy0 && src_y_[oy] == src_y_[oy - 1]) {  // the row above again
          std::memcpy(yb + oy * line, yb + (oy - 1) * line, static_cast<size_t>(line) * 2);
          continue;
        }
        const uint16_t* xr = xb + src_y_[oy] * W * kBf16Block;
        uint16_t* yr = yb + oy * line;
        for (int64_t ox = 0; ox < OW; ++ox) std::memcpy(yr + ox * kBf16Block, xr + src_x_[ox] * kBf16Block, 32);
      }
    });
  }

  std::string describe() const override { return "NCHW16c bf16 resize nearest"; }

 private:
  std::vector<int64_t> src_y_, src_x_;
  std::string prefix_;
};

// A run of lanes copied from one input block to one output block.
struct LaneRun {
  int64_t input = 0, block = 0, from = 0, to = 0, count = 0;
};

// Appends to runs (per output block) the runs that copy `count` channels of
// input `input`, from its channel `first`, to the output's channels from c0:
// each within one input block and one output block.
void add_lane_runs(int64_t input, int64_t first, int64_t count, int64_t c0, std::vector<std::vector<LaneRun>>* runs) {
  for (int64_t c = 0; c < count;) {
    const int64_t from = (first + c) % kBf16Block, to = (c0 + c) % kBf16Block;
    const int64_t n = std::min({count - c, kBf16Block - from, kBf16Block - to});
    const int64_t ob = (c0 + c) / kBf16Block;
    if (static_cast<int64_t>(runs->size()) <= ob) runs->resize(static_cast<size_t>(ob + 1));
    (*runs)[static_cast<size_t>(ob)].push_back({input, (first + c) / kBf16Block, from, to, n});
    c += n;
  }
}

// count lanes of each of P pixel lines, from x (lane `from` of each) to y.
template <int kCount>
void copy_lanes(const uint16_t* x, uint16_t* y, int64_t P) {
  for (int64_t p = 0; p < P; ++p) std::memcpy(y + p * kBf16Block, x + p * kBf16Block, kCount * 2);
}

void copy_lanes(const uint16_t* x, uint16_t* y, int64_t P, int64_t count) {
  if (count == 8) return copy_lanes<8>(x, y, P);
  if (count == 4) return copy_lanes<4>(x, y, P);
  for (int64_t p = 0; p < P; ++p) std::memcpy(y + p * kBf16Block, x + p * kBf16Block, static_cast<size_t>(count) * 2);
}

// Output block yb (P pixel lines) of image n from its runs; `pad`: the
// block has padded lanes, +0.
void write_block(const std::vector<LaneRun>& runs, const std::vector<const Value*>& in, int64_t n, int64_t P,
                 bool pad, uint16_t* yb) {
  const int64_t plane = P * kBf16Block;
  const auto block = [&](const LaneRun& r) {
    return in[r.input]->data<uint16_t>() + (n * in[r.input]->shape()[1] + r.block) * plane;
  };
  if (runs.size() == 1 && runs[0].count == kBf16Block) {  // a whole block
    std::memcpy(yb, block(runs[0]), static_cast<size_t>(plane) * 2);
    return;
  }
  if (pad) std::memset(yb, 0, static_cast<size_t>(plane) * 2);
  for (const LaneRun& r : runs) copy_lanes(block(r) + r.from, yb + r.to, P, r.count);
}

class Bf16BlockedConcatLayer : public Layer {
 public:
  static constexpr int64_t kMaxChannels = int64_t{1} << 24;  // a forged file's counts stop here

  explicit Bf16BlockedConcatLayer(const Node& node)
      : channels_(node.attrs.get_ints("channels", {})), prefix_(layer_error_prefix(node)) {
    if (channels_.empty() || channels_.size() != node.inputs.size()) {
      throw InvalidArgument(prefix_ + "needs one entry of 'channels' per input");
    }
    int64_t c0 = 0;  // the output channel of input i's first
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (channels_[i] <= 0 || channels_[i] > kMaxChannels) {
        throw InvalidArgument(prefix_ + "needs positive 'channels', got " + std::to_string(channels_[i]));
      }
      add_lane_runs(static_cast<int64_t>(i), 0, channels_[i], c0, &runs_);
      c0 += channels_[i];
      if (c0 > kMaxChannels) throw InvalidArgument(prefix_ + "needs at most 2^24 channels in all");
    }
    C_ = c0;
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.size() != channels_.size()) throw InvalidArgument(prefix_ + "needs one input per entry of 'channels'");
    const Shape& first = blocked_input(in, 0, DataType::kBFloat16, channels_[0], prefix_);
    for (size_t i = 1; i < in.size(); ++i) {
      const Shape& s = blocked_input(in, i, DataType::kBFloat16, channels_[i], prefix_);
      if (s[0] != first[0] || s[2] != first[2] || s[3] != first[3]) {
        throw InvalidArgument(prefix_ + "input " + std::to_string(i) + " " + shape_str(s) +
                              " does not match input 0 " + shape_str(first) + " outside the channel blocks");
      }
    }
    Shape out = first;
    out[1] = channel_blocks(C_);
    return {{DataType::kBFloat16, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& os = out[0]->shape();
    const int64_t N = os[0], OB = os[1], P = os[2] * os[3], plane = P * kBf16Block;
    uint16_t* y = out[0]->data<uint16_t>();
    parallel_for(N * OB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        write_block(runs_[t % OB], in, t / OB, P, t % OB == OB - 1 && C_ % kBf16Block != 0, y + t * plane);
      }
    });
  }

  std::string describe() const override { return "NCHW16c bf16 concat"; }

 private:
  std::vector<int64_t> channels_;
  std::vector<std::vector<LaneRun>> runs_;  // per output block
  int64_t C_ = 0;
  std::string prefix_;
};

class Bf16BlockedSliceLayer : public Layer {
 public:
  static constexpr int64_t kMaxChannels = int64_t{1} << 24;  // a forged file's counts stop here

  explicit Bf16BlockedSliceLayer(const Node& node)
      : C_(channels_attr(node)), start_(node.attrs.get_int("start", -1)), end_(node.attrs.get_int("end", -1)),
        prefix_(layer_error_prefix(node)) {
    require_inputs(node, 1);
    if (C_ > kMaxChannels) throw InvalidArgument(prefix_ + "needs at most 2^24 'channels'");
    if (start_ < 0 || start_ >= end_ || end_ > C_) {
      throw InvalidArgument(prefix_ + "needs 0 <= 'start' < 'end' <= 'channels' (" + std::to_string(C_) +
                            "), got " + std::to_string(start_) + ", " + std::to_string(end_));
    }
    add_lane_runs(0, start_, end_ - start_, 0, &runs_);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (in.size() != 1) throw InvalidArgument(prefix_ + "needs one input");
    Shape s = blocked_input(in, 0, DataType::kBFloat16, C_, prefix_);
    s[1] = channel_blocks(end_ - start_);
    return {{DataType::kBFloat16, s}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& os = out[0]->shape();
    const int64_t OB = os[1], P = os[2] * os[3];
    const bool pad = (end_ - start_) % kBf16Block != 0;
    uint16_t* y = out[0]->data<uint16_t>();
    parallel_for(os[0] * OB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        write_block(runs_[t % OB], in, t / OB, P, pad && t % OB == OB - 1, y + t * P * kBf16Block);
      }
    });
  }

  std::string describe() const override { return "NCHW16c bf16 slice"; }

 private:
  int64_t C_, start_, end_;
  std::string prefix_;
  std::vector<std::vector<LaneRun>> runs_;  // per output block
};

}  // namespace

INT8RT_REGISTER_LAYER(kBf16BlockedAddOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedAddLayer>(node));
});
INT8RT_REGISTER_LAYER(kBf16BlockedResizeOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedResizeLayer>(node));
});
INT8RT_REGISTER_LAYER(kBf16BlockedConcatOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedConcatLayer>(node));
});
INT8RT_REGISTER_LAYER(kBf16BlockedSliceOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedSliceLayer>(node));
});

}  // namespace engine
}  // namespace int8rt
