// The layers of a BF16 channel-blocked region (engine/bf16_blocked.h), on
// [N, CB, H, W, 16] bfloat16 tensors and the nchw16c_bf16 kernel family
// (kernels/nchw16c_bf16.h):
//   int8rt.ConvBf16x16c   a BF16 Conv: 1x1 of one group (stride 1, no
//                         padding: the pointwise kernel; strides > 1, no
//                         padding, off AMX: the pointwise kernel over a
//                         copy of the pixels read), any other conv of one
//                         group (the dense kernel: 3x3, stems), of groups
//                         whose input and output channels are whole blocks
//                         (the dense kernel per group on its block
//                         sub-ranges) or are 2, 4 or 8 channels in and out
//                         (per block, 0 weights between its groups) or
//                         depthwise (group == C == M, a 2-D
//                         window of at most 16 rows); weights rounded to BF16 and packed once
//                         (one group: per tap channel pairs, 0 past M and C;
//                         depthwise: per block the taps' 16 lanes, 0 past
//                         C); bias, the BF16 residual and Relu / Clip, or
//                         without a residual any other fused activation
//                         (Swish, HardSwish, a chain: FusedActivation's
//                         apply on the FP32 values before their rounding)
//                         are the kernel's epilogue, as in the NCHW BF16 conv
//                         (ops/conv_f32.cc), so the same bits. A stem
//                         marked kBf16F32InputAttr reads the float32 NCHW
//                         image in place of its blocked conversion (the
//                         kernel rounds it as ToBf16x16c does; a kernel
//                         without conv_reads_f32: the layer converts first).
//   int8rt.MaxPoolBf16x16c  MaxPool's attributes, 2-D, blocked in and out.
//   int8rt.ToBf16x16c     [N, C, H, W] float32 (rounded, bf16::from_f32) or
//                         bfloat16 (copied) -> blocked, the padded lanes +0
//                         (the family's to_blocked);
//   int8rt.FromBf16x16c   blocked -> [N, C, H, W] (attribute channels) of
//                         the dtype attribute's type: bfloat16 (copied) or
//                         float32 (widened, exact);
//   int8rt.GlobalAveragePoolBf16x16c  blocked -> [N, C, 1, 1] float32 means
//                         (attribute channels; the family's block_mean).
// Work in parallel over images and pixel runs / channel blocks / rows.
#include <algorithm>
#include <cstring>

#include "core/thread_pool.h"
#include "engine/bf16_blocked.h"
#include "engine/layer.h"
#include "engine/ops/blocked_tensor.h"
#include "engine/ops/op_util.h"
#include "engine/ops/pool_window_2d.h"
#include "int8rt/threading.h"
#include "kernels/aligned_buffer.h"
#include "kernels/nchw16c_bf16.h"
#include "kernels/ref/bf16.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::kBf16Block;
namespace bf16 = kernels::bf16;

static_assert(kBf16Block == kChannelBlock, "blocked_tensor.h's block is the BF16 kernels' block");

int64_t blocks(int64_t c) { return channel_blocks(c); }

// A blocked bfloat16 input [N, CB, H, W, 16] (CB = blocks(C) when C > 0).
const Shape& blocked_input(const std::vector<const Value*>& in, size_t i, int64_t C, const std::string& prefix) {
  return engine::blocked_input(in, i, DataType::kBFloat16, C, prefix);
}

