// Driver of the depthwise microkernels (groups == C == K, any R, S, stride,
// padding with any pad_value, dilation): weights packed per block of channels and tap
// (packing.h), output rows (n, oh) split over int8rt::parallel_for, each row
// computed by one microkernel call. The reduction per output is the taps of
// one channel, which vpdpbusd's 4-wide groups do not fit; the microkernels
// multiply sign-extended int16 values into int32 (exact). Before each row
// the driver prefetches the input rows the next row adds and the next
// output row (prefetch_next_row): at batch 8 the input is no longer in L2.
#include <algorithm>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

class PackedDwConv final : public PackedConv {
 public:
  PackedDwConv(const DwUkernel& u, const ConvShape& s, const int8_t* w)
      : u_(u), shape_(s), w_(std::make_shared<const AlignedBuffer<int32_t>>(pack_dw_weights(s.C, s.R * s.S, u.block, w))) {}
  const ConvShape& shape() const override { return shape_; }
  std::unique_ptr<PackedConv> with_input_size(int H, int W) const override {
    auto copy = std::make_unique<PackedDwConv>(*this);
    copy->shape_ = kernels::with_input_size(shape_, H, W);
    return copy;
  }
  std::unique_ptr<PackedConv> with_row_window(int H, int pad_top, int pad_bottom) const override {
    auto copy = std::make_unique<PackedDwConv>(*this);
    copy->shape_ = kernels::with_row_window(shape_, H, pad_top, pad_bottom);
    return copy;
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
};

}  // namespace

std::string DwConvKernel::supports(const ConvShape& s, OutputType) const {
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
