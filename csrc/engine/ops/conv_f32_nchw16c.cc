// The float32 Conv on NCHW16c tensors (conv_f32_nchw16c.h): a 1x1 conv of
// one group (stride 1, no padding: the pointwise kernel), a depthwise conv,
// a dense conv from an NCHW image into a blocked output (a stem), or any
// other dense conv of one group from a blocked input (3x3, strided 1x1: the
// conv kernel), on the nchw16c_f32
// kernel family (kernels/nchw16c_f32.h), with the weights packed once into
// the kernels' blocked rows (zero past the real channels, so padded lanes
// are never read into a real output). Bias, the residual and Relu / Clip
// are the kernel's epilogue; another fused activation (Swish, HardSwish,
// LeakyRelu) is the kernel's PostOp, run on its finished outputs while
// they are in cache (its bits are the unfused layer's, FusedActivation::apply).
// Tasks: pointwise, runs of pixels of one image times chunks of output
// blocks (pointwise()); depthwise, runs of output rows of one channel block;
// dense from blocked, runs of output rows times groups of 4 output blocks
// (times up to 8 images where a group's weights pass L2).
#include "engine/ops/conv_f32_nchw16c.h"

#include <algorithm>
#include <vector>

#include "core/thread_pool.h"
#include "engine/ops/blocked_tensor.h"
#include "kernels/aligned_allocator.h"
#include "kernels/aligned_buffer.h"
#include "kernels/nchw16c_f32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::kBlock16;

int64_t blocks(int64_t c) { return channel_blocks(c); }  // blocked_tensor.h

