// Driver of the pair-row depthwise microkernels (abi/dwconv_pairs_s8.h):
// weights packed as int16 tap pairs per block of the microkernel's channels
// (DwPairsUkernel::block), or as int8 tap quads after each block's
// -128 * sum(w) (DwPairsUkernel::taps 4: the quad-row kernels), output rows
// (n, oh) split over int8rt::parallel_for. Each worker keeps the input rows
// its output rows read as pair rows in a ring of (R - 1) * dilation_h + 1
// slots (slot ih mod span: the rows of one output row never share a slot),
// so an input row is rewritten once per run of consecutive output rows, not
// once per output row that reads it; rows outside the input read one pair
// row of pad_value built at pack time. Where stride_w is 2 only even pair
// columns are ever read (ow * 2 + 2p * dilation_w), and only those are
// built (col_step 2). Quad rows take the same bytes per column as pair rows,
// so the ring and the padding row are sized alike.
//
// Each output is computed by exactly one microkernel call from the same
// integer sums, so results do not depend on the thread count; they equal
// the reference's bit for bit (the sums are exact, the epilogue is
// ref/requantize.h's).
#include "kernels/x86/conv_dw_pairs.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Where a shape's pair rows put their columns (abi/dwconv_pairs_s8.h).
struct PairGeometry {
  int block = 8, cb = 8, P = 1, cols = 1, col_step = 1, col_per_ow = 1, col_per_pair = 2, span = 1;
  int64_t row_values = 0;  // int16 values per pair row (a quad row's bytes / 2)

  PairGeometry(const ConvShape& s, int block_channels, int taps) {
    block = block_channels;
    cb = (s.C + block - 1) / block * block;
    P = (s.S + taps - 1) / taps;
    col_step = s.stride_w == 2 ? 2 : 1;
    col_per_ow = s.stride_w / col_step;
    col_per_pair = taps * s.dilation_w / col_step;
    cols = ((s.out_w() - 1) * s.stride_w + taps * (P - 1) * s.dilation_w) / col_step + 1;
    span = (s.R - 1) * s.dilation_h + 1;
    row_values = int64_t{cols} * cb * 2;
  }
};

// OIHW depthwise weights ([C][1][R][S]) as [cb / block][R][P][block][2] int16 pairs.
AlignedBuffer<int16_t> pack_pairs(const ConvShape& s, const PairGeometry& g, const int8_t* w) {
  AlignedBuffer<int16_t> p(int64_t{g.cb} * s.R * g.P * 2);
  std::fill(p.data(), p.data() + p.size(), int16_t{0});
  for (int c = 0; c < s.C; ++c) {
    for (int r = 0; r < s.R; ++r) {
      for (int q = 0; q < s.S; ++q) {
        const int64_t at = ((int64_t{c / g.block} * s.R + r) * g.P + q / 2) * 2 * g.block + (c % g.block) * 2 + q % 2;
        p.data()[at] = w[(int64_t{c} * s.R + r) * s.S + q];
      }
    }
  }
  return p;
}

// OIHW depthwise weights as quads: per block of g.block channels, g.block
// int32 (-128 * the channel's weight sum: the u8 shift's compensation), then
// [R][P][block][4] int8 (zero past S and for channels >= C), in int16 units.
AlignedBuffer<int16_t> pack_quads(const ConvShape& s, const PairGeometry& g, const int8_t* w) {
  const int64_t block_bytes = int64_t{g.block} * 4 * (1 + int64_t{s.R} * g.P);
  AlignedBuffer<int16_t> p(g.cb / g.block * block_bytes / 2);
  auto* bytes = reinterpret_cast<int8_t*>(p.data());
  std::fill(bytes, bytes + p.size() * 2, int8_t{0});
  for (int c = 0; c < s.C; ++c) {
    int8_t* blk = bytes + c / g.block * block_bytes;
    int32_t sum = 0;
    for (int r = 0; r < s.R; ++r) {
      for (int q = 0; q < s.S; ++q) {
        const int8_t v = w[(int64_t{c} * s.R + r) * s.S + q];
        sum += v;
        blk[g.block * 4 + ((int64_t{r} * g.P + q / 4) * g.block + c % g.block) * 4 + q % 4] = v;
      }
    }
    const int32_t comp = -128 * sum;
    std::memcpy(blk + (c % g.block) * 4, &comp, sizeof comp);
  }
  return p;
}

// The calling thread's pair-row ring, grown to the largest it has needed.
std::vector<int16_t>& ring_buffer() {
  thread_local std::vector<int16_t> ring;
  return ring;
}

