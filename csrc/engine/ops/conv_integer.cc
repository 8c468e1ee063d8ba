// ConvInteger (ONNX opset 10) and QLinearConv (opset 10), 1-D and 2-D (NCL,
// NCHW), on the integer product of integer_gemm.h (u8 x s8 kernels, exact):
//
//   ConvInteger: Y = conv(X - x_zero_point, W - w_zero_point), int32, padded
//     positions contributing 0 (onnx/reference/ops/op_conv_integer.py);
//   QLinearConv: R = that + B (int32 bias), then
//     Y = round_half_even(clamp(R * (x_scale * w_scale / y_scale) + y_zero_point))
//     with the multiplier formed in float32 (per output channel for a 1-D
//     w_scale) and the rest in float64, as op_qlinear_conv.py's numpy does;
//     Y has y_zero_point's type.
//
// x_zero_point is per tensor; w_zero_point per tensor or per output channel.
// Each image and group is one product with W as the left operand, packed
// once when W is constant (IntegerProductA): W's group [M/group][C/group * kh
// * kw] (OIHW rows as they are, u8 storage) times the columns of X ([C/group *
// kh * kw][output pixels], u8 storage, a padded tap holding x_zero_point so
// that it contributes 0), so the int32 product lands in Y's NCHW layout with
// no transposition; a 1x1, stride 1, unpadded conv's columns are X itself. A
// 1-D conv runs as 2-D with H = 1 (its window attributes lifted at build).
//
// Fused float output (graph/passes fuse_conv_integer_float.cc, "int8rt_float_output" = 1):
//   Y = float32(ConvInteger(...) + bias[m]) * s
// bias (input 4, optional) int32 with M values or one, added wrapping as the int32 Add did; s
// (input 5) one float32, the Cast's conversion then the Mul's product, each rounded once. Both
// are the product's epilogue (IntegerProductA::run), so Y is written once, as float32. With
// "int8rt_activation" = "Swish" (graph/passes/fuse_swish.cc, FP32 engines) each image's Y then takes
// y * sigmoid(y) by the unary_f32 family's Silu, the bits of the Sigmoid and Mul layers it replaces.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>

#include "core/thread_pool.h"
#include "engine/dtypes.h"
#include "engine/layer.h"
#include "engine/ops/integer_gemm.h"
#include "engine/ops/op_util.h"

