// The reference kernels: scalar, intrinsic-free, readable top to bottom. The
// int8 ones are THE SPEC of int8rt's numerics (DESIGN.md): optimized kernels
// are tested bit-exact against them. Each lives in its own file here with its
// formula in the header comment; the shared arithmetic is in requantize.h.
//
// Common contract: pointers are non-null and the buffers hold the sizes
// stated; outputs do not alias inputs; shapes are validated (InvalidArgument).
// The kernels split their outer loops over int8rt::parallel_for, which does
// not change any result (each output is computed by one thread, in a fixed
// order). All functions are thread-safe (no shared mutable state).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/kernel_types.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace kernels {
namespace ref {

// ---- int8 (NHWC activations) ----

// y[n][oh][ow][k] = epilogue_k( sum_{c in group(k), r, s}
//     x[n][oh*sh - pt + r*dh][ow*sw - pl + s*dw][c] * w[k][c - c0(k)][r][s] )
// with positions outside the input contributing 0. x: [batch][H][W][C] int8;
// w: [K][C/groups][R][S] int8; y: [batch][out_h][out_w][K] of ep.out_type.
void conv2d_s8(const ConvShape& shape, int batch, const int8_t* x, const int8_t* w,
               const Epilogue& ep, void* y);

// Transposed convolution (ONNX ConvTranspose), every input pixel scattered
// through the kernel, written as the gather it equals:
// y[n][oy][ox][k] = epilogue_k( sum over c in group(k), r < R, s < S with
//     oy + pt - r*dh = iy*sh and ox + pl - s*dw = ix*sw for integers
//     0 <= iy < H, 0 <= ix < W  of  x[n][iy][ix][c] * w[c][k - k0(k)][r][s] )
// where k0(k) = group(k) * K/groups. x: [batch][H][W][C] int8; w:
// [C][K/groups][R][S] int8 (ONNX layout); y: [batch][out_h][out_w][K] of
// ep.out_type (no residual).
void conv_transpose2d_s8(const ConvTransposeShape& shape, int batch, const int8_t* x, const int8_t* w,
                         const Epilogue& ep, void* y);

// y[m][n] = epilogue_n( sum_k a[m][k] * b[n][k] ); a: [M][K], b: [N][K],
// y: [M][N] of ep.out_type (residual, if any, also [M][N]).
void gemm_s8(const GemmShape& shape, int64_t M, const int8_t* a, const int8_t* b,
             const Epilogue& ep, void* y);

// q[i] = rne(clamp(x[i] * (1.0f / scale) + (float)zero_point, -128, 127)),
// NaN -> -128 (requantize.h quantize_value; zero point 0 adds +0.0f, which
// changes no byte).
void quantize_s8(int64_t n, const float* x, float scale, int32_t zero_point, int8_t* q);
// x[i] = (float)q[i] * scale.
void dequantize_s8(int64_t n, const int8_t* q, float scale, float* x);
// The same with a layout change (the engine's float NCHW <-> int8 NHWC
// boundaries): q[n][p][c] = quantize(x[n][c][p]) for x [N][C][HW], q
// [N][HW][C]; and x[n][c][p] = dequantize(q[n][p][c]).
void quantize_nchw_to_nhwc_s8(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                              int32_t zero_point, int8_t* q);
void dequantize_nhwc_to_nchw_s8(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                                float* x);

// NHWC max pooling; padding never wins (it is skipped, not -128). The output
// has the input's scale. y: [batch][out_h][out_w][C].
void maxpool_s8(const PoolShape& shape, int batch, const int8_t* x, int8_t* y);
// NHWC average pooling from scale s_in, zero point z_in to s_out, z_out
// (both zero points 0 for symmetric tensors; in the int8 range), per window:
//   sum = sum of the int8 inputs inside the input (int32)
//   positions = window positions inside the input
//   count = count_include_pad ? R*S : positions
//   m(count) = s_in / (s_out * (float)count)      (multiply, then divide)
//   y = rne(clamp((float)(sum - positions * z_in) * m(count) + (float)z_out, -128, 127))
// (code q stands for s_in * (q - z_in); padding for the value 0). With both
// zero points 0 the add is of +0.0f, so y is rne(clamp((float)sum * m(count))).
void avgpool_s8(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out,
                int8_t* y, int32_t z_in = 0, int32_t z_out = 0);
// avgpool_s8's zero-point check (InvalidArgument naming op unless both are in
// [-128, 127]), shared with the optimized average pools.
void check_pool_zero_points(int32_t z_in, int32_t z_out, const char* op);
// Global average pooling [batch][HW][C] -> [batch][C], the formula above with
// count = HW.
void global_avgpool_s8(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out,
                       int8_t* y);
// Global average pooling over a float table (int8rt.QGlobalAveragePool with
// a table): x int8 [batch][HW][C] stands for the float values table[x + 128]
// (a point-wise function of x's 256 levels, engine/lut_region.h); each mean
// is formed as the float path's GlobalAveragePool forms it (sum in pixel
// order from 0.0f, divided by (float)HW) and quantized:
//   y[n][c] = quantize_value((table[x[n][0][c] + 128] + ... ) / (float)HW, 1.0f / s_out)
void global_avgpool_table_s8(int batch, int64_t HW, int C, const int8_t* x, const float* table, float s_out,
                             int8_t* y);

// Quantized elementwise add of n values (make_add_params builds p):
//   y = rne(min(max(((float)a * a_mult + (float)b * b_mult) + offset, lo), hi))
// with both products rounded to float32 before the adds.
void add_s8(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p, int8_t* y);

// Table lookup (int8rt.QLut, engine/lut_region.h): y[i] = table[x[i] + 128]
// for a 256-entry table indexed by the int8 value's offset from -128.
void lookup_s8(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
// One table per channel (int8rt.QLut's per-channel form): x int8
// [pixels][channels], tables [channels][256]:
//   y[p * channels + c] = tables[c * 256 + x[p * channels + c] + 128].
void lookup_s8_channels(int64_t pixels, int64_t channels, const int8_t* x, const int8_t* tables, int8_t* y);
// Table lookup to float32 (int8rt.QLutFloat's values, QChannelMul's int8
// gate): y[i] = table[x[i] + 128] for a 256-entry float table, the float
// values a region computes from x's 256 levels (engine/lut_region.h), so the
// result is the float path's bits with no rounding of its own. Serial: the
// callers split n.
void lookup_f32_s8(int64_t n, const int8_t* x, const float* table, float* y);
// Softmax over rows of n int8 codes at `scale`, float out (int8rt.QSoftmaxFloat):
// the bits of dequantize_value then softmax_f32.h's rule, one exp per level
// (the rule: softmax_s8.h). Serial: the callers split the rows.
void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y);

// Channel gate (int8rt.QChannelMul): x int8 [N][HW][C], gate float [N][C]
// (gate_batch == 1: one row for every image), input scale s_x, output s_y:
//   m[n][c] = gate[n][c] * (s_x / s_y)        (s_x / s_y rounded once)
//   y[n][p][c] = rne(min(max((float)x[n][p][c] * m[n][c], -128), 127))
void channel_mul_s8(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate, int64_t gate_batch,
                    float s_x, float s_y, int8_t* y);

// Channel gate over a float table (int8rt.QChannelMul with a table): x int8
// [N][HW][C] stands for the float values table[x + 128] (a point-wise
// function of x's 256 levels, engine/lut_region.h), gate float [N][C], output
// scale s_y; the float path's Mul then Quantize, operation for operation:
//   y[n][p][c] = quantize_value(table[x[n][p][c] + 128] * gate[n][c], 1.0f / s_y)
void channel_mul_table_s8(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* table,
                          const float* gate, int64_t gate_batch, float s_y, int8_t* y);

// One input of a channel concat: [pixels][channels] int8 and its multiplier
// rescale_multiplier(s_in, s_out); zero_point: the input's, out_zero_point:
// the output's (int8 range; both 0 for symmetric tensors).
struct ConcatInput {
  const int8_t* data = nullptr;
  int channels = 0;
  float multiplier = 1.0f;
  int32_t zero_point = 0, out_zero_point = 0;
};
// NHWC concat over channels of `pixels` = batch*H*W positions:
//   y[p][c_off(i) + c] = rescale(x_i[p][c]) = rne(clamp((float)x * m_i, -128, 127))
// When m_i == 1.0f the input is copied; that equals the formula because
// (float)x * 1.0f == x exactly, x is already in [-128, 127], and an integral
// float rounds to itself. An input with a zero point (either non-zero) is
//   rne(clamp((float)(x - zero_point) * m_i + (float)out_zero_point, -128, 127))
// (requantize.h, rescale_value_zp), copied when m_i == 1.0f and the two
// zero points are equal.
void concat_s8(int64_t pixels, const std::vector<ConcatInput>& inputs, int8_t* y);
// concat_s8's argument checks (InvalidArgument), shared with the optimized
// concat kernels; returns the output channel count, sum of the inputs'.
int64_t concat_channels(int64_t pixels, const std::vector<ConcatInput>& inputs);

// ---- float32 (NCHW activations) for the FP32 path and calibration ----

// y[n][k][oh][ow] = bias[k] + sum_{c, r, s} x[..] * w[k][c][r][s], accumulated
// in float32 starting from bias[k] (0 if null), adding products in order
// c, r, s ascending, each product rounded before its add (no FMA).
// x: [batch][C][H][W], w: [K][C/groups][R][S], y: [batch][K][out_h][out_w].
void conv2d_f32(const ConvShape& shape, int batch, const float* x, const float* w,
                const float* bias, float* y);
// y[m][n] = bias[n] + sum_k a[m][k] * b[n][k], k ascending, no FMA.
void gemm_f32(const GemmShape& shape, int64_t M, const float* a, const float* b,
              const float* bias, float* y);
// NCHW pooling; avg divides the window sum (row-major order) by the count
// (count_include_pad as for avgpool_s8).
void maxpool_f32(const PoolShape& shape, int batch, const float* x, float* y);
void avgpool_f32(const PoolShape& shape, int batch, const float* x, float* y);
// [batch][C][HW] -> [batch][C]: sum in order, divided by (float)HW.
void global_avgpool_f32(int batch, int C, int64_t HW, const float* x, float* y);

}  // namespace ref
}  // namespace kernels
}  // namespace int8rt
