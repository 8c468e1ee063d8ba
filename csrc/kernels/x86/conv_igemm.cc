// Driver of the igemm microkernels: int8 conv of any shape (and, through
// IgemmGemmKernel, GEMM) as an indirect GEMM, XNNPACK's igemm scheme.
//
// Output pixels n*OH*OW are flattened and cut into tiles of up to mr rows (balanced, see run); output
// channels of each group into tiles of nb blocks, and consecutive channel
// tiles into runs whose weights fit IgemmUkernel::run_weight_bytes (runs of
// one tile where that is 0). For one pixel tile and
// run the driver builds taps x mr row pointers once (tap (r, s) of pixel p points at input pixel
// (ih, iw) at the group's first channel, or at the padding row, a vector of
// ConvShape::pad_value, where (ih, iw) is padding) and calls the
// microkernel, which reduces, requantizes and stores, for each channel tile
// of the run. A padding tap thus
// adds pad_value * w like any input value (the VNNI microkernels' u8 shift
// and -128 * sum(w) compensation included), at no cost over padding with 0.
// Work items are (pixel chunk, run) pairs claimed dynamically by
// int8rt::parallel_for; small layers run as one item on the calling thread.
// Where the microkernel allows it (use_row_taps), a pixel tile none of whose
// windows reaches a padding column takes the S taps of each filter row as
// one tap of S*C bytes over S adjacent input pixels: 3 row pointers per
// pixel of a 3x3 conv, not 9, and 3 exits from the microkernel's tap loop;
// the other tiles take one tap per filter pixel (fill_tile_row_taps).
// Few input channels use merged rows (see use_merged_rows), and where the
// whole window is small, merged taps (see use_merged_taps): each pixel's
// window gathered into one row (x86/conv_igemm_taps.h), run as a 1x1 conv.
// Padded convs whose padding byte adds nothing in the microkernel, on tiers
// that take class tiles (IgemmUkernel::class_tiles), run instead by class
// tiles where at least kMinPaddingTaps of the window taps are padding
// (x86/conv_igemm_classes.h: tiles of pixels keeping the same taps, across
// images, the padding taps left out; run_class_tiles).
// Each output is computed by exactly one call, so results do not depend on
// the thread count or on the order of the items.
//
// Which microkernel packs (pack_ukernel): a tier's descriptor may name one
// for any input sign that needs weights in [-127, 127] (signed_alt, the
// AVX2 sign-trick tile), packed in its place when no weight is -128, and
// one for inputs with no negative value (nonneg), packed alone where the
// shape promises such inputs (ConvShape::nonneg_input, a ReLU's output),
// elsewhere beside the other for each run to take when its input has no
// negative byte (x86/conv_igemm_nonneg.cc; tiers where that scan does not
// pay leave it: IgemmUkernel::nonneg_per_run); two that pack alike share
// the packed weights. Beside them a tier may pack a shifted one
// (IgemmUkernel::shifted, the AVX2 u8 tile reading x + m) for runs whose
// input's minimum is in [-m, 0), m the largest its weights allow
// (conv_igemm_weights.cc, pack_shifted).
// That nonneg one may name a pair-sum twin (pairs_alt, the AVX2 u8 tile's
// igemm_6x16c4u2), packed in its place, with the residual groups of
// pack_pair_residuals, where those stay few (pack_pairs_alt).
// An input held as u8 codes q + 128 (ConvShape::input_codes, tiers whose
// descriptors say u8_codes) runs the nonneg microkernel over those bytes as
// they are, against weights packed with the -128 * sum(w) compensation (the
// shifted kernel's sums without its per-broadcast xor), padding rows holding
// code_byte(pad_value); an output held so is stored xor 0x80
// (TileEpilogue::out_xor), a residual held so read xor 0x80
// (residual_xor). Merged rows and taps decline u8-coded inputs.
//
// Item order (cache blocking): pixel chunks are gathered into panels whose
// input and output together fit in kPanelBytes; panel outer, then run, then
// the panel's pixel chunks. Within a panel one run's
// weights stay in cache while its pixels stream past; across runs
// the panel's input is re-read from L2 and each output line, of which a tile
// writes only its channels, is completed while still in cache. A layer whose
// whole input and output fit in one panel (batch 1 of most CNN layers) runs
// in the plain run-outer order; batch 8 no longer streams its whole
// input and partly written output through memory once per channel tile.
// The residual and output lines of the tile two ahead are prefetched: at
// batch 8 a bottleneck's residual was written three layers earlier and
// comes from L3 or memory, which the microkernel, reading it only in its
// epilogue, would otherwise wait for (ResNet-50's 1x1 convs with a
// residual took 12-16x their batch-1 CPU time at batch 8). So is a short
// pointwise tile's input (kMaxInputPrefetchBytes): its six rows, read four
// bytes a step each, are interleaved streams too short for the hardware
// prefetcher, and a bottleneck's first 1x1 conv reads the block input from
// memory at batch 8.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/conv_igemm_classes.h"
#include "kernels/x86/conv_igemm_taps.h"
#include "kernels/x86/conv_igemm_weights.h"
#include "kernels/x86/gemm_as_conv.h"
#include "kernels/registry.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

using igemm::compensated;
using igemm::has_min_weight;
using igemm::merged_reduction;
using igemm::pack_for;
using igemm::pack_pairs_alt;
using igemm::pack_ukernel;
using igemm::same_packing;
using igemm::use_merged_rows;
using igemm::use_merged_taps;
using igemm::use_row_taps;

// Multiply-adds per work item: large enough to amortize claiming it, small
// enough to balance two threads on small layers.
constexpr int64_t kItemMacs = int64_t{1} << 18;

// Input plus output bytes of one panel of pixel chunks: half of a 1 MiB L2
// (Zen 4; Intel server cores have 1.25-2 MiB), leaving room for weights.
constexpr int64_t kPanelBytes = int64_t{1} << 19;

// Tiles ahead of the current one whose residual and output lines are
// prefetched: a tile's reduction (at least a few hundred cycles) covers a
// load from L3 or memory.
constexpr int64_t kPrefetchTiles = 2;

// The most input bytes of a pointwise tile that are prefetched with it:
// ResNet-50's channel-reducing 1x1 convs (256 or 512 input channels, 6-row
// tiles: 1.5-3 KB) read an input that the previous block wrote out to L3 or
// memory, and gain 10-30% at batch 8 (RESULTS.md section 112); those with
// 1024 or 2048 input channels gained nothing and read 2-6% slower with it.
constexpr int64_t kMaxInputPrefetchBytes = 3072;

// Weights of one channel tile past which its reduction reads them from L2
// whatever the run (Zen 4/5: 32-48 KiB of L1 data cache).
constexpr int64_t kL1WeightBytes = int64_t{32} << 10;

