// Driver of the AMX microkernel (baseline code): int8 conv of any shape, and
// GEMM through gemm_as_conv.h, as a GEMM over AMX tiles, with B packed by
// conv_amx_pack.h (its layout and reduction order are written there).
//
// The reduction of a conv is (filter tap outer, input channel inner), so a
// 1x1 conv reduces over channels, and the C = 3 stem's 7x7 window is 147
// bytes in 3 chunks rather than 49 taps of 3 channels each padded to 64.
//
// A rows: for a 1x1, stride-1, unpadded conv whose channels per group are a
// multiple of 64, the input itself (row stride C). Otherwise each work item
// gathers its up to 32 output pixels into a panel of 32 rows x kchunks * 64
// bytes (each tap's C/groups input channels, or ConvShape::pad_value for
// padding, which tdpbssd multiplies like any input byte; the S taps
// of a filter row in one copy where they are contiguous in NHWC). The panel
// is shared by all the channel blocks of the item.
//
// Work items are (32-pixel tile, group, run of channel blocks), claimed by
// int8rt::parallel_for; a small layer runs on the calling thread, and
// channels are split into runs only when pixel tiles are too few to keep two
// threads busy. Each output is computed by exactly one call, in a fixed
// order, so results do not depend on the thread count.
//
// u8 codes (ConvShape::input_codes / output_codes / residual_codes,
// kernel_types.h): an input held as q + 128 takes the microkernel's tdpbusd
// twin (AmxUkernel::fn_u8) over its bytes as they are, padding with
// code_byte(pad_value), each channel's sums starting at -128 * sum(w)
// (amx_compensation, packed with the weights); an output or residual held so
// is stored or read xor 0x80 (TileEpilogue::out_xor / residual_xor). The
// int32 sums are those of the int8 codes, so every output is the same bytes.
//
// A MatMul between two activations (attention: Int8Products packs B on every
// run through GemmKernel::pack_per_run_into) takes PerRunAmxGemm: B packed
// straight from [K][N] or [N][K] (conv_amx_pack_gemm.h) into a buffer
// kept in the caller's slot and rewritten by the next product of the same
// (N, K), A read in place when K is a multiple of 64 and gathered with zero
// padding otherwise: the same tiles, bytes and epilogue as constant weights.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/conv_amx_pack.h"
#include "kernels/x86/conv_amx_pack_gemm.h"
#include "kernels/x86/gemm_as_conv.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Below this many multiply-adds a layer runs on the calling thread.
constexpr int64_t kParallelMacs = int64_t{1} << 22;
// Pixel tiles x groups below which channel blocks are split into runs.
constexpr int64_t kMinItems = 8;

bool reads_input_directly(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 &&
         s.c_per_group() % amx::kKChunk == 0;
}

class PackedAmxConv final : public PackedConv {
 public:
  // Weights packed by conv_amx_pack.h for s (shared, never written while
  // this runs); comp: their amx_compensation where s's input is u8-coded.
  PackedAmxConv(const AmxUkernel& u, const ConvShape& s, std::shared_ptr<const AlignedBuffer<int8_t>> packed,
                std::shared_ptr<const AlignedBuffer<int32_t>> comp = nullptr)
      : u_(u), shape_(s), layout_(s), direct_(reads_input_directly(s)), packed_(std::move(packed)),
        comp_(std::move(comp)) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedAmxConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    copy->direct_ = reads_input_directly(copy->shape_);  // the layout depends on C, K, R, S, groups only
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedAmxConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    copy->direct_ = reads_input_directly(copy->shape_);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  // Rows [p0, p0 + mr) of group g's A into panel (rows kchunks * 64 apart).
  void gather(const int8_t* x, int64_t p0, int mr, int g, int8_t* panel) const;

  AmxUkernel u_;
  ConvShape shape_;
  AmxLayout layout_;
  bool direct_;
  std::shared_ptr<const AlignedBuffer<int8_t>> packed_;  // shared by with_input_size copies
  std::shared_ptr<const AlignedBuffer<int32_t>> comp_;   // u8-coded input only
};

