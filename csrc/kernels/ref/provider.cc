// The reference provider (registry.h): a candidate for every family, always
// last in each list. The int8 candidates ("conv_s8_ref", "quantize_s8_ref",
// ...) accept every valid problem and call the reference kernels of
// ref_kernels.h as they are (conv / GEMM packing is a copy of the canonical
// weights); the FP32 GEMM one is the portable microkernel
// (sgemm_6x8_portable, no FMA) under the blocked driver; unary_f32_ref the
// math_f32.h loop built with the baseline flags; dwconv_f32_ref the
// scalar depthwise plane (ref/dwconv_f32.cc); maxpool_f32_ref the scalar
// window loop (ref/maxpool_f32.cc); nchw16c_f32_ref the blocked convs'
// scalar loops (ref/nchw16c_f32.cc); gemm_bf16_ref the scalar
// BF16 tile (ref/gemm_bf16.cc) under the BF16 driver; dwconv_bf16_ref
// the scalar BF16 depthwise loop (ref/dwconv_bf16.cc); attention_bf16_ref
// gemm_bf16_ref's tile with ref/attention_bf16.cc's converters. The transposed-conv
// family gets two candidates here: the stride-phase driver (baseline code over
// the conv_s8 family, whose kernels follow the cap) and, last, its reference.
// gemm_u8s8_ref is ref/gemm_u8s8.cc's triple loop; dynamic_quantize_u8_ref ref/dynamic_quantize_u8.cc's loops.
#include <memory>
#include <string>
#include <vector>

#include "kernels/attention_bf16.h"
#include "kernels/conv_gemm_s8.h"
#include "kernels/conv_transpose_s8.h"
#include "kernels/dwconv_bf16.h"
#include "kernels/dwconv_f32.h"
#include "kernels/maxpool_f32.h"
#include "kernels/nchw16c_bf16.h"
#include "kernels/nchw16c_f32.h"
#include "kernels/eltwise_s8.h"
#include "kernels/gemm_bf16.h"
#include "kernels/dynamic_quantize_u8.h"
#include "kernels/gemm_u8s8.h"
#include "kernels/ref/ref_kernels.h"
#include "kernels/registry.h"
#include "kernels/sgemm_f32.h"
#include "kernels/layernorm_f32.h"
#include "kernels/softmax_f32.h"
#include "kernels/transpose_x32.h"
#include "kernels/unary_f32.h"
#include "kernels/binary_f32.h"
#include "kernels/plane_mean_f32.h"

namespace int8rt {
namespace kernels {
namespace {

// The codes of n u8-coded bytes, in `buf` (the xor is its own inverse; buf keeps its capacity).
const int8_t* to_codes(const int8_t* u8, int64_t n, std::vector<int8_t>& buf) {
  buf.assign(u8, u8 + n);
  for (int8_t& b : buf) b = code_byte(b, Codes::kU8);
  return buf.data();
}

class RefPackedConv final : public PackedConv {
 public:
  RefPackedConv(const ConvShape& shape, const int8_t* w)
      : shape_(shape), weights_(std::make_shared<const std::vector<int8_t>>(w, w + shape.weight_count())) {}
  // u8-coded tensors (ConvShape::input_codes / output_codes /
  // residual_codes) are turned to and from their codes around the reference
  // kernel, which reads codes.
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    const int64_t n_out = int64_t{batch} * shape_.out_h() * shape_.out_w() * shape_.K;
    // The calling thread's, grown once: a run of the same shapes allocates nothing.
    thread_local std::vector<int8_t> codes, residual;
    if (shape_.input_codes == Codes::kU8) {
      x = to_codes(x, int64_t{batch} * shape_.H * shape_.W * shape_.C, codes);
    }
    Epilogue e = ep;
    if (e.residual && shape_.residual_codes == Codes::kU8) e.residual = to_codes(e.residual, n_out, residual);
    ref::conv2d_s8(shape_, batch, x, weights_->data(), e, y);
    if (shape_.output_codes == Codes::kU8 && ep.out_type == OutputType::kInt8) {
      int8_t* out = static_cast<int8_t*>(y);
      for (int64_t i = 0; i < n_out; ++i) out[i] = code_byte(out[i], Codes::kU8);
    }
  }
  const ConvShape& shape() const override { return shape_; }
  bool applies_slope() const override { return true; }  // ref::requantize applies it
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<RefPackedConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<RefPackedConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    return copy;
  }

