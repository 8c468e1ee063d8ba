// Driver of the depthwise microkernels (groups == C == K, any R, S, stride,
// padding with any pad_value, dilation): weights packed per block of channels and tap
// (packing.h), output rows (n, oh) split over int8rt::parallel_for, each row
// computed by one microkernel call. The reduction per output is the taps of
// one channel, which vpdpbusd's 4-wide groups do not fit; the microkernels
// multiply sign-extended int16 values into int32 (exact). Before each row
// the driver prefetches the input rows the next row adds and the next
// output row (prefetch_next_row): at batch 8 the input is no longer in L2.
//
// A conv whose padding holds a non-zero pad_value (the input's zero point)
// adds pad_value * w for every padding tap. For the filter rows outside the
// input the driver sums that per distinct set of such rows (they differ
// only near the top and bottom) and channel when the layer is packed for a
// shape (PaddingRows), and hands the sum to the microkernel as the
// accumulators' start (DwRow::acc_init), instead of R_out*S multiply-adds
// for every pixel of a border row (+12-17% on EfficientNet's 5x5 layers at
// 14x14 and 28x28 when each pixel added them; summed on each run instead,
// +40-80% at 14x14 and 7x7 batch 1). The microkernels add the padding
// columns of the rows inside themselves.
#include <algorithm>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// The filter rows [first, end) of output row oh that lie inside the input
// (the microkernels' loop bounds, the same rule).
void inside_rows(const ConvShape& s, int oh, int& first, int& end) {
  const int ih0 = oh * s.stride_h - s.pad_top;
  first = 0;
  end = s.R;
  while (first < s.R && ih0 + first * s.dilation_h < 0) ++first;
  while (end > first && ih0 + (end - 1) * s.dilation_h >= s.H) --end;
}

// DwRow::acc_init of each output row of a shape: pad_value * the sum of w
// over the filter rows outside the input, all columns, per channel (C
// rounded up to the block), or none (pad_value 0, or every filter row
// inside).
class PaddingRows {
 public:
  PaddingRows() = default;
  // `w` packed by pack_dw_weights ([C/block][tap][block], the weight in the low int16).
  PaddingRows(const ConvShape& s, int block, const int32_t* w) {
    if (s.pad_value == 0 || (s.pad_top == 0 && s.pad_bottom == 0)) return;
    const int OH = s.out_h(), taps = s.R * s.S;
    const size_t cb = (static_cast<size_t>(s.C) + block - 1) / block * block;
    std::vector<std::pair<int, int>> ranges;  // per entry, its inside rows
    entry_.assign(static_cast<size_t>(OH), -1);
    for (int oh = 0; oh < OH; ++oh) {
      int first = 0, end = 0;
      inside_rows(s, oh, first, end);
      if (first == 0 && end == s.R) continue;
      const auto it = std::find(ranges.begin(), ranges.end(), std::make_pair(first, end));
      entry_[static_cast<size_t>(oh)] = static_cast<int>(it - ranges.begin());
      if (it == ranges.end()) ranges.emplace_back(first, end);
    }
    sums_.assign(ranges.size() * cb, 0);
    for (size_t e = 0; e < ranges.size(); ++e) {
      int32_t* sum = sums_.data() + e * cb;
      for (int r = 0; r < s.R; ++r) {
        if (r >= ranges[e].first && r < ranges[e].second) continue;
        for (int q = 0; q < s.S; ++q) {
          for (int c = 0; c < s.C; ++c) {
            const int32_t packed = w[(static_cast<int64_t>(c / block) * taps + r * s.S + q) * block + c % block];
            sum[c] += static_cast<int16_t>(static_cast<uint16_t>(packed & 0xffff));
          }
        }
      }
      // |pad_value * sum| <= R*S * 128 * 128: int32 holds it (kMaxReduction).
      for (size_t c = 0; c < cb; ++c) sum[c] *= s.pad_value;
    }
    cb_ = cb;
  }
  // Output row oh's DwRow::acc_init (null: start at 0).
  const int32_t* row(int oh) const {
    if (entry_.empty() || entry_[static_cast<size_t>(oh)] < 0) return nullptr;
    return sums_.data() + static_cast<size_t>(entry_[static_cast<size_t>(oh)]) * cb_;
  }

 private:
  std::vector<int32_t> sums_;  // [entry][cb]
  std::vector<int> entry_;     // [output row] its entry, or -1; empty: none
  size_t cb_ = 0;
};

