// Shared types of the kernel layer: problem shapes (conv, GEMM, pooling) and
// the Epilogue that turns int32 accumulators into int8 or float outputs.
//
// Layouts (DESIGN.md, "Numerics"): int8 activations are NHWC; canonical conv
// weights are OIHW int8 ([K][C/groups][R][S]); GEMM weights are [N][K] int8
// (ONNX Gemm with transB=1 / torch Linear); weights are symmetric per output
// channel. The FP32 kernels use NCHW activations and the same weight layouts.
// The batch size is not part of a shape: it is given at run time.
//
// The arithmetic of the epilogue is defined once, in ref/requantize.h.
#pragma once

#include <cstdint>
#include <limits>

namespace int8rt {
namespace kernels {

// Longest int8 dot product an int32 accumulator holds for every input:
// n * 128 * 128 < 2^31 needs n < 131072. Shapes validate against it.
constexpr int64_t kMaxReduction = 131071;

// Element type of a kernel's output.
enum class OutputType { kInt8, kFloat32 };
const char* output_type_name(OutputType t);  // "int8" / "float32"

// How an int8 tensor's bytes hold its codes q (its values (q - z) * s):
//   kS8  the byte is q, two's complement (every int8 tensor by default);
//   kU8  the byte is q + 128 read as u8 (q xor 0x80): the form `vpdpbusd`
//        multiplies natively, so a VNNI conv reads it with no +128 shift.
// The arithmetic is the same either way (every result keeps its bits); which
// tensors are held as kU8 is one rule, engine/ops/int8/u8_codes.h, and a
// kernel takes kU8 only where its supports() says so.
enum class Codes : uint8_t { kS8, kU8 };

// The byte of the code q in storage `c`.
inline int8_t code_byte(int8_t q, Codes c) {
  return c == Codes::kU8 ? static_cast<int8_t>(static_cast<uint8_t>(q) ^ 0x80u) : q;
}

// A 2-D convolution (or its depthwise/grouped forms). Input channels C are
// split in `groups` groups of C/groups; output channel k reads group
// k / (K/groups); padding positions read pad_value. Output size (floor
// mode, as ONNX Conv):
//   out_h = (H + pad_top + pad_bottom - dilation_h*(R-1) - 1) / stride_h + 1
struct ConvShape {
  int C = 0, H = 0, W = 0;  // input channels, height, width
  int K = 0;                // output channels
  int R = 1, S = 1;         // kernel height, width
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  // int8 kernels: the value every padding position holds, the input's zero
  // point (0 for a symmetric input), so that padding is real 0 after the
  // epilogue's zero-point correction (requant_params.h, apply_zero_points):
  // a padding tap adds pad_value * w, as if the input had been padded with
  // it. The FP32 kernels pad with 0.0f and leave it 0.
  int8_t pad_value = 0;
  // int8 kernels: the caller guarantees that no input value is negative
  // (the output of a ReLU-like clamp: engine/ops/int8/nonneg_input.h says
  // where the engine knows it), so a VNNI kernel may read the int8 input as
  // u8 with no +128 shift and no compensation. A broken promise gives wrong
  // results. False: inputs of any sign. The FP32 kernels ignore it.
  bool nonneg_input = false;
  // int8 kernels: how the input's, the output's and the fused residual's
  // (Epilogue::residual) bytes hold their codes (Codes). pad_value stays a
  // code: a kU8 input's padding byte is code_byte(pad_value, Codes::kU8).
  // Kernels that do not say otherwise in supports() decline anything but
  // kS8 (u8_codes_declined).
  Codes input_codes = Codes::kS8;
  Codes output_codes = Codes::kS8;
  Codes residual_codes = Codes::kS8;
  // The layer runs inputs of other heights and widths too, through
  // PackedConv::with_input_size (a dynamic-size layer): a kernel bound to
  // this H x W (the one-pixel GEMV, x86/conv_gemv.cc) declines it.
  bool any_input_size = false;

