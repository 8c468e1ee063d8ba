// Driver of the AMX microkernel (baseline code): int8 conv of any shape, and
// GEMM through gemm_as_conv.h, as a GEMM over AMX tiles, with B packed by
// conv_amx_pack.h (its layout and reduction order are written there).
//
// The reduction of a conv is (filter tap outer, input channel inner), so a
// 1x1 conv reduces over channels, and the C = 3 stem's 7x7 window is 147
// bytes in 3 chunks rather than 49 taps of 3 channels each padded to 64.
//
// Spatial convs (R x S > 1) of one group take the direct path of
// conv_amx_direct.h (amx_direct_applies: contiguous filter rows, or dilated
// ones with at least 32 channels) where the microkernel has its strip
// functions: A read in place from padded phase planes, no gather.
//
// A rows: for a 1x1, stride-1, unpadded conv, the input itself (row stride
// C). Where C/groups is not a multiple of 64, a row's last chunk reads on
// past its group's channels (into the next group's or the next pixel's
// bytes): those bytes meet the packed weights' zeros past the reduction, so
// they add exactly 0 (any byte times 0), and only the rows whose reads
// would pass the end of the input are gathered; this replaced a gather of
// every row, which cost MobileNet-class 1x1s with 16..48 input channels
// 1.1-2.3x against VNNI (RESULTS.md section 168). A strided unpadded 1x1
// (ResNet-50's projections) with at least 16 output columns reads the same
// way one output row per call, rows stride_w * C bytes apart (256 -> 512
// @56 / 2 at batch 8: x0.85 against its gather, RESULTS.md section 192);
// narrower ones gather, the next tile's pixels prefetched. Otherwise each work item
// gathers its up to 32 output pixels into a panel of 32 rows x kchunks * 64
// bytes (each tap's C/groups input channels, or ConvShape::pad_value for
// padding, which tdpbssd multiplies like any input byte; the S taps
// of a filter row in one copy where they are contiguous in NHWC). The panel
// is shared by all the channel blocks of the item.
//
// Work items are (pixel tile, group, run of channel blocks), claimed by
// int8rt::parallel_for (a pixel tile: 32 pixels, or up to 128 where A is
// read in place and there are enough of them); a small layer runs on the calling thread, and
// channels are split into runs when pixel tiles are too few to keep two
// threads busy, or when the weights would not stay in L2 (then every pixel
// tile of a run is taken before the next run). Each output is computed by
// exactly one call, in a fixed order, so results do not depend on the
// thread count.
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
// straight from [K][N] (pack_amx_kn) or [N][K] (pack_amx_oihw) into a buffer
// kept in the caller's slot and rewritten by the next product of the same
// (N, K), A read in place when K is a multiple of 64 and gathered with zero
// padding otherwise: the same tiles, bytes and epilogue as constant weights.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/tile_epilogue.h"
#include "kernels/x86/conv_amx_direct.h"
#include "kernels/x86/conv_amx_pack.h"
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
// Tiles of 32 rows per microkernel call, at most, where A is read in place.
constexpr int kMaxTilesPerItem = 4;
// Packed weight bytes of one run of channel blocks, at most: a run stays in
// L2 (2 MiB per core on the AMX Xeons measured, RESULTS.md section 168)
// while every pixel tile sweeps it; a layer whose weights are larger runs
// run after run (each run's B read from L3 once, not once per pixel tile).
constexpr int64_t kRunWeightBytes = int64_t{768} << 10;

bool reads_input_directly(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
         s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0;
}

// A strided, unpadded 1x1 with at least this many output columns reads the
// pixels of one output row in place (rows stride_w * C bytes apart, one call
// per output row) instead of gathering them (RESULTS.md section 192).
constexpr int kStridedRowsMinWidth = 16;

bool reads_rows_strided(const ConvShape& s) {
  return s.R == 1 && s.S == 1 && (s.stride_h > 1 || s.stride_w > 1) && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0 && s.out_w() >= kStridedRowsMinWidth;
}