 private:
  ConvShape shape_;
  std::shared_ptr<const std::vector<int8_t>> weights_;  // canonical OIHW
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
  // Rewrites the weights with B given per run ([K][N] with kn, else [N][K]) of this shape.
  void assign(const int8_t* b, bool kn) {
    const int64_t N = shape_.N, K = shape_.K;
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t k = 0; k < K; ++k) weights_[n * K + k] = kn ? b[k * N + n] : b[n * K + k];
    }
  }
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
  // The slot's copy rewritten when it holds this shape's: repeated products allocate nothing.
  void pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                         std::unique_ptr<PackedGemm>* slot) const override {
    shape.validate();
    auto* reuse = dynamic_cast<RefPackedGemm*>(slot->get());
    if (!reuse || reuse->shape().N != shape.N || reuse->shape().K != shape.K) {
      *slot = kn ? pack_kn(shape, b) : pack(shape, b);
      return;
    }
    reuse->assign(b, kn);
  }
};

}  // namespace

void register_ref_kernels(KernelRegistry& r) {
  static const RefConvKernel conv;
  static const RefGemmKernel gemm;
  static const QuantizeS8Kernel quantize("quantize_s8_ref", Isa::kRef, ref::quantize_s8,
                                         ref::quantize_nchw_to_nhwc_s8);
  static const DequantizeS8Kernel dequantize("dequantize_s8_ref", Isa::kRef, ref::dequantize_s8,
                                             ref::dequantize_nhwc_to_nchw_s8);
  static const AddS8Kernel add("add_s8_ref", Isa::kRef, ref::add_s8);
  static const ConcatS8Kernel concat("concat_s8_ref", Isa::kRef, ref::concat_s8);
  static const MaxPoolS8Kernel maxpool("maxpool_s8_ref", Isa::kRef, ref::maxpool_s8);
  static const AvgPoolS8Kernel avgpool("avgpool_s8_ref", Isa::kRef, ref::avgpool_s8);
  static const GlobalAvgPoolS8Kernel global_avgpool("global_avgpool_s8_ref", Isa::kRef,
                                                    ref::global_avgpool_s8,
                                                    ref::global_avgpool_table_s8);
  static const LookupS8Kernel lookup("lookup_s8_ref", Isa::kRef, ref::lookup_s8);
  static const LookupChannelsS8Kernel lookup_channels("lookup_channels_s8_ref", Isa::kRef, ref::lookup_s8_channels);
  static const ChannelMulS8Kernel channel_mul("channel_mul_s8_ref", Isa::kRef,
                                              ref::channel_mul_s8,
                                              ref::channel_mul_table_s8);
  static const LookupF32S8Kernel lookup_f32("lookup_f32_s8_ref", Isa::kRef, ref::lookup_f32_s8);
  static const SoftmaxS8Kernel softmax_s8("softmax_s8_ref", Isa::kRef, ref::softmax_s8_rows);
  // FP32 GEMM: the portable tile; kc, mc, nc as for AVX2.
  static const SgemmKernel sgemm("sgemm_6x8_portable", Isa::kRef, 6, 8, /*kc=*/256, /*mc=*/96,
                                 /*nc=*/512, sgemm_6x8_portable);
  static const UnaryF32Kernel unary("unary_f32_ref", Isa::kRef, ref::unary_f32);
  static const BinaryF32Kernel binary("binary_f32_ref", Isa::kRef, ref::binary_f32, ref::float_chain_f32);
  static const PlaneMeanF32Kernel plane_mean("plane_mean_f32_ref", Isa::kRef, ref::plane_mean_f32);
  static const DwConvF32Kernel dwconv("dwconv_f32_ref", Isa::kRef, ref::dwconv_f32_plane);
  static const MaxPoolF32Kernel maxpool_f32("maxpool_f32_ref", Isa::kRef, ref::maxpool_f32_planes);
  static const Nchw16cF32Kernel nchw16c("nchw16c_f32_ref", Isa::kRef, ref::pointwise_nchw16c, ref::depthwise_nchw16c, ref::dense_nchw16c,
                                        ref::conv_nchw16c, ref::maxpool_nchw16c, ref::avgpool_nchw16c,
                                        ref::block_mean_f32, ref::block_scale_f32);
  static const TransposeX32Kernel transpose("transpose_f32_ref", Isa::kRef, ref::transpose_x32,
                                           ref::transpose_add_f32);
  static const LayerNormF32Kernel layernorm("layernorm_f32_ref", Isa::kRef, ref::layernorm_rows);
  static const SoftmaxF32Kernel softmax("softmax_f32_ref", Isa::kRef, ref::softmax_rows, ref::attention_rows,
                                        ref::head_mix,
                                        ref::attention_rows_s8);
  // BF16 GEMM: the scalar tile of kernels/ref/gemm_bf16.cc (the spec).
  static const Bf16PanelKernel gemm_bf16("gemm_bf16_ref", Isa::kRef, ref::kBf16RefMR, ref::kBf16RefNR,
                                         ref::gemm_bf16_tile, ref::bf16_pairs, nullptr, 1, Bf16Needs::kNothing);
  // BF16 depthwise conv: the scalar loop of kernels/ref/dwconv_bf16.cc (the spec).
  static const DwConvBf16Kernel dwconv_bf16("dwconv_bf16_ref", Isa::kRef, ref::dwconv_bf16_plane, false, 0);
  r.add(dwconv_bf16);
  // BF16 channel-blocked convs, pool and mean: ref/nchw16c_bf16.cc's loops (the spec).
  static const Nchw16cBf16Kernel nchw16c_bf16("nchw16c_bf16_ref", Isa::kRef, false, ref::pointwise_bf16x16c,
                                              ref::depthwise_bf16x16c, ref::block_mean_bf16, ref::conv_bf16x16c,
                                              ref::maxpool_bf16x16c, ref::to_blocked_bf16);
  r.add(nchw16c_bf16);
  // BF16 attention products: gemm_bf16_ref's tile, ref/attention_bf16.cc's converters (the spec).
  static const AttentionBf16Kernel attention_bf16("attention_bf16_ref", Isa::kRef, "gemm_bf16_ref", ref::kBf16RefMR,
                                                  ref::kBf16RefNR, ref::gemm_bf16_tile, ref::bf16_scaled_rows,
                                                  ref::bf16_scaled_panel, false);
  r.add(attention_bf16);
  // Transposed conv: the phase driver (baseline code over conv_s8) first.
  r.add(conv_transpose_s8_phases(), conv_transpose_s8_ref());
  static const DynamicQuantizeU8Kernel dynamic_quantize("dynamic_quantize_u8_ref", Isa::kRef, ref::dynamic_range,
                                                          ref::dynamic_quantize_u8);
  r.add(ref_gemm_u8s8_kernel(), dynamic_quantize);
  r.add(conv, gemm, quantize, dequantize, add, concat, maxpool, avgpool, global_avgpool, lookup,
        lookup_channels, channel_mul, lookup_f32, softmax_s8, sgemm, unary, binary, plane_mean, gemm_bf16, dwconv, maxpool_f32, nchw16c, transpose, softmax, layernorm);
}

}  // namespace kernels
}  // namespace int8rt