// The least share of a conv's window taps in padding for which class tiles
// run (use_class_tiles): ResNet-50's 3x3 convs at batch 8, base ÷ class tiles
// per layer: 7 x 7 (18% padding taps) 0.88, 14 x 14 (9%) 0.93-0.95, 28 x 28
// (4.7%) 0.98-0.99, 56 x 56 and the 56 -> 28 stride-2 conv (2.4%) 1.00-1.04
// (RESULTS.md section 155): below a few percent the smaller edge tiles cost
// what the left-out taps save.
constexpr double kMinPaddingTaps = 0.04;

// The fewest pixel tiles per work item where the strip microkernel runs.
constexpr int64_t kStripTiles = 16;

// The padding row: `values` copies of pad_value, as int8 or, for widen_s16
// microkernels, int16 (those read the driver's int16 copy of the input).
std::shared_ptr<const AlignedBuffer<int8_t>> padding_row(const IgemmUkernel& u, int64_t values,
                                                         int8_t pad_value) {
  auto row = std::make_shared<AlignedBuffer<int8_t>>(values * 2 + 64);
  if (u.widen_s16) {
    int16_t* v = reinterpret_cast<int16_t*>(row->data());
    std::fill(v, v + values + 32, static_cast<int16_t>(pad_value));
  } else {
    std::fill(row->data(), row->data() + values * 2 + 64, pad_value);
  }
  return row;
}

// Where the microkernel's rows come from: the input itself, or a copy
// (int16 for widen_s16 kernels, padding columns for merged rows) in the
// calling thread's copy buffer (copy_buffer).
struct RowSource {
  const char* base = nullptr;
  int64_t pixel_bytes = 0, row_bytes = 0, image_bytes = 0, group_bytes = 0;
  int col_offset = 0;  // input column iw lives at copy column iw + col_offset
};

// The calling thread's buffer for RowSource copies, grown to the largest copy
// it has made and kept, so that runs allocate nothing (a run uses it from
// make_source until it returns; runs on one thread do not overlap).
std::vector<int8_t>& copy_buffer() {
  thread_local std::vector<int8_t> buffer;
  return buffer;
}

// The row-pointer array of one work chunk, per worker thread (grown once).
std::vector<const void*>& row_buffer(size_t n) {
  thread_local std::vector<const void*> rows;
  if (rows.size() < n) rows.resize(n);
  return rows;
}

// The calling thread's tap offsets for the run it is in (TapGeometry::
// tap_off, read by the run's chunks until it returns; grown once).
int64_t* tap_offset_buffer(size_t taps) {
  thread_local std::vector<int64_t> offsets;
  if (offsets.size() < taps) offsets.resize(taps);
  return offsets.data();
}

// What a tile's row pointers are formed from, copied by value into each
// worker (the fill loop then keeps it in registers: read through the run's
// references, every field was reloaded after each pointer store, which may
// alias it; that cost a few percent of ResNet-50's 3x3 convs).
struct TapGeometry {
  const char* base = nullptr;    // RowSource::base
  const void* padding = nullptr;  // the padding row (padding_row)
  const int64_t* tap_off = nullptr;  // [taps] byte offset of each tap from the window's origin
  int64_t image_bytes = 0, row_bytes = 0, pixel_bytes = 0, group_bytes = 0;
  int col_offset = 0;
  int R = 1, S_taps = 1, taps = 1;
  int H = 0, W = 0, OH = 0, OW = 0;
  int stride_h = 1, stride_w = 1, pad_top = 0, pad_left = 0, dilation_h = 1, dilation_w = 1;
  int h_span = 0, w_span = 0;
  bool merged = false, pointwise = false;
};

// Output pixel (n, oh, ow) of flat pixel p, then stepped one pixel at a
// time (no division per pixel); origin() is the byte offset of the pixel's
// window origin (ih0, iw0), negative near the top-left border.
struct PixelWalk {
  int64_t n;
  int oh, ow;
  PixelWalk(const TapGeometry& geo, int64_t p)
      : n(p / (int64_t{geo.OH} * geo.OW)), oh(static_cast<int>(p / geo.OW % geo.OH)),
        ow(static_cast<int>(p % geo.OW)) {}
  void next(const TapGeometry& geo) {
    if (++ow == geo.OW) {
      ow = 0;
      if (++oh == geo.OH) {
        oh = 0;
        ++n;
      }
    }
  }
  int ih0(const TapGeometry& geo) const { return oh * geo.stride_h - geo.pad_top; }
  int iw0(const TapGeometry& geo) const { return ow * geo.stride_w - geo.pad_left; }
  int64_t origin(const TapGeometry& geo, int64_t group) const {
    return group + n * geo.image_bytes + ih0(geo) * geo.row_bytes + (iw0(geo) + geo.col_offset) * geo.pixel_bytes;
  }
};

// Row pointers of pixels [p0, p0 + mr) of group g: rows[tap * mr_max + i]
// points at tap `tap` of pixel p0 + i (the padding row where it is padding).
void fill_tile_rows(const TapGeometry geo, int64_t p0, int mr, int mr_max, int g, const void** rows) {
  const char* const base = geo.base;
  const int64_t group = g * geo.group_bytes;
  if (geo.pointwise) {  // pixel p reads input pixel p
    const char* first = base + group + p0 * geo.pixel_bytes;
    for (int i = 0; i < mr; ++i) rows[i] = first + i * geo.pixel_bytes;
    return;
  }
  PixelWalk px(geo, p0);
  for (int i = 0; i < mr; ++i, px.next(geo)) {
    const int ih0 = px.ih0(geo), iw0 = px.iw0(geo);
    // Every tap inside the input adds its (r, c) offset to the origin, and
    // only those form pointers.
    const int64_t origin = px.origin(geo, group);
    const void** out = rows + i;
    const bool interior = ih0 >= 0 && ih0 + geo.h_span < geo.H &&
                          (geo.merged || (iw0 >= 0 && iw0 + geo.w_span < geo.W));
    if (interior) {
      for (int tap = 0; tap < geo.taps; ++tap, out += mr_max) *out = base + (origin + geo.tap_off[tap]);
      continue;
    }
    for (int r = 0; r < geo.R; ++r) {
      const int ih = ih0 + r * geo.dilation_h;
      const bool row_inside = ih >= 0 && ih < geo.H;
      for (int c = 0; c < geo.S_taps; ++c, out += mr_max) {
        const int iw = iw0 + c * geo.dilation_w;
        // Merged rows: the copy holds the padding columns.
        const bool inside = row_inside && (geo.merged || (iw >= 0 && iw < geo.W));
        *out = inside ? static_cast<const void*>(base + (origin + geo.tap_off[r * geo.S_taps + c]))
                      : geo.padding;
      }
    }
  }
}