class PackedAmxConv final : public PackedConv {
 public:
  // Weights packed by conv_amx_pack.h for s (shared, never written while
  // this runs); comp: their amx_compensation where s's input is u8-coded.
  PackedAmxConv(const AmxUkernel& u, const ConvShape& s, std::shared_ptr<const AlignedBuffer<int8_t>> packed,
                std::shared_ptr<const AlignedBuffer<int32_t>> comp = nullptr)
      : u_(u), shape_(s), layout_(s), direct_(reads_input_directly(s)), strided_(reads_rows_strided(s)),
        packed_(std::move(packed)),
        comp_(std::move(comp)) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedAmxConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    copy->direct_ = reads_input_directly(copy->shape_);  // the layout depends on C, K, R, S, groups only
    copy->strided_ = reads_rows_strided(copy->shape_);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedAmxConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    copy->direct_ = reads_input_directly(copy->shape_);
    copy->strided_ = reads_rows_strided(copy->shape_);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;
  // The microkernel's table step needs AVX512-VBMI (amx/igemm_32x32c4.cc), which every AMX CPU has.
  bool applies_table() const override { return cpu_features().avx512vbmi; }

 private:
  // Rows [p0, p0 + mr) of group g's A into panel (rows kchunks * 64 apart).
  void gather(const int8_t* x, int64_t p0, int mr, int g, int8_t* panel) const;
  // A 1x1's gather of rows [p0, p0 + mr) (group g) asked for ahead, into L2.
  void prefetch_gather(const int8_t* x, int64_t p0, int mr, int g) const;

