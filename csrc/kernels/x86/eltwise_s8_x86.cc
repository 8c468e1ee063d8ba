// The x86 element-wise int8 drivers (eltwise_s8_x86.h): validation as the
// reference kernels, the reference's float constants, parallel_for, and one
// ISA's microkernel per op (abi/eltwise_s8.h).
#include "kernels/x86/eltwise_s8_x86.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/ref/requantize.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

constexpr int64_t kGrain = 1 << 16;  // elements per task for flat ops
constexpr int64_t kPixelChunk = 256;  // pixels per task for the transposes

void check_count(int64_t n, const char* op) {
  if (n < 0) throw InvalidArgument(std::string(op) + ": negative element count");
}

void check_scale(float scale, const char* op) {
  if (!(std::isfinite(scale) && scale > 0.0f)) {
    throw InvalidArgument(std::string(op) + ": scale must be finite and > 0, got " +
                          std::to_string(scale));
  }
}

void check_pool_scales(float s_in, float s_out, const char* op) {
  for (float s : {s_in, s_out}) {
    if (!(std::isfinite(s) && s > 0.0f)) {
      throw InvalidArgument(std::string(op) + ": scales must be finite and > 0");
    }
  }
}

// x -> y for every image, in chunks of kPixelChunk pixels (one task each);
// quantize (to_nhwc) multiplies by 1 / scale and adds the zero point z,
// dequantize multiplies by scale.
void transpose(const char* op, int64_t N, int64_t C, int64_t HW, const void* x, void* y,
               float scale, bool to_nhwc, TransposeFn fn, float z = 0.0f) {
  check_count(N < 0 || C < 0 || HW < 0 ? -1 : 0, op);
  check_scale(scale, op);
  const float s = to_nhwc ? 1.0f / scale : scale;
  if (N == 0 || C == 0 || HW == 0) return;
  const int64_t chunks = (HW + kPixelChunk - 1) / kPixelChunk;
  const size_t x_elem = to_nhwc ? sizeof(float) : 1, y_elem = to_nhwc ? 1 : sizeof(float);
  parallel_for(N * chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t n = t / chunks, p0 = (t % chunks) * kPixelChunk;
      TransposeBlock blk;
      blk.x = static_cast<const char*>(x) + static_cast<size_t>(n * C * HW) * x_elem;
      blk.y = static_cast<char*>(y) + static_cast<size_t>(n * C * HW) * y_elem;
      blk.C = C;
      blk.HW = HW;
      blk.p0 = p0;
      blk.p1 = std::min(HW, p0 + kPixelChunk);
      blk.s = s;
      blk.z = z;
      fn(blk);
    }
  });
}

// One task per output row (grain as the reference's).
void pool(const PoolShape& p, int batch, const int8_t* x, const float* mult, int8_t* y,
          PoolRowFn fn, int32_t z_in = 0, int32_t z_out = 0) {
  const int OH = p.out_h(), OW = p.out_w();
  const int64_t rows = static_cast<int64_t>(batch) * OH;
  parallel_for(rows, p.row_grain(), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH;
      const int oh = static_cast<int>(row % OH);
      const int h0 = oh * p.stride_h - p.pad_top;
      PoolRow r;
      r.x = x + n * p.H * p.W * p.C;
      r.W = p.W;
      r.C = p.C;
      r.S = p.S;
      r.stride_w = p.stride_w;
      r.pad_left = p.pad_left;
      r.r0 = std::max(h0, 0);
      r.r1 = std::min(h0 + p.R, p.H);
      r.next_rows = std::max(0, std::min(h0 + p.stride_h + p.R, p.H) - std::max(r.r1, h0 + p.stride_h));
      r.ow0 = 0;
      r.ow1 = OW;
      r.y = y + row * OW * p.C;
      r.mult = mult;
      r.fixed_count = p.count_include_pad ? p.R * p.S : 0;
      r.z_in = z_in;
      r.z_out = static_cast<float>(z_out);
      fn(r);
    }
  });
}

void check_channel_mul_table(int64_t N, int64_t HW, int64_t C, int64_t gate_batch, float s_y) {
  if (N < 0 || HW < 0 || C <= 0 || (gate_batch != 1 && gate_batch != N)) {
    throw InvalidArgument("channel_mul_table_s8: need N, HW >= 0, C > 0 and a gate of batch 1 or N");
  }
  check_scale(s_y, "channel_mul_table_s8");
}