// Row taps (use_row_taps: groups 1, dilation_w 1, one tap per filter pixel
// in geo): where no window of pixels [p0, p0 + mr) reaches a padding
// column, rows[r * mr_max + i] points at the S adjacent input pixels of
// filter row r of pixel p0 + i (S*C bytes from its tap (r, 0)), or at the
// padding row (S*C values) where that input row is padding, and it returns
// true; otherwise false, rows partly written (the caller fills them by taps).
// A tile inside one output row (most of them) is checked at its ends, and
// each filter row's pointers step by the input pixels of one output pixel.
bool fill_tile_row_taps(const TapGeometry geo, int64_t p0, int mr, int mr_max, const void** rows) {
  PixelWalk px(geo, p0);
  if (px.ow + mr <= geo.OW) {
    const int iw0 = px.iw0(geo), ih0 = px.ih0(geo);
    if (iw0 < 0 || iw0 + (mr - 1) * geo.stride_w + geo.w_span >= geo.W) return false;
    const int64_t origin = px.origin(geo, 0), step = int64_t{geo.stride_w} * geo.pixel_bytes;
    for (int r = 0; r < geo.R; ++r, rows += mr_max) {
      const int ih = ih0 + r * geo.dilation_h;
      if (ih < 0 || ih >= geo.H) {
        for (int i = 0; i < mr; ++i) rows[i] = geo.padding;
        continue;
      }
      const char* const first = geo.base + (origin + geo.tap_off[r * geo.S_taps]);
      for (int i = 0; i < mr; ++i) rows[i] = first + i * step;
    }
    return true;
  }
  for (int i = 0; i < mr; ++i, px.next(geo)) {
    const int ih0 = px.ih0(geo), iw0 = px.iw0(geo);
    if (iw0 < 0 || iw0 + geo.w_span >= geo.W) return false;
    const int64_t origin = px.origin(geo, 0);
    const void** out = rows + i;
    for (int r = 0; r < geo.R; ++r, out += mr_max) {
      const int ih = ih0 + r * geo.dilation_h;
      *out = ih >= 0 && ih < geo.H ? static_cast<const void*>(geo.base + (origin + geo.tap_off[r * geo.S_taps]))
                                   : geo.padding;
    }
  }
  return true;
}

// Where a layer's channel tiles read and write (one run() call's operands).
struct ChannelTiles {
  const PackedIgemmWeights* packed = nullptr;
  const Epilogue* ep = nullptr;
  const int8_t* residual = nullptr;  // Epilogue::residual
  char* y = nullptr;
  int64_t out_elem = 1;  // output bytes per value
  int nbk = 0, kg = 0, nb_max = 1, block = 16;

  // Points `tile` at channel tile ct of group g (weights, epilogue operands
  // at pixel 0, nc); returns its block count.
  int point(IgemmTile& tile, int g, int ct) const {
    const int b0 = ct * nb_max;
    const int nb = std::min(nb_max, nbk - b0);
    const int64_t k0 = int64_t{g} * kg + int64_t{b0} * block;  // first output channel
    tile.w = packed->block_ptr(g, b0);
    tile.acc_init = packed->comp_ptr(g, b0);
    tile.res = packed->res_ptr(g, b0);
    tile.res_count[0] = packed->res_count(g, b0);
    tile.res_count[1] = nb > 1 ? packed->res_count(g, b0 + 1) : 0;
    tile.nc = std::min(nb * block, kg - b0 * block);
    tile.ep.scale = ep->scale + k0;
    tile.ep.bias = ep->bias ? ep->bias + k0 : nullptr;
    tile.ep.residual = residual ? residual + k0 : nullptr;
    tile.ep.y = y + k0 * out_elem;
    return nb;
  }
};

class PackedIgemmConv final : public PackedConv {
 public:
  PackedIgemmConv(const IgemmUkernel& u, const ConvShape& s, const int8_t* w)
      : PackedIgemmConv(u, s, pack_for(u, s, w)) {}
  // With weights already packed for (u, s) (pack_for's layout).
  PackedIgemmConv(const IgemmUkernel& u, const ConvShape& s, PackedIgemmWeights packed)
      : PackedIgemmConv(u, s, std::make_shared<const PackedIgemmWeights>(std::move(packed))) {}
  // Sharing weights packed for (u, s) or for a microkernel that packs alike (same_packing).
  PackedIgemmConv(const IgemmUkernel& u, const ConvShape& s, std::shared_ptr<const PackedIgemmWeights> packed)
      : u_(u), shape_(s), merged_(use_merged_rows(s)), taps_merged_(use_merged_taps(u, s)),
        row_taps_(use_row_taps(u, s)), packed_(std::move(packed)),
        padding_(padding_row(u, int64_t{packed_->layout.q} * u.cgroup * (row_taps_ ? s.S : 1),
                             code_byte(s.pad_value, s.input_codes))) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    // merged_, taps_merged_ and the packing depend on C, K, R, S and groups only.
    auto copy = std::make_unique<PackedIgemmConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedIgemmConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  void make_source(int batch, const int8_t* x, RowSource& src) const;
  bool use_class_tiles(const Epilogue& ep) const;
  void run_class_tiles(int batch, const RowSource& src, const IgemmTile& proto, const ChannelTiles& channels,
                       int kt_per_g, int kt_run, int64_t tile_macs, int64_t bytes_per_image) const;

  IgemmUkernel u_;
  ConvShape shape_;
  bool merged_;
  bool taps_merged_;  // merged taps (conv_igemm_taps.h): a 1x1 conv over gathered windows
  bool row_taps_;     // row taps (use_row_taps): R taps of S*C values per pixel
  std::shared_ptr<const PackedIgemmWeights> packed_;  // shared by with_input_size copies
  std::shared_ptr<const AlignedBuffer<int8_t>> padding_;  // the padding row (padding_row)
};