class Bf16BlockedConvLayer : public Layer {
 public:
  Bf16BlockedConvLayer(const Network& net, const Node& node)
      : residual_(node.attrs.has("int8rt_residual") ? node.attrs.get_int("int8rt_residual", -1) : -1),
        prefix_(layer_error_prefix(node)), f32_in_(node.attrs.get_int(kBf16F32InputAttr, 0) != 0) {
    require_inputs(node, 2);
    const Tensor& wt = net.tensor(node.inputs[1]);
    const Shape& ws = wt.shape;
    if (!wt.is_constant || wt.dtype != DataType::kFloat32 || ws.size() != 4) {
      throw NotSupported(prefix_ + "channel-blocked BF16 convs need constant float32 2-D weights");
    }
    w_ = parse_window(node, true, false);
    w_.kernel = {ws[2], ws[3]};
    fill_window_defaults(w_, 2, node);
    const int64_t group = node.attrs.get_int("group", 1);
    M_ = ws[0];
    depthwise_ = group > 1 && group == M_ && ws[1] == 1;
    if (depthwise_ && ws[2] > kernels::kBf16BlockedMaxRows) {
      throw NotSupported(prefix_ + "channel-blocked BF16 depthwise convs have at most " +
                         std::to_string(kernels::kBf16BlockedMaxRows) + " window rows");
    }
    groups_ = depthwise_ ? 1 : group;
    const bool divides = groups_ >= 1 && M_ >= groups_ && M_ % groups_ == 0 && ws[1] >= 1;  // forged counts refused
    const bool whole = divides && ws[1] % kBf16Block == 0 && M_ / groups_ % kBf16Block == 0;
    const bool narrow = divides && groups_ > 1 && ws[1] == M_ / groups_ && ws[1] % 2 == 0 && kBf16Block % ws[1] == 0;
    if (groups_ < 1 || (groups_ > 1 && !whole && !narrow)) {
      throw NotSupported(prefix_ + "channel-blocked BF16 convs are depthwise or of groups of whole 16-channel "
                         "blocks (input and output channels per group multiples of 16) or of 2, 4 or 8 channels in "
                         "and out, not " + std::to_string(M_) + " outputs of " + std::to_string(ws[1]) + " inputs in " +
                         std::to_string(group) + " group(s)");
    }
    // Groups: a dense conv per call over its blocks (dense()): a group of
    // whole blocks per call; narrower groups (2, 4, 8 channels) a block of
    // 16 / (their width) groups per call, its weights 0 between groups. The
    // pointwise paths read every input block: a grouped 1x1 runs as a
    // one-tap dense conv.
    narrow_ = groups_ > 1 && narrow && !whole;
    calls_ = narrow_ ? blocks(M_) : groups_;
    call_m_ = narrow_ ? kBf16Block : M_ / groups_;
    in_channels_ = depthwise_ ? M_ : ws[1] * groups_;
    const bool one_tap = !depthwise_ && groups_ == 1 && ws[2] == 1 && ws[3] == 1;
    const bool unpadded = std::all_of(w_.pads.begin(), w_.pads.end(), [](int64_t p) { return p == 0; });
    pointwise_ = one_tap && unpadded &&
                 std::all_of(w_.strides.begin(), w_.strides.end(), [](int64_t s) { return s == 1; });
    strided_pointwise_ = one_tap && unpadded && !pointwise_ && kernel_->isa() != kernels::Isa::kAmx;
    if (residual_ >= 0 && (residual_ != 3 || !has_input(node, 3))) {
      throw unsupported_attr(node, "int8rt_residual", std::to_string(residual_), "expected 3, the index of a 4th input");
    }
    fused_ = parse_fused_activation(node);
    clip_ = fused_.as_clip(&lo_, &hi_);
    if (fused_.kind != FusedActivation::Kind::kNone && !clip_) {
      if (residual_ >= 0) {
        throw NotSupported(prefix_ + "channel-blocked BF16 convs fuse a residual with Relu / Clip only");
      }
      act_.fn = [](const void* ctx, float* v, int64_t n) { static_cast<const FusedActivation*>(ctx)->apply(v, n); };
      act_.ctx = &fused_;
    }
    C_ = depthwise_ ? M_ : narrow_ ? kBf16Block : ws[1];
    if (f32_in_ && (depthwise_ || groups_ > 1 || C_ > kernels::kBf16MaxF32Channels ||
                    !kernels::bf16_tap_row_window(C_, w_.kernel[1], w_.dilations[1]))) {
      throw NotSupported(prefix_ + "a BF16 conv reads a float32 NCHW input only as a stem of at most " +
                         std::to_string(kernels::kBf16MaxF32Channels) +
                         " channels with a kernel row of at most 16 channel pairs");
    }
    const int64_t MB = blocks(M_), taps = ws[2] * ws[3];
    const float* W = wt.f32.data();
    if (depthwise_) {  // [CB][taps][16] BF16 values as FP32
      taps_w_.assign(static_cast<size_t>(MB * taps * kBf16Block), 0.f);
      for (int64_t m = 0; m < M_; ++m) {
        for (int64_t t = 0; t < taps; ++t) {
          taps_w_[((m / kBf16Block) * taps + t) * kBf16Block + m % kBf16Block] =
              bf16::to_f32(bf16::from_f32(W[m * taps + t]));
        }
      }
    } else {  // [MB][taps][QP][16][2] BF16 pairs (a 1x1 conv: [MB][QP][16][2]), QP a call's C_: output
              // channel m's pairs are its group's channels at their place in its call's C_ inputs, 0 elsewhere
      const int64_t QP = (C_ + 1) / 2, per_group = ws[1], group_m = M_ / groups_;
      pairs_w_ = kernels::AlignedBuffer<uint16_t>(MB * taps * QP * kBf16Block * 2);
      for (int64_t m = 0; m < M_; ++m) {
        const int64_t first = m / group_m * per_group - m / call_m_ * C_;  // its group's first input in its call
        for (int64_t c = 0; c < per_group; ++c) {
          for (int64_t t = 0; t < taps; ++t) {
            pairs_w_.data()[((((m / kBf16Block) * taps + t) * QP + (first + c) / 2) * kBf16Block + m % kBf16Block) * 2 +
                            (first + c) % 2] = bf16::from_f32(W[(m * per_group + c) * taps + t]);
          }
        }
      }
    }
    if (has_input(node, 2)) {
      const Tensor& b = net.tensor(node.inputs[2]);
      if (!b.is_constant || b.dtype != DataType::kFloat32 || static_cast<int64_t>(b.f32.size()) != M_) {
        throw NotSupported(prefix_ + "channel-blocked BF16 convs need a constant float32 bias of " +
                           std::to_string(M_) + " values");
      }
      bias_.assign(static_cast<size_t>(MB * kBf16Block), 0.f);
      std::copy(b.f32.begin(), b.f32.end(), bias_.begin());
    } else if (depthwise_) {
      bias_.assign(static_cast<size_t>(MB * kBf16Block), 0.f);  // v starts at +0, as with no bias
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    int64_t N = 0;
    const kernels::DepthwiseBf16x16c g = window(in, &N);
    const Shape out{N, blocks(M_), g.oh, g.ow, kBf16Block};
    if (residual_ >= 0 && blocked_input(in, static_cast<size_t>(residual_), M_, prefix_) != out) {
      throw InvalidArgument(prefix_ + "residual shape " + shape_str(in[residual_]->shape()) + " differs from output " +
                            shape_str(out));
    }
    return {{DataType::kBFloat16, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    int64_t N = 0;
    const kernels::DepthwiseBf16x16c g = window(in, &N);
    const uint16_t* res = residual_ >= 0 ? in[residual_]->data<uint16_t>() : nullptr;
    uint16_t* y = out[0]->data<uint16_t>();
    if (f32_in_) return dense_f32(in[0]->data<float>(), res, y, N, g);
    const uint16_t* x = in[0]->data<uint16_t>();
    if (depthwise_) {
      depthwise(x, res, y, N, g);
    } else if (pointwise_) {
      pointwise(x, res, y, N, g.H * g.W);
    } else if (strided_pointwise_ && g.ph == 0 && g.pw == 0) {  // (auto_pad gives a 1x1 no padding either)
      strided_pointwise(x, res, y, N, g);
    } else {
      dense(x, nullptr, res, y, N, g);
    }
  }

  std::string describe() const override {
    return std::string("bf16 conv2d ") +
           (depthwise_ ? "depthwise" : pointwise_ ? "1x1" : strided_pointwise_ ? "strided 1x1" : "dense") +
           (groups_ > 1 ? " of " + std::to_string(groups_) + " groups" : "") +
           (narrow_ ? ", " + std::to_string(kBf16Block / (M_ / groups_)) + " a block" : "") +
           (clip_ ? " clip" : fused_.describe()) + (f32_in_ ? " from float32" : "") +
           " layout=nchw16c " + kernel_->name();
  }

 private:
  // The run's window as the depthwise kernel's fields (a pointwise conv:
  // oh = H, ow = W), its batch in *N.
  kernels::DepthwiseBf16x16c window(const std::vector<const Value*>& in, int64_t* N) const {
    const Shape& xs = f32_in_ ? nchw_f32_input(in) : blocked_input(in, 0, in_channels_, prefix_);
    kernels::DepthwiseBf16x16c a;
    *N = xs[0];
    a.H = xs[2];
    a.W = xs[3];
    int64_t* out[2] = {&a.oh, &a.ow};
    int64_t* pad[2] = {&a.ph, &a.pw};
    for (size_t d = 0; d < 2; ++d) {
      const DimGeom dim = window_geometry(w_, d, xs[2 + d], prefix_);
      *out[d] = dim.out;
      *pad[d] = dim.pad_begin;
    }
    a.kh = w_.kernel[0], a.kw = w_.kernel[1], a.sh = w_.strides[0], a.sw = w_.strides[1];
    a.dh = w_.dilations[0], a.dw = w_.dilations[1];
    a.clip = clip_, a.lo = lo_, a.hi = hi_;
    a.act = act_;
    return a;
  }

  // The float32 [N, C, H, W] input of a stem marked kBf16F32InputAttr.
  const Shape& nchw_f32_input(const std::vector<const Value*>& in) const {
    if (in.empty() || !in[0] || in[0]->dtype() != DataType::kFloat32 || in[0]->shape().size() != 4 ||
        in[0]->shape()[1] != C_) {
      throw InvalidArgument(prefix_ + "needs a float32 [N, " + std::to_string(C_) + ", H, W] input");
    }
    return in[0]->shape();
  }

  // A stem from the float image: the kernel reads it (conv_reads_f32) or,
  // elsewhere (an engine built on AMX loaded without it), the image is
  // converted here first as ToBf16x16c would (a buffer per run).
  void dense_f32(const float* xf, const uint16_t* res, uint16_t* y, int64_t N,
                 const kernels::DepthwiseBf16x16c& g) const {
    if (kernel_->conv_reads_f32) return dense(nullptr, xf, res, y, N, g);
    const int64_t P = g.H * g.W;
    std::vector<uint16_t> x(static_cast<size_t>(N * P * kBf16Block));
    for (int64_t n = 0; n < N; ++n) kernel_->to_blocked(xf + n * C_ * P, nullptr, P, C_, x.data() + n * P * kBf16Block);
    dense(x.data(), nullptr, res, y, N, g);
  }

  // Tasks: pixel runs of one image (a run's input under kRunBytes) times
  // chunks of kTaskBlocks output blocks. On AMX with wide weights
  // (pointwise_batch) runs of the batch's pixels instead.
  void pointwise(const uint16_t* x, const uint16_t* res, uint16_t* y, int64_t N, int64_t P) const {
    if (kernel_->isa() == kernels::Isa::kAmx && pairs_w_.size() * 2 >= kAmxWideWeights) {
      return pointwise_batch(x, res, y, N, P);
    }
    const int64_t CB = blocks(C_), MB = blocks(M_);
    const int64_t line_bytes = std::max(CB, std::min(MB, kTaskBlocks)) * kBf16Block * 2;
    const int64_t runs = std::max<int64_t>(1, (P * line_bytes + kRunBytes - 1) / kRunBytes);
    const int64_t run = std::min(P, ((P + runs - 1) / runs + 7) / 8 * 8);
    const int64_t chunks = (MB + kTaskBlocks - 1) / kTaskBlocks, tasks = ((P + run - 1) / run) * chunks;
    parallel_for(N * tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / tasks, p0 = (t % tasks / chunks) * run;
        const int64_t mb0 = (t % chunks) * kTaskBlocks;
        kernels::PointwiseBf16x16c a;
        a.x = x + n * CB * P * kBf16Block;
        a.w = pairs_w_.data();
        a.bias = bias_.empty() ? nullptr : bias_.data();
        a.residual = res ? res + n * MB * P * kBf16Block : nullptr;
        a.y = y + n * MB * P * kBf16Block;
        a.C = C_; a.M = M_; a.P = P; a.mb0 = mb0; a.mb1 = std::min(MB, mb0 + kTaskBlocks);
        a.p0 = p0; a.p1 = std::min(P, p0 + run);
        a.clip = clip_; a.lo = lo_; a.hi = hi_;
        a.act = act_;
        kernel_->pointwise(a);
      }
    });
  }

  // The AMX kernel's 1x1 conv of weights of at least kAmxWideWeights (the
  // 14 x 14 and 7 x 7 stages) as one GEMM over the batch's pixels: runs of
  // them with about kAmxRunBytes of input (a call's input copied once, from
  // every image it spans), every output block per call on one thread, so
  // each block pair's weights serve the whole run and the weights stream
  // once per run, not once per image and chunk of 8 blocks (batch 8:
  // 512 -> 2048 @7 x0.60, 320 -> 1280 @7 x0.70, 1024 -> 256 @14 x0.89,
  // RESULTS.md section 187). Smaller weights keep the per-image partition:
  // there runs of the batch's pixels ran 128 -> 512 @28 (+ residual)
  // 1.17-1.6x slower. An expansion (M >= 4 C: 256 -> 1024 @14) takes runs
  // of twice the input, so its weights stream once per batch of 8, not
  // twice (x0.94 at batch 8; 1024 -> 256 @14 with such runs x1.03-1.08,
  // RESULTS.md section 221). With more threads the blocks split into even
  // chunks until there are 4 tasks per thread.
  void pointwise_batch(const uint16_t* x, const uint16_t* res, uint16_t* y, int64_t N, int64_t P) const {
    const int64_t CB = blocks(C_), MB = blocks(M_), NP = N * P;
    const int64_t run_bytes = M_ >= 4 * C_ ? 2 * kAmxRunBytes : kAmxRunBytes;
    const int64_t runs = std::max<int64_t>(1, (NP * CB * kBf16Block * 2 + run_bytes - 1) / run_bytes);
    const int64_t run = std::min(NP, ((NP + runs - 1) / runs + 31) / 32 * 32);
    const int64_t tasks_p = (NP + run - 1) / run, want = 4 * static_cast<int64_t>(get_num_threads());
    const int64_t chunks = want > 4 ? std::min((MB + 1) / 2, (want + tasks_p - 1) / tasks_p) : 1;
    const int64_t chunk = ((MB + chunks - 1) / chunks + 1) / 2 * 2, per_run = (MB + chunk - 1) / chunk;
    parallel_for(tasks_p * per_run, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t p0 = t / per_run * run, mb0 = t % per_run * chunk;
        kernels::PointwiseBf16x16c a;
        a.x = x;
        a.w = pairs_w_.data();
        a.bias = bias_.empty() ? nullptr : bias_.data();
        a.residual = res;
        a.y = y;
        a.C = C_; a.M = M_; a.P = P; a.N = N; a.mb0 = mb0; a.mb1 = std::min(MB, mb0 + chunk);
        a.p0 = p0; a.p1 = std::min(NP, p0 + run);
        a.clip = clip_; a.lo = lo_; a.hi = hi_;
        a.act = act_;
        kernel_->pointwise(a);
      }
    });
  }

  // A strided 1x1 without padding (ResNet's projections, 1x1 / 2): the
  // pixels it reads (every sh-th row, every sw-th column) copied into the
  // calling thread's scratch, then the pointwise kernel on the copy: the
  // same pairs in the same order as the dense kernel's one tap, so the same
  // bits. The dense kernel read the strided pixels in place, each output
  // block group walking the whole input plane again (4x the pixels it uses:
  // 1.6 MB an image for 256 -> 512 @28, past a 1 MB L2), and ran at the
  // 3x3s' per-step cost; measured in RESULTS.md section 246. Not on AMX
  // (its kernel gathers them per call, section 194; its 1x1 and dense tiles
  // differ in order).
  void strided_pointwise(const uint16_t* x, const uint16_t* res, uint16_t* y, int64_t N,
                         const kernels::DepthwiseBf16x16c& g) const {
    const int64_t CB = blocks(C_), P = g.oh * g.ow, in_plane = g.H * g.W * kBf16Block;
    thread_local kernels::AlignedBuffer<uint16_t> picked;  // grown, never shrunk: no allocation per run once grown
    if (picked.size() < N * CB * P * kBf16Block) picked = kernels::AlignedBuffer<uint16_t>(N * CB * P * kBf16Block);
    uint16_t* sub = picked.data();
    parallel_for(N * CB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        uint16_t* d = sub + t * P * kBf16Block;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const uint16_t* row = x + t * in_plane + oy * g.sh * g.W * kBf16Block;
          for (int64_t ox = 0; ox < g.ow; ++ox, d += kBf16Block) {
            std::memcpy(d, row + ox * g.sw * kBf16Block, kBf16Block * sizeof(uint16_t));
          }
        }
      }
    });
    pointwise(sub, res, y, N, P);
  }

  // Runs of output rows of about kTaskBytes of output per task.
  // g: the window (window()); each task fills its block's pointers and rows.
  void depthwise(const uint16_t* x, const uint16_t* res, uint16_t* y, int64_t N,
                 const kernels::DepthwiseBf16x16c& g) const {
    const int64_t CB = blocks(C_), in_plane = g.H * g.W * kBf16Block, out_plane = g.oh * g.ow * kBf16Block;
    const int64_t rows = std::min(g.oh, std::max<int64_t>(1, kTaskBytes / (g.ow * kBf16Block * 2)));
    const int64_t runs = (g.oh + rows - 1) / rows;
    parallel_for(N * CB * runs, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t plane = t / runs, cb = plane % CB, oy0 = (t % runs) * rows;
        kernels::DepthwiseBf16x16c a = g;
        a.x = x + plane * in_plane;
        a.w = taps_w_.data() + cb * g.kh * g.kw * kBf16Block;
        a.bias = bias_.data() + cb * kBf16Block;
        a.residual = res ? res + plane * out_plane : nullptr;
        a.y = y + plane * out_plane;
        a.lanes = std::min(kBf16Block, C_ - cb * kBf16Block);
        a.oy0 = oy0;
        a.oy1 = std::min(g.oh, oy0 + rows);
        kernel_->depthwise(a);
      }
    });
  }

  // Tasks: chunks of output blocks x runs of output rows of about
  // kDenseTaskBytes of output, per image; the kernel walks a task's 4-block
  // groups outer, so a group's weights serve all the run's rows. Where a
  // chunk's weights outweigh an image's input (the 14 x 14 and 7 x 7
  // stages: up to 1.2 MB of weights per 8 blocks against 50-100 KB of
  // input), and for every strided window (the 3x3 / 2 transitions, whose
  // input is 4x their output, and the strided 1x1 projections), a task runs
  // its chunk over every image instead, so the chunk's weights stay in L2
  // across the batch, not streamed once per image (as the FP32 blocked conv
  // does, RESULTS.md section 141). The chunk is then as many blocks as
  // kDenseChunkBytes of weights hold (at least one 4-block group; a strided
  // window: up to every block, so each image's input is copied into the
  // kernel's lines once; a 1x1: a whole image per call), and with more
  // threads the rows split until there are 4 tasks per thread (batch 8,
  // RESULTS.md section 221: 3x3/2 256 @28 x0.76-0.80, 1x1/2 1024 -> 2048
  // x0.75-0.79, 3x3 256 @14 x0.93-0.97).
  // Groups (calls_ > 1): every call is a dense conv of C_ inputs and call_m_
  // outputs (the last call's up to M_) whose tensors are its block
  // sub-ranges of x, y and the residual (a block's plane is contiguous) and
  // whose weights and bias are its output blocks' (the packing's blocks in
  // call order): the same kernel call with moved pointers, so the bits of
  // the conv split by hand into groups (narrow groups: their products in the
  // same order, the other groups' +-0 products between them, which leave a
  // finite sum as it is). A call is one more task dimension; the partition
  // above holds per call.
  // xf: a stem's float image in place of x (dense_f32).
  void dense(const uint16_t* x, const float* xf, const uint16_t* res, uint16_t* y, int64_t N,
             const kernels::DepthwiseBf16x16c& g) const {
    const int64_t CB = blocks(C_), MB = blocks(call_m_), in_group = CB * g.H * g.W * kBf16Block;
    const int64_t out_group = MB * g.oh * g.ow * kBf16Block;
    const int64_t in_image = blocks(in_channels_) * g.H * g.W * kBf16Block;
    const int64_t out_image = blocks(M_) * g.oh * g.ow * kBf16Block;
    const int64_t block_w = g.kh * g.kw * ((C_ + 1) / 2) * kBf16Block * 2 * 2;  // one output block's weight bytes
    int64_t chunk = std::min(MB, kTaskBlocks);
    const bool strided = g.sh > 1 || g.sw > 1;
    const bool images_inner = N > 1 && (strided || chunk * block_w > in_group * 2);
    if (images_inner) {
      chunk = std::min(strided ? MB : chunk, std::max<int64_t>(4, kDenseChunkBytes / block_w / 4 * 4));
    }
    // The AMX kernel gathers a strided 1x1's input pixels once per call:
    // every output block per call, so each pixel is gathered once, not once
    // per chunk of 8 blocks (RESULTS.md section 194).
    if (!images_inner && g.kh * g.kw == 1 && kernel_->isa() == kernels::Isa::kAmx) chunk = MB;
    const int64_t chunks = (MB + chunk - 1) / chunk, images = images_inner ? 1 : N;
    int64_t rows = std::min(g.oh, std::max<int64_t>(1, kDenseTaskBytes / (g.ow * chunk * kBf16Block * 2)));
    if (images_inner && g.kh * g.kw == 1) rows = g.oh;
    const int64_t want = 4 * static_cast<int64_t>(get_num_threads());
    if (images_inner && want > 4 && chunks * ((g.oh + rows - 1) / rows) < want) {
      const int64_t split = std::min(g.oh, (want + chunks - 1) / chunks);
      rows = (g.oh + split - 1) / split;
    }
    const int64_t runs = (g.oh + rows - 1) / rows;
    const int64_t group_w = MB * g.kh * g.kw * ((C_ + 1) / 2) * kBf16Block * 2;  // a group's packed weights
    parallel_for(images * calls_ * chunks * runs, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t mb0 = (t / runs % chunks) * chunk, oy0 = (t % runs) * rows;
        const int64_t grp = t / (chunks * runs) % calls_;
        const int64_t n0 = images_inner ? 0 : t / (calls_ * chunks * runs), n1 = images_inner ? N : n0 + 1;
        for (int64_t n = n0; n < n1; ++n) {
          kernels::ConvBf16x16c a;
          if (xf) {
            a.xf = xf + n * C_ * g.H * g.W;
          } else {
            a.x = x + n * in_image + grp * in_group;
          }
          a.w = pairs_w_.data() + grp * group_w;
          a.bias = bias_.empty() ? nullptr : bias_.data() + grp * MB * kBf16Block;
          a.residual = res ? res + n * out_image + grp * out_group : nullptr;
          a.y = y + n * out_image + grp * out_group;
          a.C = C_; a.M = std::min(call_m_, M_ - grp * call_m_);
          a.H = g.H; a.W = g.W; a.oh = g.oh; a.ow = g.ow; a.kh = g.kh; a.kw = g.kw; a.sh = g.sh; a.sw = g.sw;
          a.dh = g.dh; a.dw = g.dw; a.ph = g.ph; a.pw = g.pw;
          a.oy0 = oy0; a.oy1 = std::min(g.oh, oy0 + rows);
          a.mb0 = mb0; a.mb1 = std::min(MB, mb0 + chunk);
          a.clip = clip_; a.lo = lo_; a.hi = hi_;
          a.act = act_;
          kernel_->conv(a);
        }
      }
    });
  }

  static constexpr int64_t kDenseChunkBytes = 1152 << 10;  // a chunk's weights when images run inner (L2: 2 MB)
  static constexpr int64_t kDenseTaskBytes = 128 << 10;  // a dense task's output bytes
  static constexpr int64_t kRunBytes = 256 << 10;  // a pointwise run's input (BF16: half the FP32 layer's)
  static constexpr int64_t kTaskBlocks = 8;        // output blocks per pointwise task
  static constexpr int64_t kAmxRunBytes = 512 << 10;  // an AMX pointwise run's input, wide weights (L2: 2 MB)
  static constexpr int64_t kAmxWideWeights = 256 << 10;  // packed weight bytes from which all blocks run per call
  static constexpr int64_t kTaskBytes = 64 << 10;  // a depthwise task's output bytes
  WindowAttrs w_;
  int64_t residual_;
  std::string prefix_;
  bool f32_in_;  // kBf16F32InputAttr: input 0 the float32 NCHW image
  int64_t C_ = 0, M_ = 0;  // C_: a call's input channels (dense(); depthwise: M_)
  int64_t groups_ = 1;      // the conv's groups (a depthwise conv's: 1)
  int64_t calls_ = 1, call_m_ = 0;  // dense() calls per image and row run, each of call_m_ outputs
  int64_t in_channels_ = 0;  // the input's channels
  bool narrow_ = false;      // groups of 2, 4 or 8 channels: a call per block, 16 / width groups
  bool depthwise_ = false, pointwise_ = false;
  bool strided_pointwise_ = false;  // a 1x1 of strides > 1, no padding: strided_pointwise()
  kernels::AlignedBuffer<uint16_t> pairs_w_;  // 64-byte aligned: each B tile row one cache line
  std::vector<float> taps_w_, bias_;
  bool clip_ = false;
  float lo_ = 0.f, hi_ = 0.f;
  // Another fused activation (Swish, HardSwish, a chain): act_ calls
  // fused_.apply, the NCHW BF16 conv's function (the layer is not copied).
  FusedActivation fused_;
  kernels::Bf16x16cAct act_;
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