class BlockedConvLayer : public Layer {
 public:
  BlockedConvLayer(const Network& net, const Node& node, WindowAttrs w, int64_t group)
      : w_(std::move(w)), act_(parse_fused_activation(node)),
        residual_(node.attrs.has("int8rt_residual") ? node.attrs.get_int("int8rt_residual", -1) : -1),
        prefix_(layer_error_prefix(node)) {
    const Tensor& wt = net.tensor(node.inputs[1]);
    const Shape& ws = wt.shape;
    if (!wt.is_constant || wt.dtype != DataType::kFloat32 || ws.size() != 4) {
      throw NotSupported(prefix_ + "channel-blocked tensors need constant float32 2-D weights");
    }
    M_ = ws[0];
    depthwise_ = group > 1;
    dense_ = blocked_stem(ws, group);
    if (depthwise_ && (group != M_ || ws[1] != 1)) {
      throw NotSupported(prefix_ + "channel-blocked tensors need a depthwise conv (group == C == M) or "
                         "one of one group");
    }
    if (!depthwise_ && group != 1) throw NotSupported(prefix_ + "channel-blocked tensors need one group or C");
    if (dense_ && residual_ >= 0) throw NotSupported(prefix_ + "a stem into blocked tensors takes no residual");
    C_ = depthwise_ ? M_ : ws[1];
    const int64_t taps = ws[2] * ws[3], MB = blocks(M_);
    const float* W = wt.f32.data();
    // Packed rows: the stem [MB][C * taps][16] (w[mb][k][l] = W[mb*16+l][k],
    // k = (c, ky, kx) flattened), depthwise [MB][taps][16] (w[cb][t][l] =
    // W[cb*16+l][t]), from blocked [MB][taps][C][16] (w[mb][t][c][l] =
    // W[mb*16+l][c][t]; for a 1x1 conv the pointwise kernel's [MB][C][16]);
    // 0 past M.
    const int64_t inner = depthwise_ ? taps : C_ * taps;
    // 64-byte aligned (a std::vector's large blocks sit 16 bytes past a page:
    // every weight vector the tiles load would straddle two cache lines).
    packed_ = kernels::AlignedBuffer<float>(MB * inner * kBlock16);
    float* packed = packed_.data();
    for (int64_t m = 0; m < M_; ++m) {
      for (int64_t k = 0; k < inner; ++k) {
        const int64_t row = depthwise_ || dense_ ? k : (k % taps) * C_ + k / taps;  // W's k is (c, t)
        packed[((m / kBlock16) * inner + row) * kBlock16 + m % kBlock16] = W[m * inner + k];
      }
    }
    bias_ = kernels::AlignedBuffer<float>(MB * kBlock16);
    if (node.inputs.size() > 2 && node.inputs[2] >= 0) {
      const Tensor& b = net.tensor(node.inputs[2]);
      if (!b.is_constant || b.dtype != DataType::kFloat32 || static_cast<int64_t>(b.f32.size()) != M_) {
        throw NotSupported(prefix_ + "channel-blocked tensors need a constant float32 bias of " +
                           std::to_string(M_) + " values");
      }
      std::copy(b.f32.begin(), b.f32.end(), bias_.data());
    }
    clip_ = act_.as_clip(&lo_, &hi_);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Geom g = geometry(in);
    const Shape out{g.N, blocks(M_), g.oh, g.ow, kBlock16};
    if (residual_ >= 0) {
      const Value& r = require_input(in, static_cast<size_t>(residual_), DataType::kFloat32, prefix_);
      if (r.shape() != out) {
        throw InvalidArgument(prefix_ + "residual shape " + shape_str(r.shape()) + " differs from output " +
                              shape_str(out));
      }
    }
    return {{DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Geom g = geometry(in);
    const float* x = in[0]->data<float>();
    const float* res = residual_ >= 0 ? in[residual_]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    if (depthwise_) {
      depthwise(x, res, y, g);
    } else if (!dense_ && pointwise_geometry(g)) {
      pointwise(x, res, y, g);
    } else if (!dense_ && strided_pointwise(g)) {
      // A strided 1x1 projection: its pixels gathered into a plane of their
      // own, then the pointwise kernel (the same operations: k = c).
      thread_local kernels::AlignedFloats gathered;  // 64-byte aligned; kept: no allocation per run
      gathered.resize(static_cast<size_t>(g.N * blocks(C_) * g.oh * g.ow * kBlock16));
      gather(x, gathered.data(), g);
      Geom plane = g;
      plane.H = g.oh;
      plane.W = g.ow;
      plane.sh = plane.sw = 1;
      pointwise(gathered.data(), res, y, plane);
    } else {
      dense(x, res, y, g, !dense_);  // the stem (dense_) reads NCHW, takes no residual
    }
  }

  std::string describe() const override {
    const bool one = w_.kernel[0] * w_.kernel[1] == 1;
    const char* kind = depthwise_ ? "depthwise" : dense_ ? "dense from NCHW" : one ? "1x1" : "dense";
    return std::string("fp32 conv2d ") + kind + act_.describe() + " layout=nchw16c " + kernel_->name();
  }

 private:
  struct Geom {
    int64_t N, H, W, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw;
  };

  // An activation the kernel's clip does not take (Swish, HardSwish,
  // LeakyRelu): the kernel hands it its finished outputs.
  kernels::PostOp post() const {
    kernels::PostOp op;
    if (act_.kind != FusedActivation::Kind::kNone && !clip_) {
      op.apply = [](const void* ctx, float* y, int64_t count) {
        static_cast<const FusedActivation*>(ctx)->apply(y, count);
      };
      op.ctx = &act_;
    }
    return op;
  }

  Geom geometry(const std::vector<const Value*>& in) const {
    const Shape& xs = require_input(in, 0, DataType::kFloat32, prefix_).shape();
    if (dense_ && (xs.size() != 4 || xs[1] != C_)) {
      throw InvalidArgument(prefix_ + "needs an NCHW input [N, " + std::to_string(C_) + ", H, W], got " +
                            shape_str(xs));
    }
    if (!dense_ && (xs.size() != 5 || xs[1] != blocks(C_) || xs[4] != kBlock16)) {
      throw InvalidArgument(prefix_ + "needs a channel-blocked input [N, " + std::to_string(blocks(C_)) +
                            ", H, W, 16], got " + shape_str(xs));
    }
    Geom g{};
    g.N = xs[0]; g.H = xs[2]; g.W = xs[3];
    const DimGeom gh = window_geometry(w_, 0, g.H, prefix_), gw = window_geometry(w_, 1, g.W, prefix_);
    g.oh = gh.out; g.ow = gw.out; g.ph = gh.pad_begin; g.pw = gw.pad_begin;
    g.kh = w_.kernel[0]; g.kw = w_.kernel[1]; g.sh = w_.strides[0]; g.sw = w_.strides[1];
    g.dh = w_.dilations[0]; g.dw = w_.dilations[1];
    return g;
  }

  // A 1x1 conv at stride 1 without padding: the pointwise kernel, pixels of
  // a whole plane per tile.
  static bool pointwise_geometry(const Geom& g) {
    return g.kh == 1 && g.kw == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.oh == g.H && g.ow == g.W;
  }

  // Tasks: an image's pixels in as few even runs as keep a run's input and
  // a task's outputs under kRunBytes (so that a fused Swish after the
  // kernel finds them in L2; each run streams all the weights once per output
  // block group: a 7 x 7 plane of 1152 channels split in three runs read
  // its 1.5 MB of weights three times), times output blocks in chunks of
  // kTaskBlocks (several tasks for a second thread at batch 1; each chunk
  // re-reads the run's input from L2, as the kernel's block groups do).
  void pointwise(const float* x, const float* res, float* y, const Geom& g) const {
    const int64_t P = g.H * g.W, CB = blocks(C_), MB = blocks(M_);
    const int64_t line_bytes = std::max(CB, std::min(MB, kTaskBlocks)) * kBlock16 * 4;  // per pixel, in or out
    const int64_t runs = std::max<int64_t>(1, (P * line_bytes + kRunBytes - 1) / kRunBytes);
    const int64_t run = std::min(P, ((P + runs - 1) / runs + 5) / 6 * 6);
    const int64_t chunks = (MB + kTaskBlocks - 1) / kTaskBlocks, tasks = ((P + run - 1) / run) * chunks;
    parallel_for(g.N * tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / tasks, p0 = (t % tasks / chunks) * run, p1 = std::min(P, p0 + run);
        const int64_t mb0 = (t % chunks) * kTaskBlocks, mb1 = std::min(MB, mb0 + kTaskBlocks);
        kernels::PointwiseNchw16c a;
        a.x = x + n * CB * P * kBlock16;
        a.w = packed_.data();
        a.bias = bias_.data();
        a.residual = res ? res + n * MB * P * kBlock16 : nullptr;
        a.y = y + n * MB * P * kBlock16;
        a.C = C_; a.P = P; a.mb0 = mb0; a.mb1 = mb1; a.p0 = p0; a.p1 = p1;
        a.clip = clip_; a.lo = lo_; a.hi = hi_;
        a.post = post();
        kernel_->pointwise(a);
      }
    });
  }