void PackedIgemmConv::make_source(int batch, const int8_t* x, RowSource& src) const {
  const ConvShape& s = shape_;
  const int eb = u_.widen_s16 ? 2 : 1;
  if (taps_merged_) {  // one row of kc values per output pixel
    const int64_t kc = packed_->layout.cg;
    src.pixel_bytes = kc;
    src.row_bytes = int64_t{s.out_w()} * kc;
    src.image_bytes = src.row_bytes * s.out_h();
    src.group_bytes = 0;
    std::vector<int8_t>& copy = copy_buffer();
    const size_t copy_bytes = static_cast<size_t>(src.image_bytes * batch);
    if (copy.size() < copy_bytes) copy.resize(copy_bytes);
    igemm::gather_taps(s, batch, x, static_cast<int>(kc), copy.data());
    src.base = reinterpret_cast<const char*>(copy.data());
    return;
  }
  if (!merged_ && !u_.widen_s16) {
    src.base = reinterpret_cast<const char*>(x);
    src.pixel_bytes = s.C;
    src.row_bytes = int64_t{s.W} * s.C;
    src.image_bytes = src.row_bytes * s.H;
    src.group_bytes = s.c_per_group();
    return;
  }
  // Copy with, per pixel, `groups` runs of cg_pad values (widened kernels
  // read whole pairs of each group; the values past cg are 0, against zero
  // weights) and, for merged rows, columns of pad_value.
  const int cg = s.c_per_group();
  const int64_t cg_pad = merged_ ? cg : int64_t{packed_->layout.q} * u_.cgroup;
  const int pad_l = merged_ ? s.pad_left : 0, pad_r = merged_ ? s.pad_right : 0;
  const int64_t wp = int64_t{s.W} + pad_l + pad_r;
  src.pixel_bytes = s.groups * cg_pad * eb;
  src.row_bytes = wp * src.pixel_bytes;
  src.image_bytes = src.row_bytes * s.H;
  src.group_bytes = cg_pad * eb;
  src.col_offset = pad_l;
  // 64 bytes of slack: a merged row may read past its end (one value of a
  // widened row, up to cgroup - 1 bytes of an int8 one: merged_reduction),
  // against zero weights. Padding columns are filled below, row by row.
  std::vector<int8_t>& copy = copy_buffer();
  const size_t copy_bytes = static_cast<size_t>(src.image_bytes * batch + 64);
  if (copy.size() < copy_bytes) copy.resize(copy_bytes);
  char* dst = reinterpret_cast<char*>(copy.data());
  std::memset(dst + src.image_bytes * batch, 0, 64);
  const int64_t rows = int64_t{batch} * s.H;
  const int64_t pad_bytes_l = pad_l * src.pixel_bytes, pad_bytes_r = pad_r * src.pixel_bytes;
  const int8_t pad_value = s.pad_value;
  // Fills `bytes` of d with pad_value as int8 (eb 1) or int16 (eb 2) values.
  auto fill_padding = [pad_value, eb](char* d, int64_t bytes) {
    if (eb == 1) {
      std::memset(d, static_cast<unsigned char>(pad_value), static_cast<size_t>(bytes));
    } else {
      int16_t* d16 = reinterpret_cast<int16_t*>(d);
      std::fill(d16, d16 + bytes / 2, static_cast<int16_t>(pad_value));
    }
  };
  parallel_for(rows, std::max<int64_t>(1, 65536 / (int64_t{s.W} * s.C + 1)),
               [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      char* d = dst + row * src.row_bytes;
      const int8_t* xs = x + row * s.W * s.C;
      fill_padding(d, pad_bytes_l);
      fill_padding(d + src.row_bytes - pad_bytes_r, pad_bytes_r);
      d += pad_bytes_l;
      if (eb == 1) {  // merged rows, int8: groups == 1 and cg_pad == C
        std::memcpy(d, xs, static_cast<size_t>(s.W) * s.C);
        continue;
      }
      int16_t* d16 = reinterpret_cast<int16_t*>(d);
      for (int64_t pg = 0; pg < int64_t{s.W} * s.groups; ++pg) {
        const int8_t* xg = xs + pg * cg;
        int16_t* dg = d16 + pg * cg_pad;
        for (int c = 0; c < cg; ++c) dg[c] = xg[c];
        for (int64_t c = cg; c < cg_pad; ++c) dg[c] = 0;
      }
    }
  });
  src.base = dst;
}

void PackedIgemmConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, u_.conv_name);
  if (batch < 0) throw InvalidArgument(std::string(u_.conv_name) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const IgemmLayout& L = packed_->layout;
  const int OH = s.out_h(), OW = s.out_w();
  const int taps = L.taps;  // R*S, R for merged rows, 1 for merged taps
  const int R_taps = taps_merged_ ? 1 : s.R;
  const int S_taps = merged_ ? 1 : s.S;
  const int64_t P = static_cast<int64_t>(batch) * OH * OW;
  RowSource src;
  make_source(batch, x, src);

  const int mr_max = u_.mr;
  const int64_t ptiles = (P + mr_max - 1) / mr_max;
  // Balanced pixel tiles: the first P % ptiles tiles get one row more than
  // the others (at most mr_max). With mr_max-row tiles and a short last one
  // a tile of one or two rows, whose few accumulators wait on the
  // multiply-add latency, cost nearly a full tile: at 7 x 7 = 49 pixels
  // (ResNet-50's last stage, batch 1) 8 full tiles and one of 1 row.
  const int64_t row_base = P / ptiles, row_extra = P % ptiles;
  auto tile_begin = [&](int64_t pt) { return pt * row_base + std::min(pt, row_extra); };
  const int kt_per_g = (L.nbk + u_.nb - 1) / u_.nb;
  // Runs: consecutive channel tiles of one group whose weights together fit
  // IgemmUkernel::run_weight_bytes (one tile where they do not, or where it
  // is 0), balanced; a pixel tile's row pointers are filled once per run and
  // serve each of its channel tiles.
  // Convs with several taps whose one tile's weights overflow L1 take
  // IgemmUkernel::l2_run_weight_bytes instead, where set (see there).
  const int64_t kt_weight_bytes = std::max<int64_t>(1, L.block_stride * u_.nb);
  const int64_t run_budget = taps > 1 && kt_weight_bytes > kL1WeightBytes && u_.l2_run_weight_bytes > 0
                                 ? u_.l2_run_weight_bytes
                                 : u_.run_weight_bytes;
  const int kt_run_max = static_cast<int>(std::clamp<int64_t>(run_budget / kt_weight_bytes, 1, kt_per_g));
  const int runs_per_g = (kt_per_g + kt_run_max - 1) / kt_run_max;
  const int kt_run = (kt_per_g + runs_per_g - 1) / runs_per_g;
  const int64_t kt_total = static_cast<int64_t>(s.groups) * runs_per_g;  // runs in all groups
  const int64_t tile_macs = int64_t{mr_max} * u_.nb * u_.block * taps * L.cg * kt_run;
  // The tier's strip microkernel (IgemmUkernel::strip) takes the full
  // channel tiles of pointwise int8 convs with a reduction it accepts, over
  // chunks of at least kStripTiles pixel tiles (each strip pays one
  // epilogue that no reduction hides).
  const bool pointwise_rows = (s.R == 1 && s.S == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 &&
                               s.pad_left == 0 && s.pad_bottom == 0 && s.pad_right == 0 && !merged_) ||
                              taps_merged_;
  const bool strip = u_.strip && pointwise_rows && ep.out_type == OutputType::kInt8 && L.cg % u_.cgroup == 0 &&
                     L.cg >= u_.strip_min_kc && L.cg <= u_.strip_max_kc;
  const int64_t ppi = std::max<int64_t>(strip ? kStripTiles : 1, kItemMacs / tile_macs);
  const int64_t pchunks = (ptiles + ppi - 1) / ppi;
  // Pixel chunks per panel (see the file comment): input bytes per output
  // pixel (the input over the output pixel count) plus its output and
  // residual bytes.
  const int64_t out_elem = ep.out_type == OutputType::kInt8 ? 1 : 4;
  const int64_t in_per_pixel = (src.image_bytes + OH * OW - 1) / (int64_t{OH} * OW);
  const int64_t res_per_pixel = ep.residual ? s.K : 0;
  const int64_t chunk_bytes = ppi * mr_max * (in_per_pixel + int64_t{s.K} * out_elem + res_per_pixel);
  const int64_t panel = std::min(pchunks, std::max<int64_t>(1, kPanelBytes / std::max<int64_t>(1, chunk_bytes)));
  const int64_t items_per_panel = panel * kt_total;
  const int64_t items = (pchunks + panel - 1) / panel * items_per_panel;
  const int64_t total_macs = P * s.K * taps * L.cg;
  const int64_t grain = total_macs < 4 * kItemMacs ? items : 1;
  const int8_t* xres = ep.residual;
  // Byte offset of each tap from the window's origin, and the window's extent.
  int64_t* tap_off = tap_offset_buffer(static_cast<size_t>(taps));
  for (int r = 0; r < R_taps; ++r) {
    for (int c = 0; c < S_taps; ++c) {
      tap_off[static_cast<size_t>(r * S_taps + c)] =
          int64_t{r} * s.dilation_h * src.row_bytes + int64_t{c} * s.dilation_w * src.pixel_bytes;
    }
  }
  // 1x1, stride 1, no padding: output pixel p reads input pixel p, so a
  // tile's rows are consecutive pixels (no per-pixel position arithmetic;
  // with short reductions that arithmetic cost a third of the layer).
  TapGeometry geo;
  geo.base = src.base;
  geo.padding = padding_->data();
  geo.tap_off = tap_off;
  geo.image_bytes = src.image_bytes;
  geo.row_bytes = src.row_bytes;
  geo.pixel_bytes = src.pixel_bytes;
  geo.group_bytes = src.group_bytes;
  geo.col_offset = src.col_offset;
  geo.R = s.R;
  geo.S_taps = S_taps;
  geo.taps = taps;
  geo.H = s.H;
  geo.W = s.W;
  geo.OH = OH;
  geo.OW = OW;
  geo.stride_h = s.stride_h;
  geo.stride_w = s.stride_w;
  geo.pad_top = s.pad_top;
  geo.pad_left = s.pad_left;
  geo.dilation_h = s.dilation_h;
  geo.dilation_w = s.dilation_w;
  geo.h_span = (s.R - 1) * s.dilation_h;
  geo.w_span = (s.S - 1) * s.dilation_w;
  geo.merged = merged_;
  geo.pointwise = pointwise_rows;  // merged taps: pixel p's gathered window is row p

  // Row taps (fill_tile_row_taps): S*cg values per filter row, tried only
  // where a whole tile fits among an output row's columns whose windows
  // stay clear of the padding columns (none does at 7 x 7: each try would
  // cost a failed check).
  const int clear_end = s.W - 1 - geo.w_span + s.pad_left;  // the last clear column's ow * stride_w
  const int ow_first = (s.pad_left + s.stride_w - 1) / s.stride_w;
  const int ow_last = clear_end < 0 ? -1 : std::min(OW - 1, clear_end / s.stride_w);
  const bool row_taps = row_taps_ && ow_last - ow_first + 1 >= mr_max;
  const int row_kc = s.S * L.cg;

  // What every call of this run shares; the work items fill in the rest.
  // Built once here and copied per chunk: value-initializing an IgemmTile
  // per item (a 112-byte `rep stos`) was a tenth of the driver's time.
  IgemmTile proto;
  proto.taps = taps;
  proto.kc = L.cg;
  proto.w_block_stride = L.step_block_stride();
  proto.row_add = packed_->row_add;
  proto.ep.lo = ep.clamp_lo;
  proto.ep.hi = ep.clamp_hi;
  proto.ep.residual_scale = ep.residual_scale;
  proto.ep.residual_stride = s.K;
  proto.ep.y_stride = s.K;
  proto.ep.out_f32 = ep.out_type == OutputType::kFloat32;
  proto.ep.out_xor = s.output_codes == Codes::kU8 && !proto.ep.out_f32 ? 0x80 : 0;
  proto.ep.residual_xor = s.residual_codes == Codes::kU8 ? 0x80 : 0;
  // The prefetch loop's operands as plain values (read through the run's
  // references they were reloaded for every row, after each pointer store).
  const int64_t K = s.K;
  const char* const ybytes = static_cast<const char*>(y);
  const int nbk = L.nbk, kg = L.kg, nb_max = u_.nb, block = u_.block;
  ChannelTiles channels;
  channels.packed = packed_.get();
  channels.ep = &ep;
  channels.residual = xres;
  channels.y = const_cast<char*>(ybytes);
  channels.out_elem = out_elem;
  channels.nbk = nbk;
  channels.kg = kg;
  channels.nb_max = nb_max;
  channels.block = block;
  // The input of the tile kPrefetchTiles ahead, for pointwise convs of one
  // group (their tile's rows are one block of consecutive bytes) with at
  // most kMaxInputPrefetchBytes per tile (0: not prefetched). See the file
  // comment.
  const char* const in_base = geo.base;
  const int64_t in_pixel_bytes =
      geo.pointwise && s.groups == 1 && mr_max * geo.pixel_bytes <= kMaxInputPrefetchBytes ? geo.pixel_bytes : 0;

  if (use_class_tiles(ep)) {
    const int64_t per_image = src.image_bytes + int64_t{OH} * OW * K * out_elem + (xres ? int64_t{OH} * OW * K : 0);
    run_class_tiles(batch, src, proto, channels, kt_per_g, kt_run, tile_macs, per_image);
    return;
  }
  parallel_for(items, grain, [&, proto, K, ybytes, xres, out_elem, in_base, in_pixel_bytes, row_taps,
                              row_kc](int64_t begin, int64_t end) {
    const void** const rows = row_buffer(static_cast<size_t>(taps) * mr_max).data();
    // Row pointers of pixels [p0, p0 + mr) of group g for `tile`: by row
    // taps where the tile allows them (its taps and kc set to match), else
    // one tap per filter pixel.
    const auto fill_rows = [&](IgemmTile& tile, int64_t p0, int mr, int g) {
      const bool by_rows = row_taps && fill_tile_row_taps(geo, p0, mr, mr_max, rows);
      if (!by_rows) fill_tile_rows(geo, p0, mr, mr_max, g, rows);
      tile.taps = by_rows ? s.R : taps;
      tile.kc = by_rows ? row_kc : L.cg;
    };
    IgemmTile t = proto;
    t.a = rows;
    // Points t at channel tile ct of group g (pixel 0 until at_pixel);
    // returns its block count.
    const auto channel_tile = [&](IgemmTile& tile, int g, int ct) { return channels.point(tile, g, ct); };
    // Moves the residual and output of channel_tile's tile to pixel p0.
    const auto at_pixel = [&](IgemmTile& tile, int64_t p0) {
      const int64_t k0 = tile.ep.scale - ep.scale;
      tile.ep.residual = xres ? xres + p0 * K + k0 : nullptr;
      tile.ep.y = const_cast<char*>(ybytes) + (p0 * K + k0) * out_elem;
    };
    // Pixels [p_begin, p_end) of group g against channel tiles [kt0, kt1)
    // by the tier's strip microkernel (see `strip`): full channel tiles as
    // one strip each of whole strip tiles, the remaining rows and partial
    // channel tiles by the plain microkernel.
    const auto run_strips = [&](IgemmTile& tile, int g, int kt0, int kt1, int64_t p_begin, int64_t p_end) {
      const int64_t m_strip = (p_end - p_begin) / u_.strip_mr * u_.strip_mr;
      for (int ct = kt0; ct < kt1; ++ct) {
        const int nb = channel_tile(tile, g, ct);
        int64_t p0 = p_begin;
        if (tile.nc == nb_max * block && m_strip > 0) {
          at_pixel(tile, p_begin);
          IgemmStrip st;
          st.x = reinterpret_cast<const int8_t*>(geo.base + g * geo.group_bytes + p_begin * geo.pixel_bytes);
          st.x_stride = geo.pixel_bytes;
          st.m = m_strip;
          st.kc = L.cg;
          st.w = tile.w;
          st.w_block_stride = tile.w_block_stride;
          st.acc_init = tile.acc_init;
          st.ep = tile.ep;
          u_.strip(st);
          p0 += m_strip;
        }
        while (p0 < p_end) {
          const int mr = static_cast<int>(std::min<int64_t>(mr_max, p_end - p0));
          fill_rows(tile, p0, mr, g);
          at_pixel(tile, p0);
          u_.fn(mr, nb)(tile);
          p0 += mr;
        }
      }
    };
    // Item = (panel, channel tile, pixel chunk within the panel), decoded
    // once and then stepped (no divisions per item).
    int64_t panel_no = begin / items_per_panel;
    int64_t kt = begin % items_per_panel / panel;
    int64_t pc_in = begin % items_per_panel % panel;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t pc = panel_no * panel + pc_in;
      const int64_t kt_now = kt;
      if (++pc_in == panel) {
        pc_in = 0;
        if (++kt == kt_total) {
          kt = 0;
          ++panel_no;
        }
      }
      if (pc >= pchunks) continue;  // the last panel may be short
      const int g = static_cast<int>(kt_now / runs_per_g);
      const int kt0 = static_cast<int>(kt_now % runs_per_g) * kt_run;
      const int kt1 = std::min(kt_per_g, kt0 + kt_run);
      const int64_t k_run = int64_t{g} * kg + int64_t{kt0} * nb_max * block;  // the run's first output channel
      const int64_t run_bytes = (std::min(kg, kt1 * nb_max * block) - int64_t{kt0} * nb_max * block) * out_elem;
      const IgemmFn fn_full = u_.fn(mr_max, nb_max);  // full tiles: most calls
      const int64_t pt_end = std::min(ptiles, (pc + 1) * ppi);
      if (strip) {
        run_strips(t, g, kt0, kt1, tile_begin(pc * ppi), tile_begin(pt_end));
        continue;
      }
      for (int64_t pt = pc * ppi; pt < pt_end; ++pt) {
        const int64_t p0 = tile_begin(pt);
        const int mr = static_cast<int>(tile_begin(pt + 1) - p0);
        fill_rows(t, p0, mr, g);
        // Residual and output lines of the tile kPrefetchTiles ahead (see
        // the file comment): at batch 8 they come from L3 or memory, and the
        // microkernel reads the residual only after its reduction.
        if (pt + kPrefetchTiles < ptiles) {
          const int64_t pf = tile_begin(pt + kPrefetchTiles);
          const int pf_rows = static_cast<int>(tile_begin(pt + kPrefetchTiles + 1) - pf);
          const int64_t at0 = pf * K + k_run;
          for (int i = 0; i < pf_rows; ++i) {
            const int64_t at = at0 + i * K;
            for (int64_t off = 0; off < run_bytes; off += 64) {
              if (xres) __builtin_prefetch(xres + at + off / out_elem, 0, 3);
              __builtin_prefetch(ybytes + at * out_elem + off, 1, 3);
            }
          }
          const char* const in = in_base + pf * in_pixel_bytes;
          for (int64_t off = 0; off < pf_rows * in_pixel_bytes; off += 64) __builtin_prefetch(in + off, 0, 3);
        }
        const IgemmFn fn_run = mr == mr_max ? fn_full : u_.fn(mr, nb_max);
        for (int ct = kt0; ct < kt1; ++ct) {
          const int nb = channel_tile(t, g, ct);
          at_pixel(t, p0);
          (nb == nb_max ? fn_run : u_.fn(mr, nb))(t);
        }
      }
    }
  });
}

