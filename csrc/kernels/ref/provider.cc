// The reference provider (registry.h): a candidate for every family, always
// last in each list. The int8 candidates ("conv_s8_ref", "quantize_s8_ref",
// ...) accept every valid problem and call the reference kernels of
// ref_kernels.h as they are (conv / GEMM packing is a copy of the canonical
// weights); the FP32 GEMM one is the portable microkernel
// (sgemm_6x8_portable, no FMA) under the blocked driver.
#include <memory>
#include <string>
#include <vector>

#include "kernels/conv_gemm_s8.h"
#include "kernels/eltwise_s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"

namespace int8rt {
namespace kernels {
namespace {

class RefPackedConv final : public PackedConv {
 public:
  RefPackedConv(const ConvShape& shape, const int8_t* w)
      : shape_(shape), weights_(w, w + shape.weight_count()) {}
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    ref::conv2d_s8(shape_, batch, x, weights_.data(), ep, y);
  }
  const ConvShape& shape() const override { return shape_; }

 private:
  ConvShape shape_;
  std::vector<int8_t> weights_;  // canonical OIHW
};

class RefConvKernel final : public ConvKernel {
 public:
  const char* name() const override { return "conv_s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  std::string supports(const ConvShape&, OutputType) const override { return ""; }
  std::unique_ptr<PackedConv> pack(const ConvShape& shape, const int8_t* w) const override {
    shape.validate();
    return std::make_unique<RefPackedConv>(shape, w);
  }
};

class RefPackedGemm final : public PackedGemm {
 public:
  RefPackedGemm(const GemmShape& shape, const int8_t* w)
      : shape_(shape), weights_(w, w + static_cast<int64_t>(shape.N) * shape.K) {}
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override {
    ref::gemm_s8(shape_, M, a, weights_.data(), ep, y);
  }
  const GemmShape& shape() const override { return shape_; }

 private:
  GemmShape shape_;
  std::vector<int8_t> weights_;  // canonical [N][K]
};

class RefGemmKernel final : public GemmKernel {
 public:
  const char* name() const override { return "gemm_s8_ref"; }
  Isa isa() const override { return Isa::kRef; }
  std::string supports(const GemmShape&, OutputType) const override { return ""; }
  std::unique_ptr<PackedGemm> pack(const GemmShape& shape, const int8_t* w) const override {
    shape.validate();
    return std::make_unique<RefPackedGemm>(shape, w);
  }
};

// ---- element-wise ----

class RefQuantize final : public NamedKernel<QuantizeS8Kernel> {
 public:
  RefQuantize() : NamedKernel("quantize_s8_ref", Isa::kRef) {}
  void quantize(int64_t n, const float* x, float scale, int8_t* q) const override {
    ref::quantize_s8(n, x, scale, q);
  }
  void quantize_nchw_to_nhwc(int64_t N, int64_t C, int64_t HW, const float* x, float scale,
                             int8_t* q) const override {
    ref::quantize_nchw_to_nhwc_s8(N, C, HW, x, scale, q);
  }
};

class RefDequantize final : public NamedKernel<DequantizeS8Kernel> {
 public:
  RefDequantize() : NamedKernel("dequantize_s8_ref", Isa::kRef) {}
  void dequantize(int64_t n, const int8_t* q, float scale, float* x) const override {
    ref::dequantize_s8(n, q, scale, x);
  }
  void dequantize_nhwc_to_nchw(int64_t N, int64_t HW, int64_t C, const int8_t* q, float scale,
                               float* x) const override {
    ref::dequantize_nhwc_to_nchw_s8(N, HW, C, q, scale, x);
  }
};

class RefAdd final : public NamedKernel<AddS8Kernel> {
 public:
  RefAdd() : NamedKernel("add_s8_ref", Isa::kRef) {}
  void add(int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
           int8_t* y) const override {
    ref::add_s8(n, a, b, p, y);
  }
};

class RefConcat final : public NamedKernel<ConcatS8Kernel> {
 public:
  RefConcat() : NamedKernel("concat_s8_ref", Isa::kRef) {}
  void concat(int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
              int8_t* y) const override {
    ref::concat_s8(pixels, inputs, y);
  }
};

class RefMaxPool final : public NamedKernel<MaxPoolS8Kernel> {
 public:
  RefMaxPool() : NamedKernel("maxpool_s8_ref", Isa::kRef) {}
  void maxpool(const PoolShape& shape, int batch, const int8_t* x, int8_t* y) const override {
    ref::maxpool_s8(shape, batch, x, y);
  }
};

class RefAvgPool final : public NamedKernel<AvgPoolS8Kernel> {
 public:
  RefAvgPool() : NamedKernel("avgpool_s8_ref", Isa::kRef) {}
  void avgpool(const PoolShape& shape, int batch, const int8_t* x, float s_in, float s_out,
               int8_t* y) const override {
    ref::avgpool_s8(shape, batch, x, s_in, s_out, y);
  }
};

class RefGlobalAvgPool final : public NamedKernel<GlobalAvgPoolS8Kernel> {
 public:
  RefGlobalAvgPool() : NamedKernel("global_avgpool_s8_ref", Isa::kRef) {}
  void global_avgpool(int batch, int64_t HW, int C, const int8_t* x, float s_in, float s_out,
                      int8_t* y) const override {
    ref::global_avgpool_s8(batch, HW, C, x, s_in, s_out, y);
  }
};

class RefLookup final : public NamedKernel<LookupS8Kernel> {
 public:
  RefLookup() : NamedKernel("lookup_s8_ref", Isa::kRef) {}
  void lookup(int64_t n, const int8_t* x, const int8_t* table, int8_t* y) const override {
    ref::lookup_s8(n, x, table, y);
  }
};

class RefChannelMul final : public NamedKernel<ChannelMulS8Kernel> {
 public:
  RefChannelMul() : NamedKernel("channel_mul_s8_ref", Isa::kRef) {}
  void channel_mul(int64_t N, int64_t HW, int64_t C, const int8_t* x, const float* gate,
                   int64_t gate_batch, float s_x, float s_y, int8_t* y) const override {
    ref::channel_mul_s8(N, HW, C, x, gate, gate_batch, s_x, s_y, y);
  }
};

}  // namespace

void register_ref_kernels(KernelRegistry& r) {
  static const RefConvKernel conv;
  static const RefGemmKernel gemm;
  static const RefQuantize quantize;
  static const RefDequantize dequantize;
  static const RefAdd add;
  static const RefConcat concat;
  static const RefMaxPool maxpool;
  static const RefAvgPool avgpool;
  static const RefGlobalAvgPool global_avgpool;
  static const RefLookup lookup;
  static const RefChannelMul channel_mul;
  // FP32 GEMM: the portable tile; kc, mc, nc as for AVX2.
  static const SgemmKernel sgemm("sgemm_6x8_portable", Isa::kRef, 6, 8, /*kc=*/256, /*mc=*/96,
                                 /*nc=*/512, sgemm_6x8_portable);
  r.add(conv, gemm, quantize, dequantize, add, concat, maxpool, avgpool, global_avgpool, lookup,
        channel_mul, sgemm);
}

}  // namespace kernels
}  // namespace int8rt