class Bf16BlockedConvertLayer : public Layer {
 public:
  Bf16BlockedConvertLayer(const Node& node, bool to_blocked)
      : to_blocked_(to_blocked), C_(to_blocked ? 0 : channels_attr(node)),
        out_f32_(!to_blocked && node.attrs.get_string("dtype", "float32") == "float32"),
        prefix_(layer_error_prefix(node)) {
    const std::string dt = node.attrs.get_string("dtype", "float32");
    if (!to_blocked && dt != "float32" && dt != "bfloat16") {
      throw unsupported_attr(node, "dtype", dt, "expected float32 or bfloat16");
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    if (!to_blocked_) {
      const Shape& s = blocked_input(in, 0, C_, prefix_);
      return {{out_f32_ ? DataType::kFloat32 : DataType::kBFloat16, Shape{s[0], C_, s[2], s[3]}}};
    }
    if (in.empty() || !in[0] ||
        (in[0]->dtype() != DataType::kFloat32 && in[0]->dtype() != DataType::kBFloat16)) {
      throw InvalidArgument(prefix_ + "needs a float32 or bfloat16 input");
    }
    const Shape& s = in[0]->shape();
    if (s.size() != 4) throw InvalidArgument(prefix_ + "needs a 4-D input, got " + shape_str(s));
    return {{DataType::kBFloat16, Shape{s[0], blocks(s[1]), s[2], s[3], kBf16Block}}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& ns = to_blocked_ ? in[0]->shape() : out[0]->shape();  // the NCHW side
    const int64_t N = ns[0], C = ns[1], P = ns[2] * ns[3], CB = blocks(C);
    const bool f32 = to_blocked_ ? in[0]->dtype() == DataType::kFloat32 : out_f32_;
    const void* x = in[0]->data<void>();
    void* y = out[0]->data<void>();
    parallel_for(N * CB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / CB, c0 = (t % CB) * kBf16Block, cw = std::min(kBf16Block, C - c0);
        const int64_t plain = (n * C + c0) * P, blocked = t * P * kBf16Block;
        if (to_blocked_) {
          kernel_->to_blocked(f32 ? static_cast<const float*>(x) + plain : nullptr,
                              f32 ? nullptr : static_cast<const uint16_t*>(x) + plain, P, cw,
                              static_cast<uint16_t*>(y) + blocked);
        } else {
          from_block(static_cast<const uint16_t*>(x) + blocked, P, cw, y, f32, plain);
        }
      }
    });
  }