// Class tiles (conv_igemm_classes.h) where they give the same sums: a tier
// that takes them, a conv of several taps reading the input itself (no
// copy, one group) with int8 output, whose padding byte adds nothing in the
// microkernel (0 as it multiplies it: the shifted tile xors it with 0x80),
// and at least kMinPaddingTaps of its window taps in padding.
bool PackedIgemmConv::use_class_tiles(const Epilogue& ep) const {
  const ConvShape& s = shape_;
  if (!u_.class_tiles || packed_->layout.taps < 2 || merged_ || taps_merged_ || u_.widen_s16 || s.groups != 1 ||
      ep.out_type != OutputType::kInt8) {
    return false;
  }
  const uint8_t pad_byte = static_cast<uint8_t>(code_byte(s.pad_value, s.input_codes)) ^ (u_.unsigned_rows ? 0 : 0x80);
  return pad_byte == 0 && igemm::padding_tap_fraction(s) >= kMinPaddingTaps;
}

// The class-tile schedule: images in groups whose input and output fit
// kPanelBytes (as the panels of run()), each group's tiles planned once per
// group size (plan_class_tiles; the last group may be smaller); work items
// (group, run of channel tiles, chunk of tiles), in that order.
void PackedIgemmConv::run_class_tiles(int batch, const RowSource& src, const IgemmTile& proto,
                                      const ChannelTiles& channels, int kt_per_g, int kt_run, int64_t tile_macs,
                                      int64_t bytes_per_image) const {
  const ConvShape& s = shape_;
  const int mr_max = u_.mr;
  const int group = static_cast<int>(std::clamp<int64_t>(kPanelBytes / std::max<int64_t>(1, bytes_per_image), 1, batch));
  const int full_groups = batch / group, rest = batch % group;
  const igemm::SourceStrides strides{src.pixel_bytes, src.row_bytes, src.image_bytes};
  thread_local igemm::ClassPlan plans[2];  // group images, the rest
  igemm::plan_class_tiles(s, strides, group, mr_max, row_taps_, &plans[0]);
  if (rest > 0) igemm::plan_class_tiles(s, strides, rest, mr_max, row_taps_, &plans[1]);
  const igemm::ClassPlan* const plan[2] = {&plans[0], &plans[1]};
  const int64_t per_item = std::max<int64_t>(1, kItemMacs / tile_macs);
  const int64_t chunks[2] = {(static_cast<int64_t>(plans[0].tiles.size()) + per_item - 1) / per_item,
                             rest > 0 ? (static_cast<int64_t>(plans[1].tiles.size()) + per_item - 1) / per_item : 0};
  const int runs = (kt_per_g + kt_run - 1) / kt_run;
  const int64_t full_items = int64_t{full_groups} * runs * chunks[0];
  const int64_t items = full_items + runs * chunks[1];
  const int64_t total_macs = int64_t{batch} * s.out_h() * s.out_w() * s.K * packed_->layout.taps * packed_->layout.cg;
  const int64_t grain = total_macs < 4 * kItemMacs ? items : 1;
  const int64_t plane = int64_t{s.out_h()} * s.out_w();
  const int cg = packed_->layout.cg, row_kc = s.S * cg;
  parallel_for(items, grain, [&, proto](int64_t begin, int64_t end) {
    const void** const rows = row_buffer(static_cast<size_t>(packed_->layout.taps) * mr_max).data();
    int64_t pixel[8];
    IgemmTile t = proto;
    t.a = rows;
    t.pixel = pixel;
    for (int64_t item = begin; item < end; ++item) {
      const bool last = item >= full_items;
      const int64_t local = last ? item - full_items : item;
      const int64_t per_group = runs * chunks[last];
      const int64_t n0 = last ? int64_t{full_groups} * group : local / per_group * group;
      const int kt0 = static_cast<int>(local % per_group / chunks[last]) * kt_run;
      const int kt1 = std::min(kt_per_g, kt0 + kt_run);
      const int64_t chunk = local % per_group % chunks[last];
      const igemm::ClassPlan& p = *plan[last];
      const int64_t tile_end = std::min<int64_t>(static_cast<int64_t>(p.tiles.size()), (chunk + 1) * per_item);
      const char* const base = src.base + n0 * src.image_bytes;
      for (int64_t ti = chunk * per_item; ti < tile_end; ++ti) {
        const igemm::ClassTile& c = p.tiles[static_cast<size_t>(ti)];
        const int64_t* const origin = p.origin.data() + c.first;
        for (int k = 0; k < c.taps; ++k) {
          const char* const tap = base + p.tap_off[static_cast<size_t>(c.tap_first + k)];
          for (int i = 0; i < c.mr; ++i) rows[k * mr_max + i] = tap + origin[i];
        }
        for (int i = 0; i < c.mr; ++i) pixel[i] = n0 * plane + p.pixel[static_cast<size_t>(c.first + i)];
        t.taps = c.taps;
        t.kc = c.row_taps ? row_kc : cg;
        t.tap_w = p.tap_w.data() + c.tap_first;
        for (int ct = kt0; ct < kt1; ++ct) u_.fn(c.mr, channels.point(t, 0, ct))(t);
      }
    }
  });
}