  AmxUkernel u_;
  ConvShape shape_;
  AmxLayout layout_;
  bool direct_;
  bool strided_;  // reads_rows_strided: an item is one output row, read in place
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

// A strided 1x1 (ResNet-50's projections) gathers one input pixel's C/groups
// bytes per row, from pixels `stride` apart: the hardware prefetchers do not
// run ahead of that walk, and each tile's gather waited on memory with the
// tile unit idle. Asking for the next tile's pixels before this tile's call
// overlaps those misses with its tile products (RESULTS.md section 192).
void PackedAmxConv::prefetch_gather(const int8_t* x, int64_t p0, int mr, int g) const {
  const ConvShape& s = shape_;
  const int OH = s.out_h(), OW = s.out_w();
  const int64_t lines = (layout_.cg + 63) / 64;
  for (int i = 0; i < mr; ++i) {
    const int64_t p = p0 + i;
    const int64_t n = p / (int64_t{OH} * OW);
    const int ih = static_cast<int>(p / OW % OH) * s.stride_h - s.pad_top;
    const int iw = static_cast<int>(p % OW) * s.stride_w - s.pad_left;
    if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
    // Addresses formed as integers (no pointer leaves x); a prefetch faults on nothing.
    const uintptr_t at = reinterpret_cast<uintptr_t>(x) +
                         static_cast<uintptr_t>(((n * s.H + ih) * s.W + iw) * s.C + int64_t{g} * layout_.cg);
    for (int64_t l = 0; l < lines; ++l) __builtin_prefetch(reinterpret_cast<const void*>(at + 64 * l), 0, 2);
  }
}

void PackedAmxConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, u_.conv_name);
  if (batch < 0) throw InvalidArgument(std::string(u_.conv_name) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const AmxLayout& L = layout_;
  const int64_t P = int64_t{batch} * s.out_h() * s.out_w();
  // Rows per item: A read in place takes up to kMaxTilesPerItem tiles of 32
  // rows per call (the microkernel pipelines across them), while the items
  // stay at least 2 * kMinItems; a gathered panel holds one tile.
  int tiles_per_item = 1;
  while (direct_ && tiles_per_item < kMaxTilesPerItem &&
         (P + amx::kMR - 1) / amx::kMR * L.groups >= int64_t{4} * tiles_per_item * kMinItems) {
    tiles_per_item *= 2;
  }
  const int64_t rows_per_item = strided_ ? s.out_w() : int64_t{amx::kMR} * tiles_per_item;
  const int64_t ptiles = (P + rows_per_item - 1) / rows_per_item;
  const int64_t base_items = ptiles * L.groups;
  // Blocks per item: all of the group's, or an even share when the pixel
  // tiles alone are too few to balance.
  int bpi = L.nbk;
  if (base_items < kMinItems && L.nbk > 2) {
    const int64_t splits = (kMinItems + base_items - 1) / base_items;
    bpi = static_cast<int>((L.nbk + splits - 1) / splits);
    bpi = std::min(L.nbk, std::max(2, bpi + (bpi & 1)));
  }
  // Weights over kRunWeightBytes: runs that fit it, taken run-major (every
  // pixel tile of a run before the next run), so each run's B stays in L2.
  const bool run_major = L.nbk * L.block_stride > kRunWeightBytes;
  if (run_major) {
    const int fit = static_cast<int>(std::max<int64_t>(2, kRunWeightBytes / L.block_stride) & ~int64_t{1});
    bpi = std::min(bpi, fit);
  }
  const int runs = (L.nbk + bpi - 1) / bpi;
  const int64_t items = base_items * runs;
  const int64_t total_macs = P * s.K * L.kred;
  const int64_t grain = total_macs < kParallelMacs ? items : 1;
  const int64_t row_bytes = int64_t{L.kchunks} * amx::kKChunk;
  const AmxFn fn = s.input_codes == Codes::kU8 ? u_.fn_u8 : u_.fn;
  // Gathered 1x1s ask for the next pixel tile's input ahead (prefetch_gather).
  const bool prefetch_next = !direct_ && s.R == 1 && s.S == 1;

  // The microkernel call for rows [p0, p0 + mr) of group g's A at a (rows
  // a_stride apart) and the run of blocks from b0.
  auto call = [&](int64_t p0, int mr, int g, int b0, const int8_t* a, int64_t a_stride) {
    const int k0 = g * L.kg + b0 * amx::kBlock;
    AmxTile t;
    t.a = a;
    t.a_stride = a_stride;
    t.mr = mr;
    t.kchunks = L.kchunks;
    t.w = packed_->data() + (int64_t{g} * L.nbk + b0) * L.block_stride;
    t.w_block_stride = L.block_stride;
    t.acc_init = comp_ ? comp_->data() + (int64_t{g} * L.nbk + b0) * amx::kBlock : nullptr;
    t.nc = std::min(bpi * amx::kBlock, L.kg - b0 * amx::kBlock);
    t.ep = tile_epilogue(s, ep, y, k0, p0 * s.K + k0);
    fn(t);
  };

  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    // This thread's gathered rows (64-byte aligned), grown once (no allocation per run).
    thread_local AlignedBuffer<int8_t> panel;
    if (panel.size() < amx::kMR * row_bytes) panel = AlignedBuffer<int8_t>(amx::kMR * row_bytes);
    int64_t gathered = -1;  // the (first pixel, group) of the rows the panel holds
    for (int64_t item = begin; item < end; ++item) {
      const int run = static_cast<int>(run_major ? item / base_items : item % runs);
      const int64_t pg = run_major ? item % base_items : item / runs;
      const int g = static_cast<int>(pg % L.groups);
      const int64_t p0 = pg / L.groups * rows_per_item;
      const int mr = static_cast<int>(std::min<int64_t>(rows_per_item, P - p0));
      const int b0 = run * bpi;
      // In place (file comment): rows C bytes apart, each read for row_bytes,
      // which must end inside the input.
      if (direct_ && (p0 + mr - 1) * s.C + int64_t{g} * L.cg + row_bytes <= P * s.C) {
        call(p0, mr, g, b0, x + p0 * s.C + int64_t{g} * L.cg, s.C);
        continue;
      }
      // Strided rows in place (reads_rows_strided): output row p0 / OW's pixels, each read for
      // row_bytes, which must end inside the input.
      if (strided_) {
        const int64_t orow = p0 / s.out_w();
        const int64_t at = ((orow / s.out_h() * s.H + orow % s.out_h() * s.stride_h) * s.W) * s.C + int64_t{g} * L.cg;
        const int64_t a_stride = int64_t{s.stride_w} * s.C;
        if (at + (mr - 1) * a_stride + row_bytes <= int64_t{batch} * s.H * s.W * s.C) {
          call(p0, mr, g, b0, x + at, a_stride);
          continue;
        }
      }
      for (int64_t q0 = p0; q0 < p0 + mr; q0 += amx::kMR) {
        const int qr = static_cast<int>(std::min<int64_t>(amx::kMR, p0 + mr - q0));
        const int64_t key = q0 * L.groups + g;
        if (gathered != key) gather(x, q0, qr, g, panel.data());
        gathered = key;
        if (prefetch_next && q0 + amx::kMR < P) {
          prefetch_gather(x, q0 + amx::kMR, static_cast<int>(std::min<int64_t>(amx::kMR, P - q0 - amx::kMR)), g);
        }
        call(q0, qr, g, b0, panel.data(), row_bytes);
      }
    }
  });
}