  // A 1x1 conv at strides > 1 without padding or dilation.
  static bool strided_pointwise(const Geom& g) {
    return g.kh == 1 && g.kw == 1 && g.ph == 0 && g.pw == 0 && (g.oh - 1) * g.sh < g.H && (g.ow - 1) * g.sw < g.W;
  }

  // The pixels a strided 1x1 conv reads, [N][CB][oh][ow][16]: a copy of
  // 64-byte lines, images and blocks in parallel. (In place the kernel read
  // a quarter of the lines of an input that the streamed weights of a wide
  // projection evict from L2: ResNet-50's 1024 -> 2048 at 7 x 7, 1.4x ORT.)
  void gather(const float* x, float* out, const Geom& g) const {
    const int64_t planes = g.N * blocks(C_);
    parallel_for(planes, 1, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const float* src = x + p * g.H * g.W * kBlock16;
        float* dst = out + p * g.oh * g.ow * kBlock16;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            std::copy_n(src + (oy * g.sh * g.W + ox * g.sw) * kBlock16, kBlock16, dst + (oy * g.ow + ox) * kBlock16);
          }
        }
      }
    });
  }

  // Dense convs: the stem (from NCHW), tasks of runs of output rows of about
  // kTaskBytes of output, all blocks; from blocked inputs, runs of rows of
  // about kTaskBytes / 2 times groups of kConvBlocks output blocks (one
  // register tile's).
  void dense(const float* x, const float* res, float* y, const Geom& g, bool from_blocked) const {
    const int64_t MB = blocks(M_), out_plane = g.oh * g.ow * kBlock16;
    const int64_t in_image = from_blocked ? blocks(C_) * g.H * g.W * kBlock16 : C_ * g.H * g.W;
    const int64_t chunk = from_blocked ? kConvBlocks : MB, task_bytes = from_blocked ? kTaskBytes / 2 : kTaskBytes;
    const int64_t rows = std::min(g.oh, std::max<int64_t>(1, task_bytes / (chunk * g.ow * kBlock16 * 4)));
    const int64_t runs = (g.oh + rows - 1) / rows, chunks = (MB + chunk - 1) / chunk, tasks = runs * chunks;
    // Consecutive tasks share an image's input (blocks inner), or, where a
    // block group's weights outweigh an image (ResNet-50's 7 x 7 convs: 1.2
    // MB against 0.4 MB), the group's weights (images inner); where those
    // weights do not fit L2 either (the 7 x 7 convs, not the 14 x 14 ones'
    // 0.6 MB), a task takes up to kConvImages images, so that each slice of
    // the weights comes from L3 once for all of them.
    const int64_t group_weights = g.kh * g.kw * C_ * chunk * kBlock16;
    const bool weights_outer = from_blocked && group_weights > in_image;
    const int64_t per_task = weights_outer && group_weights * 4 > kL2Bytes ? std::min(g.N, kConvImages) : 1;
    const int64_t image_groups = (g.N + per_task - 1) / per_task;
    parallel_for(image_groups * tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = (weights_outer ? t % (image_groups * runs) / runs : t / tasks) * per_task;
        const int64_t run = weights_outer ? t % runs : t % tasks / chunks;
        const int64_t oy0 = run * rows, mb0 = (weights_outer ? t / (image_groups * runs) : t % chunks) * chunk;
        kernels::DenseNchw16c a;
        a.images = std::min(per_task, g.N - n);
        a.x_image = in_image;
        a.y_image = MB * out_plane;
        a.x = x + n * in_image;
        a.w = packed_.data();
        a.bias = bias_.data();
        a.residual = res ? res + n * MB * out_plane : nullptr;
        a.y = y + n * MB * out_plane;
        a.C = C_; a.H = g.H; a.W = g.W; a.oh = g.oh; a.ow = g.ow; a.kh = g.kh; a.kw = g.kw;
        a.sh = g.sh; a.sw = g.sw; a.dh = g.dh; a.dw = g.dw; a.ph = g.ph; a.pw = g.pw;
        a.mb0 = mb0; a.mb1 = std::min(MB, mb0 + chunk); a.oy0 = oy0; a.oy1 = std::min(g.oh, oy0 + rows);
        a.clip = clip_; a.lo = lo_; a.hi = hi_;
        a.post = post();
        if (from_blocked) {
          kernel_->conv(a);
        } else {
          kernel_->dense(a);
        }
      }
    });
  }

  // Runs of output rows of about kTaskBytes of output per task.
  void depthwise(const float* x, const float* res, float* y, const Geom& g) const {
    const int64_t CB = blocks(C_), in_plane = g.H * g.W * kBlock16, out_plane = g.oh * g.ow * kBlock16;
    const int64_t rows = std::min(g.oh, std::max<int64_t>(1, kTaskBytes / (out_plane / g.oh * 4)));
    const int64_t runs = (g.oh + rows - 1) / rows;
    parallel_for(g.N * CB * runs, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t plane = t / runs, cb = plane % CB, oy0 = (t % runs) * rows;
        kernels::DepthwiseNchw16c a;
        a.x = x + plane * in_plane;
        a.w = packed_.data() + cb * g.kh * g.kw * kBlock16;
        a.bias = bias_.data() + cb * kBlock16;
        a.residual = res ? res + plane * out_plane : nullptr;
        a.y = y + plane * out_plane;
        a.H = g.H; a.W = g.W; a.oh = g.oh; a.ow = g.ow; a.kh = g.kh; a.kw = g.kw;
        a.sh = g.sh; a.sw = g.sw; a.dh = g.dh; a.dw = g.dw; a.ph = g.ph; a.pw = g.pw;
        a.oy0 = oy0; a.oy1 = std::min(g.oh, oy0 + rows);
        a.clip = clip_; a.lo = lo_; a.hi = hi_;
        a.post = post();
        kernel_->depthwise(a);
      }
    });
  }

  // A pointwise run's input: half of L2 (1 MiB on Zen 5), beside the
  // weights' slice and the outputs.
  static constexpr int64_t kRunBytes = 512 << 10;
  static constexpr int64_t kTaskBlocks = 8;  // output blocks per pointwise task
  static constexpr int64_t kConvBlocks = 4;  // output blocks per dense-from-blocked task
  static constexpr int64_t kConvImages = 8;  // images per task where weights pass L2
  static constexpr int64_t kL2Bytes = 1 << 20;  // Zen 5's L2 per core
  // A depthwise task's output bytes.
  static constexpr int64_t kTaskBytes = 128 << 10;
  WindowAttrs w_;
  FusedActivation act_;
  int64_t residual_;
  std::string prefix_;
  int64_t C_ = 0, M_ = 0;
  bool depthwise_ = false, dense_ = false;  // else pointwise
  kernels::AlignedBuffer<float> packed_, bias_;
  bool clip_ = false;
  float lo_ = 0.f, hi_ = 0.f;
  const kernels::Nchw16cF32Kernel* kernel_ = &kernels::choose<kernels::Nchw16cF32Kernel>();
};

}  // namespace

bool blocked_stem(const Shape& weights, int64_t group) {
  return group == 1 && weights.size() == 4 && weights[2] * weights[3] > 1 && weights[1] <= kMaxStemChannels;
}

std::unique_ptr<Layer> make_blocked_conv(const Network& net, const Node& node, WindowAttrs w, int64_t group) {
  if (w.kernel.size() != 2) throw NotSupported(layer_error_prefix(node) + "channel-blocked tensors need a 2-D conv");
  return std::make_unique<BlockedConvLayer>(net, node, std::move(w), group);
}

}  // namespace engine
}  // namespace int8rt