// The conv packed for `nn`, a tier's microkernel for inputs with no
// negative value (IgemmUkernel::nonneg), or for its pair-sum twin where
// that pays (pack_pairs_alt); `shared`, when not null, holds weights
// already packed alike (same_packing).
std::unique_ptr<PackedConv> pack_nonneg(const IgemmUkernel& nn, const ConvShape& shape, const int8_t* w,
                                        std::shared_ptr<const PackedIgemmWeights> shared) {
  std::shared_ptr<const PackedIgemmWeights> packed = pack_pairs_alt(nn, shape, w);
  const IgemmUkernel& u = packed ? *nn.pairs_alt : nn;
  if (!packed) packed = shared ? std::move(shared) : std::make_shared<const PackedIgemmWeights>(pack_for(nn, shape, w));
  return std::make_unique<PackedIgemmConv>(u, shape, std::move(packed));
}

// B given per run, packed in the plain form (one-byte values, no pair sums)
// into weights this object keeps: pack() rewrites them in place, so a slot
// that holds one allocates nothing when the next product of its shape comes.
class PerRunIgemmGemm final : public PackedGemm {
 public:
  PerRunIgemmGemm(const IgemmUkernel& u, const GemmShape& shape)
      : u_(&u), shape_(shape),
        weights_(std::make_shared<PackedIgemmWeights>(
            PackedIgemmWeights{layout(u, shape), {}, {}, {}, {}})),
        gemm_(shape, std::make_unique<PackedIgemmConv>(u, gemm_as_conv(shape), weights_)) {}

  // Whether this object packs for microkernel u and this shape.
  bool fits(const IgemmUkernel& u, const GemmShape& shape) const {
    return u_ == &u && shape_.N == shape.N && shape_.K == shape.K;
  }
  void pack(const int8_t* b, bool kn) {
    const IgemmLayout L = layout(*u_, shape_);
    if (u_->pack_b) {  // the tier's own packer, every byte written
      size_packed(L, compensated(*u_), weights_.get());
      u_->pack_b(shape_.N, shape_.K, b, kn, weights_->w.data(), compensated(*u_) ? weights_->comp.data() : nullptr);
    } else if (kn) {
      pack_igemm_weights_kn_into(L, b, compensated(*u_), weights_.get());
    } else {
      pack_igemm_weights_into(L, b, compensated(*u_), weights_.get());
    }
  }
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override { gemm_.run(M, a, ep, y); }
  const GemmShape& shape() const override { return shape_; }

 private:
  // pack_for's layout of a GEMM's weights for u (pack_layout: no merged rows or taps for 1x1).
  static IgemmLayout layout(const IgemmUkernel& u, const GemmShape& s) {
    return IgemmLayout(1, s.N, s.K, 1, u.block, u.cgroup, 1, u.interleaved ? u.nb : 1);
  }

  const IgemmUkernel* u_;
  GemmShape shape_;
  std::shared_ptr<PackedIgemmWeights> weights_;  // shared, read-only, with gemm_'s conv
  ConvAsGemm gemm_;
};

}  // namespace

