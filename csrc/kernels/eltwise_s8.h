// The int8 element-wise ops as registry families (registry.h), one family
// per op, so an ISA may provide any subset of them; the reference provider
// supplies every one. An engine layer chooses once at creation, e.g.
// kernels::choose<QuantizeS8Kernel>() (capped by max_isa(), logged under
// INT8RT_LOG=dispatch as "quantize_s8 -> quantize_s8_avx512 (avx512)"),
// and calls through it. The families have no problem: every candidate
// accepts every valid call.
//
// Every candidate equals the reference kernel of the same name in
// ref/ref_kernels.h bit for bit (the formulas are there); the reference
// candidates simply call them. Arguments and errors are the reference's.
// All entry points are const and thread-safe; they split work over
// int8rt::parallel_for, which never changes a result.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/kernel_types.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/requant_params.h"

namespace int8rt {
namespace kernels {

// What the element-wise families share: no problem to validate, describe or
// decline (a kernel that could not take every call would override supports).
// The entry points are function pointers (MLAS's dispatch structs), called
// as methods: k.add(n, a, b, p, y). A reference candidate points at the
// ref:: kernel itself; an x86 one at a driver bound to one ISA's microkernel
// (x86/eltwise_s8_x86.h).
class EltwiseKernel : public Kernel {
 public:
  static void validate() {}
  static std::string describe() { return ""; }
  virtual std::string supports() const { return ""; }
};

// quantize_s8: float -> int8 with a zero point (0: the symmetric grid),
// flat or NCHW -> NHWC.
class QuantizeS8Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"quantize", Dtype::kS8};
  using Flat = void (*)(int64_t n, const float* x, float scale, int32_t zero_point, int8_t* q);
  // x float [N][C][HW] -> q int8 [N][HW][C].
  using ToNhwc = void (*)(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                          int32_t zero_point, int8_t* q);
  QuantizeS8Kernel(const char* name, Isa isa, Flat flat, ToNhwc to_nhwc)
      : NamedKernel(name, isa), quantize(flat), quantize_nchw_to_nhwc(to_nhwc) {}
  const Flat quantize;
  const ToNhwc quantize_nchw_to_nhwc;
};

// dequantize_s8: int8 -> float, flat or NHWC -> NCHW.
class DequantizeS8Kernel : public NamedKernel<EltwiseKernel> {
 public:
  static constexpr OpKey kKey{"dequantize", Dtype::kS8};
  using Flat = void (*)(int64_t n, const int8_t* q, float scale, float* x);
  // q int8 [N][HW][C] -> x float [N][C][HW].
  using ToNchw = void (*)(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                          float* x);
  DequantizeS8Kernel(const char* name, Isa isa, Flat flat, ToNchw to_nchw)
      : NamedKernel(name, isa), dequantize(flat), dequantize_nhwc_to_nchw(to_nchw) {}
  const Flat dequantize;
  const ToNchw dequantize_nhwc_to_nchw;
};

// The one-entry families: Fn is the entry point's type, called as `name`.
#define INT8RT_ELTWISE_FAMILY(Family, op, entry, ...)                         \
  class Family : public NamedKernel<EltwiseKernel> {                          \
   public:                                                                    \
    static constexpr OpKey kKey{op, Dtype::kS8};                              \
    using Fn = void (*)(__VA_ARGS__);                                         \
    Family(const char* name, Isa isa, Fn fn) : NamedKernel(name, isa), entry(fn) {} \
    const Fn entry;                                                           \
  }

INT8RT_ELTWISE_FAMILY(AddS8Kernel, "add", add, int64_t n, const int8_t* a, const int8_t* b,
                      const AddParams& p, int8_t* y);
INT8RT_ELTWISE_FAMILY(ConcatS8Kernel, "concat", concat, int64_t pixels,
                      const std::vector<ref::ConcatInput>& inputs, int8_t* y);
INT8RT_ELTWISE_FAMILY(MaxPoolS8Kernel, "maxpool", maxpool, const PoolShape& shape, int batch,
                      const int8_t* x, int8_t* y);
// avgpool: ref::avgpool_s8 (z_in, z_out: the zero points, 0 for symmetric tensors).
INT8RT_ELTWISE_FAMILY(AvgPoolS8Kernel, "avgpool", avgpool, const PoolShape& shape, int batch,
                      const int8_t* x, float s_in, float s_out, int8_t* y, int32_t z_in, int32_t z_out);
// lookup_f32: y[i] = table[x[i] + 128], a 256-entry float table, float out
// (ref::lookup_f32_s8: int8rt.QLutFloat). Serial: the caller splits n.
INT8RT_ELTWISE_FAMILY(LookupF32S8Kernel, "lookup_f32", lookup_f32, int64_t n, const int8_t* x, const float* table,
                      float* y);
// softmax: `rows` rows of n int8 codes at `scale` -> their float softmax
// (ref::softmax_s8_rows: int8rt.QSoftmaxFloat, the bits of Dequantize + the
// float Softmax). Serial: the caller splits the rows.
INT8RT_ELTWISE_FAMILY(SoftmaxS8Kernel, "softmax", softmax, int64_t rows, int64_t n, const int8_t* x, float scale,
                      float* y);
