// The layers of a channel-blocked region besides its convs
// (engine/f32_blocked.h), for float32 tensors:
//   int8rt.ToNCHW16c    [N, C, H, W] -> [N, CB, H, W, 16], the padded lanes 0;
//   int8rt.FromNCHW16c  [N, CB, H, W, 16] -> [N, C, H, W] (attribute channels);
//   int8rt.GlobalAveragePool16c  [N, CB, H, W, 16] -> [N, C, 1, 1] means
//                       (attribute channels; the nchw16c_f32 family's
//                       block_mean, its order: pixels ascending, then / P);
//   int8rt.ChannelScale16c  x [N, CB, H, W, 16] times s [N, C, 1, 1] (the
//                       squeeze-and-excitation Mul; either input order), the
//                       family's block_scale: each product the Mul's bits;
//   int8rt.MaxPool16c   MaxPool's attributes, 2-D, blocked in and out (the
//                       family's maxpool; padded taps skipped);
//   int8rt.AveragePool16c  AveragePool's attributes, 2-D, blocked in and
//                       out (the family's avgpool: the NCHW layer's sums
//                       and divisors, its bits);
//   int8rt.Concat16c    blocked inputs of C_i channels (attribute channels,
//                       every C_i but the last a multiple of 16) -> their
//                       blocks in order, per image: copies, the NCHW
//                       Concat's values.
// The conversions are moves: per image and block one 2-D transpose on the
// transpose_f32 kernel. Images in parallel; each per image, so the batch
// split of engine/batch_split.h runs them.
#include <algorithm>

#include "core/thread_pool.h"
#include "engine/f32_blocked.h"
#include "engine/layer.h"
#include "engine/ops/blocked_tensor.h"
#include "engine/ops/op_util.h"
#include "engine/ops/pool_window_2d.h"
#include "kernels/nchw16c_f32.h"
#include "kernels/transpose_x32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::kBlock16;
using kernels::PoolNchw16cFn;

static_assert(kBlock16 == kChannelBlock, "blocked_tensor.h's block is the FP32 kernels' block");

int64_t blocks(int64_t c) { return channel_blocks(c); }

// A blocked float32 input [N, CB, H, W, 16] of C channels; throws otherwise.
const Shape& blocked_input(const std::vector<const Value*>& in, size_t i, int64_t C, const std::string& prefix) {
  return engine::blocked_input(in, i, DataType::kFloat32, C, prefix);
}

class BlockedConvertLayer : public Layer {
 public:
  BlockedConvertLayer(const Node& node, bool to_blocked)
      : to_blocked_(to_blocked), C_(to_blocked ? 0 : channels_attr(node)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (!to_blocked_) {
      const Shape& s = blocked_input(in, 0, C_, prefix_);
      return {{DataType::kFloat32, Shape{s[0], C_, s[2], s[3]}}};
    }
    const Shape& s = require_input(in, 0, DataType::kFloat32, prefix_).shape();
    if (s.size() != 4) throw InvalidArgument(prefix_ + "needs a 4-D float32 input, got " + shape_str(s));
    return {{DataType::kFloat32, Shape{s[0], blocks(s[1]), s[2], s[3], kBlock16}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = out[0]->shape();
    const Shape& ns = to_blocked_ ? in[0]->shape() : s;  // the NCHW side
    const int64_t N = ns[0], C = ns[1], P = ns[2] * ns[3], CB = blocks(C);
    const uint32_t* x = in[0]->data<uint32_t>();
    uint32_t* y = out[0]->data<uint32_t>();
    parallel_for(N * CB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / CB, cb = t % CB, c0 = cb * kBlock16, cw = std::min(kBlock16, C - c0);
        const int64_t plain = (n * C + c0) * P, blocked = t * P * kBlock16;
        if (to_blocked_) {
          if (cw < kBlock16) {  // the padded lanes: 0
            for (int64_t p = 0; p < P; ++p) std::fill(y + blocked + p * kBlock16 + cw, y + blocked + (p + 1) * kBlock16, 0u);
          }
          tile_->tile(P, cw, x + plain, P, y + blocked, kBlock16);
        } else {
          tile_->tile(cw, P, x + blocked, kBlock16, y + plain, P);
        }
      }
    });
  }

  std::string describe() const override { return to_blocked_ ? "NCHW -> NCHW16c" : "NCHW16c -> NCHW"; }

 private:
  bool to_blocked_;
  int64_t C_;
  std::string prefix_;
  const kernels::TransposeX32Kernel* tile_ = &kernels::choose<kernels::TransposeX32Kernel>();
};

