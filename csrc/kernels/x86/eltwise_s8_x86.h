// The x86 element-wise int8 drivers (kernels/eltwise_s8.h families): one
// class per op, baseline code, each bound to one ISA's microkernel(s)
// (abi/eltwise_s8.h) by its provider, so an ISA registers only the ops it
// has. A driver validates as the reference kernel does, computes the float
// constants the reference computes (1 / scale, the average-pool multiplier
// table: the same expressions in the same order), splits the work over
// parallel_for and calls the microkernel.
#pragma once

#include "kernels/abi/eltwise_s8.h"
#include "kernels/eltwise_s8.h"

namespace int8rt {
namespace kernels {
namespace x86 {

class X86Quantize final : public NamedKernel<QuantizeS8Kernel> {
 public:
  X86Quantize(const char* name, Isa isa, QuantizeFn flat, TransposeFn nchw_to_nhwc)
      : NamedKernel(name, isa), flat_(flat), transpose_(nchw_to_nhwc) {}
  void quantize(int64_t n, const float* x, float scale, int8_t* q) const override;
  void quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                             int8_t* q) const override;

 private:
  QuantizeFn flat_;
  TransposeFn transpose_;
};

class X86Dequantize final : public NamedKernel<DequantizeS8Kernel> {
 public:
  X86Dequantize(const char* name, Isa isa, DequantizeFn flat, TransposeFn nhwc_to_nchw)
      : NamedKernel(name, isa), flat_(flat), transpose_(nhwc_to_nchw) {}
  void dequantize(int64_t n, const int8_t* q, float scale, float* x) const override;
  void dequantize_nhwc_to_nchw(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                               float* x) const override;

 private:
  DequantizeFn flat_;
  TransposeFn transpose_;
};

class X86Add final : public NamedKernel<AddS8Kernel> {
 public:
  X86Add(const char* name, Isa isa, AddFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void add(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
           int8_t* y) const override;

 private:
  AddFn fn_;
};

// Inputs whose multiplier is exactly 1 are copied (equal to the formula).
class X86Concat final : public NamedKernel<ConcatS8Kernel> {
 public:
  X86Concat(const char* name, Isa isa, RescaleFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void concat(int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
              int8_t* y) const override;

 private:
  RescaleFn fn_;
};

class X86MaxPool final : public NamedKernel<MaxPoolS8Kernel> {
 public:
  X86MaxPool(const char* name, Isa isa, PoolRowFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void maxpool(const PoolShape& shape, int batch, const int8_t* x, int8_t* y) const override;

 private:
  PoolRowFn fn_;
};

class X86AvgPool final : public NamedKernel<AvgPoolS8Kernel> {
 public:
  X86AvgPool(const char* name, Isa isa, PoolRowFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void avgpool(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out,
               int8_t* y) const override;

 private:
  PoolRowFn fn_;
};

class X86GlobalAvgPool final : public NamedKernel<GlobalAvgPoolS8Kernel> {
 public:
  X86GlobalAvgPool(const char* name, Isa isa, GlobalAvgFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void global_avgpool(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out,
                      int8_t* y) const override;

 private:
  GlobalAvgFn fn_;
};

class X86Lookup final : public NamedKernel<LookupS8Kernel> {
 public:
  X86Lookup(const char* name, Isa isa, LookupFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) const override;

 private:
  LookupFn fn_;
};

class X86ChannelMul final : public NamedKernel<ChannelMulS8Kernel> {
 public:
  X86ChannelMul(const char* name, Isa isa, ChannelMulRowFn fn) : NamedKernel(name, isa), fn_(fn) {}
  void channel_mul(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate,
                   int64_t gate_batch, float s_x, float s_y, int8_t* y) const override;

 private:
  ChannelMulRowFn fn_;
};

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
