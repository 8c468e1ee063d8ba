// Driver of the narrow pointwise microkernels (conv_narrow.h,
// kernels/abi/igemm_narrow_s8.h): the conv's input is a [pixels][C] matrix,
// split over int8rt::parallel_for in runs of pixels, each run one
// microkernel call.
//
// vpdpbusd multiplies u8 by s8. An input held as u8 codes (q + 128,
// ConvShape::input_codes) is read as it is, its weights compensated by
// -128 * sum(w); an input the shape promises non-negative (nonneg_input) is
// its own u8 value, uncompensated; any other int8 input is read xor 0x80
// (q + 128: NarrowRows::shift, inside the microkernel) and compensated.
// The output and a residual held as u8 codes are stored / read xor 0x80
// (TileEpilogue::out_xor / residual_xor), as the igemm driver does.
#include "kernels/x86/conv_narrow.h"

#include <algorithm>
#include <memory>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/gemm_s8_pairs.h"  // shift_compensation
#include "kernels/x86/packing.h"
#include "kernels/x86/tile_epilogue.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

struct NarrowWeights {
  AlignedBuffer<int8_t> w;     // [ceil(C/4)][16][4]
  AlignedBuffer<int32_t> comp;  // [16]: -128 * sum(w), or empty (uncompensated)
};

bool reads_raw(const ConvShape& s) { return s.input_codes == Codes::kS8 && s.nonneg_input; }

std::shared_ptr<const NarrowWeights> pack_narrow(const ConvShape& s, const int8_t* w_oihw) {
  auto p = std::make_shared<NarrowWeights>();
  const int groups = (s.C + 3) / 4;
  p->w = AlignedBuffer<int8_t>(int64_t{groups} * 64);
  for (int k = 0; k < s.K; ++k) {
    for (int c = 0; c < s.C; ++c) p->w.data()[(c / 4) * 64 + k * 4 + c % 4] = w_oihw[int64_t{k} * s.C + c];
  }
  if (!reads_raw(s)) {
    p->comp = AlignedBuffer<int32_t>(16);
    for (int k = 0; k < s.K; ++k) p->comp.data()[k] = shift_compensation(w_oihw + int64_t{k} * s.C, s.C);
  }
  return p;
}

class PackedNarrowConv final : public PackedConv {
 public:
  PackedNarrowConv(const char* name, NarrowRowsFn fn, const ConvShape& s, std::shared_ptr<const NarrowWeights> w)
      : name_(name), fn_(fn), shape_(s), w_(std::move(w)) {}
  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    return std::make_unique<PackedNarrowConv>(name_, fn_, kernels::with_input_size(shape_, H, W), w_);
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    if (pad_top || pad_bottom) {
      throw InvalidArgument(std::string(name_) + ": a row window with padding rows is not a narrow 1x1 conv");
    }
    return std::make_unique<PackedNarrowConv>(name_, fn_, kernels::with_row_window(shape_, H, 0, 0), w_);
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, name_);
    if (batch < 0) throw InvalidArgument(std::string(name_) + ": batch must be >= 0");
    const ConvShape& s = shape_;
    const int64_t pixels = int64_t{batch} * s.H * s.W;
    NarrowRows proto;
    proto.C = s.C;
    proto.K = s.K;
    proto.w = w_->w.data();
    proto.acc_init = w_->comp.size() ? w_->comp.data() : nullptr;
    proto.shift = s.input_codes == Codes::kS8 && !s.nonneg_input;
    // About 64K multiply-adds a chunk, in whole 8-pixel tiles.
    const int64_t grain = std::max<int64_t>(64, (int64_t{1} << 16) / (int64_t{s.C} * s.K) / 8 * 8);
    parallel_for(pixels, grain, [&](int64_t begin, int64_t end) {
      NarrowRows r = proto;
      r.x = x + begin * s.C;
      r.pixels = end - begin;
      r.ep = tile_epilogue(s, ep, y, 0, begin * s.K);
      fn_(r);
    });
  }

 private:
  const char* name_;
  NarrowRowsFn fn_;
  ConvShape shape_;
  std::shared_ptr<const NarrowWeights> w_;  // shared by with_input_size copies
};

}  // namespace

std::string NarrowConvKernel::supports(const ConvShape& s, OutputType) const {
  if (s.R != 1 || s.S != 1 || s.stride_h != 1 || s.stride_w != 1 || s.has_padding() || s.groups != 1) {
    return "not a 1x1 conv with stride 1, no padding and one group";
  }
  if (s.K > kNarrowMaxK || s.C > kNarrowMaxC) {
    return "K=" + std::to_string(s.K) + ", C=" + std::to_string(s.C) + ": narrow needs K <= " +
           std::to_string(kNarrowMaxK) + " and C <= " + std::to_string(kNarrowMaxC);
  }
  return "";
}

std::unique_ptr<PackedConv> NarrowConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  const std::string why = supports(shape, OutputType::kInt8);
  if (!why.empty()) throw InvalidArgument(std::string(name()) + ": " + why);
  return std::make_unique<PackedNarrowConv>(name(), fn_, shape, pack_narrow(shape, w));
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