  std::string describe() const override {
    return to_blocked_ ? "NCHW -> NCHW16c bf16" : std::string("NCHW16c bf16 -> NCHW ") + (out_f32_ ? "float32" : "bfloat16");
  }

 private:
  static void from_block(const uint16_t* src, int64_t P, int64_t cw, void* y, bool f32, int64_t plain) {
    for (int64_t c = 0; c < cw; ++c) {
      if (f32) {
        float* d = static_cast<float*>(y) + plain + c * P;
        for (int64_t p = 0; p < P; ++p) d[p] = bf16::to_f32(src[p * kBf16Block + c]);
      } else {
        uint16_t* d = static_cast<uint16_t*>(y) + plain + c * P;
        for (int64_t p = 0; p < P; ++p) d[p] = src[p * kBf16Block + c];
      }
    }
  }
  bool to_blocked_;
  int64_t C_;
  bool out_f32_;
  std::string prefix_;
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

class Bf16BlockedMeanLayer : public Layer {
 public:
  explicit Bf16BlockedMeanLayer(const Node& node) : C_(channels_attr(node)), prefix_(layer_error_prefix(node)) {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = blocked_input(in, 0, C_, prefix_);
    return {{DataType::kFloat32, Shape{s[0], C_, 1, 1}}};
  }