#undef INT8RT_ELTWISE_FAMILY

// The table lookups: a candidate that needs AVX512-VBMI beyond its tier
// declines, saying so, on CPUs without it.
class LookupKernelBase : public NamedKernel<EltwiseKernel> {
 public:
  LookupKernelBase(const char* name, Isa isa, bool needs_vbmi) : NamedKernel(name, isa), needs_vbmi_(needs_vbmi) {}
  std::string supports() const override;

 private:
  const bool needs_vbmi_;
};

// lookup_s8: y[i] = table[x[i] + 128] (table: 256 values).
class LookupS8Kernel : public LookupKernelBase {
 public:
  static constexpr OpKey kKey{"lookup", Dtype::kS8};
  using Fn = void (*)(int64_t n, const int8_t* x, const int8_t* table, int8_t* y);
  LookupS8Kernel(const char* name, Isa isa, Fn fn, bool needs_vbmi = false)
      : LookupKernelBase(name, isa, needs_vbmi), lookup(fn) {}
  const Fn lookup;
};

// lookup_channels_s8: one 256-entry table per channel of NHWC rows,
// y[p][c] = tables[c][x[p][c] + 128] (ref::lookup_s8_channels; x, y int8
// [pixels][channels], tables [channels][256] as given).
class LookupChannelsS8Kernel : public LookupKernelBase {
 public:
  static constexpr OpKey kKey{"lookup_channels", Dtype::kS8};
  using Fn = void (*)(int64_t pixels, int64_t channels, const int8_t* x, const int8_t* tables, int8_t* y);
  LookupChannelsS8Kernel(const char* name, Isa isa, Fn fn, bool needs_vbmi = false)
      : LookupKernelBase(name, isa, needs_vbmi), lookup_channels(fn) {}
  const Fn lookup_channels;
};

// global_avgpool_s8: [batch][HW][C] -> [batch][C], x dequantized linearly
// (ref::global_avgpool_s8) or read through a 256-entry float table
// (ref::global_avgpool_table_s8). A candidate whose table form looks the
// entries up by byte permutes (AVX512-VBMI) declines, saying so, on CPUs
// without it.
class GlobalAvgPoolS8Kernel : public LookupKernelBase {
 public:
  static constexpr OpKey kKey{"global_avgpool", Dtype::kS8};
  using Linear = void (*)(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out, int8_t* y);
  using Table = void (*)(int batch, int64_t HW, int C, const int8_t* x, const float* table, float s_out,
                         int8_t* y);
  GlobalAvgPoolS8Kernel(const char* name, Isa isa, Linear linear, Table table, bool needs_vbmi = false)
      : LookupKernelBase(name, isa, needs_vbmi), global_avgpool(linear), global_avgpool_table(table) {}
  const Linear global_avgpool;
  const Table global_avgpool_table;
};

// channel_mul_s8: x int8 [N][HW][C] times a float gate [gate_batch][C]
// (squeeze-and-excitation), x dequantized linearly (ref::channel_mul_s8) or
// read through a 256-entry float table (ref::channel_mul_table_s8). A
// candidate that looks the products up per channel (AVX512-VBMI; both forms,
// on large images) declines, saying so, on CPUs without it.
class ChannelMulS8Kernel : public LookupKernelBase {
 public:
  static constexpr OpKey kKey{"channel_mul", Dtype::kS8};
  using Linear = void (*)(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate,
                          int64_t gate_batch, float s_x, float s_y, int8_t* y);
  using Table = void (*)(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* table,
                         const float* gate, int64_t gate_batch, float s_y, int8_t* y);
  ChannelMulS8Kernel(const char* name, Isa isa, Linear linear, Table table, bool needs_vbmi = false)
      : LookupKernelBase(name, isa, needs_vbmi), channel_mul(linear), channel_mul_table(table) {}
  const Linear channel_mul;
  const Table channel_mul_table;
};

// Calls f(FamilyTag<K>{}) for every element-wise family K, in the order
// above (tests and tools that sweep all of them).
template <class F>
void for_each_eltwise_s8_op(F&& f) {
  f(FamilyTag<QuantizeS8Kernel>{});
  f(FamilyTag<DequantizeS8Kernel>{});
  f(FamilyTag<AddS8Kernel>{});
  f(FamilyTag<ConcatS8Kernel>{});
  f(FamilyTag<MaxPoolS8Kernel>{});
  f(FamilyTag<AvgPoolS8Kernel>{});
  f(FamilyTag<GlobalAvgPoolS8Kernel>{});
  f(FamilyTag<LookupS8Kernel>{});
  f(FamilyTag<LookupChannelsS8Kernel>{});
  f(FamilyTag<ChannelMulS8Kernel>{});
  f(FamilyTag<LookupF32S8Kernel>{});
  f(FamilyTag<SoftmaxS8Kernel>{});
}

}  // namespace kernels
}  // namespace int8rt