class BlockedMeanLayer : public Layer {
 public:
  explicit BlockedMeanLayer(const Node& node) : C_(channels_attr(node)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = blocked_input(in, 0, C_, prefix_);
    return {{DataType::kFloat32, Shape{s[0], C_, 1, 1}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t N = s[0], CB = s[1], P = s[2] * s[3];
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    parallel_for(N, 1, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> means;  // whole blocks (kept: no allocation per run)
      means.resize(static_cast<size_t>(CB * kBlock16));
      for (int64_t n = begin; n < end; ++n) {
        kernel_->block_mean(x + n * CB * P * kBlock16, CB, P, means.data());
        std::copy(means.begin(), means.begin() + C_, y + n * C_);
      }
    });
  }

  std::string describe() const override { return "NCHW16c " + std::string(kernel_->name()); }

 private:
  int64_t C_;
  std::string prefix_;
  const kernels::Nchw16cF32Kernel* kernel_ = &kernels::choose<kernels::Nchw16cF32Kernel>();
};

class BlockedScaleLayer : public Layer {
 public:
  explicit BlockedScaleLayer(const Node& node) : prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const int xi = blocked_index(in);
    const Shape& s = require_input(in, 1 - xi, DataType::kFloat32, prefix_).shape();
    const Shape& x = blocked_input(in, xi, s.size() == 4 ? s[1] : 0, prefix_);
    if (s.size() != 4 || s[0] != x[0] || s[2] != 1 || s[3] != 1) {
      throw InvalidArgument(prefix_ + "needs scales [" + std::to_string(x[0]) + ", C, 1, 1], got " + shape_str(s));
    }
    return {{DataType::kFloat32, x}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const int xi = blocked_index(in);
    const Shape& xs = in[xi]->shape();
    const int64_t N = xs[0], CB = xs[1], P = xs[2] * xs[3], C = in[1 - xi]->shape()[1];
    const float* x = in[xi]->data<float>();
    const float* s = in[1 - xi]->data<float>();
    float* y = out[0]->data<float>();
    parallel_for(N, 1, [&](int64_t begin, int64_t end) {
      thread_local std::vector<float> scales;  // padded to whole blocks (kept: no allocation per run)
      scales.assign(static_cast<size_t>(CB * kBlock16), 0.f);
      for (int64_t n = begin; n < end; ++n) {
        std::copy(s + n * C, s + (n + 1) * C, scales.begin());
        kernel_->block_scale(x + n * CB * P * kBlock16, scales.data(), CB, P, y + n * CB * P * kBlock16);
      }
    });
  }

  std::string describe() const override { return "NCHW16c " + std::string(kernel_->name()); }

 private:
  // The blocked (5-D) input's position.
  int blocked_index(const std::vector<const Value*>& in) const {
    if (in.size() != 2 || !in[0] || !in[1]) throw InvalidArgument(prefix_ + "needs two inputs");
    return in[0]->shape().size() == 5 ? 0 : 1;
  }
  std::string prefix_;
  const kernels::Nchw16cF32Kernel* kernel_ = &kernels::choose<kernels::Nchw16cF32Kernel>();
};

// MaxPool or AveragePool over 2-D windows on a blocked tensor (the op's
// attributes): the kernel's max or average pool, tasks of runs of output
// rows of one channel block; the average's divisors are AveragePool's
// (op_util.h's pool_divisors).
class BlockedPoolLayer : public Layer {
 public:
  BlockedPoolLayer(const Node& node, WindowAttrs w, bool is_max, bool include_pad)
      : w_(std::move(w)), is_max_(is_max), include_pad_(include_pad), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = blocked_input(in, 0, 0, prefix_);
    return {{DataType::kFloat32, Shape{s[0], s[1], window_geometry(w_, 0, s[2], prefix_).out,
                                       window_geometry(w_, 1, s[3], prefix_).out, kBlock16}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const DimGeom gh = window_geometry(w_, 0, s[2], prefix_), gw = window_geometry(w_, 1, s[3], prefix_);
    kernels::PoolNchw16c g;
    set_pool_window_2d(g, w_, s[2], s[3], gh, gw);
    std::vector<float> count_h, count_w;
    if (!is_max_) {
      count_h = pool_divisors(g.H, g.kh, g.sh, g.dh, gh, include_pad_);
      count_w = pool_divisors(g.W, g.kw, g.sw, g.dw, gw, include_pad_);
      g.count_h = count_h.data();
      g.count_w = count_w.data();
    }
    const PoolNchw16cFn pool = is_max_ ? kernel_->maxpool : kernel_->avgpool;
    const int64_t rows = std::min(g.oh, std::max<int64_t>(1, kTaskBytes / (g.ow * kBlock16 * 4)));
    const int64_t runs = (g.oh + rows - 1) / rows;
    const float* x = in[0]->data<float>();
    float* y = out[0]->data<float>();
    parallel_for(s[0] * s[1] * runs, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t plane = t / runs;
        kernels::PoolNchw16c a = g;
        a.x = x + plane * g.H * g.W * kBlock16;
        a.y = y + plane * g.oh * g.ow * kBlock16;
        a.oy0 = (t % runs) * rows;
        a.oy1 = std::min(g.oh, a.oy0 + rows);
        pool(a);
      }
    });
  }

