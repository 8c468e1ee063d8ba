// Driver of the one-pixel pointwise microkernels (conv_gemv.h,
// kernels/abi/gemv_s8.h): the conv's input is a [batch][C] matrix, its
// output [batch][K]; tiles of 32 output channels split over
// int8rt::parallel_for, each tile's rows run kGemvRows at a time.
//
// vpdpbusd multiplies u8 by s8: an input held as u8 codes is read as it is
// and an int8 input of any sign read xor 0x80 (GemvRows::shift), both with
// the weights' -128 * sum(w) as the sums' start; an input the shape
// promises non-negative is its own u8 value, uncompensated. u8-coded
// outputs and residuals are stored / read xor 0x80 (TileEpilogue), as the
// igemm driver does.
#include "kernels/x86/conv_gemv.h"

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

constexpr int64_t kGemvMaxWeights = int64_t{1} << 16;

struct GemvWeights {
  int tiles = 0, groups = 0;
  AlignedBuffer<int8_t> w;      // [tiles][groups][32][4]
  AlignedBuffer<int32_t> comp;  // [tiles * 32]: -128 * sum(w), or empty (uncompensated)
};

std::shared_ptr<const GemvWeights> pack_gemv(const ConvShape& s, const int8_t* w_oihw) {
  auto p = std::make_shared<GemvWeights>();
  p->tiles = (s.K + kGemvTile - 1) / kGemvTile;
  p->groups = (s.C + 3) / 4;
  p->w = AlignedBuffer<int8_t>(int64_t{p->tiles} * p->groups * kGemvTile * 4);
  for (int k = 0; k < s.K; ++k) {
    const int64_t tile = (int64_t{k / kGemvTile} * p->groups) * kGemvTile * 4;
    for (int c = 0; c < s.C; ++c) {
      p->w.data()[tile + (int64_t{c / 4} * kGemvTile + k % kGemvTile) * 4 + c % 4] = w_oihw[int64_t{k} * s.C + c];
    }
  }
  if (!(s.input_codes == Codes::kS8 && s.nonneg_input)) {
    p->comp = AlignedBuffer<int32_t>(int64_t{p->tiles} * kGemvTile);
    for (int k = 0; k < s.K; ++k) p->comp.data()[k] = shift_compensation(w_oihw + int64_t{k} * s.C, s.C);
  }
  return p;
}

class PackedGemvConv final : public PackedConv {
 public:
  PackedGemvConv(const char* name, GemvRowsFn fn, const ConvShape& s, std::shared_ptr<const GemvWeights> w)
      : name_(name), fn_(fn), shape_(s), w_(std::move(w)) {}
  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    if (H != 1 || W != 1) throw InvalidArgument(std::string(name_) + ": a one-pixel conv takes only 1 x 1 inputs");
    return std::make_unique<PackedGemvConv>(*this);
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    if (H != 1 || pad_top || pad_bottom) {
      throw InvalidArgument(std::string(name_) + ": a one-pixel conv has no other row window");
    }
    return std::make_unique<PackedGemvConv>(*this);
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, name_);
    if (batch < 0) throw InvalidArgument(std::string(name_) + ": batch must be >= 0");
    const ConvShape& s = shape_;
    const GemvWeights& w = *w_;
    GemvRows proto;
    proto.shift = s.input_codes == Codes::kS8 && !s.nonneg_input;
    proto.C = s.C;
    // About 64K multiply-adds a chunk of tiles.
    const int64_t tile_macs = int64_t{batch} * s.C * kGemvTile;
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 16) / (tile_macs + 1));
    parallel_for(w.tiles, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t k0 = t * kGemvTile;
        GemvRows r = proto;
        r.nc = static_cast<int>(std::min<int64_t>(kGemvTile, s.K - k0));
        r.w = w.w.data() + t * w.groups * kGemvTile * 4;
        r.acc_init = w.comp.size() ? w.comp.data() + k0 : nullptr;
        for (int64_t n = 0; n < batch; n += kGemvRows) {
          r.rows = static_cast<int>(std::min<int64_t>(kGemvRows, batch - n));
          r.x = x + n * s.C;
          r.ep = tile_epilogue(s, ep, y, static_cast<int>(k0), n * s.K + k0);
          fn_(r);
        }
      }
    });
  }

 private:
  const char* name_;
  GemvRowsFn fn_;
  ConvShape shape_;
  std::shared_ptr<const GemvWeights> w_;  // shared by copies
};

}  // namespace

std::string GemvConvKernel::supports(const ConvShape& s, OutputType) const {
  if (s.R != 1 || s.S != 1 || s.H != 1 || s.W != 1 || s.has_padding() || s.groups != 1) {
    return "not a 1x1 conv over a 1 x 1 input with one group and no padding";
  }
  if (s.any_input_size) return "the layer takes other input sizes too (ConvShape::any_input_size)";
  // Up to 64K weights: ahead of AMX at batch 1 and 8 on every SE conv of
  // MobileNetV3 / EfficientNet-B0 to 1152 x 48 (1.1-2.5x); at 960 x 240 AMX
  // is ahead at batch 8 (GEMV 0.63-0.82x), so the larger stay with it
  // (RESULTS.md section 178).
  if (int64_t{s.C} * s.K > kGemvMaxWeights) {
    return "C x K = " + std::to_string(int64_t{s.C} * s.K) + " weights over " + std::to_string(kGemvMaxWeights);
  }
  return "";
}

std::unique_ptr<PackedConv> GemvConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  const std::string why = supports(shape, OutputType::kInt8);
  if (!why.empty()) throw InvalidArgument(std::string(name()) + ": " + why);
  return std::make_unique<PackedGemvConv>(name(), fn_, shape, pack_gemv(shape, w));
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
