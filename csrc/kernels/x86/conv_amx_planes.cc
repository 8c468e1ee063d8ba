// The AMX direct conv's phase-plane geometry and copy (conv_amx_planes.h,
// which describes the three layouts).
#include "kernels/x86/conv_amx_planes.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {

AmxDirectGeometry::AmxDirectGeometry(const ConvShape& s) : rows(s.dilation_w == 1) {
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

void AmxDirectGeometry::space_to_depth(const ConvShape& s) {
  rows = true;
  s2d = s.stride_h;
  const int st = s2d;
  pixel = st * st * s.C;
  const int sq = (s.S + st - 1) / st;
  cchunks = static_cast<int>(chunks(int64_t{sq} * pixel));
  taps = (s.R + st - 1) / st;
  // ceil(padded size / st) covers every valid output's window (the
  // header); the last plane row / column may hold padding rows past it.
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

void AmxDirectGeometry::finish(int64_t max_offset) {
  // The last tile's rows past the grid, and in rows mode the chunks past
  // a window, are read too (and dropped, or multiplied by zero weights).
  const int64_t read_end = max_offset + (tiles * kTileRows - 1) * pixel_stride + int64_t{cchunks} * amx::kKChunk;
  buffer_bytes = std::max(image_bytes, read_end);
}

namespace {

// Copies `pieces` pieces of kBytes (n when kBytes is 0) from src (contiguous)
// to dst, dst_stride apart.
template <int kBytes>
void copy_pieces(int8_t* dst, int64_t dst_stride, const int8_t* src, int pieces, int n) {
  const int bytes = kBytes ? kBytes : n;
  for (int j = 0; j < pieces; ++j) std::memcpy(dst + j * dst_stride, src + int64_t{j} * bytes, static_cast<size_t>(bytes));
}

// Copies the batch x into g's space-to-depth plane at dst (g.s2d > 0;
// conv_amx_planes.h): per plane row i and row phase dr, the pieces of st * C
// bytes at byte dr * st * C of each pixel; pieces that reach the padding are
// written column by column.
void fill_s2d_plane(const ConvShape& s, const AmxDirectGeometry& g, int batch, const int8_t* x, int8_t* dst, int pad) {
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

}  // namespace

void fill_amx_direct_planes(const ConvShape& s, const AmxDirectGeometry& g, int batch, const int8_t* x, int8_t* dst) {
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

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
