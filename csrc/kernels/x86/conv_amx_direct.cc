// The AMX direct-conv driver (conv_amx_direct.h; the microkernel and the
// phase-plane layout: amx/conv_direct.h). After oneDNN's brgemm convs
// (jit_brgemm_conv*: A rows read in place from a padded input, one tap and
// channel chunk per tile product, padded width computed and dropped), in our
// own form:
//
// Per run, the calling thread copies the batch into padded phase planes in a
// buffer of its own (grown, never shrunk: no allocation per run once warm):
// channels rounded up to Cp = 64 * ceil(C / 64) (zero past C, where the
// packed weights are zero too), padding pixels code_byte(pad_value), each
// stride phase a plane of its own, so every tap of every stride and dilation
// reads its 16 pixels of a tile at a constant stride of Cp bytes.
//
// Weights: OIHW zero-padded to Cp input channels, then conv_amx_pack.h's
// packer (reduction index tap * Cp + c) and, for u8-coded inputs, its
// compensation: the same tiles and sums as the gather path's layout with
// C = Cp.
//
// Work items are (image, 32-pixel grid tile, run of channel blocks); runs
// split the channels only when the tiles alone are too few to balance two
// threads. A chunk of consecutive items of one (image, run) is one
// microkernel call (one tile configuration). Every output is computed by one
// call in a fixed order: results do not depend on the thread count.
#include "kernels/x86/conv_amx_direct.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/conv_amx_pack.h"
#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Below this many multiply-adds a layer runs on the calling thread.
constexpr int64_t kParallelMacs = int64_t{1} << 22;
// Items (tiles x images) below which channel blocks are split into runs.
constexpr int64_t kMinItems = 8;
constexpr int kTileRows = 32;

// Where every pixel of s's phase planes and grid lives (conv_direct.h).
struct Geometry {
  int cp = 0, cchunks = 0, hq = 0, wq = 0, oh = 0, ow = 0;
  int64_t plane_bytes = 0, image_bytes = 0, grid = 0, tiles = 0, buffer_bytes = 0;
  std::vector<int64_t> tap_offset;

  Geometry() = default;
  Geometry(const ConvShape& s, int batch) {
    cp = (s.C + amx::kKChunk - 1) / amx::kKChunk * amx::kKChunk;
    cchunks = cp / amx::kKChunk;
    hq = (s.H + s.pad_top + s.pad_bottom + s.stride_h - 1) / s.stride_h;
    wq = (s.W + s.pad_left + s.pad_right + s.stride_w - 1) / s.stride_w;
    oh = s.out_h();
    ow = s.out_w();
    plane_bytes = int64_t{hq} * wq * cp;
    image_bytes = plane_bytes * s.stride_h * s.stride_w;
    grid = int64_t{oh - 1} * wq + ow;
    tiles = (grid + kTileRows - 1) / kTileRows;
    int64_t max_offset = 0;
    for (int r = 0; r < s.R; ++r) {
      for (int q = 0; q < s.S; ++q) {
        const int dr = r * s.dilation_h, dq = q * s.dilation_w;
        const int64_t off = ((dr % s.stride_h) * s.stride_w + dq % s.stride_w) * plane_bytes +
                            (int64_t{dr / s.stride_h} * wq + dq / s.stride_w) * cp;
        tap_offset.push_back(off);
        max_offset = std::max(max_offset, off);
      }
    }
    // The last tile's rows past the grid are read too (and dropped).
    const int64_t read_end = max_offset + tiles * kTileRows * cp;
    buffer_bytes = int64_t{batch - 1} * image_bytes + std::max(image_bytes, read_end);
  }
};

