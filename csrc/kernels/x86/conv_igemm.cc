// Driver of the igemm microkernels: int8 conv of any shape (and, through
// IgemmGemmKernel, GEMM) as an indirect GEMM, XNNPACK's igemm scheme.
//
// Output pixels n*OH*OW are flattened and cut into tiles of mr rows; output
// channels of each group into tiles of nb blocks. For one tile the driver
// builds taps x mr row pointers (tap (r, s) of pixel p points at input pixel
// (ih, iw) at the group's first channel, or at a zero vector where (ih, iw)
// is padding) and calls the microkernel, which reduces, requantizes and
// stores. Work items are (pixel chunk, channel tile) pairs claimed
// dynamically by int8rt::parallel_for; small layers run as one item on the
// calling thread. Each output is computed by exactly one call, in a fixed
// order, so results do not depend on the thread count.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/x86/packing.h"
#include "kernels/x86/x86_kernels.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// Multiply-adds per work item: large enough to amortize claiming it, small
// enough to balance two threads on small layers.
constexpr int64_t kItemMacs = int64_t{1} << 18;

class PackedIgemmConv final : public PackedConv {
 public:
  PackedIgemmConv(const IgemmUkernel& u, const ConvShape& s, const int8_t* w)
      : u_(u), shape_(s),
        packed_(pack_igemm_weights(IgemmLayout(s.groups, s.k_per_group(), s.c_per_group(),
                                               s.R * s.S, u.block, u.cgroup,
                                               u.widen_s16 ? 2 : 1),
                                   w, !u.widen_s16)),
        zeros_(int64_t{packed_.layout.q} * u.cgroup * 2 + 64) {}

  const ConvShape& shape() const override { return shape_; }
  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override;

 private:
  IgemmUkernel u_;
  ConvShape shape_;
  PackedIgemmWeights packed_;
  AlignedBuffer<int8_t> zeros_;  // the padding row (int8 or int16 zeros)
};

void PackedIgemmConv::run(int batch, const int8_t* x, const Epilogue& ep, void* y) const {
  check_epilogue(ep, u_.conv_name);
  if (batch < 0) throw InvalidArgument(std::string(u_.conv_name) + ": batch must be >= 0");
  if (batch == 0) return;
  const ConvShape& s = shape_;
  const IgemmLayout& L = packed_.layout;
  const int OH = s.out_h(), OW = s.out_w(), taps = s.R * s.S;
  const int64_t P = static_cast<int64_t>(batch) * OH * OW;
  const int64_t in_pixels = static_cast<int64_t>(batch) * s.H * s.W;

  // Row source: the input itself (int8), or its int16 copy with every
  // group's channels padded to whole pairs (widen_s16).
  const int64_t cg_pad = int64_t{L.q} * L.cgroup;
  std::vector<int16_t> wide;
  const char* src = reinterpret_cast<const char*>(x);
  int64_t pixel_bytes = s.C, group_bytes = L.cg;
  if (u_.widen_s16) {
    wide.resize(static_cast<size_t>(in_pixels * s.groups * cg_pad));
    parallel_for(in_pixels, std::max<int64_t>(1, 65536 / (s.C + 1)), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        for (int g = 0; g < s.groups; ++g) {
          int16_t* d = wide.data() + (p * s.groups + g) * cg_pad;
          const int8_t* xs = x + p * s.C + static_cast<int64_t>(g) * L.cg;
          for (int c = 0; c < L.cg; ++c) d[c] = xs[c];
          for (int64_t c = L.cg; c < cg_pad; ++c) d[c] = 0;
        }
      }
    });
    src = reinterpret_cast<const char*>(wide.data());
    pixel_bytes = s.groups * cg_pad * 2;
    group_bytes = cg_pad * 2;
  }

  const int mr_max = u_.mr;
  const int64_t ptiles = (P + mr_max - 1) / mr_max;
  const int kt_per_g = (L.nbk + u_.nb - 1) / u_.nb;
  const int64_t kt_total = static_cast<int64_t>(s.groups) * kt_per_g;
  const int64_t tile_macs = int64_t{mr_max} * u_.nb * u_.block * taps * L.cg;
  const int64_t ppi = std::max<int64_t>(1, kItemMacs / tile_macs);
  const int64_t pchunks = (ptiles + ppi - 1) / ppi;
  const int64_t items = pchunks * kt_total;
  const int64_t total_macs = P * s.K * taps * L.cg;
  const int64_t grain = total_macs < 4 * kItemMacs ? items : 1;
  const int8_t* xres = ep.residual;

  parallel_for(items, grain, [&](int64_t begin, int64_t end) {
    std::vector<const void*> rows(static_cast<size_t>(taps) * mr_max);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t pc = item / kt_total;
      const int kt = static_cast<int>(item % kt_total);
      const int g = kt / kt_per_g;
      const int b0 = (kt % kt_per_g) * u_.nb;
      const int nb = std::min(u_.nb, L.nbk - b0);
      const int k0 = g * L.kg + b0 * u_.block;  // first output channel
      IgemmTile t;
      t.taps = taps;
      t.kc = L.cg;
      t.a = rows.data();
      t.w = packed_.block_ptr(g, b0);
      t.w_block_stride = L.block_stride;
      t.acc_init = packed_.comp_ptr(g, b0);
      t.nc = std::min(nb * u_.block, L.kg - b0 * u_.block);
      t.ep.scale = ep.scale + k0;
      t.ep.bias = ep.bias ? ep.bias + k0 : nullptr;
      t.ep.lo = ep.clamp_lo;
      t.ep.hi = ep.clamp_hi;
      t.ep.residual_scale = ep.residual_scale;
      t.ep.residual_stride = s.K;
      t.ep.y_stride = s.K;
      t.ep.out_f32 = ep.out_type == OutputType::kFloat32;
      const int64_t pt_end = std::min(ptiles, (pc + 1) * ppi);
      for (int64_t pt = pc * ppi; pt < pt_end; ++pt) {
        const int64_t p0 = pt * mr_max;
        const int mr = static_cast<int>(std::min<int64_t>(mr_max, P - p0));
        for (int i = 0; i < mr; ++i) {
          const int64_t p = p0 + i;
          const int64_t n = p / (int64_t{OH} * OW);
          const int oh = static_cast<int>(p / OW % OH), ow = static_cast<int>(p % OW);
          const char* img = src + n * s.H * s.W * pixel_bytes + g * group_bytes;
          for (int r = 0; r < s.R; ++r) {
            const int ih = oh * s.stride_h - s.pad_top + r * s.dilation_h;
            for (int c = 0; c < s.S; ++c) {
              const int iw = ow * s.stride_w - s.pad_left + c * s.dilation_w;
              const bool inside = ih >= 0 && ih < s.H && iw >= 0 && iw < s.W;
              rows[static_cast<size_t>(r * s.S + c) * mr_max + i] =
                  inside ? img + (static_cast<int64_t>(ih) * s.W + iw) * pixel_bytes
                         : static_cast<const void*>(zeros_.data());
            }
          }
        }
        t.ep.residual = xres ? xres + p0 * s.K + k0 : nullptr;
        t.ep.y = ep.out_type == OutputType::kInt8
                     ? static_cast<void*>(static_cast<int8_t*>(y) + p0 * s.K + k0)
                     : static_cast<void*>(static_cast<float*>(y) + p0 * s.K + k0);
        u_.fn(mr, nb)(t);
      }
    }
  });
}

}  // namespace