// Per-channel lookups of `images` images of `pixels` rows of `channels`
// bytes, every image through the same tables ([channels][256]).
// A task is one channel group over a run of one image's pixels: the group's
// tables are read once per task and stay in L1 while the run streams through
// (over all C at once, 120 KiB of tables for C = 480 were re-read from L2
// every 64 pixels). A run is whole 64-pixel blocks and about 64 KiB of
// values; the runs of one pixel range are consecutive tasks, so its rows
// stay in L2 from one group to the next.
void lookup_channel_tasks(LookupChannelGroupFn uk, int64_t images, int64_t pixels, int64_t channels, const int8_t* x,
                          const int8_t* tables, int8_t* y) {
  if (channels < 1 || pixels < 1) return;  // no values, as in the reference loop
  const int64_t group = std::min<int64_t>(channels, kLookupChannelGroup);
  const int64_t groups = (channels + kLookupChannelGroup - 1) / kLookupChannelGroup;
  const int64_t run = 64 * std::max<int64_t>(1, (int64_t{1} << 16) / (64 * group));
  const int64_t runs = (pixels + run - 1) / run;
  parallel_for(images * runs * groups, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t n = t / (runs * groups), r = t % (runs * groups);
      const int64_t p0 = (r / groups) * run, c0 = (r % groups) * kLookupChannelGroup;
      const int nc = static_cast<int>(std::min<int64_t>(kLookupChannelGroup, channels - c0));
      const int64_t at = (n * pixels + p0) * channels + c0;
      uk(std::min(run, pixels - p0), channels, nc, x + at, tables + c0 * 256, y + at);
    }
  });
}

// The per-channel table path of both gate forms: image by image (or once
// for the batch when it shares one gate row), the gate row's tables
// uk->tables(table, g, inv) then their lookup. The tables, [C][256] (at most
// a few hundred KiB: they stay in L2 for the lookup that follows), live in
// the calling thread's buffer (grown once).
void channel_tables_lookup(const ChannelMulTableUks* uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                           const float* table, const float* gate, int64_t gate_batch, float inv, int8_t* y) {
  thread_local std::vector<int8_t> storage;
  if (storage.size() < static_cast<size_t>(C) * 256) storage.resize(static_cast<size_t>(C) * 256);
  int8_t* tables = storage.data();
  const int64_t images_per_row = gate_batch == 1 ? N : 1;
  for (int64_t n = 0; n < N; n += images_per_row) {
    const float* g = gate + (gate_batch == 1 ? 0 : n) * C;
    parallel_for(C, 16, [&](int64_t b, int64_t e) { uk->tables(e - b, table, g + b, inv, tables + b * 256); });
    lookup_channel_tasks(uk->lookup, images_per_row, HW, C, x + n * HW * C, tables, y + n * HW * C);
  }
}

void check_channel_mul(int64_t N, int64_t HW, int64_t C, int64_t gate_batch, float s_x, float s_y) {
  if (N < 0 || HW < 0 || C <= 0 || (gate_batch != 1 && gate_batch != N)) {
    throw InvalidArgument("channel_mul_s8: need N, HW >= 0, C > 0 and a gate of batch 1 or N");
  }
  check_scale(s_x, "channel_mul_s8");
  check_scale(s_y, "channel_mul_s8");
}

// The linear form's multipliers m = gate * (s_x / s_y), as
// ref::channel_mul_s8 forms them, in the calling thread's buffer (grown once).
const std::vector<float>& channel_multipliers(const float* gate, int64_t gate_batch, int64_t C, float s_x,
                                              float s_y) {
  const float ratio = s_x / s_y;
  thread_local std::vector<float> m;
  m.resize(static_cast<size_t>(gate_batch * C));
  for (int64_t i = 0; i < gate_batch * C; ++i) m[static_cast<size_t>(i)] = gate[i] * ratio;
  return m;
}

}  // namespace

void quantize_s8(QuantizeFn uk, int64_t n, const float* x, float scale, int32_t zero_point, int8_t* q) {
  check_count(n, "quantize_s8");
  check_scale(scale, "quantize_s8");
  const float inv_scale = 1.0f / scale, z = static_cast<float>(zero_point);
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { uk(e - b, x + b, inv_scale, z, q + b); });
}

void quantize_nchw_to_nhwc_s8(TransposeFn uk, int64_t N, int64_t C, int64_t HW, const float* x,
                              float scale, int32_t zero_point, int8_t* q) {
  transpose("quantize_nchw_to_nhwc_s8", N, C, HW, x, q, scale, /*to_nhwc=*/true, uk,
            static_cast<float>(zero_point));
}

void dequantize_s8(DequantizeFn uk, int64_t n, const int8_t* q, float scale, float* x) {
  check_count(n, "dequantize_s8");
  check_scale(scale, "dequantize_s8");
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { uk(e - b, q + b, scale, x + b); });
}

