// The int8 convolution and GEMM kernel families of the registry (registry.h):
// keys conv_s8 and gemm_s8, chosen per layer for a shape and an output type
// with kernels::choose<ConvKernel>(shape, out) / choose<GemmKernel>(shape, out).
//
// A candidate packs a layer's canonical weights once (pack()); the packed
// layer's run() fuses the requantization epilogue (kernel_types.h, Epilogue).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/kernel_types.h"
#include "kernels/registry.h"

namespace int8rt {
namespace kernels {

// "C=.. H=.. W=.. K=.. R=.. S=.. stride=AxB pads=t,l,b,r dilation=AxB groups=G [pad_value=z] [input>=0] out=int8"
std::string describe_conv(const ConvShape& shape, OutputType out);
// "N=.. K=.. out=int8"
std::string describe_gemm(const GemmShape& shape, OutputType out);

// ---- convolution ----

// A conv layer's weights packed for one kernel. run() is const and
// thread-safe: several execution contexts may run one packed layer at once.
class PackedConv {
 public:
  virtual ~PackedConv() = default;
  // x: [batch][H][W][C] int8 NHWC; y: [batch][out_h][out_w][K] of ep.out_type,
  // which must be an output type the kernel's supports() accepted.
  virtual void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const = 0;
  virtual const ConvShape& shape() const = 0;
  // The same conv for an input of height H and width W (the rest of the
  // shape unchanged), sharing these packed weights: layers whose input size
  // changes between runs pack once. InvalidArgument when the new shape is
  // invalid (ConvShape::validate).
  virtual std::unique_ptr<PackedConv> with_input_size(int H, int W) const = 0;
  // The same conv over a window of H input rows, with pad_top / pad_bottom
  // zero rows around it (the rest of the shape unchanged), sharing these
  // packed weights: a run of the copy on rows [ih0, ih0 + H) of an image
  // computes the original's output rows whose windows those rows and pads
  // cover, with the same bits (engine/inverted_residual.h runs depthwise
  // layers band by band this way). InvalidArgument as with_input_size.
  virtual std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const = 0;
  // Whether run() applies Epilogue::table itself (kernel_types.h); where
  // false the caller must not pass one (it applies the table after run()).
  virtual bool applies_table() const { return false; }
  // Whether run() applies Epilogue::slope itself (kernel_types.h); where
  // false the caller must not pass one (engine/ops/int8/qconv_prelu.cc runs
  // the kernel with a float32 output and finishes it, ref::finish_output).
  virtual bool applies_slope() const { return false; }
};

// The conv_s8 family: one candidate kernel (a stateless singleton).
class ConvKernel : public Kernel {
 public:
  static constexpr OpKey kKey{"conv", Dtype::kS8};
  static void validate(const ConvShape& shape, OutputType) { shape.validate(); }
  static std::string describe(const ConvShape& shape, OutputType out) {
    return describe_conv(shape, out);
  }
  // "" if the kernel handles this problem, else the reason it declines.
  virtual std::string supports(const ConvShape& shape, OutputType out) const = 0;
  // Packs canonical OIHW int8 weights ([K][C/groups][R][S]) for this kernel;
  // the caller's buffer is not retained.
  virtual std::unique_ptr<PackedConv> pack(const ConvShape& shape,
                                           const int8_t* weights_oihw) const = 0;
};

// ---- GEMM ----

class PackedGemm {
 public:
  virtual ~PackedGemm() = default;
  // a: [M][K] int8 row-major; y: [M][N] of ep.out_type. Const, thread-safe.
  virtual void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const = 0;
  virtual const GemmShape& shape() const = 0;
  // How the weights are held where a kernel packs them in more than one form (e.g. "pairs",
  // x86/gemm_s8_pairs.h); "" otherwise.
  virtual const char* form() const { return ""; }
  // As PackedConv::applies_table.
  virtual bool applies_table() const { return false; }
};

// The gemm_s8 family.
class GemmKernel : public Kernel {
 public:
  static constexpr OpKey kKey{"gemm", Dtype::kS8};
  static void validate(const GemmShape& shape, OutputType) { shape.validate(); }
  static std::string describe(const GemmShape& shape, OutputType out) {
    return describe_gemm(shape, out);
  }
  virtual std::string supports(const GemmShape& shape, OutputType out) const = 0;
  // Packs canonical [N][K] int8 weights.
  virtual std::unique_ptr<PackedGemm> pack(const GemmShape& shape,
                                           const int8_t* weights_nk) const = 0;
  // Packs [K][N] int8 weights: the B of y = A B in row-major order, as a
  // MatMul of two activations holds it (packed for each run). The same
  // packed weights as pack() of their transpose; this default transposes,
  // a kernel whose packing reads [K][N] directly overrides it.
  virtual std::unique_ptr<PackedGemm> pack_kn(const GemmShape& shape, const int8_t* weights_kn) const;
  // Packs [N][K] int8 weights that are an activation, packed for one run (attention's keys):
  // the same results as pack(); a kernel whose pack() spends search time that only constant
  // weights repay (x86/gemm_s8_pairs.h's permuted form) overrides it.
  virtual std::unique_ptr<PackedGemm> pack_per_run(const GemmShape& shape, const int8_t* weights_nk) const {
    return pack(shape, weights_nk);
  }
  // B given per run (an activation: [K][N] row-major with kn, else [N][K]) packed into *slot,
  // the caller's (a per-thread buffer): the same results as pack_kn / pack_per_run, and where
  // *slot holds what this kernel packed for this shape in the same form, its buffers are
  // written again instead of allocated, so a product repeated run after run allocates
  // nothing once warm. The default packs anew; x86's igemm kernel reuses.
  virtual void pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                                 std::unique_ptr<PackedGemm>* slot) const {
    *slot = kn ? pack_kn(shape, b) : pack_per_run(shape, b);
  }
};

}  // namespace kernels
}  // namespace int8rt