namespace int8rt {
namespace engine {
namespace {

struct ConvSlots {
  size_t x, zx, w, zw;
  bool qlinear;
};

// A 1-D window as the 2-D one over rows of height 1 (kernel, stride, dilation 1, no row pads).
void lift_1d_window(WindowAttrs& w) {
  w.kernel.insert(w.kernel.begin(), 1);
  w.strides.insert(w.strides.begin(), 1);
  w.dilations.insert(w.dilations.begin(), 1);
  w.pads = {0, w.pads[0], 0, w.pads[1]};
}

// ceil(a / b) for b > 0, clamped below at 0.
int64_t ceil_div_nonneg(int64_t a, int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

class IntegerConvLayer : public Layer {
 public:
  IntegerConvLayer(const Network& net, const Node& node, ConvSlots slots)
      : slots_(slots), prefix_(layer_error_prefix(node)) {
    require_inputs(node, slots.w + 1);
    window_ = parse_window(node, /*allow_dilations=*/true, /*allow_ceil_mode=*/false);
    group_ = node.attrs.get_int("group", 1);
    float_out_ = !slots.qlinear && node.attrs.get_int("int8rt_float_output", 0) != 0;
    act_ = parse_fused_activation(node);
    if (act_.kind != FusedActivation::Kind::kNone && !float_out_) {
      throw NotSupported(prefix_ + "an activation needs the fused float output");
    }
    if (float_out_ && (node.inputs.size() < 6 || node.inputs[5] < 0)) {
      throw InvalidArgument(prefix_ + "the fused float output needs its scale (input 5)");
    }
    const Tensor& w = net.tensor(node.inputs[slots.w]);
    if (w.shape.size() != 4 && w.shape.size() != 3) {
      throw NotSupported(prefix_ + "only 1-D and 2-D integer convolutions are supported, W has shape " +
                         ints_str(w.shape));
    }
    one_d_ = w.shape.size() == 3;
    if (group_ < 1 || w.shape[0] % group_ != 0) {
      throw InvalidArgument(prefix_ + "group " + std::to_string(group_) + " does not divide " +
                            std::to_string(w.shape[0]) + " output channels");
    }
    if (window_.kernel.empty()) window_.kernel = Shape(w.shape.begin() + 2, w.shape.end());
    fill_window_defaults(window_, one_d_ ? 1 : 2, node);
    if (one_d_) lift_1d_window(window_);
    if (w.is_constant && (w.dtype == DataType::kInt8 || w.dtype == DataType::kInt64)) {
      const Shape ws = as_2d(w.shape);
      const int64_t Mg = ws[0] / group_, Kg = ws[1] * ws[2] * ws[3];
      std::vector<int8_t> s8(static_cast<size_t>(ws[0] * Kg));
      tensor_to_s8(w, s8.data());
      std::vector<uint8_t> u8(s8.size());
      for (size_t i = 0; i < s8.size(); ++i) u8[i] = static_cast<uint8_t>(s8[i] ^ 0x80);  // s8 + 128
      for (int64_t g = 0; g < group_; ++g) packed_.emplace_back(Mg, Kg, u8.data() + g * Mg * Kg, Kg);
    }
  }

  std::vector<std::pair<DataType, Shape>> infer(const std::vector<const Value*>& in) const override {
    const Value& x = require_any(in, slots_.x, prefix_);
    const Value& w = require_any(in, slots_.w, prefix_);
    int_kind(x.dtype(), prefix_, "X");
    int_kind(w.dtype(), prefix_, "W");
    const DataType t = slots_.qlinear ? output_dtype(in) : float_out_ ? DataType::kFloat32 : DataType::kInt32;
    return {{t, output_shape(x.shape(), w.shape())}};
  }

  void run(const std::vector<const Value*>& in, const std::vector<Value*>& out) const override {
    const Value& x = *in[slots_.x];
    const Value& w = *in[slots_.w];
    const Shape xs = as_2d(x.shape()), wsh = as_2d(w.shape());
    const Shape ys = as_2d(output_shape(x.shape(), w.shape()));
    const int64_t N = xs[0], C = xs[1], H = xs[2], W = xs[3];
    const int64_t M = wsh[0], Cg = C / group_, Mg = M / group_, kh = window_.kernel[0], kw = window_.kernel[1];
    const int64_t OH = ys[2], OW = ys[3], P = OH * OW, Kg = Cg * kh * kw;
    const DimGeom gh = window_geometry(window_, 0, H, prefix_), gw = window_geometry(window_, 1, W, prefix_);
    const bool x_s8 = int_kind(x.dtype(), prefix_, "X") == IntKind::kS8;
    const bool w_s8 = int_kind(w.dtype(), prefix_, "W") == IntKind::kS8;
    const Value* zx_v = in.size() > slots_.zx ? in[slots_.zx] : nullptr;
    const Value* zw_v = in.size() > slots_.zw ? in[slots_.zw] : nullptr;
    // Both in u8 storage units (integer_gemm.h): X's columns and W's rows are held as u8.
    const std::vector<int32_t> zx = zero_point_values(zx_v, x_s8 ? 128 : 0);
    const std::vector<int32_t> zw = zero_point_values(zw_v, w_s8 ? 128 : 0);
    if (zx.size() != 1) throw InvalidArgument(prefix_ + "x_zero_point must have one element");
    if (zw.size() != 1 && static_cast<int64_t>(zw.size()) != M) {
      throw InvalidArgument(prefix_ + "w_zero_point must have 1 or " + std::to_string(M) + " elements");
    }
    std::vector<uint8_t> x_copy;
    const uint8_t* x_u8 = x.data<uint8_t>();
    if (x.dtype() != DataType::kUInt8) {
      x_copy.resize(static_cast<size_t>(x.numel()));
      to_u8(x, x_copy.data());
      x_u8 = x_copy.data();
    }
    std::vector<uint8_t> w_u8_copy;
    if (packed_.empty()) {
      w_u8_copy.resize(static_cast<size_t>(w.numel()));
      to_u8(w, w_u8_copy.data());
    }
    std::vector<int32_t> acc_store;
    int32_t* acc = nullptr;
    if (slots_.qlinear) {
      acc_store.resize(static_cast<size_t>(N * M * P));
      acc = acc_store.data();
    } else if (float_out_) {  // float32 converted in place (same element size)
      acc = reinterpret_cast<int32_t*>(out[0]->data<float>());
    } else {
      acc = out[0]->data<int32_t>();
    }
    std::vector<int32_t> bias;
    float scale = 0.0f;
    if (float_out_) float_tail(in, M, &bias, &scale);
    const bool pointwise = kh == 1 && kw == 1 && window_.strides[0] == 1 && window_.strides[1] == 1 &&
                           gh.pad_begin == 0 && gw.pad_begin == 0 && OH == H && OW == W;
    thread_local std::vector<uint8_t> cols;
    if (!pointwise && cols.size() < static_cast<size_t>(Kg * P)) cols.resize(static_cast<size_t>(Kg * P));
    const uint8_t pad = static_cast<uint8_t>(zx[0]);
    const int32_t zb = zx[0] - 128;  // the columns are read as s8 storage, value - 128
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t g = 0; g < group_; ++g) {
        const uint8_t* xg = x_u8 + (n * C + g * Cg) * H * W;
        const uint8_t* b = xg;
        if (!pointwise) {
          im2col(xg, Cg, H, W, OH, OW, gh.pad_begin, gw.pad_begin, pad, cols.data());
          b = cols.data();
        }
        std::optional<IntegerProductA> local;
        if (packed_.empty()) local.emplace(Mg, Kg, w_u8_copy.data() + g * Mg * Kg, Kg);
        const IntegerProductA& product = packed_.empty() ? *local : packed_[g];
        const std::vector<int32_t> zwg =
            zw.size() == 1 ? zw : std::vector<int32_t>(zw.begin() + g * Mg, zw.begin() + (g + 1) * Mg);
        product.run(P, b, P, zwg, zb, acc + (n * M + g * Mg) * P, P, bias.empty() ? nullptr : bias.data() + g * Mg,
                    float_out_ ? &scale : nullptr);
      }
      if (act_.kind != FusedActivation::Kind::kNone) {
        float* yn = out[0]->data<float>() + n * M * P;
        parallel_for(M * P, 1 << 16, [&](int64_t b, int64_t e) { act_.apply(yn + b, e - b); });
      }
    }
    if (slots_.qlinear) requantize(in, N, M, P, acc, *out[0]);
  }