void dequantize_nhwc_to_nchw_s8(TransposeFn uk, int64_t N, int64_t HW, int64_t C,
                                const int8_t* q, float scale, float* x) {
  transpose("dequantize_nhwc_to_nchw_s8", N, C, HW, q, x, scale, /*to_nhwc=*/false, uk);
}

void add_s8(AddFn uk, int64_t n, const int8_t* a, const int8_t* b, const AddParams& p,
            int8_t* y) {
  check_count(n, "add_s8");
  if (!(p.clamp_lo >= -128.0f && p.clamp_hi <= 127.0f && p.clamp_lo <= p.clamp_hi)) {
    throw InvalidArgument("add_s8: clamp range must lie inside [-128, 127]");
  }
  const AddArgs args{p.a_mult, p.b_mult, p.clamp_lo, p.clamp_hi, p.offset};
  parallel_for(n, kGrain, [&](int64_t s, int64_t e) { uk(e - s, a + s, b + s, args, y + s); });
}

void channel_mul_s8(ChannelMulRowFn uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                    const float* gate, int64_t gate_batch, float s_x, float s_y, int8_t* y) {
  check_channel_mul(N, HW, C, gate_batch, s_x, s_y);
  const float* m = channel_multipliers(gate, gate_batch, C, s_x, s_y).data();  // the chunks read them through `m`
  parallel_for(N * HW, grain_for_work(C), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e; ++row) {
      const float* mr = m + (gate_batch == 1 ? 0 : row / HW) * C;
      uk(C, x + row * C, mr, y + row * C);
    }
  });
}

void channel_mul_table_s8(ChannelMulTableRowFn uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                          const float* table, const float* gate, int64_t gate_batch, float s_y, int8_t* y) {
  check_channel_mul_table(N, HW, C, gate_batch, s_y);
  const float inv = 1.0f / s_y;  // as ref::channel_mul_table_s8
  parallel_for(N * HW, grain_for_work(C), [&](int64_t b, int64_t e) {
    for (int64_t row = b; row < e;) {  // runs of rows within one image (one gate row)
      const int64_t n = row / HW, end = std::min(e, (n + 1) * HW);
      uk(end - row, C, x + row * C, table, gate + (gate_batch == 1 ? 0 : n) * C, inv, y + row * C);
      row = end;
    }
  });
}

void lookup_s8(LookupFn uk, int64_t n, const int8_t* x, const int8_t* table, int8_t* y) {
  check_count(n, "lookup_s8");
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { uk(e - b, x + b, table, y + b); });
}

void channel_mul_table_lookup_s8(const ChannelMulTableUks* uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                                 const float* table, const float* gate, int64_t gate_batch, float s_y, int8_t* y) {
  if (HW < kChannelTablePixels) {
    channel_mul_table_s8(uk->rows, N, HW, C, x, table, gate, gate_batch, s_y, y);
    return;
  }
  check_channel_mul_table(N, HW, C, gate_batch, s_y);
  channel_tables_lookup(uk, N, HW, C, x, table, gate, gate_batch, 1.0f / s_y, y);  // 1 / s_y as the reference
}

void channel_mul_lookup_s8(const ChannelMulTableUks* uk, int64_t N, int64_t HW, int64_t C, const int8_t* x,
                           const float* gate, int64_t gate_batch, float s_x, float s_y, int8_t* y) {
  if (HW < kLinearTablePixels) {
    channel_mul_s8(uk->linear_row, N, HW, C, x, gate, gate_batch, s_x, s_y, y);
    return;
  }
  check_channel_mul(N, HW, C, gate_batch, s_x, s_y);
  static const std::array<float, 256> codes = [] {
    std::array<float, 256> t{};
    for (int k = 0; k < 256; ++k) t[k] = static_cast<float>(k - 128);
    return t;
  }();
  const std::vector<float>& m = channel_multipliers(gate, gate_batch, C, s_x, s_y);
  channel_tables_lookup(uk, N, HW, C, x, codes.data(), m.data(), gate_batch, 1.0f, y);
}

void lookup_channels_s8(LookupChannelGroupFn uk, int64_t pixels, int64_t channels, const int8_t* x,
                        const int8_t* tables, int8_t* y) {
  check_count(pixels, "lookup_channels_s8");
  lookup_channel_tasks(uk, 1, pixels, channels, x, tables, y);
}

void maxpool_s8(PoolRowFn uk, const PoolShape& shape, int batch, const int8_t* x, int8_t* y) {
  shape.validate();
  if (batch < 0) throw InvalidArgument("maxpool_s8: batch must be >= 0");
  pool(shape, batch, x, nullptr, y, uk);
}

