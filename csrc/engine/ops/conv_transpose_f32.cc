// Float32 ConvTranspose (ONNX, opset 11+): 1-D, 2-D and 3-D, NC[D]HW, weights
// [C, M/group, k...], group, strides, dilations, explicit pads,
// output_padding, auto_pad, output_shape, optional bias:
//   out = stride * (in - 1) + output_padding + (k - 1) * dilation + 1 - pad_begin - pad_end
// With output_shape (or auto_pad SAME_UPPER / SAME_LOWER, whose output_shape
// is in * stride) the pads are ignored and derived as the ONNX spec and its
// reference do: total = stride * (in - 1) + output_padding + (k - 1) *
// dilation + 1 - output_shape, split floor(total / 2) at the begin for
// SAME_UPPER, at the end otherwise (ONNX Runtime agrees). A negative total
// (an output_shape past the natural size) is a negative pad: output taps no
// input reaches hold the bias.
//
// Compute per image and group: col = W_g^T (M/G*kd*kh*kw x C/G) * x_g
// (C/G x D*H*W) with the blocked SGEMM, then col2im scatters col into the
// output volumes (one output channel per task, so no two tasks write the
// same element): y[m][iz*sd - pd + a*dd][iy*sh - ph + i*dh][ix*sw - pw + j*dw]
//   += col[(m, a, i, j)][iz, iy, ix].   (1-D and 2-D: the depth terms are 1 / 0.)
#include <algorithm>

#include "core/checked_math.h"
#include "core/thread_pool.h"
#include "engine/layer.h"
#include "engine/ops/op_util.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace engine {
namespace {

using kernels::sgemm;

struct Geom {
  int64_t N, C, H, W, M, G, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow;
  int64_t D, kd, sd, dd, pd, od;  // depth (3-D); 1, 1, 1, 1, 0, 1 below
};

class ConvTransposeLayer : public Layer {
 public:
  ConvTransposeLayer(const Node& node, WindowAttrs w, std::vector<int64_t> out_pad, std::vector<int64_t> out_shape,
                     int64_t group, size_t rank)
      : w_(std::move(w)), out_pad_(std::move(out_pad)), out_shape_(std::move(out_shape)), group_(group), rank_(rank),
        prefix_(layer_error_prefix(node)), channels_what_(prefix_ + "output channels") {}

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    Geom g = geometry(in);
    Shape out{g.N, g.M};
    if (rank_ == 3) out.push_back(g.od);
    if (rank_ >= 2) out.push_back(g.oh);
    out.push_back(g.ow);
    return {{DataType::kFloat32, out}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Geom g = geometry(in);
    const float* x = in[0]->data<float>();
    const float* w = in[1]->data<float>();
    const float* bias = in.size() > 2 && in[2] ? in[2]->data<float>() : nullptr;
    float* y = out[0]->data<float>();
    const int64_t Cg = g.C / g.G, Mg = g.M / g.G, R = Mg * g.kd * g.kh * g.kw, P = g.D * g.H * g.W;
    const int64_t OS = g.oh * g.ow, OP = g.od * OS;
    // The calling thread's column buffer, grown once (a new one per run
    // was 3-7 MB of fresh pages per PP-OCR det upsampling); the tasks read it through `col`.
    thread_local std::vector<float> col_storage;
    if (col_storage.size() < static_cast<size_t>(R * P)) col_storage.resize(static_cast<size_t>(R * P));
    float* col = col_storage.data();
    for (int64_t n = 0; n < g.N; ++n) {
      for (int64_t grp = 0; grp < g.G; ++grp) {
        sgemm(*uk_, R, P, Cg, {w + grp * Cg * R, R, true}, {x + (n * g.C + grp * Cg) * P, P, false}, col, P, false);
        parallel_for(Mg, 1, [&](int64_t b, int64_t e) {
          for (int64_t m = b; m < e; ++m) {
            float* volume = y + (n * g.M + grp * Mg + m) * OP;
            std::fill(volume, volume + OP, bias ? bias[grp * Mg + m] : 0.f);
            for (int64_t a = 0; a < g.kd; ++a) {
              for (int64_t iz = 0; iz < g.D; ++iz) {
                const int64_t oz = iz * g.sd - g.pd + a * g.dd;
                if (oz < 0 || oz >= g.od) continue;
                for (int64_t i = 0; i < g.kh; ++i) {
                  for (int64_t j = 0; j < g.kw; ++j) {
                    const float* c = col + (((m * g.kd + a) * g.kh + i) * g.kw + j) * P + iz * g.H * g.W;
                    scatter_slice(c, volume + oz * OS, i, j, g);
                  }
                }
              }
            }
          }
        });
      }
    }
  }

  std::string describe() const override { return "fp32 convtranspose group=" + std::to_string(group_); }

 private:
  // One input slice's column rows of tap (i, j) added into one output slice.
  static void scatter_slice(const float* c, float* plane, int64_t i, int64_t j, const Geom& g) {
    for (int64_t iy = 0; iy < g.H; ++iy) {
      int64_t oy = iy * g.sh - g.ph + i * g.dh;
      if (oy < 0 || oy >= g.oh) continue;
      float* dst = plane + oy * g.ow;
      const float* src = c + iy * g.W;
      for (int64_t ix = 0; ix < g.W; ++ix) {
        int64_t ox = ix * g.sw - g.pw + j * g.dw;
        if (ox >= 0 && ox < g.ow) dst[ox] += src[ix];
      }
    }
  }

