// The NHWC conv (conv_nhwc_f32.h): channels-last padded copy of the image
// (a row copy, or none, when the image is channels-last already), the
// microkernel over runs of output pixels with A read in place, each block
// of output rows transposed into y (stored in place when y is
// channels-last).
//
// Blocking: a parallel task is a block of output rows whose scratch
// [pixels][M] stays within about 64 KiB (256 KiB for weights that do not
// stay in L2); in it, per slice and per
// nr-column B panel (kc x nr floats, from L2), the microkernel runs over
// every pixel run of the block, so each panel is read once per block and
// slice while the block's input rows stay in L1 / L2. Grouped: per pixel
// run, every group's panels (block() says why). SgemmEpilogue::ahead (the
// caller's next image) is fetched a share per block, a few lines per
// microkernel call (RESULTS.md section 108).
#include "kernels/conv_nhwc_f32.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "int8rt/threading.h"
#include "kernels/read_ahead.h"

namespace int8rt {
namespace kernels {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

constexpr int64_t kBlockFloats = 16384;  // scratch per block of output rows: 64 KiB

// Weights over this many floats (512 KiB) do not stay in a core's L2
// between blocks: each block streams every B panel again from L3 (ResNet-50's
// 3x3 over 512 channels at 7 x 7: 9.4 MB per block, two blocks of 64 KiB).
// Such layers take blocks of up to kBigBlockFloats (256 KiB of scratch), so
// the panels stream once or twice per image: ResNet-50's 3x3 layers at
// 7 x 7 measured 0.90-0.91x the time, at 14 x 14 0.91-0.97x (Zen 5, 1 MiB
// L2; RESULTS.md section 78). With several threads a block still leaves
// every thread a share of the rows.
constexpr int64_t kL2WeightFloats = 131072;
constexpr int64_t kBigBlockFloats = 65536;

// The (tap, channel) rows run as one slice up to this depth (ResNet's 3x3
// over 512 channels): one FMA chain per output and no C reloads measured
// 5-30% faster than slices of the SGEMM's kc = 192 on ResNet-50's 3x3
// layers (RESULTS.md section 33), the B panel streaming from L2.
constexpr int64_t kMaxSlice = 4608;

}  // namespace

std::string nhwc_conv_weights_decline(const TapConvShape& s, int nr) {
  if (s.kh * s.kw == 1) return "1x1 kernel (the pointwise paths read the image as B in place)";
  if (s.G < 1 || s.C % s.G != 0 || s.M % s.G != 0) return "channels do not split into the groups";
  if (s.G == 1) {
    // One panel at least half full also where the image has under 16
    // channels, which the tap conv does not take (MobileNetV3's 3 -> 16
    // stem on the 32-column AVX-512 tile, otherwise an im2col SGEMM that
    // packs its stride-2 pixels per tile: RESULTS.md section 78).
    const bool half_panel = s.M < nr && 2 * s.M >= nr && s.C < 16;
    if (s.M % nr != 0 && !half_panel) {
      return "output channels not a multiple of the tile's " + std::to_string(nr) + " columns";
    }
    return "";
  }
  const int64_t cg = s.C / s.G, mg = s.M / s.G;
  if (cg == 1 && mg == 1) return "depthwise (the dwconv_f32 family runs it)";
  if (cg >= 16) return "16 or more channels per group (the tap conv runs them)";
  if (mg * 2 < nr) return "output channels per group under half the tile's " + std::to_string(nr) + " columns";
  if (mg > nr && mg % nr != 0) {
    return "output channels per group over the tile's " + std::to_string(nr) + " columns and not a multiple";
  }
  return "";
}

std::string nhwc_conv_declines(const TapConvShape& s, int mr) {
  if (s.oh < 1 || s.ow < 1) return "empty output";
  if (2 * s.ow < mr) return "output rows under half the tile's " + std::to_string(mr) + " pixels";
  return "";
}

NhwcConv::NhwcConv(const SgemmKernel& uk, const TapConvShape& s, const float* w)
    : uk_(&uk), transpose_(&choose<TransposeX32Kernel>()), w_(s) {
  const std::string why = nhwc_conv_weights_decline(s, uk.nr);
  if (!why.empty() || s.C < 1) throw InvalidArgument("nhwc conv: " + (why.empty() ? "no channels" : why));
  // Per group, k = (i, j, c) over its C/G channels, cut into slices of
  // equal size of at most kMaxSlice; a slice holds every group's panels.
  const int64_t cg = s.C / s.G, mg = s.M / s.G;
  const int64_t K = s.kh * s.kw * cg, nr = uk.nr;
  const int64_t chunks = ceil_div(K, kMaxSlice), kcs = ceil_div(K, chunks);
  const int64_t panels = ceil_div(mg, nr);  // per group
  int64_t off = 0;
  for (int64_t k0 = 0; k0 < K; k0 += kcs) {
    const int64_t kc = std::min(kcs, K - k0);
    slices_.push_back({k0, kc, off});
    off += s.G * panels * kc * nr;
  }
  b_.assign(static_cast<size_t>(off), 0.f);
  for (const Slice& sl : slices_) {
    for (int64_t gp = 0; gp < s.G * panels; ++gp) {
      const int64_t m0 = (gp / panels) * mg + (gp % panels) * nr, cols = std::min(nr, mg - (gp % panels) * nr);
      float* panel = b_.data() + sl.b_off + gp * sl.kc * nr;
      for (int64_t kk = 0; kk < sl.kc; ++kk) {
        const int64_t k = sl.first + kk, tap = k / cg, c = k % cg;
        const int64_t i = tap / s.kw, j = tap % s.kw;
        for (int64_t jj = 0; jj < cols; ++jj) {
          panel[kk * nr + jj] = w[(((m0 + jj) * cg + c) * s.kh + i) * s.kw + j];
        }
      }
    }
  }
}

void NhwcConv::block(const TapConvShape& s, const float* xp, int64_t wp, const int64_t* a_rows, int64_t oy0,
                     int64_t oy1, const SgemmEpilogue& ep, float* y, int64_t index, int64_t blocks,
                     bool channels_last) const {
  const SgemmKernel& uk = *uk_;
  const int64_t M = s.M, nr = uk.nr, px = (oy1 - oy0) * s.ow, P = s.oh * s.ow;
  const int64_t cg = s.C / s.G, mg = s.M / s.G, panels = ceil_div(mg, nr);
  thread_local std::vector<float> scratch;
  if (!channels_last && scratch.size() < static_cast<size_t>(px * M)) {
    scratch.resize(static_cast<size_t>(px * M));
  }
  // The tiles' [pixels][M]: y's own rows when it is channels-last.
  float* const tiles = channels_last ? y + oy0 * s.ow * M : scratch.data();
  // A row of ow pixels as ceil(ow / mr) runs of near-equal length; or, with
  // a microkernel that takes a row pointer per pixel (SgemmKernel::
  // pixel_rows), the block's px pixels as ceil(px / mr) runs across output
  // rows: ResNet's 7-pixel rows as runs of 6, 6, 6, 5, 5 per 4 rows instead
  // of 4, 3 per row, whose 6-8 FMA chains leave the FMA pipes idle.
  // Taken only where it saves at least a tenth of the tiles: on wide rows
  // (56 pixels: 38 tiles per 4 rows instead of 40) it measured 6-9% slower.
  const int64_t row_runs = (oy1 - oy0) * ceil_div(s.ow, uk.mr);
  const bool pixel_rows = uk.pixel_rows && 10 * ceil_div(px, uk.mr) <= 9 * row_runs;
  const int64_t run_px = pixel_rows ? px : s.ow;
  const int64_t runs = ceil_div(run_px, uk.mr), base = run_px / runs, longer = run_px % runs;
  thread_local std::vector<int64_t> pix;  // pixel p's input offset in xp (pixel_rows)
  if (pixel_rows) {
    pix.resize(static_cast<size_t>(px));
    for (int64_t q = 0; q < px; ++q) {
      const int64_t oy = oy0 + q / s.ow, ox = q % s.ow;
      pix[static_cast<size_t>(q)] = (oy * s.sh * wp + ox * s.sw) * s.C;
    }
  }
  const int64_t all = s.G * panels;
  ReadAhead ahead = ReadAhead::share(ep.ahead, ep.ahead_bytes, index, blocks,
                                     static_cast<int64_t>(slices_.size()) * all * (pixel_rows ? 1 : oy1 - oy0) * runs);
  SgemmTile t;
  t.lda = s.sw * s.C;
  t.ldb = nr;
  t.ldc = M;
  t.lo = ep.lo;
  t.hi = ep.hi;
  for (size_t si = 0; si < slices_.size(); ++si) {
    const Slice& sl = slices_[si];
    const bool last = si + 1 == slices_.size();
    t.kc = sl.kc;
    t.a_rows = a_rows + sl.first;
    t.accumulate = si > 0;
    t.clip = ep.clip && last && !ep.residual;  // with a residual: clipped after it, below
    // One microkernel call: the pixels [ox, ox + len) of output row oy
    // against column panel gp (group gp / panels, its panel gp % panels).
    // (pixel_rows: the block's pixels [ox, ox + len), oy unused.)
    auto call = [&](int64_t gp, int64_t oy, int64_t ox, int64_t len) {
      const int64_t grp = gp / panels, jp = grp * mg + (gp % panels) * nr;
      t.b = b_.data() + sl.b_off + gp * sl.kc * nr;
      t.cols = static_cast<int>(std::min(nr, (grp + 1) * mg - jp));
      t.col_bias = si == 0 && ep.row_bias ? ep.row_bias + jp : nullptr;
      t.rows = static_cast<int>(len);
      if (pixel_rows) {
        t.a = xp + grp * cg;
        t.a_pix = pix.data() + ox;
        t.c = tiles + ox * M + jp;
      } else {
        t.a = xp + (oy * s.sh * wp + ox * s.sw) * s.C + grp * cg;
        t.c = tiles + ((oy - oy0) * s.ow + ox) * M + jp;
      }
      ahead.step();
      uk.fn(t);
      if ((t.col_bias || t.clip) && !uk.epilogue) sgemm_tile_epilogue(t);
    };
    // One group: each B panel over every pixel run of the block (the panel
    // stays in L1, the input rows come from L2). Groups: every group's panels
    // over one pixel run before the next, so the run's input lines (all C
    // channels, 8 per group) stay in L1 while the groups use them, where
    // panel-outer re-read the block's rows from L2 once per group at a
    // quarter or half of each line (RegNetY's 3x3 / 2 layers 1.3-1.4x
    // slower: RESULTS.md section 62).
    // The order of the calls never changes an output's arithmetic.
    for (int64_t outer = 0; outer < (s.G == 1 ? all : 1); ++outer) {
      for (int64_t oy = oy0; oy < (pixel_rows ? oy0 + 1 : oy1); ++oy) {
        for (int64_t run = 0, ox = 0; run < runs; ++run) {
          const int64_t len = base + (run < longer ? 1 : 0);
          if (s.G == 1) {
            call(outer, oy, ox, len);
          } else {
            for (int64_t gp = 0; gp < all; ++gp) call(gp, oy, ox, len);
          }
          ox += len;
        }
      }
    }
  }
  if (channels_last) {
    if (!ep.residual) return;
    for (int64_t i = 0; i < px; ++i) {
      add_clip(tiles + i * M, ep.residual + (oy0 * s.ow + i) * ep.ldr, ep, tiles + i * M, M);
    }
    return;
  }
  float* yb = y + oy0 * s.ow;
  transpose_->tile(M, px, reinterpret_cast<const uint32_t*>(scratch.data()), M, reinterpret_cast<uint32_t*>(yb), P);
  if (!ep.residual) return;
  for (int64_t m = 0; m < M; ++m) {
    add_clip(yb + m * P, ep.residual + m * ep.ldr + oy0 * s.ow, ep, yb + m * P, px);
  }
}

void NhwcConv::pad_copy(const TapConvShape& s, const float* x, int64_t hp, int64_t wp, float* xp,
                        bool channels_last) const {
  // xp[q][r][c] = x[c][q - ph][r - pw] (x[q - ph][r - pw][c] channels-last): each image row
  // transposed (or copied) in, zeros around it.
  const int64_t lo = std::min(s.pw, wp), hi = std::max(lo, std::min(s.pw + s.W, wp));
  for (int64_t q = 0; q < hp; ++q) {
    float* row = xp + q * wp * s.C;
    const int64_t iy = q - s.ph;
    if (iy < 0 || iy >= s.H || lo == hi) {
      std::fill(row, row + wp * s.C, 0.f);
      continue;
    }
    std::fill(row, row + lo * s.C, 0.f);
    if (channels_last) {  // the pixel row as it is: its C channels already adjacent
      std::copy(x + (iy * s.W + lo - s.pw) * s.C, x + (iy * s.W + hi - s.pw) * s.C, row + lo * s.C);
    } else if (s.C < 8) {
      // Under 8 channels (the RGB stems) each transposed row would be
      // shorter than a vector, stored under a lane mask (vmaskmovps, slow on
      // Zen 3: a third of MobileNetV2's stem in `perf`); plain moves
      // measured 0.84x the stem's time (RESULTS.md section 75).
      const float* src = x + iy * s.W - s.pw;
      const int64_t plane = s.H * s.W;
      if (s.C == 3) {  // RGB, unrolled: 0.84-0.86x the 3x3 / 2 stems' time on Zen 5 (section 78)
        const float *s0 = src, *s1 = src + plane, *s2 = src + 2 * plane;
        for (int64_t r = lo; r < hi; ++r) {
          row[3 * r] = s0[r];
          row[3 * r + 1] = s1[r];
          row[3 * r + 2] = s2[r];
        }
      } else {
        for (int64_t r = lo; r < hi; ++r) {
          for (int64_t c = 0; c < s.C; ++c) row[r * s.C + c] = src[c * plane + r];
        }
      }
    } else {
      transpose_->tile(hi - lo, s.C, reinterpret_cast<const uint32_t*>(x + iy * s.W + lo - s.pw), s.H * s.W,
                       reinterpret_cast<uint32_t*>(row + lo * s.C), s.C);
    }
    std::fill(row + hi * s.C, row + wp * s.C, 0.f);
  }
}

void NhwcConv::run(const TapConvShape& s, const float* x, const SgemmEpilogue& ep, float* y, bool parallel,
                   bool channels_last) const {
  std::string why = nhwc_conv_weights_decline(s, uk_->nr);
  if (why.empty()) why = nhwc_conv_declines(s, uk_->mr);
  if (!why.empty()) throw InvalidArgument("nhwc conv: " + why);
  if (s.C != w_.C || s.M != w_.M || s.G != w_.G || s.kh != w_.kh || s.kw != w_.kw) {
    throw InvalidArgument("nhwc conv: shape does not match the packed weights");
  }
  const int64_t hp = (s.oh - 1) * s.sh + (s.kh - 1) * s.dh + 1, wp = (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1;
  thread_local std::vector<float> padded;
  thread_local std::vector<int64_t> offsets;
  const float* xp = x;  // a channels-last image with no padding and no pixel unread at the right is read in place
  if (!channels_last || s.ph != 0 || s.pw != 0 || wp != s.W || hp > s.H) {
    if (padded.size() < static_cast<size_t>(hp * wp * s.C)) padded.resize(static_cast<size_t>(hp * wp * s.C));
    pad_copy(s, x, hp, wp, padded.data(), channels_last);
    xp = padded.data();
  }
  const int64_t cg = s.C / s.G, K = s.kh * s.kw * cg;  // a group's rows k; its channels start at grp * cg
  offsets.resize(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) {
    const int64_t tap = k / cg, i = tap / s.kw, j = tap % s.kw;
    offsets[static_cast<size_t>(k)] = (i * s.dh * wp + j * s.dw) * s.C + k % cg;
  }
  const int64_t* a_rows = offsets.data();  // this thread's table, read by the workers
  const bool big = K * s.M > kL2WeightFloats;  // every group's weights
  const int64_t block_floats = big ? kBigBlockFloats : kBlockFloats;
  int64_t rows = std::max<int64_t>(1, std::min(s.oh, block_floats / std::max<int64_t>(1, s.ow * s.M)));
  if (big && parallel && get_num_threads() > 1) rows = std::min(rows, ceil_div(s.oh, get_num_threads()));
  const int64_t blocks = ceil_div(s.oh, rows);
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      block(s, xp, wp, a_rows, b * rows, std::min(s.oh, (b + 1) * rows), ep, y, b, blocks, channels_last);
    }
  };
  if (!parallel || get_num_threads() < 2 || blocks < 2 || s.M * s.oh * s.ow * K < (1 << 18)) {
    body(0, blocks);
  } else {
    parallel_for(blocks, 1, body);
  }
}

}  // namespace kernels
}  // namespace int8rt