void PackedAmxConv::gather(const int8_t* x, int64_t p0, int mr, int g, int8_t* panel) const {
  const ConvShape& s = shape_;
  const AmxLayout& L = layout_;
  const int64_t row_bytes = int64_t{L.kchunks} * amx::kKChunk;
  const int OH = s.out_h(), OW = s.out_w();
  const int cg = L.cg;
  // The S taps of a filter row are one run of S * C bytes in NHWC when the
  // group is the whole pixel and taps are adjacent pixels.
  const bool row_runs = s.groups == 1 && s.dilation_w == 1;
  const unsigned char pad = static_cast<unsigned char>(code_byte(s.pad_value, s.input_codes));
  for (int i = 0; i < mr; ++i) {
    const int64_t p = p0 + i;
    const int64_t n = p / (int64_t{OH} * OW);
    const int oh = static_cast<int>(p / OW % OH), ow = static_cast<int>(p % OW);
    const int ih0 = oh * s.stride_h - s.pad_top, iw0 = ow * s.stride_w - s.pad_left;
    int8_t* dst = panel + i * row_bytes;
    const int8_t* image = x + n * s.H * s.W * s.C + int64_t{g} * cg;
    for (int r = 0; r < s.R; ++r) {
      const int ih = ih0 + r * s.dilation_h;
      int8_t* drow = dst + int64_t{r} * s.S * cg;
      if (ih < 0 || ih >= s.H) {
        std::memset(drow, pad, static_cast<size_t>(s.S) * cg);
        continue;
      }
      const int8_t* xrow = image + int64_t{ih} * s.W * s.C;
      if (row_runs && iw0 >= 0 && iw0 + s.S <= s.W) {
        std::memcpy(drow, xrow + int64_t{iw0} * s.C, static_cast<size_t>(s.S) * cg);
        continue;
      }
      for (int q = 0; q < s.S; ++q) {
        const int iw = iw0 + q * s.dilation_w;
        if (iw < 0 || iw >= s.W) {
          std::memset(drow + int64_t{q} * cg, pad, static_cast<size_t>(cg));
        } else {
          std::memcpy(drow + int64_t{q} * cg, xrow + int64_t{iw} * s.C, static_cast<size_t>(cg));
        }
      }
    }
    std::memset(dst + L.kred, 0, static_cast<size_t>(row_bytes - L.kred));
  }
}

void PackedAmxConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, u_.conv_name);
  if (batch < 0) throw InvalidArgument(std::string(u_.conv_name) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const AmxLayout& L = layout_;
  const int64_t P = int64_t{batch} * s.out_h() * s.out_w();
  const int64_t ptiles = (P + amx::kMR - 1) / amx::kMR;
  const int64_t base_items = ptiles * L.groups;
  // Blocks per item: all of the group's, or an even share when the pixel
  // tiles alone are too few to balance.
  int bpi = L.nbk;
  if (base_items < kMinItems && L.nbk > 2) {
    const int64_t splits = (kMinItems + base_items - 1) / base_items;
    bpi = static_cast<int>((L.nbk + splits - 1) / splits);
    bpi = std::min(L.nbk, std::max(2, bpi + (bpi & 1)));
  }
  const int runs = (L.nbk + bpi - 1) / bpi;
  const int64_t items = base_items * runs;
  const int64_t total_macs = P * s.K * L.kred;
  const int64_t grain = total_macs < kParallelMacs ? items : 1;
  const int64_t row_bytes = int64_t{L.kchunks} * amx::kKChunk;
  const AmxFn fn = s.input_codes == Codes::kU8 ? u_.fn_u8 : u_.fn;
  const uint8_t out_xor = s.output_codes == Codes::kU8 && ep.out_type == OutputType::kInt8 ? 0x80 : 0;
  const uint8_t residual_xor = s.residual_codes == Codes::kU8 ? 0x80 : 0;

  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    thread_local std::vector<int8_t> panel;  // this thread's gathered rows, grown once (no allocation per run)
    if (!direct_) panel.resize(std::max(panel.size(), static_cast<size_t>(amx::kMR * row_bytes)));
    int64_t gathered = -1;  // the (pixel tile, group) the panel holds
    for (int64_t item = begin; item < end; ++item) {
      const int run = static_cast<int>(item % runs);
      const int64_t pg = item / runs;
      const int g = static_cast<int>(pg % L.groups);
      const int64_t p0 = pg / L.groups * amx::kMR;
      const int mr = static_cast<int>(std::min<int64_t>(amx::kMR, P - p0));
      const int b0 = run * bpi;
      const int k0 = g * L.kg + b0 * amx::kBlock;
      AmxTile t;
      if (direct_) {
        t.a = x + p0 * s.C + int64_t{g} * L.cg;
        t.a_stride = s.C;
      } else {
        if (gathered != pg) gather(x, p0, mr, g, panel.data());
        gathered = pg;
        t.a = panel.data();
        t.a_stride = row_bytes;
      }
      t.mr = mr;
      t.kchunks = L.kchunks;
      t.w = packed_->data() + (int64_t{g} * L.nbk + b0) * L.block_stride;
      t.w_block_stride = L.block_stride;
      t.acc_init = comp_ ? comp_->data() + (int64_t{g} * L.nbk + b0) * amx::kBlock : nullptr;
      t.nc = std::min(bpi * amx::kBlock, L.kg - b0 * amx::kBlock);
      t.ep.scale = ep.scale + k0;
      t.ep.bias = ep.bias ? ep.bias + k0 : nullptr;
      t.ep.lo = ep.clamp_lo;
      t.ep.hi = ep.clamp_hi;
      t.ep.residual = ep.residual ? ep.residual + p0 * s.K + k0 : nullptr;
      t.ep.residual_stride = s.K;
      t.ep.residual_scale = ep.residual_scale;
      t.ep.y_stride = s.K;
      t.ep.out_f32 = ep.out_type == OutputType::kFloat32;
      t.ep.out_xor = out_xor;
      t.ep.residual_xor = residual_xor;
      t.ep.y = t.ep.out_f32 ? static_cast<void*>(static_cast<float*>(y) + p0 * s.K + k0)
                            : static_cast<void*>(static_cast<int8_t*>(y) + p0 * s.K + k0);
      fn(t);
    }
  });
}

