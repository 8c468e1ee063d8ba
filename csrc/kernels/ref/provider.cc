// The reference kernels as registry candidates ("conv_s8_ref", "gemm_s8_ref"):
// they accept every valid problem, their packing is a copy of the canonical
// weights, and run() calls the reference kernel. Always last in each list.
#include <memory>
#include <string>
#include <vector>

#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"

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

}  // namespace

void append_conv_kernels_ref(std::vector<const ConvKernel*>& list) {
  static const RefConvKernel kernel;
  list.push_back(&kernel);
}

void append_gemm_kernels_ref(std::vector<const GemmKernel*>& list) {
  static const RefGemmKernel kernel;
  list.push_back(&kernel);
}

}  // namespace kernels
}  // namespace int8rt