void avgpool_s8(PoolRowFn uk, const PoolShape& shape, int batch, const int8_t* x, float s_in,
                float s_out, int8_t* y, int32_t z_in, int32_t z_out) {
  shape.validate();
  check_pool_scales(s_in, s_out, "avgpool_s8");
  ref::check_pool_zero_points(z_in, z_out, "avgpool_s8");
  if (batch < 0) throw InvalidArgument("avgpool_s8: batch must be >= 0");
  std::vector<float> m(static_cast<size_t>(shape.R) * shape.S + 1, 0.0f);
  for (size_t count = 1; count < m.size(); ++count) {
    m[count] = ref::avgpool_multiplier(s_in, s_out, static_cast<int64_t>(count));
  }
  pool(shape, batch, x, m.data(), y, uk, z_in, z_out);
}

void concat_s8(RescaleFn uk, int64_t pixels, const std::vector<ref::ConcatInput>& inputs,
               int8_t* y) {
  const int64_t c_out = ref::concat_channels(pixels, inputs);
  const int64_t grain = c_out >= 4096 ? 1 : 4096 / c_out + 1;
  parallel_for(pixels, grain, [&](int64_t begin, int64_t end) {
    int64_t offset = 0;
    for (const ref::ConcatInput& in : inputs) {
      const int8_t* xp = in.data + begin * in.channels;
      int8_t* yp = y + begin * c_out + offset;
      if (in.multiplier == 1.0f && in.zero_point == in.out_zero_point) {
        // A plain copy equals the formula (ref/concat_s8.cc).
        for (int64_t p = begin; p < end; ++p, xp += in.channels, yp += c_out) {
          std::memcpy(yp, xp, static_cast<size_t>(in.channels));
        }
      } else if (in.zero_point != 0 || in.out_zero_point != 0) {
        // Zero points (unsigned activations): the reference's scalar formula (not vectorized yet).
        for (int64_t p = begin; p < end; ++p, xp += in.channels, yp += c_out) {
          for (int c = 0; c < in.channels; ++c) {
            yp[c] = ref::rescale_value_zp(xp[c], in.multiplier, in.zero_point, in.out_zero_point, -128.0f, 127.0f);
          }
        }
      } else {
        uk(end - begin, in.channels, xp, in.channels, in.multiplier, yp, c_out);
      }
      offset += in.channels;
    }
  });
}

// The global pools' work items: (image n, channels [c0, c1)) in chunks of
// 64 channels, at least ~64K input values per parallel task.
template <typename Fn>
void for_pool_channel_chunks(int batch, int64_t HW, int C, Fn fn) {
  constexpr int kChannelChunk = 64;
  const int64_t chunks = (C + kChannelChunk - 1) / kChannelChunk;
  const int64_t grain = HW * kChannelChunk >= 65536 ? 1 : 65536 / (HW * kChannelChunk) + 1;
  parallel_for(static_cast<int64_t>(batch) * chunks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int c0 = static_cast<int>((t % chunks) * kChannelChunk);
      fn(t / chunks, c0, std::min(C, c0 + kChannelChunk));
    }
  });
}

void global_avgpool_s8(GlobalAvgFn uk, int batch, int64_t HW, int C, const int8_t* x,
                       float s_in, float s_out, int8_t* y) {
  check_pool_scales(s_in, s_out, "global_avgpool_s8");
  if (batch < 0 || HW <= 0 || C <= 0 || HW > kMaxReduction) {
    throw InvalidArgument("global_avgpool_s8: need batch >= 0, C > 0 and 0 < H*W <= " +
                          std::to_string(kMaxReduction));
  }
  const float m = ref::avgpool_multiplier(s_in, s_out, HW);
  for_pool_channel_chunks(batch, HW, C, [&](int64_t n, int c0, int c1) {
    uk(HW, C, c0, c1, x + n * HW * C, m, y + n * C);
  });
}

void global_avgpool_table_s8(GlobalAvgTableFn uk, int batch, int64_t HW, int C, const int8_t* x,
                             const float* table, float s_out, int8_t* y) {
  check_scale(s_out, "global_avgpool_table_s8");
  if (batch < 0 || HW <= 0 || C <= 0) {
    throw InvalidArgument("global_avgpool_table_s8: need batch >= 0, C > 0 and H*W > 0");
  }
  const float inv = 1.0f / s_out;  // as ref::global_avgpool_table_s8
  for_pool_channel_chunks(batch, HW, C, [&](int64_t n, int c0, int c1) {
    uk(HW, C, c0, c1, x + n * HW * C, table, inv, y + n * C);
  });
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