// Copies the batch x into g's phase planes at dst (file comment).
void fill_planes(const ConvShape& s, const Geometry& g, int batch, const int8_t* x, int8_t* dst) {
  const int pad = static_cast<unsigned char>(code_byte(s.pad_value, s.input_codes));
  const int64_t row_bytes = int64_t{g.wq} * g.cp;
  for (int n = 0; n < batch; ++n) {
    for (int ph = 0; ph < s.stride_h; ++ph) {
      for (int pw = 0; pw < s.stride_w; ++pw) {
        int8_t* plane = dst + n * g.image_bytes + (ph * s.stride_w + pw) * g.plane_bytes;
        // Plane columns [j0, j1) hold input columns sw * j + pw - pad_left.
        const int lead = s.pad_left - pw, last = s.W - 1 + s.pad_left - pw;
        const int j0 = std::min(g.wq, lead > 0 ? (lead + s.stride_w - 1) / s.stride_w : 0);
        const int j1 = std::max(j0, last < 0 ? 0 : std::min(g.wq, last / s.stride_w + 1));
        for (int i = 0; i < g.hq; ++i) {
          int8_t* row = plane + i * row_bytes;
          const int ih = s.stride_h * i + ph - s.pad_top;
          if (ih < 0 || ih >= s.H || j1 == j0) {
            std::memset(row, pad, static_cast<size_t>(row_bytes));
            continue;
          }
          std::memset(row, pad, static_cast<size_t>(j0) * g.cp);
          std::memset(row + int64_t{j1} * g.cp, pad, static_cast<size_t>(g.wq - j1) * g.cp);
          const int8_t* xrow = x + ((int64_t{n} * s.H + ih) * s.W) * s.C;
          if (s.stride_w == 1 && s.C == g.cp) {
            std::memcpy(row + int64_t{j0} * g.cp, xrow + int64_t{j0 - lead} * s.C,
                        static_cast<size_t>(j1 - j0) * s.C);
            continue;
          }
          for (int j = j0; j < j1; ++j) {
            int8_t* px = row + int64_t{j} * g.cp;
            std::memcpy(px, xrow + int64_t{s.stride_w * j - lead} * s.C, static_cast<size_t>(s.C));
            std::memset(px + s.C, 0, static_cast<size_t>(g.cp - s.C));
          }
        }
      }
    }
  }
}

class PackedAmxDirectConv final : public PackedConv {
 public:
  PackedAmxDirectConv(AmxConvStripFn fn, const char* name, const ConvShape& s,
                      std::shared_ptr<const AlignedBuffer<int8_t>> packed,
                      std::shared_ptr<const AlignedBuffer<int32_t>> comp, int64_t block_stride)
      : fn_(fn), name_(name), shape_(s), geometry_(s, 1), packed_(std::move(packed)), comp_(std::move(comp)),
        block_stride_(block_stride) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    copy->geometry_ = Geometry(copy->shape_, 1);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    copy->geometry_ = Geometry(copy->shape_, 1);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  AmxConvStripFn fn_;
  const char* name_;
  ConvShape shape_;
  Geometry geometry_;  // of one image (the buffer size is per batch)
  std::shared_ptr<const AlignedBuffer<int8_t>> packed_;
  std::shared_ptr<const AlignedBuffer<int32_t>> comp_;  // u8-coded input only
  int64_t block_stride_;
};

void PackedAmxDirectConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, name_);
  if (batch < 0) throw InvalidArgument(std::string(name_) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const Geometry& g = geometry_;
  const int64_t bytes = int64_t{batch - 1} * g.image_bytes + g.buffer_bytes;
  thread_local std::unique_ptr<AlignedBuffer<int8_t>> planes;  // the calling thread's, grown once
  if (!planes || planes->size() < bytes) planes = std::make_unique<AlignedBuffer<int8_t>>(bytes);
  fill_planes(s, g, batch, x, planes->data());

  const int nbk = (s.K + amx::kBlock - 1) / amx::kBlock;
  const int64_t base_items = int64_t{batch} * g.tiles;
  int bpi = nbk;
  if (base_items < kMinItems && nbk > 2) {
    const int64_t splits = (kMinItems + base_items - 1) / base_items;
    bpi = static_cast<int>((nbk + splits - 1) / splits);
    bpi = std::min(nbk, std::max(2, bpi + (bpi & 1)));
  }
  const int runs = (nbk + bpi - 1) / bpi;
  const int64_t items = base_items * runs;
  const int64_t total_macs = int64_t{batch} * g.oh * g.ow * s.K * s.R * s.S * g.cp;
  const int64_t grain = total_macs < kParallelMacs ? items : std::max<int64_t>(1, std::min<int64_t>(8, items / 16));
  const int64_t out_pixels = int64_t{g.oh} * g.ow;
  const uint8_t out_xor = s.output_codes == Codes::kU8 && ep.out_type == OutputType::kInt8 ? 0x80 : 0;
  const uint8_t residual_xor = s.residual_codes == Codes::kU8 ? 0x80 : 0;
  const int8_t* base = planes->data();

  // Items in order (image, run, tile): a chunk's consecutive items of one
  // (image, run) are one call.
  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    for (int64_t item = begin; item < end;) {
      const int64_t nr = item / g.tiles;
      const int64_t tile0 = item % g.tiles;
      const int64_t tile1 = std::min(g.tiles, tile0 + (end - item));
      item += tile1 - tile0;
      const int n = static_cast<int>(nr / runs);
      const int b0 = static_cast<int>(nr % runs) * bpi;
      const int k0 = b0 * amx::kBlock;
      AmxConvStrip t;
      t.image = base + n * g.image_bytes;
      t.tap_offset = g.tap_offset.data();
      t.taps = s.R * s.S;
      t.cchunks = g.cchunks;
      t.pixel_stride = g.cp;
      t.p_begin = tile0 * kTileRows;
      t.p_end = std::min(g.grid, tile1 * kTileRows);
      t.grid_w = g.wq;
      t.out_w = g.ow;
      t.w = packed_->data() + b0 * block_stride_;
      t.w_block_stride = block_stride_;
      t.nc = std::min(bpi * amx::kBlock, s.K - k0);
      t.acc_init = comp_ ? comp_->data() + k0 : nullptr;
      const int64_t o0 = n * out_pixels * s.K + k0;  // the image's output pixel 0, channel k0
      t.ep.scale = ep.scale + k0;
      t.ep.bias = ep.bias ? ep.bias + k0 : nullptr;
      t.ep.lo = ep.clamp_lo;
      t.ep.hi = ep.clamp_hi;
      t.ep.residual = ep.residual ? ep.residual + o0 : nullptr;
      t.ep.residual_stride = s.K;
      t.ep.residual_scale = ep.residual_scale;
      t.ep.y_stride = s.K;
      t.ep.out_f32 = ep.out_type == OutputType::kFloat32;
      t.ep.out_xor = out_xor;
      t.ep.residual_xor = residual_xor;
      t.ep.y = t.ep.out_f32 ? static_cast<void*>(static_cast<float*>(y) + o0)
                            : static_cast<void*>(static_cast<int8_t*>(y) + o0);
      fn_(t);
    }
  });
}

}  // namespace

bool amx_direct_applies(const ConvShape& s) { return s.groups == 1 && s.R * s.S > 1 && s.C >= 32; }

std::unique_ptr<PackedConv> pack_amx_direct(AmxConvStripFn fn, const char* name, const ConvShape& s,
                                            const int8_t* w) {
  s.validate();
  ConvShape padded = s;
  padded.C = Geometry(s, 1).cp;
  const int taps = s.R * s.S;
  std::vector<int8_t> wpad(static_cast<size_t>(padded.weight_count()), 0);
  for (int k = 0; k < s.K; ++k) {
    std::memcpy(wpad.data() + int64_t{k} * padded.C * taps, w + int64_t{k} * s.C * taps,
                static_cast<size_t>(s.C) * taps);
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