  std::string describe() const override {
    return std::string(slots_.qlinear ? "qlinear conv" : float_out_ ? "conv integer to float" : "conv integer") +
           act_.describe() +
           " group=" + std::to_string(group_) +
           (packed_.empty() ? std::string(" (W packed per run)") : std::string(" (") + packed_[0].kernel_name() + ")");
  }

 private:
  // A 1-D conv's [N, C, L] / [M, C, k] as [N, C, 1, L] / [M, C, 1, k]; 2-D shapes unchanged.
  Shape as_2d(const Shape& s) const {
    if (!one_d_ || s.size() != 3) return s;
    return {s[0], s[1], 1, s[2]};
  }

  Shape output_shape(const Shape& x_in, const Shape& w_in) const {
    const size_t rank = one_d_ ? 3 : 4;
    if (x_in.size() != rank || w_in.size() != rank) {
      throw InvalidArgument(prefix_ + "X " + shape_str(x_in) + " and W " + shape_str(w_in) + " must be " +
                            (one_d_ ? "3-D (NCL, MCk)" : "4-D (NCHW, MCkk)"));
    }
    const Shape x = as_2d(x_in), w = as_2d(w_in);
    if (x[1] != w[1] * group_) {
      throw InvalidArgument(prefix_ + "X has " + std::to_string(x[1]) + " channels, W expects " +
                            std::to_string(w[1] * group_));
    }
    if (w[2] != window_.kernel[0] || w[3] != window_.kernel[1]) {
      throw InvalidArgument(prefix_ + "W " + shape_str(w_in) + " does not match kernel_shape " +
                            ints_str(window_.kernel));
    }
    const int64_t oh = window_geometry(window_, 0, x[2], prefix_).out;
    const int64_t ow = window_geometry(window_, 1, x[3], prefix_).out;
    if (one_d_) return {x[0], w[0], ow};
    return {x[0], w[0], oh, ow};
  }