std::string IgemmConvKernel::supports(const ConvShape&, OutputType) const {
  // Every valid conv: any kernel size, stride, padding, dilation and group
  // count (depthwise too, though the dwconv kernel ahead of this one is
  // faster for it).
  return "";
}

std::unique_ptr<PackedConv> IgemmConvKernel::pack(const ConvShape& shape,
                                                  const int8_t* w) const {
  shape.validate();
  return std::make_unique<PackedIgemmConv>(u_, shape, w);
}

namespace {

// GEMM as the 1x1 conv of M one-pixel images: a[M][K] is x[M][1][1][K] and
// y[M][N] is y[M][1][1][N] (residual alike).
class PackedIgemmGemm final : public PackedGemm {
 public:
  PackedIgemmGemm(const IgemmUkernel& u, const GemmShape& s, const int8_t* w)
      : shape_(s), conv_(u, as_conv(s), w) {}
  void run(int64_t M, const int8_t* a, const Epilogue& ep, void* y) const override {
    if (M < 0) throw InvalidArgument("gemm_s8: M must be >= 0");
    // run() takes an int batch; larger M runs in slices.
    constexpr int64_t kSlice = int64_t{1} << 30;
    for (int64_t m0 = 0; m0 < M; m0 += kSlice) {
      const int64_t m = std::min(kSlice, M - m0);
      Epilogue e = ep;
      if (e.residual) e.residual += m0 * shape_.N;
      void* ym = ep.out_type == OutputType::kInt8
                     ? static_cast<void*>(static_cast<int8_t*>(y) + m0 * shape_.N)
                     : static_cast<void*>(static_cast<float*>(y) + m0 * shape_.N);
      conv_.run(static_cast<int>(m), a + m0 * shape_.K, e, ym);
    }
    if (M == 0) check_epilogue(ep, "gemm_s8");
  }
  const GemmShape& shape() const override { return shape_; }

 private:
  static ConvShape as_conv(const GemmShape& g) {
    ConvShape c;
    c.C = g.K;
    c.K = g.N;
    c.H = c.W = 1;
    return c;
  }
  GemmShape shape_;
  PackedIgemmConv conv_;
};

}  // namespace

std::string IgemmGemmKernel::supports(const GemmShape&, OutputType) const { return ""; }

std::unique_ptr<PackedGemm> IgemmGemmKernel::pack(const GemmShape& shape,
                                                  const int8_t* w) const {
  shape.validate();
  return std::make_unique<PackedIgemmGemm>(u_, shape, w);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