  // One task per image and block: a whole block's 16 means straight into
  // y, the last (partial) block's through 16 floats on the stack.
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const int64_t CB = s[1], P = s[2] * s[3];
    const uint16_t* x = in[0]->data<uint16_t>();
    float* y = out[0]->data<float>();
    parallel_for(s[0] * CB, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t n = t / CB, c0 = (t % CB) * kBf16Block, cw = std::min(kBf16Block, C_ - c0);
        float partial[kBf16Block];
        float* means = cw == kBf16Block ? y + n * C_ + c0 : partial;
        kernel_->block_mean(x + t * P * kBf16Block, 1, P, means);
        if (means == partial) std::copy(partial, partial + cw, y + n * C_ + c0);
      }
    });
  }

  std::string describe() const override { return "NCHW16c bf16 " + std::string(kernel_->name()); }

 private:
  int64_t C_;
  std::string prefix_;
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

class Bf16BlockedMaxPoolLayer : public Layer {
 public:
  explicit Bf16BlockedMaxPoolLayer(const Node& node) : C_(channels_attr(node)), prefix_(layer_error_prefix(node)) {
    if (node.outputs.size() > 1 && node.outputs[1] >= 0) {
      throw NotSupported(prefix_ + "a channel-blocked BF16 MaxPool has no Indices output");
    }
    w_ = parse_window(node, true, true);
    if (w_.kernel.size() != 2) throw NotSupported(prefix_ + "a channel-blocked BF16 MaxPool is 2-D");
    fill_window_defaults(w_, 2, node);
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Shape& s = blocked_input(in, 0, C_, prefix_);
    return {{DataType::kBFloat16, Shape{s[0], s[1], window_geometry(w_, 0, s[2], prefix_).out,
                                        window_geometry(w_, 1, s[3], prefix_).out, kBf16Block}}};
  }