  int out_h() const;
  int out_w() const;
  int c_per_group() const { return C / groups; }
  int k_per_group() const { return K / groups; }
  bool is_depthwise() const { return groups == C && K == C; }
  bool has_padding() const { return pad_top || pad_left || pad_bottom || pad_right; }
  // Number of int8 weights in canonical OIHW layout: K * (C/groups) * R * S.
  int64_t weight_count() const;
  // Throws InvalidArgument naming the offending field (non-positive size,
  // negative pad, channels not divisible by groups, reduction longer than
  // kMaxReduction, empty output).
  void validate() const;
};

// "" when `s` holds every tensor as kS8, else the reason a kernel that
// takes only kS8 codes declines it (its supports() returns this first).
const char* u8_codes_declined(const ConvShape& s);

// `s` with input height H and width W, validated (PackedConv::with_input_size).
ConvShape with_input_size(ConvShape s, int H, int W);
// `s` over a window of H input rows with these top and bottom pads (width,
// left and right pads unchanged), validated (PackedConv::with_row_window).
ConvShape with_row_window(ConvShape s, int H, int pad_top, int pad_bottom);

// A 2-D transposed convolution (ONNX ConvTranspose): NHWC int8 input, weights
// in ONNX's layout [C][K/groups][R][S]. Input channel c (group g = c / (C/groups))
// feeds output channels g*(K/groups) .. (g+1)*(K/groups) - 1. Output size:
//   out_h = stride_h*(H-1) + out_pad_h + dilation_h*(R-1) + 1 - pad_top - pad_bottom
// (out_w alike). A 1-D ConvTranspose is H = R = 1.
struct ConvTransposeShape {
  int C = 0, H = 0, W = 0;  // input channels, height, width
  int K = 0;                // output channels
  int R = 1, S = 1;         // kernel height, width
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int out_pad_h = 0, out_pad_w = 0;  // output_padding: extra rows / columns at the end
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;

  int out_h() const;  // 0 when the pads leave no output (validate() refuses that)
  int out_w() const;
  int c_per_group() const { return C / groups; }
  int k_per_group() const { return K / groups; }
  // Number of int8 weights in the ONNX layout: C * (K/groups) * R * S.
  int64_t weight_count() const;
  // Throws InvalidArgument naming the offending field (non-positive size,
  // negative pad, output_padding not below max(stride, dilation), channels
  // not divisible by groups, reduction C/groups*R*S longer than
  // kMaxReduction, empty output or one past the int range).
  void validate() const;
};

// A fully connected layer y[m][n] = sum_k a[m][k] * b[n][k]; M (rows) is
// given at run time.
struct GemmShape {
  int N = 0;  // output features
  int K = 0;  // input features
  void validate() const;  // throws InvalidArgument (also K > kMaxReduction)
};

// Max / average pooling window (no dilation, floor mode). For average
// pooling, count_include_pad selects the divisor: R*S (ONNX
// count_include_pad=1) or the number of window positions inside the input.
struct PoolShape {
  int C = 0, H = 0, W = 0;
  int R = 1, S = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = false;

  int out_h() const;
  int out_w() const;
  // Output rows per parallel task: about 64K window taps each, so small
  // pools run on one thread. Shared by every pooling kernel.
  int64_t row_grain() const;
  void validate() const;  // throws InvalidArgument; pads must be < kernel size
};

// What a kernel does with each int32 accumulator acc of output channel k
// (exact float operations and order in ref/requantize.h):
//   t = (float)acc * scale[k] + bias[k] (+ (float)residual * residual_scale)
//   (t = t < 0 ? t * slope[k] : t, with a slope)
//   t = clamp(t, clamp_lo, clamp_hi); int8 output: round half to even.
// A non-owning view: the arrays must outlive the kernel call. For int8
// outputs clamp_lo >= -128 and clamp_hi <= 127 (check_epilogue enforces it),
// so the rounded value always fits. Build one with make_epilogue(), which returns
// the EpilogueStorage that owns the arrays (requant_params.h).
struct Epilogue {
  const float* scale = nullptr;  // [K] (conv) or [N] (GEMM); required
  const float* bias = nullptr;   // same length, in output units; null means 0
  float clamp_lo = -std::numeric_limits<float>::infinity();
  float clamp_hi = std::numeric_limits<float>::infinity();
  // Optional int8 residual added before the clamp, laid out exactly like the
  // output (NHWC for conv, [M][N] for GEMM); residual_scale = s_res / s_out.
  const int8_t* residual = nullptr;
  float residual_scale = 0.0f;
  OutputType out_type = OutputType::kInt8;
  // Optional 256-entry int8 table applied to each int8 output after the
  // rounding: q -> table[q + 128] (an element-wise chain's int8rt.QLut, BERT's
  // GELU, fused into the layer before it). Int8 output only; only a packed
  // layer whose applies_table() is true may be given one (conv_gemm_s8.h).
  const int8_t* table = nullptr;
  // Optional per-channel PReLU slopes [K] (conv) or [N] (GEMM), applied after
  // the residual and before the clamp: t = t < 0 ? t * slope[k] : t (a PRelu
  // fused into the layer, t in output units: PReLU commutes with a positive
  // scale). Only a packed layer whose applies_slope() is true may be given
  // one (conv_gemm_s8.h); with any other the caller computes the float t
  // and finishes it with ref::finish_output.
  const float* slope = nullptr;
};

// Throws InvalidArgument unless `ep` is usable: scale set, clamp_lo <= clamp_hi,
// no NaN bounds, and for int8 output clamp_lo >= -128, clamp_hi <= 127.
// `what` names the layer in the message.
void check_epilogue(const Epilogue& ep, const char* what);

}  // namespace kernels
}  // namespace int8rt
