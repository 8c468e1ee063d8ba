// The int8 element-wise ops as registry candidates (registry.h style): per
// ISA one implementation of every op, best first, the reference last. An
// engine layer chooses once at creation (choose_eltwise_s8, capped by
// max_isa(), logged under INT8RT_LOG=dispatch) and calls through it.
//
// Every implementation equals the reference kernel of the same name in
// ref/ref_kernels.h bit for bit (the formulas are there); the reference
// candidate simply calls them. Arguments and errors are the reference's.
// All methods are const and thread-safe; they split work over
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

class EltwiseS8 {
 public:
  virtual ~EltwiseS8() = default;
  virtual const char* name() const = 0;  // "eltwise_s8_avx512vnni", "eltwise_s8_ref"
  virtual Isa isa() const = 0;

  virtual void quantize(int64_t n, const float* x, float scale, int8_t* q) const = 0;
  // x float [N][C][HW] -> q int8 [N][HW][C].
  virtual void quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, const float* x,
                                     float scale, int8_t* q) const = 0;
  virtual void dequantize(int64_t n, const int8_t* q, float scale, float* x) const = 0;
  // q int8 [N][HW][C] -> x float [N][C][HW].
  virtual void dequantize_nhwc_to_nchw(int64_t N, int64_t HW, int64_t C, const int8_t* q,
                                       float scale, float* x) const = 0;
  virtual void add(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
                   int8_t* y) const = 0;
  virtual void concat(int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
                      int8_t* y) const = 0;
  virtual void maxpool(const PoolShape& shape, int batch, const int8_t* x, int8_t* y) const = 0;
  virtual void avgpool(const PoolShape& shape, int batch, const int8_t* x, float s_in,
                       float s_out, int8_t* y) const = 0;
  virtual void global_avgpool(int batch, int64_t HW, int C, const int8_t* x, float s_in,
                              float s_out, int8_t* y) const = 0;
  // y[i] = table[x[i] + 128] (table: 256 values).
  virtual void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) const = 0;
  // ref::channel_mul_s8 (x [N][HW][C], gate [gate_batch][C]).
  virtual void channel_mul(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate,
                           int64_t gate_batch, float s_x, float s_y, int8_t* y) const = 0;
};

// Best first, reference last (all compiled in, regardless of the cap).
const std::vector<const EltwiseS8*>& eltwise_s8_candidates();
// The first candidate whose ISA is enabled; `op` names the caller in the
// dispatch log line (e.g. "quantize_s8").
const EltwiseS8& choose_eltwise_s8(const char* op);
// The candidate called `name`; InvalidArgument if unknown, NotSupported if
// its ISA is above the cap or missing from the CPU.
const EltwiseS8& eltwise_s8_by_name(const std::string& name);

// The reference candidate (kernels/eltwise_s8.cc) and the x86 providers
// (kernels/x86/eltwise_s8_x86.cc), appended best first.
void append_eltwise_s8_ref(std::vector<const EltwiseS8*>& list);
namespace x86 {
void append_eltwise_s8_avx512vnni(std::vector<const EltwiseS8*>& list);
}  // namespace x86

}  // namespace kernels
}  // namespace int8rt