  // Runs of output rows of about kTaskBytes of output per task.
  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Shape& s = in[0]->shape();
    const DimGeom gh = window_geometry(w_, 0, s[2], prefix_), gw = window_geometry(w_, 1, s[3], prefix_);
    kernels::MaxPoolBf16x16c g;
    set_pool_window_2d(g, w_, s[2], s[3], gh, gw);
    const int64_t CB = s[1], rows = std::min(g.oh, std::max<int64_t>(1, kTaskBytes / (g.ow * kBf16Block * 2)));
    const int64_t runs = (g.oh + rows - 1) / rows;
    const uint16_t* x = in[0]->data<uint16_t>();
    uint16_t* y = out[0]->data<uint16_t>();
    parallel_for(s[0] * CB * runs, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t plane = t / runs;
        kernels::MaxPoolBf16x16c a = g;
        a.x = x + plane * g.H * g.W * kBf16Block;
        a.y = y + plane * g.oh * g.ow * kBf16Block;
        a.lanes = std::min(kBf16Block, C_ - plane % CB * kBf16Block);
        a.oy0 = (t % runs) * rows;
        a.oy1 = std::min(g.oh, a.oy0 + rows);
        kernel_->maxpool(a);
      }
    });
  }

  std::string describe() const override { return "bf16 maxpool NCHW16c " + std::string(kernel_->name()); }

 private:
  static constexpr int64_t kTaskBytes = 64 << 10;  // output bytes per task
  int64_t C_;
  WindowAttrs w_;
  std::string prefix_;
  const kernels::Nchw16cBf16Kernel* kernel_ = &kernels::choose<kernels::Nchw16cBf16Kernel>();
};

INT8RT_REGISTER_LAYER(kBf16BlockedConvOp, [](const Network& net, const Node& node) {
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedConvLayer>(net, node));
});
INT8RT_REGISTER_LAYER(kToBf16BlockedOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedConvertLayer>(node, true));
});
INT8RT_REGISTER_LAYER(kFromBf16BlockedOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedConvertLayer>(node, false));
});
INT8RT_REGISTER_LAYER(kBf16BlockedMaxPoolOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedMaxPoolLayer>(node));
});
INT8RT_REGISTER_LAYER(kBf16BlockedMeanOp, [](const Network&, const Node& node) {
  require_inputs(node, 1);
  return std::unique_ptr<Layer>(std::make_unique<Bf16BlockedMeanLayer>(node));
});

}  // namespace
}  // namespace engine
}  // namespace int8rt
