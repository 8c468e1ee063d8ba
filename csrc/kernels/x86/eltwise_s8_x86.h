// The x86 element-wise int8 drivers (kernels/eltwise_s8.h families):
// baseline code, one function per entry point, whose first argument is one
// ISA's microkernel (abi/eltwise_s8.h). A driver validates as the reference
// kernel does, computes the float constants the reference computes
// (1 / scale, the average-pool multiplier table: the same expressions in the
// same order), splits the work over parallel_for and calls the microkernel.
//
// A provider binds a driver to its ISA's microkernel at compile time,
//   AddS8Kernel add("add_s8_avx512", Isa::kAvx512, bind<add_s8, avx512::add>);
// so an ISA registers exactly the ops it has microkernels for.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/abi/eltwise_s8.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

void quantize_s8(QuantizeFn uk, int64_t n, const float* x, float scale, int32_t zero_point, int8_t* q);
void quantize_nchw_to_nhwc_s8(TransposeFn uk, int64_t N, int64_t C, int64_t HW, const float* x,
                              float scale, int32_t zero_point, int8_t* q);
void dequantize_s8(DequantizeFn uk, int64_t n, const int8_t* q, float scale, float* x);
void dequantize_nhwc_to_nchw_s8(TransposeFn uk, int64_t N, int64_t HW, int64_t C,
                                const int8_t* q, float scale, float* x);
void add_s8(AddFn uk, int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
            int8_t* y);
// Inputs whose multiplier is exactly 1 are copied (equal to the formula).
void concat_s8(RescaleFn uk, int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
               int8_t* y);
void maxpool_s8(PoolRowFn uk, const PoolShape& shape, int batch, const int8_t* x, int8_t* y);
void avgpool_s8(PoolRowFn uk, const PoolShape& shape, int batch, const int8_t* x, float s_in,
                float s_out, int8_t* y, int32_t z_in, int32_t z_out);
void global_avgpool_s8(GlobalAvgFn uk, int batch, int64_t HW, int C, const int8_t* x,
                       float s_in, float s_out, int8_t* y);
void global_avgpool_table_s8(GlobalAvgTableFn uk, int batch, int64_t HW, int C, const int8_t* x,
                             const float* table, float s_out, int8_t* y);
void lookup_s8(LookupFn uk, int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
// Tasks of one channel group (kLookupChannelGroup channels) x a run of whole
// 64-pixel blocks (the VBMI kernel's block).
void lookup_channels_s8(LookupChannelGroupFn uk, int64_t pixels, int64_t channels, const int8_t* x,
                        const int8_t* tables, int8_t* y);
void channel_mul_s8(ChannelMulRowFn uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                    const float* gate, int64_t gate_batch, float s_x, float s_y, int8_t* y);
void channel_mul_table_s8(ChannelMulTableRowFn uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                          const float* table, const float* gate, int64_t gate_batch, float s_y, int8_t* y);
// The same with per-channel tables where an image has kChannelTablePixels
// pixels or more: each gate row's products for all 256 codes (uk->tables,
// C x 256 values against HW x C through uk->rows), then the per-channel
// lookup (uk->lookup, tasks as lookup_channels_s8's); fewer pixels take
// uk->rows. The same bytes either way (ref::channel_mul_table_s8). With the
// VBMI row pass (byte planes, ~0.6 the operations of Table256's) the rows
// win below ~256 pixels (RESULTS.md 153: rows / (tables + lookup) 0.55-0.91
// at 100-196 pixels, 0.69-1.23 at 256, 0.98-1.9 at 576-784, C = 144-1152).
constexpr int64_t kChannelTablePixels = 256;
void channel_mul_table_lookup_s8(const ChannelMulTableUks* uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                                 const float* table, const float* gate, int64_t gate_batch, float s_y, int8_t* y);
// The linear form (ref::channel_mul_s8) the same way where an image has
// kLinearTablePixels pixels or more: rescale_value(q, m[c]) is
// rne(clamp(((float)q * m[c]) * 1.0f)), uk->tables' formula over the table
// of the 256 codes as floats with g = m and inv_scale = 1 (x * 1.0f is x),
// so the same bytes; fewer pixels take uk->linear_row. The row pass costs
// about 8 operations per 16 values against the lookup's 5, so the tables
// (256 codes a channel) pay from a few hundred pixels (RESULTS.md 146).
constexpr int64_t kLinearTablePixels = 512;
void channel_mul_lookup_s8(const ChannelMulTableUks* uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                           const float* gate, int64_t gate_batch, float s_x, float s_y, int8_t* y);

// bind<driver, uk> is the driver with its first argument fixed to the
// microkernel uk: a plain function, the type an element-wise family holds.
template <auto Driver, auto Ukernel>
struct Bound;
template <class Uk, class... Args, void (*Driver)(Uk, Args...), Uk Ukernel>
struct Bound<Driver, Ukernel> {
  static void call(Args... args) { Driver(Ukernel, args...); }
};
template <auto Driver, auto Ukernel>
constexpr auto bind = &Bound<Driver, Ukernel>::call;

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