// Estimated fraction of the tiles' multiply-adds that are not padding.
double tile_utilisation(const AmxLayout& L) {
  const double n_fill = static_cast<double>(L.kg) / (int64_t{L.nbk} * amx::kBlock);
  const double k_fill = static_cast<double>(L.kred) / (int64_t{L.kchunks} * amx::kKChunk);
  return n_fill * k_fill;
}

std::string decline_reason(const AmxLayout& L) {
  if (L.kg == 1 && L.cg == 1 && L.groups > 1) {
    return "depthwise (one channel per group): a tile row would hold one useful lane";
  }
  const double u = tile_utilisation(L);
  if (u < 0.25) {
    return "tile utilisation " + std::to_string(static_cast<int>(u * 100)) +
           "% under 25% (K/groups=" + std::to_string(L.kg) +
           ", reduction=" + std::to_string(L.kred) + "): VNNI is faster";
  }
  return "";
}

// Weights packed once (constant conv / GEMM weights).
std::shared_ptr<const AlignedBuffer<int8_t>> packed_oihw(const AmxLayout& L, const int8_t* w) {
  auto packed = std::make_shared<AlignedBuffer<int8_t>>(L.packed_bytes());
  pack_amx_oihw(L, w, packed->data());
  return packed;
}

// A GEMM whose B is an activation (file comment): its buffer is rewritten by
// pack() for each product, which its owner (one thread's slot) never does
// while run() is in flight.
class PerRunAmxGemm final : public PackedGemm {
 public:
  PerRunAmxGemm(const AmxUkernel& u, const GemmShape& shape)
      : fn_(u.fn), shape_(shape), layout_(gemm_as_conv(shape)),
        buffer_(std::make_shared<AlignedBuffer<int8_t>>(layout_.packed_bytes())),
        gemm_(shape, std::make_unique<PackedAmxConv>(u, gemm_as_conv(shape), buffer_)) {}

  bool fits(const AmxUkernel& u, const GemmShape& shape) const {
    return u.fn == fn_ && shape.N == shape_.N && shape.K == shape_.K;
  }
  // b: [K][N] when kn, else [N][K].
  void pack(const int8_t* b, bool kn) {
    if (kn) {
      pack_amx_gemm_kn(layout_, b, buffer_->data());
    } else {
      pack_amx_gemm_nk(layout_, b, buffer_->data());
    }
  }
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override { gemm_.run(M, a, ep, y); }
  const GemmShape& shape() const override { return shape_; }

 private:
  AmxFn fn_;
  GemmShape shape_;
  AmxLayout layout_;
  std::shared_ptr<AlignedBuffer<int8_t>> buffer_;  // also held, read-only, by gemm_'s PackedAmxConv
  ConvAsGemm gemm_;
};

}  // namespace

std::string AmxConvKernel::supports(const ConvShape& shape, OutputType) const {
  if (*u8_codes_declined(shape) && !u_.fn_u8) return u8_codes_declined(shape);
  return decline_reason(AmxLayout(shape));
}

std::unique_ptr<PackedConv> AmxConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  const AmxLayout L(shape);
  std::shared_ptr<AlignedBuffer<int32_t>> comp;
  if (shape.input_codes == Codes::kU8) {
    comp = std::make_shared<AlignedBuffer<int32_t>>(L.comp_count());
    amx_compensation(L, w, comp->data());
  }
  return std::make_unique<PackedAmxConv>(u_, shape, packed_oihw(L, w), std::move(comp));
}

std::string AmxGemmKernel::supports(const GemmShape& shape, OutputType) const {
  return decline_reason(AmxLayout(gemm_as_conv(shape)));
}

std::unique_ptr<PackedGemm> AmxGemmKernel::pack(const GemmShape& shape, const int8_t* w) const {
  shape.validate();
  const ConvShape conv = gemm_as_conv(shape);
  return std::make_unique<ConvAsGemm>(shape,
                                      std::make_unique<PackedAmxConv>(u_, conv, packed_oihw(AmxLayout(conv), w)));
}

std::unique_ptr<PackedGemm> AmxGemmKernel::pack_kn(const GemmShape& shape, const int8_t* w_kn) const {
  shape.validate();
  auto packed = std::make_unique<PerRunAmxGemm>(u_, shape);
  packed->pack(w_kn, true);
  return packed;
}

void AmxGemmKernel::pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                                      std::unique_ptr<PackedGemm>* slot) const {
  shape.validate();
  auto* reuse = dynamic_cast<PerRunAmxGemm*>(slot->get());
  if (!reuse || !reuse->fits(u_, shape)) {
    *slot = std::make_unique<PerRunAmxGemm>(u_, shape);
    reuse = static_cast<PerRunAmxGemm*>(slot->get());
  }
  reuse->pack(b, kn);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