  // cols [Cg * kh * kw][OH * OW]: row (c, r, s) holds, for every output pixel, the input
  // under tap (r, s) of channel c, `pad` (the input zero point, in u8 storage) where the
  // tap falls outside the image. Per row the in-image output columns are one range.
  void im2col(const uint8_t* xg, int64_t Cg, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t pad_top,
              int64_t pad_left, uint8_t pad, uint8_t* cols) const {
    const int64_t kh = window_.kernel[0], kw = window_.kernel[1];
    const int64_t sh = window_.strides[0], sw = window_.strides[1], dh = window_.dilations[0], dw = window_.dilations[1];
    const int64_t P = OH * OW;
    for (int64_t c = 0; c < Cg; ++c) {
      const uint8_t* xc = xg + c * H * W;
      for (int64_t r = 0; r < kh; ++r) {
        for (int64_t s = 0; s < kw; ++s) {
          uint8_t* row = cols + ((c * kh + r) * kw + s) * P;
          const int64_t shift = s * dw - pad_left;  // iw = ow * sw + shift
          const int64_t ow0 = std::min(OW, ceil_div_nonneg(-shift, sw));
          const int64_t ow1 = std::max(ow0, std::min(OW, ceil_div_nonneg(W - shift, sw)));
          for (int64_t oh = 0; oh < OH; ++oh) {
            uint8_t* dst = row + oh * OW;
            const int64_t ih = oh * sh - pad_top + r * dh;
            if (ih < 0 || ih >= H) {
              std::memset(dst, pad, static_cast<size_t>(OW));
              continue;
            }
            const uint8_t* xr = xc + ih * W;
            std::memset(dst, pad, static_cast<size_t>(ow0));
            if (sw == 1) {
              std::memcpy(dst + ow0, xr + ow0 + shift, static_cast<size_t>(ow1 - ow0));
            } else {
              for (int64_t ow = ow0; ow < ow1; ++ow) dst[ow] = xr[ow * sw + shift];
            }
            std::memset(dst + ow1, pad, static_cast<size_t>(OW - ow1));
          }
        }
      }
    }
  }

  // The fused float output's int32 bias (M values; one value repeated; none) and scale (module comment).
  void float_tail(const std::vector<const Value*>& in, int64_t M, std::vector<int32_t>* bias, float* scale) const {
    const Value* b = in.size() > 4 ? in[4] : nullptr;
    if (b) {
      if (b->dtype() != DataType::kInt32 || (b->numel() != M && b->numel() != 1)) {
        throw InvalidArgument(prefix_ + "the fused bias must be int32 with 1 or " + std::to_string(M) + " elements");
      }
      bias->assign(static_cast<size_t>(M), b->data<int32_t>()[0]);
      if (b->numel() == M) std::copy(b->data<int32_t>(), b->data<int32_t>() + M, bias->begin());
    }
    const Value& s = require_any(in, 5, prefix_);
    if (s.dtype() != DataType::kFloat32 || s.numel() != 1) {
      throw InvalidArgument(prefix_ + "the fused scale must be one float32");
    }
    *scale = s.data<float>()[0];
  }

