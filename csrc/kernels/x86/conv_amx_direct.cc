// The AMX direct-conv driver (conv_amx_direct.h; the microkernel and the
// phase-plane layout: amx/conv_direct.h). After oneDNN's brgemm convs
// (jit_brgemm_conv*: A rows read in place from a padded input, one tap and
// channel chunk per tile product, padded width computed and dropped), in our
// own form.
//
// Per run, the calling thread copies the batch, a group of images at a time
// (planes of at most kGroupBytes, so a group's planes are still in L2 when
// its tiles read them), into padded phase planes in a
// buffer of its own (grown, never shrunk: no allocation per run once warm),
// padding pixels code_byte(pad_value), in one of the layouts of
// conv_amx_planes.h (rows mode, channel mode, space-to-depth).
//
// Weights: OIHW laid out as a conv whose reduction is the microkernel's
// (tap, chunk byte), zero elsewhere, then conv_amx_pack.h's packer and, for
// u8-coded inputs, its compensation.
//
// Work items are (run of channel blocks, image, 32-pixel grid tile); runs
// split the channels where the weights exceed kRunWeightBytes or the tiles
// alone are too few to balance two threads. A chunk's consecutive items of
// one (run, image) are one microkernel call (one tile configuration). Every
// output is computed by one call in a fixed order: results do not depend on
// the thread count.
#include "kernels/x86/conv_amx_direct.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/tile_epilogue.h"
#include "kernels/x86/conv_amx_pack.h"
#include "kernels/x86/conv_amx_planes.h"
#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Below this many multiply-adds a layer runs on the calling thread.
constexpr int64_t kParallelMacs = int64_t{1} << 22;
// Items (tiles x images) below which channel blocks are split into runs.
constexpr int64_t kMinItems = 8;
// Packed weight bytes per run of channel blocks (kept in L2 while the tiles
// of every image sweep them; a 3x3 512 -> 512 layer holds 2.3 MiB).
constexpr int64_t kRunWeightBytes = int64_t{1} << 20;
constexpr int kTileRows = AmxDirectGeometry::kTileRows;
// Plane bytes per group of images copied and then convolved (at least one
// image; the batch where its planes fit).
constexpr int64_t kGroupBytes = int64_t{512} << 10;


class PackedAmxDirectConv final : public PackedConv {
 public:
  PackedAmxDirectConv(AmxConvStripFn fn, const char* name, const ConvShape& s,
                      std::shared_ptr<const AlignedBuffer<int8_t>> packed,
                      std::shared_ptr<const AlignedBuffer<int32_t>> comp, int64_t block_stride)
      : fn_(fn), name_(name), shape_(s), geometry_(s), packed_(std::move(packed)), comp_(std::move(comp)),
        block_stride_(block_stride) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    copy->geometry_ = AmxDirectGeometry(copy->shape_);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    copy->geometry_ = AmxDirectGeometry(copy->shape_);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  AmxConvStripFn fn_;
  const char* name_;
  ConvShape shape_;
  AmxDirectGeometry geometry_;  // of one image (the buffer holds batch - 1 more)
  std::shared_ptr<const AlignedBuffer<int8_t>> packed_;
  std::shared_ptr<const AlignedBuffer<int32_t>> comp_;  // u8-coded input only
  int64_t block_stride_;
};

void PackedAmxDirectConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, name_);
  if (batch < 0) throw InvalidArgument(std::string(name_) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const AmxDirectGeometry& g = geometry_;
  const int most = static_cast<int>(std::clamp<int64_t>(kGroupBytes / g.image_bytes, 1, batch));
  const int group = (batch + (batch + most - 1) / most - 1) / ((batch + most - 1) / most);  // balanced
  const int64_t bytes = int64_t{group - 1} * g.image_bytes + g.buffer_bytes;
  thread_local std::unique_ptr<AlignedBuffer<int8_t>> planes;  // the calling thread's, grown once
  if (!planes || planes->size() < bytes) planes = std::make_unique<AlignedBuffer<int8_t>>(bytes);

  const int nbk = (s.K + amx::kBlock - 1) / amx::kBlock;
  const int64_t base_items = int64_t{batch} * g.tiles;
  // Blocks per run: the weights a run streams for every tile stay within
  // kRunWeightBytes (L2), and runs are at least kMinItems / tiles when the
  // tiles alone are too few to balance; an even number (pairs of blocks).
  int64_t splits = (nbk * block_stride_ + kRunWeightBytes - 1) / kRunWeightBytes;
  if (base_items < kMinItems) splits = std::max(splits, (kMinItems + base_items - 1) / base_items);
  int bpi = static_cast<int>((nbk + splits - 1) / splits);
  bpi = std::min(nbk, std::max(2, bpi + (bpi & 1)));
  const int runs = (nbk + bpi - 1) / bpi;
  const int64_t total_macs = int64_t{batch} * g.oh * g.ow * s.K * g.taps * g.cchunks * amx::kKChunk;
  const int64_t out_pixels = int64_t{g.oh} * g.ow;
  const int8_t* base = planes->data();

  for (int n0 = 0; n0 < batch; n0 += group) {
    const int gn = std::min(group, batch - n0);
    fill_amx_direct_planes(s, g, gn, x + int64_t{n0} * s.H * s.W * s.C, planes->data());
    const int64_t items = int64_t{gn} * g.tiles * runs;
    const int64_t grain =
        total_macs < kParallelMacs ? items : std::max<int64_t>(1, std::min<int64_t>(8, items / 16));
    // Items in order (run, image, tile): consecutive items share a run's
    // weights, and a chunk's consecutive items of one (run, image) are one call.
    parallel_for(items, grain, [&](int64_t begin, int64_t end) {
      for (int64_t item = begin; item < end;) {
        const int64_t nr = item / g.tiles;
        const int64_t tile0 = item % g.tiles;
        const int64_t tile1 = std::min(g.tiles, tile0 + (end - item));
        item += tile1 - tile0;
        const int n = static_cast<int>(nr % gn);  // in the group
        const int b0 = static_cast<int>(nr / gn) * bpi;
        const int k0 = b0 * amx::kBlock;
        AmxConvStrip t;
        t.image = base + n * g.image_bytes;
        t.tap_offset = g.tap_offset.data();
        t.taps = g.taps;
        t.cchunks = g.cchunks;
        t.pixel_stride = g.pixel_stride;
        t.p_begin = tile0 * kTileRows;
        t.p_end = std::min(g.grid, tile1 * kTileRows);
        t.grid_w = g.grid_w;
        t.out_w = g.ow;
        t.w = packed_->data() + b0 * block_stride_;
        t.w_block_stride = block_stride_;
        t.nc = std::min(bpi * amx::kBlock, s.K - k0);
        t.acc_init = comp_ ? comp_->data() + k0 : nullptr;
        const int64_t o0 = (n0 + n) * out_pixels * s.K + k0;  // the image's output pixel 0, channel k0
        t.ep = tile_epilogue(s, ep, y, k0, o0);
        fn_(t);
      }
    });
  }
}

}  // namespace

bool amx_direct_applies(const ConvShape& s) {
  return s.groups == 1 && s.R * s.S > 1 && (s.dilation_w == 1 || s.C >= AmxDirectGeometry::kMinChannels);
}

std::unique_ptr<PackedConv> pack_amx_direct(AmxConvStripFn fn, const char* name, const ConvShape& s,
                                            const int8_t* w) {
  s.validate();
  const AmxDirectGeometry g(s);
  // The weights as an OIHW conv whose reduction is the microkernel's
  // (tap, chunk byte): channel mode [K][Cp][R][S] (c < C), rows mode
  // [K][cchunks * 64][R][1] (byte q * C + c of filter row r), space-to-depth
  // [K][cchunks * 64][taps][1] (byte (q / st * st + r % st) * st * C + q % st * C + c
  // of tap r / st).
  ConvShape padded = s;
  padded.C = g.cchunks * amx::kKChunk;
  if (g.rows) padded.S = 1;
  if (g.s2d) padded.R = g.taps;
  const int taps = s.R * s.S, ptaps = padded.R * padded.S;
  std::vector<int8_t> wpad(static_cast<size_t>(padded.weight_count()), 0);
  for (int k = 0; k < s.K; ++k) {
    const int8_t* wk = w + int64_t{k} * s.C * taps;
    int8_t* dk = wpad.data() + int64_t{k} * padded.C * ptaps;
    if (!g.rows) {
      std::memcpy(dk, wk, static_cast<size_t>(s.C) * taps);
      continue;
    }
    if (g.s2d) {
      const int st = g.s2d;
      for (int c = 0; c < s.C; ++c) {
        for (int r = 0; r < s.R; ++r) {
          for (int q = 0; q < s.S; ++q) {
            const int64_t byte = (int64_t{q / st} * st + r % st) * st * s.C + int64_t{q % st} * s.C + c;
            dk[byte * g.taps + r / st] = wk[(int64_t{c} * s.R + r) * s.S + q];
          }
        }
      }
      continue;
    }
    for (int c = 0; c < s.C; ++c) {
      for (int r = 0; r < s.R; ++r) {
        for (int q = 0; q < s.S; ++q) dk[int64_t{q * s.C + c} * s.R + r] = wk[(int64_t{c} * s.R + r) * s.S + q];
      }
    }
  }
  const AmxLayout L(padded);
  auto packed = std::make_shared<AlignedBuffer<int8_t>>(L.packed_bytes());
  pack_amx_oihw(L, wpad.data(), packed->data());
  std::shared_ptr<AlignedBuffer<int32_t>> comp;
  if (s.input_codes == Codes::kU8) {
    comp = std::make_shared<AlignedBuffer<int32_t>>(L.comp_count());
    amx_compensation(L, wpad.data(), comp->data());
  }
  return std::make_unique<PackedAmxDirectConv>(fn, name, s, std::move(packed), std::move(comp), L.block_stride);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