class PackedDwPairsConv final : public PackedConv {
 public:
  PackedDwPairsConv(const DwPairsUkernel& u, const ConvShape& s, const int8_t* w)
      : u_(u), shape_(s), geo_(s, u.block, u.taps),
        w_(std::make_shared<const AlignedBuffer<int16_t>>(u.taps == 4 ? pack_quads(s, geo_, w)
                                                                      : pack_pairs(s, geo_, w))) {
    build_padding_row();
  }
  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    return reshaped(kernels::with_input_size(shape_, H, W));
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    return reshaped(kernels::with_row_window(shape_, H, pad_top, pad_bottom));
  }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  // The same packed weights for shape s (another input size or row window).
  std::unique_ptr<PackedConv> reshaped(const ConvShape& s) const {
    auto copy = std::make_unique<PackedDwPairsConv>(*this);
    copy->shape_ = s;
    copy->geo_ = PairGeometry(s, u_.block, u_.taps);
    copy->build_padding_row();
    return copy;
  }

  void build_padding_row() {
    padding_ = std::make_shared<AlignedBuffer<int16_t>>(geo_.row_values);
    u_.build(source(nullptr, padding_->data()));
  }

  DwPairSource source(const int8_t* x_row, int16_t* out) const {
    DwPairSource src;
    src.x = x_row;
    src.W = shape_.W;
    src.C = shape_.C;
    src.cb = geo_.cb;
    src.cols = geo_.cols;
    src.col_step = geo_.col_step;
    src.pad_left = shape_.pad_left;
    src.dilation_w = shape_.dilation_w;
    src.pad_value = shape_.pad_value;
    src.out = out;
    return src;
  }

  DwPairsUkernel u_;
  ConvShape shape_;
  PairGeometry geo_;
  std::shared_ptr<const AlignedBuffer<int16_t>> w_;  // shared by reshaped copies
  std::shared_ptr<AlignedBuffer<int16_t>> padding_;  // a pair row of pad_value, for shape_
};

void PackedDwPairsConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, u_.name);
  if (batch < 0) throw InvalidArgument(std::string(u_.name) + ": batch must be >= 0");
  const ConvShape& s = shape_;
  const PairGeometry g = geo_;
  const int OH = s.out_h(), OW = s.out_w();
  const int64_t rows = static_cast<int64_t>(batch) * OH;
  const int64_t row_macs = static_cast<int64_t>(OW) * s.C * s.R * s.S;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 17) / (row_macs + 1));
  const bool f32 = ep.out_type == OutputType::kFloat32;
  const int64_t image = int64_t{s.H} * s.W * s.C;
  parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
    std::vector<int16_t>& ring = ring_buffer();
    const size_t ring_values = static_cast<size_t>(g.span * g.row_values);
    if (ring.size() < ring_values) ring.resize(ring_values);
    // held[slot]: the input row (n * H + ih) the slot holds, -1 for none.
    // Both kept per thread (a chunk's own vectors were allocations per layer per run).
    thread_local std::vector<int64_t> held;
    thread_local std::vector<const int16_t*> row_ptrs;
    held.assign(static_cast<size_t>(g.span), -1);
    row_ptrs.resize(static_cast<size_t>(s.R));
    DwPairRow d;
    d.rows = row_ptrs.data();
    d.R = s.R;
    d.P = g.P;
    d.OW = OW;
    d.C = s.C;
    d.cb = g.cb;
    d.col_per_ow = g.col_per_ow;
    d.col_per_pair = g.col_per_pair;
    d.w = w_->data();
    d.ep.scale = ep.scale;
    d.ep.bias = ep.bias;
    d.ep.lo = ep.clamp_lo;
    d.ep.hi = ep.clamp_hi;
    d.ep.residual_stride = s.C;
    d.ep.residual_scale = ep.residual_scale;
    d.ep.y_stride = s.C;
    d.ep.out_f32 = f32;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / OH;
      const int oh = static_cast<int>(row % OH);
      for (int r = 0; r < s.R; ++r) {
        const int ih = oh * s.stride_h - s.pad_top + r * s.dilation_h;
        if (ih < 0 || ih >= s.H) {
          row_ptrs[static_cast<size_t>(r)] = padding_->data();
          continue;
        }
        const int slot = ih % g.span;
        int16_t* pair_row = ring.data() + slot * g.row_values;
        const int64_t id = n * s.H + ih;
        if (held[static_cast<size_t>(slot)] != id) {
          u_.build(source(x + n * image + int64_t{ih} * s.W * s.C, pair_row));
          held[static_cast<size_t>(slot)] = id;
        }
        row_ptrs[static_cast<size_t>(r)] = pair_row;
      }
      const int64_t out0 = row * OW * s.C;
      d.ep.residual = ep.residual ? ep.residual + out0 : nullptr;
      d.ep.y = f32 ? static_cast<void*>(static_cast<float*>(y) + out0)
                   : static_cast<void*>(static_cast<int8_t*>(y) + out0);
      u_.row(d);
    }
  });
}

}  // namespace

std::string DwPairsConvKernel::supports(const ConvShape& s, OutputType) const {
  if (*u8_codes_declined(s)) return u8_codes_declined(s);
  if (!s.is_depthwise()) return "not depthwise (needs groups == C == K)";
  if (s.S < u_.min_width) {
    return "filter width " + std::to_string(s.S) + " < " + std::to_string(u_.min_width) +
           ": this tier's one-tap depthwise kernel is faster";
  }
  return "";
}

std::unique_ptr<PackedConv> DwPairsConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  const std::string reason = supports(shape, OutputType::kInt8);
  if (!reason.empty()) throw InvalidArgument(std::string(u_.name) + ": " + reason);
  return std::make_unique<PackedDwPairsConv>(u_, shape, w);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