  DataType output_dtype(const std::vector<const Value*>& in) const {
    const Value* zy = in.size() > 7 ? in[7] : nullptr;
    const DataType t = zy ? zy->dtype() : in[0]->dtype();
    return int_kind(t, prefix_, "y_zero_point") == IntKind::kS8 ? DataType::kInt8 : DataType::kUInt8;
  }

  static std::vector<double> as_doubles(const Value& v) {
    std::vector<double> out(static_cast<size_t>(v.numel()));
    visit_dtype(v.dtype(), [&](auto tag) {
      using T = decltype(tag);
      for (size_t i = 0; i < out.size(); ++i) out[i] = convert_element<double>(v.data<T>()[i]);
    });
    return out;
  }

  void requantize(const std::vector<const Value*>& in, int64_t N, int64_t M, int64_t P, int32_t* acc,
                  Value& y) const {
    const std::vector<double> sx = as_doubles(require_any(in, 1, prefix_));
    const std::vector<double> sw = as_doubles(require_any(in, 4, prefix_));
    const std::vector<double> sy = as_doubles(require_any(in, 6, prefix_));
    if (sx.size() != 1 || sy.size() != 1 || (sw.size() != 1 && static_cast<int64_t>(sw.size()) != M)) {
      throw InvalidArgument(prefix_ + "x_scale and y_scale must have one element and w_scale 1 or M");
    }
    const Value* bias_v = in.size() > 8 ? in[8] : nullptr;
    std::vector<int32_t> bias;
    if (bias_v) {
      bias = zero_point_values(bias_v, 0);
      if (static_cast<int64_t>(bias.size()) != M) throw InvalidArgument(prefix_ + "B must have M elements");
    }
    const double zy = in.size() > 7 && in[7] ? static_cast<double>(zero_point_values(in[7], 0).at(0)) : 0.0;
    const bool s8 = y.dtype() == DataType::kInt8;
    const double lo = s8 ? -128.0 : 0.0, hi = s8 ? 127.0 : 255.0;
    for (int64_t m = 0; m < M; ++m) {
      // x_scale * w_scale / y_scale in float32 (numpy: float32 arrays), then R * it in float64.
      const double mult = static_cast<double>(static_cast<float>(
          static_cast<float>(sx[0]) * static_cast<float>(sw.size() == 1 ? sw[0] : sw[m])) / static_cast<float>(sy[0]));
      const uint32_t b = bias.empty() ? 0u : static_cast<uint32_t>(bias[m]);
      for (int64_t n = 0; n < N; ++n) {
        const int64_t base = (n * M + m) * P;
        for (int64_t p = 0; p < P; ++p) {
          const int32_t r = static_cast<int32_t>(static_cast<uint32_t>(acc[base + p]) + b);
          double v = static_cast<double>(r) * mult + zy;
          v = v < lo ? lo : (v > hi ? hi : v);
          v = std::nearbyint(v);
          if (s8) y.data<int8_t>()[base + p] = static_cast<int8_t>(v);
          else y.data<uint8_t>()[base + p] = static_cast<uint8_t>(v);
        }
      }
    }
  }

  ConvSlots slots_;
  std::string prefix_;
  WindowAttrs window_;
  int64_t group_ = 1;
  bool one_d_ = false;                   // a 1-D conv, run as 2-D over rows of height 1
  bool float_out_ = false;               // the fused float output (module comment)
  FusedActivation act_;                  // with it, Swish (module comment)
  std::vector<IntegerProductA> packed_;  // per group, a constant W
};

std::unique_ptr<Layer> make_conv_integer(const Network& net, const Node& node) {
  return std::make_unique<IntegerConvLayer>(net, node, ConvSlots{0, 2, 1, 3, false});
}

std::unique_ptr<Layer> make_qlinear_conv(const Network& net, const Node& node) {
  require_inputs(node, 8);
  return std::make_unique<IntegerConvLayer>(net, node, ConvSlots{0, 2, 3, 5, true});
}

INT8RT_REGISTER_LAYER("ConvInteger", make_conv_integer);
INT8RT_REGISTER_LAYER("QLinearConv", make_qlinear_conv);

}  // namespace
}  // namespace engine
}  // namespace int8rt