std::string IgemmConvKernel::supports(const ConvShape& shape, OutputType) const {
  // u8-coded tensors: tiers whose shifted and nonneg microkernels both take
  // them (IgemmUkernel::u8_codes); u8-coded inputs outside merged rows and
  // taps (their copies pad with the code itself).
  if (*u8_codes_declined(shape)) {
    if (!u_.u8_codes || !u_.nonneg || !u_.nonneg->u8_codes) return u8_codes_declined(shape);
    if (shape.input_codes == Codes::kU8 && (use_merged_rows(shape) || use_merged_taps(*u_.nonneg, shape))) {
      return "u8-coded input: merged rows or taps";
    }
  }
  // Every valid conv: any kernel size, stride, padding, dilation and group
  // count (depthwise too, though a dwconv kernel is faster for it: tiers
  // that set IgemmUkernel::declines_depthwise leave it to a dwconv kernel,
  // their own or a lower tier's).
  if (u_.declines_depthwise && shape.groups > 1 && shape.is_depthwise()) {
    return "depthwise: a dwconv kernel is faster";
  }
  return "";
}

std::unique_ptr<PackedConv> IgemmConvKernel::pack(const ConvShape& shape,
                                                  const int8_t* w) const {
  shape.validate();
  if (shape.input_codes == Codes::kU8) {  // u8 codes: the nonneg microkernel, compensated weights (pack_for)
    return std::make_unique<PackedIgemmConv>(*u_.nonneg, shape, pack_for(*u_.nonneg, shape, w));
  }
  const bool nonneg_ok = u_.nonneg && shape.pad_value >= 0;
  if (nonneg_ok && shape.nonneg_input) return pack_nonneg(*u_.nonneg, shape, w, nullptr);  // the promise: no scan
  const IgemmUkernel& u0 = pack_ukernel(u_, w, int64_t{shape.K} * shape.c_per_group() * shape.R * shape.S, false);
  // 24 channels per group: the 3-block tile where the tile has one
  // (IgemmUkernel::wide_alt). One with fewer rows than the tile it replaces
  // takes long reductions only: AVX2's 3-row tiles pay the epilogue and the
  // driver's per-tile work over half the rows (1x1 convs of 16 / 24 input
  // channels ran 1.26-1.33x slower on it, 144 -> 24 level, the 3x3 96 -> 24
  // (reduction 864) x0.94-0.95: RESULTS.md section 242). AVX512-VNNI's
  // 6-row one pays at every reduction measured, 24 to 864: x0.77-0.79 on
  // 3x3 96 -> 24, x0.82-0.89 on EfficientNet-B0's 1x1 96 / 144 -> 24
  // (section 251).
  constexpr int64_t kWideMinReduction = 256;
  const bool wide = u0.wide_alt && shape.k_per_group() == 24 &&
                    (u0.wide_alt->mr >= u0.mr ||
                     int64_t{shape.c_per_group()} * shape.R * shape.S >= kWideMinReduction);
  const IgemmUkernel& u = wide ? *u0.wide_alt : u0;
  if (&u != &u0 && dispatch_log_enabled()) {
    std::fprintf(stderr, "int8rt dispatch: %s runs 24 channels per group as %s\n", u_.conv_name, u.conv_name);
  }
  auto packed = std::make_shared<const PackedIgemmWeights>(pack_for(u, shape, w));
  if (!nonneg_ok || !u_.nonneg_per_run) return std::make_unique<PackedIgemmConv>(u, shape, std::move(packed));
  auto general = std::make_unique<PackedIgemmConv>(u, shape, packed);
  auto nonneg = pack_nonneg(*u_.nonneg, shape, w, same_packing(u, *u_.nonneg) ? packed : nullptr);
  if (!u_.shifted) return nonneg_dispatch(std::move(general), std::move(nonneg));
  // Inputs a few codes below 0: the shifted microkernel (conv_igemm_nonneg.cc).
  auto shifted = std::make_shared<const PackedIgemmWeights>(igemm::pack_shifted(*u_.shifted, shape, w));
  const int m = shifted->row_add;
  if (dispatch_log_enabled()) {
    std::fprintf(stderr, "int8rt dispatch: %s runs inputs >= %d as %s\n", u_.conv_name, -m, u_.shifted->conv_name);
  }
  return nonneg_dispatch(std::move(general), std::move(nonneg),
                         std::make_unique<PackedIgemmConv>(*u_.shifted, shape, std::move(shifted)), m);
}

std::string IgemmGemmKernel::supports(const GemmShape&, OutputType) const { return ""; }

std::unique_ptr<PackedGemm> IgemmGemmKernel::pack(const GemmShape& shape,
                                                  const int8_t* w) const {
  shape.validate();
  const IgemmUkernel& u = pack_ukernel(u_, w, int64_t{shape.N} * shape.K, true);
  return std::make_unique<ConvAsGemm>(shape, std::make_unique<PackedIgemmConv>(u, gemm_as_conv(shape), w));
}

std::unique_ptr<PackedGemm> IgemmGemmKernel::pack_kn(const GemmShape& shape, const int8_t* w_kn) const {
  shape.validate();
  const ConvShape conv = gemm_as_conv(shape);
  const int64_t n = int64_t{shape.N} * shape.K;
  // Weights that need u_ itself: pack() through the transpose, which says so.
  if (u_.signed_alt && has_min_weight(w_kn, n)) return GemmKernel::pack_kn(shape, w_kn);
  const IgemmUkernel& u = pack_ukernel(u_, w_kn, n, true);
  if (u.widen_s16 || u.pair_sums || use_merged_rows(conv)) return GemmKernel::pack_kn(shape, w_kn);  // pack_for's other forms
  auto packed = std::make_unique<PerRunIgemmGemm>(u, shape);
  packed->pack(w_kn, true);
  return packed;
}

void IgemmGemmKernel::pack_per_run_into(const GemmShape& shape, const int8_t* b, bool kn,
                                        std::unique_ptr<PackedGemm>* slot) const {
  shape.validate();
  const int64_t n = int64_t{shape.N} * shape.K;
  // As pack_kn and pack() choose: the microkernel from the weights, the other forms packed anew.
  const IgemmUkernel& u = pack_ukernel(u_, b, n, true);
  if (u.widen_s16 || u.pair_sums || (kn && u_.signed_alt && &u == &u_)) {
    *slot = kn ? pack_kn(shape, b) : pack(shape, b);
    return;
  }
  auto* reuse = dynamic_cast<PerRunIgemmGemm*>(slot->get());
  if (!reuse || !reuse->fits(u, shape)) {
    *slot = std::make_unique<PerRunIgemmGemm>(u, shape);
    reuse = static_cast<PerRunIgemmGemm*>(slot->get());
  }
  reuse->pack(b, kn);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
