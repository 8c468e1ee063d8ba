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
// padding pixels code_byte(pad_value), one plane per stride phase, so that
// every tap reads the 16 rows of a tile at one constant stride. Two modes:
//   rows mode (dilation_w 1, the usual case): planes per row phase only,
//     pixels of C bytes as in the input (whole rows copied), rows padded to a
//     whole number of width strides. A "tap" is a filter row: its S pixels
//     are S * C contiguous bytes, reduced in ceil(S * C / 64) chunks (bytes
//     past the window meet zero weights); the width stride is the row stride
//     of the tile (stride_w * C bytes).
//   channel mode (dilation_w > 1, C >= 32): planes per row and column phase,
//     pixels of Cp = 64 * ceil(C / 64) bytes (zero past C); a tap is one
//     filter position, reduced in Cp / 64 chunks; tile rows Cp bytes apart.
// Rows mode reduces no more chunks than channel mode (S * C rounded up once
// rather than C rounded up S times) and copies rows rather than pixels.
//   space-to-depth (a rows-mode conv of stride st = stride_h = stride_w >= 2,
//     no dilation, where it takes fewer (tap, chunk) steps: the C = 3 stems):
//     one plane whose pixel (i, j) holds the st x st padded pixels
//     (st * i + dr, st * j + dc), byte (dr * st + dc) * C + c, so the conv is
//     a stride-1 rows-mode conv over st * st * C channels with a
//     ceil(R / st) x ceil(S / st) window (weights past R or S zero): the 7x7/2
//     stem's 7 taps of 21 bytes become 4 taps of 48 bytes. The copy moves
//     st * C contiguous input bytes per piece (as many bytes as the input).
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
constexpr int kTileRows = 32;
// Plane bytes per group of images copied and then convolved (at least one
// image; the batch where its planes fit).
constexpr int64_t kGroupBytes = int64_t{512} << 10;
// Channel mode needs this many input channels (fewer would leave most of
// each 64-byte chunk zero; the gather packs them).
constexpr int kMinChannels = 32;

// Where every pixel of s's phase planes and grid lives (conv_direct.h and
// the file comment): per filter row (rows mode) or per filter position.
struct Geometry {
  bool rows = false;
  int s2d = 0;          // space-to-depth: the stride st folded into the pixel, else 0
  int pixel = 0;        // bytes per plane pixel: Cp, C in rows mode, st * st * C in space-to-depth
  int cchunks = 0, taps = 0, hq = 0, wq = 0, grid_w = 0, oh = 0, ow = 0;
  int64_t pixel_stride = 0, plane_bytes = 0, image_bytes = 0, grid = 0, tiles = 0, buffer_bytes = 0;
  std::vector<int64_t> tap_offset;

  Geometry() = default;
  explicit Geometry(const ConvShape& s) : rows(s.dilation_w == 1) {
    if (s2d_pays(s)) {
      space_to_depth(s);
      return;
    }
    const int sh = s.stride_h, sw = s.stride_w;
    const int planes_w = rows ? 1 : sw;  // rows mode: the width stride is the pixel stride
    pixel = rows ? s.C : (s.C + amx::kKChunk - 1) / amx::kKChunk * amx::kKChunk;
    cchunks = rows ? (s.S * s.C + amx::kKChunk - 1) / amx::kKChunk : pixel / amx::kKChunk;
    taps = rows ? s.R : s.R * s.S;
    hq = (s.H + s.pad_top + s.pad_bottom + sh - 1) / sh;
    const int wp = s.W + s.pad_left + s.pad_right;
    wq = rows ? (wp + sw - 1) / sw * sw : (wp + sw - 1) / sw;  // rows mode: a whole number of strides
    grid_w = rows ? wq / sw : wq;
    pixel_stride = rows ? int64_t{sw} * pixel : pixel;
    oh = s.out_h();
    ow = s.out_w();
    plane_bytes = int64_t{hq} * wq * pixel;
    image_bytes = plane_bytes * sh * planes_w;
    grid = int64_t{oh - 1} * grid_w + ow;
    tiles = (grid + kTileRows - 1) / kTileRows;
    int64_t max_offset = 0;
    for (int r = 0; r < s.R; ++r) {
      for (int q = 0; q < (rows ? 1 : s.S); ++q) {
        const int dr = r * s.dilation_h, dq = q * s.dilation_w;
        const int64_t off = ((dr % sh) * planes_w + dq % planes_w) * plane_bytes +
                            (int64_t{dr / sh} * wq + dq / planes_w) * pixel;
        tap_offset.push_back(off);
        max_offset = std::max(max_offset, off);
      }
    }
    finish(max_offset);
  }