  std::string describe() const override {
    return std::string(is_max_ ? "fp32 maxpool" : "fp32 avgpool") + " NCHW16c " + kernel_->name();
  }

 private:
  static constexpr int64_t kTaskBytes = 64 << 10;  // output bytes per task
  WindowAttrs w_;
  bool is_max_, include_pad_;
  std::string prefix_;
  const kernels::Nchw16cF32Kernel* kernel_ = &kernels::choose<kernels::Nchw16cF32Kernel>();
};

// Concat along channels of blocked tensors whose channel counts but the
// last are whole blocks: per image, each input's [CB_i][H][W][16] floats
// copied after the previous ones (the last input's padded lanes are the
// output's).
class BlockedConcatLayer : public Layer {
 public:
  explicit BlockedConcatLayer(const Node& node)
      : channels_(node.attrs.get_ints("channels", {})), prefix_(layer_error_prefix(node)) {
    if (channels_.empty() || channels_.size() != node.inputs.size()) {
      throw InvalidArgument(prefix_ + "needs one entry of 'channels' per input");
    }
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (channels_[i] <= 0 || (i + 1 < channels_.size() && channels_[i] % kBlock16 != 0)) {
        throw InvalidArgument(prefix_ + "needs positive 'channels', multiples of 16 but the last");
      }
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& first = blocked_input(in, 0, channels_[0], prefix_);
    Shape out = first;
    out[1] = 0;
    for (size_t i = 0; i < in.size(); ++i) {
      const Shape& s = blocked_input(in, i, channels_[i], prefix_);
      if (s[0] != first[0] || s[2] != first[2] || s[3] != first[3]) {
        throw InvalidArgument(prefix_ + "input " + std::to_string(i) + " " + shape_str(s) +
                              " does not match input 0 " + shape_str(first) + " outside the channel blocks");
      }
      out[1] += s[1];
    }
    return {{DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& os = out[0]->shape();
    const int64_t N = os[0], block = os[2] * os[3] * kBlock16, parts = static_cast<int64_t>(in.size());
    float* y = out[0]->data<float>();
    parallel_for(N * parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / parts, i = t % parts;
        int64_t offset = 0;  // blocks before input i
        for (int64_t j = 0; j < i; ++j) offset += in[j]->shape()[1];
        const int64_t count = in[i]->shape()[1] * block;
        const float* x = in[i]->data<float>() + n * count;
        std::copy(x, x + count, y + (n * os[1] + offset) * block);
      }
    });
  }

  std::string describe() const override { return "concat NCHW16c"; }

 private:
  std::vector<int64_t> channels_;
  std::string prefix_;
};

std::unique_ptr<Layer> make_blocked_pool(const Node& node, bool is_max) {
  require_inputs(node, 1);
  WindowAttrs w = parse_window(node, true, true);
  if (w.kernel.size() != 2) {
    throw NotSupported(layer_error_prefix(node) + "a channel-blocked pool needs a 2-D kernel_shape");
  }
  fill_window_defaults(w, 2, node);
  const bool include_pad = !is_max && node.attrs.get_int("count_include_pad", 0) != 0;
  return std::make_unique<BlockedPoolLayer>(node, std::move(w), is_max, include_pad);
}

std::unique_ptr<Layer> make_convert(const Node& node, bool to_blocked) {
  require_inputs(node, 1);
  return std::make_unique<BlockedConvertLayer>(node, to_blocked);
}

INT8RT_REGISTER_LAYER(kToBlockedOp, [](const Network&, const Node& node) { return make_convert(node, true); });
INT8RT_REGISTER_LAYER(kFromBlockedOp, [](const Network&, const Node& node) { return make_convert(node, false); });
INT8RT_REGISTER_LAYER(kBlockedMeanOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<BlockedMeanLayer>(node));
});
INT8RT_REGISTER_LAYER(kBlockedMaxPoolOp, [](const Network&, const Node& node) { return make_blocked_pool(node, true); });
INT8RT_REGISTER_LAYER(kBlockedAvgPoolOp, [](const Network&, const Node& node) { return make_blocked_pool(node, false); });
INT8RT_REGISTER_LAYER(kBlockedConcatOp, [](const Network&, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<BlockedConcatLayer>(node));
});
INT8RT_REGISTER_LAYER(kBlockedScaleOp, [](const Network&, const Node& node) {
  require_inputs(node, 2);
  return std::unique_ptr<Layer>(std::make_unique<BlockedScaleLayer>(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
