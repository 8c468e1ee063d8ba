// The int8 element-wise microkernels (quantize, dequantize, add, rescale,
// pools, lookup, channel gate) as plain function pointers over plain
// structs: the boundary between baseline drivers (kernels/x86/eltwise_s8_x86.h:
// validation, threading, multiplier tables; one driver per entry point) and
// per-ISA code. An ISA's provider binds the microkernels it has to the
// drivers. No inline code here, so ISA translation units may include it
// (STYLE.md, "ISA code is fenced").
//
// Every microkernel reproduces ref/requantize.h bit for bit:
//   quantize    q = rne(min(max(x * inv_scale + z, -128), 127)), NaN -> -128
//               (z the zero point as a float; + 0.0f changes no byte)
//   dequantize  x = (float)q * scale
//   add         y = rne(min(max(((float)a * am + (float)b * bm) + offset, lo), hi))
//   rescale     y = rne(min(max((float)x * m, -128), 127))
//   max pool    y = max over the window inside the input
//   avg pool    y = rne(min(max((float)(sum - positions * z_in) * mult[count] + z_out, -128), 127))
// with one float operation per step (no FMA) and clamps as compare + select.
#pragma once

#include <cstdint>

namespace int8rt {
namespace kernels {

// Contiguous arrays of n elements.
using QuantizeFn = void (*)(int64_t n, const float* x, float inv_scale, float z, int8_t* q);
using DequantizeFn = void (*)(int64_t n, const int8_t* q, float scale, float* x);

// Pixels [p0, p1) of one image, all C channels, changing layout:
//   quantize:   x float [C][HW] -> y int8 [HW][C], s = inv_scale, z the zero point
//   dequantize: x int8 [HW][C] -> y float [C][HW], s = scale (z unused)
struct TransposeBlock {
  const void* x = nullptr;
  void* y = nullptr;
  int64_t C = 0, HW = 0, p0 = 0, p1 = 0;
  float s = 1.0f;
  float z = 0.0f;
};
using TransposeFn = void (*)(const TransposeBlock&);

struct AddArgs {
  float a_mult = 1.0f, b_mult = 1.0f, lo = -128.0f, hi = 127.0f, offset = 0.0f;
};
using AddFn = void (*)(int64_t n, const int8_t* a, const int8_t* b, const AddArgs& p, int8_t* y);

// rows x cols values, row strides in elements (concat's per-input rescale).
using RescaleFn = void (*)(int64_t rows, int cols, const int8_t* x, int64_t x_stride, float m,
                           int8_t* y, int64_t y_stride);

// Output pixels [ow0, ow1) of one output row of an NHWC pool, all C
// channels. The row's window is already clipped to input rows [r0, r1);
// the kernel clips columns: w0 = ow * stride_w - pad_left,
// [max(w0, 0), min(w0 + S, W)).
struct PoolRow {
  const int8_t* x = nullptr;  // this image, [H][W][C]
  int W = 0, C = 0, S = 1, stride_w = 1, pad_left = 0;
  int r0 = 0, r1 = 0, ow0 = 0, ow1 = 0;
  // Rows r1 .. r1 + next_rows - 1: the input rows that the next output row
  // reads and this one does not; a microkernel may prefetch them (0: none).
  int next_rows = 0;
  int8_t* y = nullptr;  // output pixel ow0, channel 0; pixels C apart
  // Average only: mult[count] = s_in / (s_out * (float)count) for count in
  // 1..R*S; count is fixed_count if non-zero (count_include_pad), else the
  // number of window positions inside the input.
  const float* mult = nullptr;
  int fixed_count = 0;
  // Average only: the zero points (ref::avgpool_s8); each window's integer
  // sum less positions * z_in, times mult[count], plus z_out (float).
  int32_t z_in = 0;
  float z_out = 0.0f;
};
using PoolRowFn = void (*)(const PoolRow&);

// One image [HW][C] -> channels [c0, c1) of y [C]:
//   y[c] = rne(min(max((float)sum_hw x[hw][c] * m, -128), 127)).
using GlobalAvgFn = void (*)(int64_t HW, int C, int c0, int c1, const int8_t* x, float m,
                             int8_t* y);

// The table form (ref::global_avgpool_table_s8), channels [c0, c1):
//   y[c] = rne(min(max((sum_hw table[x[hw][c] + 128]) / (float)HW * inv_scale, -128), 127)),
// the sum in float, in pixel order, from 0.0f.
using GlobalAvgTableFn = void (*)(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table,
                                  float inv_scale, int8_t* y);

// n values through a 256-entry table: y[i] = table[x[i] + 128].
using LookupFn = void (*)(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);

// One row of C channels: y[c] = rne(min(max((float)x[c] * m[c], -128), 127)).
using ChannelMulRowFn = void (*)(int64_t C, const int8_t* x, const float* m, int8_t* y);

// `rows` consecutive rows of C channels with one gate row g, through a float
// table (ref::channel_mul_table_s8):
// y[r][c] = rne(min(max((table[x[r][c] + 128] * g[c]) * inv_scale, -128), 127)).
using ChannelMulTableRowFn = void (*)(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                                      float inv_scale, int8_t* y);

// The products of one gate row g with a float table as per-channel int8
// tables, ref::channel_mul_table_s8's value for every code k + 128:
// tables[c][k] = rne(min(max((table[k] * g[c]) * inv_scale, -128), 127)) for
// c < C, k < 256 (NaN -> -128).
using ChannelTablesFn = void (*)(int64_t C, const float* table, const float* g, float inv_scale, int8_t* tables);

// Per-channel tables (ref::lookup_s8_channels) over `pixels` rows of C
// channels: y[p][c] = tables[c][x[p][c] + 128].
using LookupChannelsFn = void (*)(int64_t pixels, int64_t C, const int8_t* x, const int8_t* tables, int8_t* y);
// The same over one group of channels (<= kLookupChannelGroup) of rows
// `stride` bytes apart: y[p * stride + c] = tables[c][x[p * stride + c] + 128]
// for p < pixels, c < channels (x, y and tables start at the group's first
// channel). The driver (x86/eltwise_s8_x86.h) splits C into such groups, so
// a group's tables (16 KiB) stay in L1 while its pixels stream through.
constexpr int kLookupChannelGroup = 64;
using LookupChannelGroupFn = void (*)(int64_t pixels, int64_t stride, int channels, const int8_t* x,
                                      const int8_t* tables, int8_t* y);

// The channel gate with a per-channel lookup at hand
// (x86::channel_mul_table_lookup_s8, x86::channel_mul_lookup_s8): `rows`
// (table form) or `linear_row` (linear form) for images of few pixels, else
// each image's products as tables, then the lookup.
struct ChannelMulTableUks {
  ChannelMulTableRowFn rows;
  ChannelTablesFn tables;
  LookupChannelGroupFn lookup;
  ChannelMulRowFn linear_row;
};

namespace x86 {
namespace avx512 {
// AVX-512 F/BW/VL, the avx512 tier (x86/avx512/: quantize_16x16.cc,
// add_s8_64.cc, pool_s8_64c.cc, lookup_s8_64.cc).
void quantize(int64_t n, const float* x, float inv_scale, float z, int8_t* q);
void dequantize(int64_t n, const int8_t* q, float scale, float* x);
void quantize_nchw_to_nhwc(const TransposeBlock& b);
void dequantize_nhwc_to_nchw(const TransposeBlock& b);
void add(int64_t n, const int8_t* a, const int8_t* b, const AddArgs& p, int8_t* y);
void rescale(int64_t rows, int cols, const int8_t* x, int64_t x_stride, float m, int8_t* y,
             int64_t y_stride);
void maxpool_row(const PoolRow& r);
void avgpool_row(const PoolRow& r);
void global_avgpool(int64_t HW, int C, int c0, int c1, const int8_t* x, float m, int8_t* y);
void global_avgpool_table(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table, float inv_scale,
                          int8_t* y);
void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
// AVX512-VBMI as well (lookup_s8_64_vbmi.cc, lookup_channels_s8_16x64.cc, built with -mavx512vbmi).
void lookup_vbmi(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
void lookup_channels(int64_t pixels, int64_t stride, int channels, const int8_t* x, const int8_t* tables, int8_t* y);
// channel_mul_table_rows_64_vbmi.cc: the table form's row pass through byte-plane lookups.
void channel_mul_table_rows_vbmi(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                                 float inv_scale, int8_t* y);
void global_avgpool_table_vbmi(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table,
                               float inv_scale, int8_t* y);  // global_avgpool_table_s8_64_vbmi.cc
void channel_mul_row(int64_t C, const int8_t* x, const float* m, int8_t* y);
void channel_mul_table_rows(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                            float inv_scale, int8_t* y);
void channel_mul_tables(int64_t C, const float* table, const float* g, float inv_scale, int8_t* tables);
// lookup_f32_16.cc: float tables over int8 codes (kernels/eltwise_s8.h LookupF32S8Kernel, SoftmaxS8Kernel).
void lookup_f32(int64_t n, const int8_t* x, const float* table, float* y);
void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y);
}  // namespace avx512
namespace avx2 {
// AVX2, the avx2 tier (and so the avxvnni tier's): x86/avx2/pool_s8_32c.cc,
// x86/avx2/eltwise_s8_32.cc.
void quantize(int64_t n, const float* x, float inv_scale, float z, int8_t* q);
void dequantize(int64_t n, const int8_t* q, float scale, float* x);
void quantize_nchw_to_nhwc(const TransposeBlock& b);
void dequantize_nhwc_to_nchw(const TransposeBlock& b);
void add(int64_t n, const int8_t* a, const int8_t* b, const AddArgs& p, int8_t* y);
void rescale(int64_t rows, int cols, const int8_t* x, int64_t x_stride, float m, int8_t* y,
             int64_t y_stride);
void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
void channel_mul_row(int64_t C, const int8_t* x, const float* m, int8_t* y);
// channel_mul_table_rows_8.cc: the gate's table form (ChannelMulTableRowFn), 8 channels a step.
void channel_mul_table_rows(int64_t rows, int64_t C, const int8_t* x, const float* table, const float* g,
                            float inv_scale, int8_t* y);
void maxpool_row(const PoolRow& r);
void avgpool_row(const PoolRow& r);
void global_avgpool(int64_t HW, int C, int c0, int c1, const int8_t* x, float m, int8_t* y);
void global_avgpool_table(int64_t HW, int C, int c0, int c1, const int8_t* x, const float* table, float inv_scale,
                          int8_t* y);
// lookup_f32_8.cc: float tables over int8 codes (kernels/eltwise_s8.h LookupF32S8Kernel, SoftmaxS8Kernel).
void lookup_f32(int64_t n, const int8_t* x, const float* table, float* y);
void softmax_s8_rows(int64_t rows, int64_t n, const int8_t* x, float scale, float* y);
// lookup_channels_s8_32x16.cc: the per-channel tables (LookupChannelGroupFn), channel-major through vpshufb.
void lookup_channels(int64_t pixels, int64_t stride, int channels, const int8_t* x, const int8_t* tables, int8_t* y);
}  // namespace avx2
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