  // (tap, chunk) steps of rows mode and of space-to-depth for s.
  static int64_t rows_steps(const ConvShape& s) { return int64_t{s.R} * chunks(int64_t{s.S} * s.C); }
  static int64_t s2d_steps(const ConvShape& s) {
    const int st = s.stride_h;
    return int64_t{(s.R + st - 1) / st} * chunks(int64_t{(s.S + st - 1) / st} * st * st * s.C);
  }
  static bool s2d_pays(const ConvShape& s) {
    return s.dilation_h == 1 && s.dilation_w == 1 && s.stride_h == s.stride_w && s.stride_h >= 2 &&
           int64_t{s.stride_h} * s.stride_h * s.C <= amx::kKChunk && s2d_steps(s) < rows_steps(s);
  }

 private:
  static int64_t chunks(int64_t bytes) { return (bytes + amx::kKChunk - 1) / amx::kKChunk; }

  void space_to_depth(const ConvShape& s) {
    rows = true;
    s2d = s.stride_h;
    const int st = s2d;
    pixel = st * st * s.C;
    const int sq = (s.S + st - 1) / st;
    cchunks = static_cast<int>(chunks(int64_t{sq} * pixel));
    taps = (s.R + st - 1) / st;
    // ceil(padded size / st) covers every valid output's window (the file
    // comment); the last plane row / column may hold padding rows past it.
    hq = (s.H + s.pad_top + s.pad_bottom + st - 1) / st;
    wq = (s.W + s.pad_left + s.pad_right + st - 1) / st;
    grid_w = wq;
    pixel_stride = pixel;
    oh = s.out_h();
    ow = s.out_w();
    plane_bytes = int64_t{hq} * wq * pixel;
    image_bytes = plane_bytes;
    grid = int64_t{oh - 1} * grid_w + ow;
    tiles = (grid + kTileRows - 1) / kTileRows;
    for (int t = 0; t < taps; ++t) tap_offset.push_back(int64_t{t} * wq * pixel);
    finish(tap_offset.back());
  }

  void finish(int64_t max_offset) {
    // The last tile's rows past the grid, and in rows mode the chunks past
    // a window, are read too (and dropped, or multiplied by zero weights).
    const int64_t read_end = max_offset + (tiles * kTileRows - 1) * pixel_stride + int64_t{cchunks} * amx::kKChunk;
    buffer_bytes = std::max(image_bytes, read_end);
  }
};

// Copies `pieces` pieces of kBytes (n when kBytes is 0) from src (contiguous)
// to dst, dst_stride apart.
template <int kBytes>
void copy_pieces(int8_t* dst, int64_t dst_stride, const int8_t* src, int pieces, int n) {
  const int bytes = kBytes ? kBytes : n;
  for (int j = 0; j < pieces; ++j) std::memcpy(dst + j * dst_stride, src + int64_t{j} * bytes, static_cast<size_t>(bytes));
}

// Copies the batch x into g's space-to-depth plane at dst (g.s2d > 0; the
// file comment): per plane row i and row phase dr, the pieces of st * C
// bytes at byte dr * st * C of each pixel; pieces that reach the padding are
// written column by column.
void fill_s2d_plane(const ConvShape& s, const Geometry& g, int batch, const int8_t* x, int8_t* dst, int pad) {
  const int st = g.s2d, C = s.C, piece = st * C;
  const int64_t row_bytes = int64_t{g.wq} * g.pixel;
  // Plane columns [ja, jb) read input columns st * j - pad_left + dc, all inside.
  const int ja = std::min(g.wq, (s.pad_left + st - 1) / st);
  const int jb = std::max(ja, std::min(g.wq, (s.W + s.pad_left) / st));
  for (int n = 0; n < batch; ++n) {
    for (int i = 0; i < g.hq; ++i) {
      for (int dr = 0; dr < st; ++dr) {
        int8_t* row = dst + n * g.image_bytes + i * row_bytes + dr * piece;
        const int ih = st * i + dr - s.pad_top;
        const int8_t* xrow = ih >= 0 && ih < s.H ? x + ((int64_t{n} * s.H + ih) * s.W) * C : nullptr;
        for (int j = 0; j < g.wq; ++j) {
          if (xrow && j == ja && jb > ja) {
            const int8_t* src = xrow + (int64_t{st} * j - s.pad_left) * C;
            if (piece == 6) {
              copy_pieces<6>(row + int64_t{j} * g.pixel, g.pixel, src, jb - ja, piece);
            } else {
              copy_pieces<0>(row + int64_t{j} * g.pixel, g.pixel, src, jb - ja, piece);
            }
            j = jb - 1;
            continue;
          }
          for (int dc = 0; dc < st; ++dc) {
            int8_t* px = row + int64_t{j} * g.pixel + dc * C;
            const int iw = st * j + dc - s.pad_left;
            if (xrow && iw >= 0 && iw < s.W) {
              std::memcpy(px, xrow + int64_t{iw} * C, static_cast<size_t>(C));
            } else {
              std::memset(px, pad, static_cast<size_t>(C));
            }
          }
        }
      }
    }
  }
}

