// The int8 element-wise ops as registry families (registry.h), one family
// per op, so an ISA may provide any subset of them; the reference provider
// supplies every one. An engine layer chooses once at creation, e.g.
// kernels::choose<QuantizeS8Kernel>() (capped by max_isa(), logged under
// INT8RT_LOG=dispatch as "quantize_s8 -> quantize_s8_avx512vnni (avx512vnni)"),
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
class EltwiseKernel : public Kernel {
 public:
  static void validate() {}
  static std::string describe() { return ""; }
  virtual std::string supports() const { return ""; }
};

// quantize_s8: float -> int8, flat or NCHW -> NHWC.
class QuantizeS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"quantize", Dtype::kS8};
  virtual void quantize(int64_t n, const float* x, float scale, int8_t* q) const = 0;
  // x float [N][C][HW] -> q int8 [N][HW][C].
  virtual void quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, const float* x,
                                     float scale, int8_t* q) const = 0;
};

// dequantize_s8: int8 -> float, flat or NHWC -> NCHW.
class DequantizeS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"dequantize", Dtype::kS8};
  virtual void dequantize(int64_t n, const int8_t* q, float scale, float* x) const = 0;
  // q int8 [N][HW][C] -> x float [N][C][HW].
  virtual void dequantize_nhwc_to_nchw(int64_t N, int64_t HW, int64_t C, const int8_t* q,
                                       float scale, float* x) const = 0;
};

class AddS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"add", Dtype::kS8};
  virtual void add(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
                   int8_t* y) const = 0;
};

class ConcatS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"concat", Dtype::kS8};
  virtual void concat(int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
                      int8_t* y) const = 0;
};

class MaxPoolS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"maxpool", Dtype::kS8};
  virtual void maxpool(const PoolShape& shape, int batch, const int8_t* x, int8_t* y) const = 0;
};

class AvgPoolS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"avgpool", Dtype::kS8};
  virtual void avgpool(const PoolShape& shape, int batch, const int8_t* x, float s_in,
                       float s_out, int8_t* y) const = 0;
};

class GlobalAvgPoolS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"global_avgpool", Dtype::kS8};
  virtual void global_avgpool(int batch, int64_t HW, int C, const int8_t* x, float s_in,
                              float s_out, int8_t* y) const = 0;
};

// lookup_s8: y[i] = table[x[i] + 128] (table: 256 values).
class LookupS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"lookup", Dtype::kS8};
  virtual void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) const = 0;
};

// channel_mul_s8: ref::channel_mul_s8 (x [N][HW][C], gate [gate_batch][C]).
class ChannelMulS8Kernel : public EltwiseKernel {
 public:
  static constexpr OpKey kKey{"channel_mul", Dtype::kS8};
  virtual void channel_mul(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate,
                           int64_t gate_batch, float s_x, float s_y, int8_t* y) const = 0;
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
  f(FamilyTag<ChannelMulS8Kernel>{});
}

}  // namespace kernels
}  // namespace int8rt