  Geom geometry(const std::vector<const Value*>& in) const {
    const ConvOperands ops = conv_operands(in, rank_, prefix_);
    const Shape& xs = ops.x;
    const Shape& ws = ops.w;
    Geom g{};
    g.N = xs[0];
    g.C = xs[1];
    g.G = group_;
    g.M = checked_mul(ws[1], group_, channels_what_);
    if (ws[0] != g.C || g.C % group_ != 0) {
      throw InvalidArgument(prefix_ + "weights " + shape_str(ws) + " do not match input channels " +
                            std::to_string(g.C) + " with group " + std::to_string(group_));
    }
    if (in.size() > 2 && in[2] && (in[2]->dtype() != DataType::kFloat32 || !is_shape_1d(in[2]->shape(), g.M))) {
      throw InvalidArgument(prefix_ + "bias must be float32 [" + std::to_string(g.M) + "]");
    }
    auto dim = [&](size_t d, int64_t* in_size, int64_t* k, int64_t* s, int64_t* dil, int64_t* pb, int64_t* o) {
      *in_size = xs[2 + d];
      *k = ws[2 + d];
      *s = w_.strides[d];
      *dil = w_.dilations[d];
      *pb = w_.auto_pad == WindowAttrs::AutoPad::kValid ? 0 : w_.pads[d];
      int64_t pe = w_.auto_pad == WindowAttrs::AutoPad::kValid ? 0 : w_.pads[d + rank_];
      const bool same = w_.auto_pad == WindowAttrs::AutoPad::kSameUpper ||
                        w_.auto_pad == WindowAttrs::AutoPad::kSameLower;
      if (same || !out_shape_.empty()) {
        const int64_t target = out_shape_.empty() ? *in_size * *s : out_shape_[d];
        const int64_t total = *s * (*in_size - 1) + out_pad_[d] + (*k - 1) * *dil + 1 - target;
        const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);  // floor(total / 2)
        *pb = w_.auto_pad == WindowAttrs::AutoPad::kSameUpper ? half : total - half;
        pe = total - *pb;
      }
      *o = *s * (*in_size - 1) + out_pad_[d] + (*k - 1) * *dil + 1 - *pb - pe;
      if (*o <= 0) throw InvalidArgument(prefix_ + "pads leave an empty output along spatial dim " + std::to_string(d));
    };
    dim(rank_ - 1, &g.W, &g.kw, &g.sw, &g.dw, &g.pw, &g.ow);
    if (rank_ >= 2) {
      dim(rank_ - 2, &g.H, &g.kh, &g.sh, &g.dh, &g.ph, &g.oh);
    } else {
      g.H = g.kh = g.sh = g.dh = g.oh = 1;
      g.ph = 0;
    }
    if (rank_ == 3) {
      dim(0, &g.D, &g.kd, &g.sd, &g.dd, &g.pd, &g.od);
    } else {
      g.D = g.kd = g.sd = g.dd = g.od = 1;
      g.pd = 0;
    }
    return g;
  }

  WindowAttrs w_;
  std::vector<int64_t> out_pad_;
  std::vector<int64_t> out_shape_;  // spatial output_shape; empty: absent
  int64_t group_;
  size_t rank_;
  std::string prefix_;
  std::string channels_what_;  // checked_mul's name for M, formed once (per run it was an allocation)
  const kernels::SgemmKernel* uk_ = &kernels::choose<kernels::SgemmKernel>();  // once per layer
};

std::unique_ptr<Layer> make_conv_transpose(const Network& net, const Node& node) {
  if (node.inputs.size() < 2 || node.inputs[0] < 0 || node.inputs[1] < 0) {
    throw InvalidArgument(layer_error_prefix(node) + "needs input X and weights W");
  }
  WindowAttrs w = parse_window(node, true, false);
  const Shape& ws = net.tensor(node.inputs[1]).shape;
  if (ws.size() < 3 || ws.size() > 5) {
    throw NotSupported(layer_error_prefix(node) + "weights '" + net.tensor(node.inputs[1]).name +
                       "' must have a known 1-D, 2-D or 3-D kernel shape, got " + shape_str(ws));
  }
  const size_t rank = ws.size() - 2;
  Shape kernel(ws.begin() + 2, ws.end());
  if (!w.kernel.empty() && w.kernel != kernel) {
    throw InvalidArgument(layer_error_prefix(node) + "kernel_shape " + ints_str(w.kernel) + " does not match weights " +
                          shape_str(ws));
  }
  w.kernel = kernel;
  fill_window_defaults(w, rank, node);
  std::vector<int64_t> out_pad = node.attrs.get_ints("output_padding", std::vector<int64_t>(rank, 0));
  if (out_pad.size() != rank) throw InvalidArgument(layer_error_prefix(node) + "output_padding needs one value per spatial dim");
  for (size_t d = 0; d < rank; ++d) {
    if (out_pad[d] < 0 || out_pad[d] >= std::max(w.strides[d], w.dilations[d])) {
      throw InvalidArgument(layer_error_prefix(node) + "output_padding " + ints_str(out_pad) +
                            " must be smaller than the stride or dilation");
    }
  }
  std::vector<int64_t> out_shape = node.attrs.get_ints("output_shape", {});
  if (out_shape.size() == rank + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);  // N, C given too
  if (!out_shape.empty() && out_shape.size() != rank) {
    throw InvalidArgument(layer_error_prefix(node) + "output_shape " + ints_str(out_shape) +
                          " needs one value per spatial dim");
  }
  int64_t group = node.attrs.get_int("group", 1);
  if (group < 1) throw InvalidArgument(layer_error_prefix(node) + "group must be >= 1");
  return std::make_unique<ConvTransposeLayer>(node, std::move(w), std::move(out_pad), std::move(out_shape), group,
                                              rank);
}

INT8RT_REGISTER_LAYER("ConvTranspose", make_conv_transpose);

}  // namespace
}  // namespace engine
}  // namespace int8rt