class PackedDwConv final : public PackedConv {
 public:
  PackedDwConv(const DwUkernel& u, const ConvShape& s, const int8_t* w)
      : u_(u),
        shape_(s),
        w_(std::make_shared<const AlignedBuffer<int32_t>>(pack_dw_weights(s.C, s.R * s.S, u.block, w))),
        padding_rows_(shape_, u_.block, w_->data()) {}
  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    return reshaped(kernels::with_input_size(shape_, H, W));
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    return reshaped(kernels::with_row_window(shape_, H, pad_top, pad_bottom));
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, u_.name);
    if (batch < 0) throw InvalidArgument(std::string(u_.name) + ": batch must be >= 0");
    const ConvShape& s = shape_;
    const int OH = s.out_h(), OW = s.out_w();
    const int64_t rows = static_cast<int64_t>(batch) * OH;
    const int64_t row_macs = static_cast<int64_t>(OW) * s.C * s.R * s.S;
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 17) / (row_macs + 1));
    const bool f32 = ep.out_type == OutputType::kFloat32;
    parallel_for(rows, grain, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t n = row / OH;
        DwRow d;
        d.x = x + n * s.H * s.W * s.C;
        d.H = s.H;
        d.W = s.W;
        d.C = s.C;
        d.R = s.R;
        d.S = s.S;
        d.stride_h = s.stride_h;
        d.stride_w = s.stride_w;
        d.pad_top = s.pad_top;
        d.pad_left = s.pad_left;
        d.dilation_h = s.dilation_h;
        d.dilation_w = s.dilation_w;
        d.pad_value = s.pad_value;
        d.oh = static_cast<int>(row % OH);
        d.ow_begin = 0;
        d.ow_end = OW;
        d.w = w_->data();
        d.acc_init = padding_rows_.row(d.oh);
        const int64_t out0 = row * OW * s.C;
        d.ep.scale = ep.scale;
        d.ep.bias = ep.bias;
        d.ep.lo = ep.clamp_lo;
        d.ep.hi = ep.clamp_hi;
        d.ep.residual = ep.residual ? ep.residual + out0 : nullptr;
        d.ep.residual_stride = s.C;
        d.ep.residual_scale = ep.residual_scale;
        d.ep.y = f32 ? static_cast<void*>(static_cast<float*>(y) + out0)
                     : static_cast<void*>(static_cast<int8_t*>(y) + out0);
        d.ep.y_stride = s.C;
        d.ep.out_f32 = f32;
        prefetch_next_row(n, d.oh, x, f32 ? 4 : 1, y, row + 1 < end);
        u_.fn(d);
      }
    });
  }

 private:
  // The same packed weights for shape s (another input size or row window).
  std::unique_ptr<PackedConv> reshaped(const ConvShape& s) const {
    auto copy = std::make_unique<PackedDwConv>(*this);
    copy->shape_ = s;
    copy->padding_rows_ = PaddingRows(s, u_.block, w_->data());
    return copy;
  }

  // Before output row oh of image n: prefetch the input rows that the next
  // output row reads and this one does not (stride_h rows below this row's
  // window; at batch 8 the layer's input, written by the expansion conv
  // before it, has left L2), and, when the next row is this worker's too,
  // the next output row's lines (written in full).
  void prefetch_next_row(int64_t n, int oh, const int8_t* x, int out_elem, void* y, bool next_is_ours) const {
    const ConvShape& s = shape_;
    if (oh + 1 >= s.out_h()) return;
    const int64_t row_bytes = int64_t{s.W} * s.C;
    const int last = oh * s.stride_h - s.pad_top + (s.R - 1) * s.dilation_h;  // this row's last input row
    for (int ih = std::max(last + 1, 0); ih <= std::min(last + s.stride_h, s.H - 1); ++ih) {
      const char* p = reinterpret_cast<const char*>(x + (n * s.H + ih) * row_bytes);
      for (int64_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(p + b, 0, 3);
    }
    if (!next_is_ours) return;
    const int64_t out_row_bytes = int64_t{s.out_w()} * s.C * out_elem;
    const char* q = static_cast<const char*>(y) + (n * s.out_h() + oh + 1) * out_row_bytes;
    for (int64_t b = 0; b < out_row_bytes; b += 64) __builtin_prefetch(q + b, 1, 3);
  }

  DwUkernel u_;
  ConvShape shape_;
  std::shared_ptr<const AlignedBuffer<int32_t>> w_;  // shared by with_input_size copies
  PaddingRows padding_rows_;  // for shape_
};

}  // namespace

std::string DwConvKernel::supports(const ConvShape& s, OutputType) const {
  if (*u8_codes_declined(s)) return u8_codes_declined(s);
  if (!s.is_depthwise()) return "not depthwise (needs groups == C == K)";
  return "";
}

std::unique_ptr<PackedConv> DwConvKernel::pack(const ConvShape& shape, const int8_t* w) const {
  shape.validate();
  if (!shape.is_depthwise()) {
    throw InvalidArgument(std::string(u_.name) + ": " + supports(shape, OutputType::kInt8));
  }
  return std::make_unique<PackedDwConv>(u_, shape, w);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