// Copies the batch x into g's phase planes at dst (file comment).
void fill_planes(const ConvShape& s, const Geometry& g, int batch, const int8_t* x, int8_t* dst) {
  const int pad = static_cast<unsigned char>(code_byte(s.pad_value, s.input_codes));
  if (g.s2d) {
    fill_s2d_plane(s, g, batch, x, dst, pad);
    return;
  }
  const int64_t row_bytes = int64_t{g.wq} * g.pixel;
  const int sw = g.rows ? 1 : s.stride_w;  // plane columns per input column step
  for (int n = 0; n < batch; ++n) {
    for (int ph = 0; ph < s.stride_h; ++ph) {
      for (int pw = 0; pw < sw; ++pw) {
        int8_t* plane = dst + n * g.image_bytes + (ph * sw + pw) * g.plane_bytes;
        // Plane columns [j0, j1) hold input columns sw * j + pw - pad_left.
        const int lead = s.pad_left - pw, last = s.W - 1 + s.pad_left - pw;
        const int j0 = std::min(g.wq, lead > 0 ? (lead + sw - 1) / sw : 0);
        const int j1 = std::max(j0, last < 0 ? 0 : std::min(g.wq, last / sw + 1));
        for (int i = 0; i < g.hq; ++i) {
          int8_t* row = plane + i * row_bytes;
          const int ih = s.stride_h * i + ph - s.pad_top;
          if (ih < 0 || ih >= s.H || j1 == j0) {
            std::memset(row, pad, static_cast<size_t>(row_bytes));
            continue;
          }
          std::memset(row, pad, static_cast<size_t>(j0) * g.pixel);
          std::memset(row + int64_t{j1} * g.pixel, pad, static_cast<size_t>(g.wq - j1) * g.pixel);
          const int8_t* xrow = x + ((int64_t{n} * s.H + ih) * s.W) * s.C;
          if (sw == 1 && s.C == g.pixel) {
            std::memcpy(row + int64_t{j0} * g.pixel, xrow + int64_t{j0 - lead} * s.C,
                        static_cast<size_t>(j1 - j0) * s.C);
            continue;
          }
          for (int j = j0; j < j1; ++j) {
            int8_t* px = row + int64_t{j} * g.pixel;
            std::memcpy(px, xrow + int64_t{sw * j - lead} * s.C, static_cast<size_t>(s.C));
            std::memset(px + s.C, 0, static_cast<size_t>(g.pixel - s.C));
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
      : fn_(fn), name_(name), shape_(s), geometry_(s), packed_(std::move(packed)), comp_(std::move(comp)),
        block_stride_(block_stride) {}

  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    copy->geometry_ = Geometry(copy->shape_);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedAmxDirectConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    copy->geometry_ = Geometry(copy->shape_);
    return copy;
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  AmxConvStripFn fn_;
  const char* name_;
  ConvShape shape_;
  Geometry geometry_;  // of one image (the buffer holds batch - 1 more)
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
    fill_planes(s, g, gn, x + int64_t{n0} * s.H * s.W * s.C, planes->data());
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
  return s.groups == 1 && s.R * s.S > 1 && (s.dilation_w == 1 || s.C >= kMinChannels);
}

std::unique_ptr<PackedConv> pack_amx_direct(AmxConvStripFn fn, const char* name, const ConvShape& s,
                                            const int8_t* w) {
  s.validate();
  const Geometry g(s);
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