// Estimated fraction of the tiles' multiply-adds that are not padding.
double tile_utilisation(const AmxLayout& L) {
  const double n_fill = static_cast<double>(L.kg) / (int64_t{L.nbk} * amx::kBlock);
  const double k_fill = static_cast<double>(L.kred) / (int64_t{L.kchunks} * amx::kKChunk);
  return n_fill * k_fill;
}

// The least tile utilisation AMX takes: 1x1 convs and GEMMs read in place
// ran 1.07-1.6x faster than AVX512-VNNI at 25% with 16 input channels
// (benchmarks/amxgemm_small_channels.py, RESULTS.md section 168), so they
// go lower; gathered convs keep 25%.
constexpr double kMinUtilisationInPlace = 0.15;
constexpr double kMinUtilisationGathered = 0.25;

std::string decline_reason(const AmxLayout& L, bool in_place) {
  if (L.kg == 1 && L.cg == 1 && L.groups > 1) {
    return "depthwise (one channel per group): a tile row would hold one useful lane";
  }
  const double u = tile_utilisation(L);
  const double least = in_place ? kMinUtilisationInPlace : kMinUtilisationGathered;
  if (u < least) {
    return "tile utilisation " + std::to_string(static_cast<int>(u * 100)) + "% under " +
           std::to_string(static_cast<int>(least * 100)) + "% (K/groups=" + std::to_string(L.kg) +
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
      pack_amx_kn(layout_, b, buffer_->data());
    } else {
      pack_amx_oihw(layout_, b, buffer_->data());
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
  return decline_reason(AmxLayout(shape), reads_input_directly(shape));
}

std::unique_ptr<PackedConv> AmxConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  const AmxConvStripFn strip = shape.input_codes == Codes::kU8 ? u_.strip_u8 : u_.strip;
  if (strip && amx_direct_applies(shape)) return pack_amx_direct(strip, u_.conv_name, shape, w);
  const AmxLayout L(shape);
  std::shared_ptr<AlignedBuffer<int32_t>> comp;
  if (shape.input_codes == Codes::kU8) {
    comp = std::make_shared<AlignedBuffer<int32_t>>(L.comp_count());
    amx_compensation(L, w, comp->data());
  }
  return std::make_unique<PackedAmxConv>(u_, shape, packed_oihw(L, w), std::move(comp));
}

std::string AmxGemmKernel::supports(const GemmShape& shape, OutputType) const {
  return decline_reason(AmxLayout(gemm_as_conv(shape)), true);
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
