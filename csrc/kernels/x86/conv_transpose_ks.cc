// The kernel-equals-stride transposed conv driver (conv_transpose_ks.h):
// packing, the per-row tiling and threading. Baseline code.
//
// Output row R*i + qy of image n is, pixel after pixel, the S*K outputs of
// input pixel (n, i, j) for phase row qy: out[n][R*i + qy][S*j + qx][k] at
// element ((n*OH + R*i + qy)*OW + S*j)*K + qx*K + k. So with the weights
// of phase row qy packed as the S*K "channels" m = qx*K + k of one group
// (the igemm layout's group qy), a tile of pixels j0.. of row i stores its
// outputs at y + ((n*OH + R*i + qy)*OW + S*j0)*K with rows S*K apart, the
// epilogue's per-channel scale and bias repeated S times (scale[m] =
// scale[m mod K]). Each worker takes whole input rows. A compensated
// packing (the shifted tile of AVX512-VNNI) hands the s8 tile its start sums
// -128 * sum(w) per channel; the u8 tile starts at 0.
#include "kernels/x86/conv_transpose_ks.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "int8rt/error.h"
#include "kernels/registry.h"
#include "kernels/x86/packing.h"

namespace int8rt {
namespace kernels {
namespace x86 {
namespace {

// True when no byte of x[0 .. n) is negative (an OR of 8-byte words the
// baseline vectorizes; a row is a few KiB, read again by the tile from L1).
bool row_nonnegative(const int8_t* x, int64_t n) {
  constexpr uint64_t kSigns = 0x8080808080808080ull;
  uint64_t any = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, x + i, 8);
    any |= v;
  }
  for (; i < n; ++i) any |= static_cast<uint8_t>(x[i]);
  return (any & kSigns) == 0;
}

class KsPackedConvTranspose final : public PackedConvTranspose {
 public:
  KsPackedConvTranspose(const ConvTransposeShape& sh, OutputType out, const int8_t* w, const KsTransposeUkernels& u)
      : shape_(sh), out_(out), u_(u), n_(sh.S * sh.K),
        layout_(sh.R, sh.S * sh.K, sh.C, /*taps=*/1, u.block, u.cgroup, /*elem_bytes=*/1, u.strip) {
    dot_ = u.dot && sh.R == 2 && sh.S == 2 && sh.K == 1;
    if (dot_) {
      // [chunk][n = 2*qy + qx][16] int16; w is [C][K = 1][R][S].
      chunks_ = (sh.C + 15) / 16;
      w16_.assign(static_cast<size_t>(chunks_) * 64, 0);
      for (int c = 0; c < sh.C; ++c) {
        for (int n = 0; n < 4; ++n) w16_[(static_cast<size_t>(c / 16) * 4 + n) * 16 + c % 16] = w[c * 4 + n];
      }
      return;
    }
    // Group qy, channel m = qx*K + k, input channel c: w[c][k][qy][qx].
    std::vector<int8_t> src(static_cast<size_t>(sh.R) * n_ * sh.C);
    for (int qy = 0; qy < sh.R; ++qy) {
      for (int qx = 0; qx < sh.S; ++qx) {
        for (int k = 0; k < sh.K; ++k) {
          int8_t* d = src.data() + (static_cast<size_t>(qy) * n_ + qx * sh.K + k) * sh.C;
          for (int c = 0; c < sh.C; ++c) d[c] = w[((static_cast<int64_t>(c) * sh.K + k) * sh.R + qy) * sh.S + qx];
        }
      }
    }
    packed_ = std::make_unique<PackedIgemmWeights>(pack_igemm_weights(layout_, src.data(), u.compensate));
  }

  void run(int batch, const int8_t* x, const Epilogue& ep, void* y) const override {
    check_epilogue(ep, "conv_transpose_s8_ks");
    if (ep.out_type != out_) {
      throw InvalidArgument(std::string("conv_transpose_s8_ks: packed for ") + output_type_name(out_) +
                            " output, run with " + output_type_name(ep.out_type));
    }
    if (ep.residual || ep.table || ep.slope) {
      throw InvalidArgument("conv_transpose_s8_ks: a residual, table or slope is not supported");
    }
    if (batch <= 0) return;
    // The epilogue per packed channel m = qx*K + k (8 lanes for the dot kernel).
    const int per = dot_ ? 8 : n_;
    std::vector<float> scale(static_cast<size_t>(per)), bias(static_cast<size_t>(per), 0.0f);
    for (int m = 0; m < per; ++m) {
      scale[m] = ep.scale[m % shape_.K];
      if (ep.bias) bias[m] = ep.bias[m % shape_.K];
    }
    TileEpilogue te;
    te.scale = scale.data();
    te.bias = dot_ || ep.bias ? bias.data() : nullptr;
    te.lo = ep.clamp_lo;
    te.hi = ep.clamp_hi;
    te.out_f32 = ep.out_type == OutputType::kFloat32;
    te.y_stride = n_;
    const int64_t rows = int64_t{batch} * shape_.H;
    const int64_t row_work = int64_t{shape_.W} * shape_.C * shape_.R * n_;
    parallel_for(rows, grain_for_work(row_work), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) run_row(r, x, te, y);
    });
  }

  const ConvTransposeShape& shape() const override { return shape_; }

 private:
  // Input row r = n*H + i: its R output rows.
  void run_row(int64_t r, const int8_t* x, const TileEpilogue& te, void* y) const {
    const ConvTransposeShape& s = shape_;
    const int64_t n = r / s.H, i = r % s.H, OH = int64_t{s.H} * s.R, OW = int64_t{s.W} * s.S;
    const int8_t* xr = x + r * s.W * s.C;
    const size_t elem = te.out_f32 ? 4 : 1;
    auto out_row = [&](int qy) { return static_cast<char*>(y) + ((n * OH + s.R * i + qy) * OW) * s.K * elem; };
    if (dot_) {
      TransposeDotRow d;
      d.x = xr;
      d.W = s.W;
      d.C = s.C;
      d.chunks = chunks_;
      d.w = w16_.data();
      d.y0 = out_row(0);
      d.y1 = out_row(1);
      d.ep = te;
      u_.dot(d);
      return;
    }
    const bool nonneg = u_.u8 && row_nonnegative(xr, int64_t{s.W} * s.C);
    IgemmFn (*const fn)(int, int) = nonneg ? u_.u8 : u_.s8;
    const int32_t* comp = u_.compensate && !nonneg ? packed_->comp.data() : nullptr;
    const int nbk = layout_.nbk, mr_max = u_.mr, nb_max = u_.nb, blk = u_.block;
    const void* rows[64];  // [taps = 1][mr_max] row pointers
    IgemmTile t;
    t.taps = 1;
    t.kc = s.C;
    t.a = rows;
    t.w_block_stride = layout_.step_block_stride();
    t.ep = te;
    for (int qy = 0; qy < s.R; ++qy) {
      char* yq = out_row(qy);
      for (int j0 = 0; j0 < s.W; j0 += mr_max) {
        const int mr = std::min(mr_max, s.W - j0);
        for (int ii = 0; ii < mr_max; ++ii) rows[ii] = xr + static_cast<int64_t>(j0 + std::min(ii, mr - 1)) * s.C;
        for (int b0 = 0; b0 < nbk; b0 += nb_max) {
          const int nb = std::min(nb_max, nbk - b0);
          t.w = packed_->block_ptr(qy, b0);
          t.acc_init = comp ? comp + (static_cast<int64_t>(qy) * nbk + b0) * blk : nullptr;
          t.nc = std::min(nb * blk, n_ - b0 * blk);
          t.ep.scale = te.scale + b0 * blk;
          t.ep.bias = te.bias ? te.bias + b0 * blk : nullptr;
          t.ep.y = yq + (static_cast<int64_t>(j0) * n_ + b0 * blk) * elem;
          fn(mr, nb)(t);
        }
      }
    }
  }

  ConvTransposeShape shape_;
  OutputType out_;
  KsTransposeUkernels u_;
  int n_;  // S*K: the packed channels per phase row
  IgemmLayout layout_;
  std::unique_ptr<PackedIgemmWeights> packed_;  // the tiles' (null for the dot kernel)
  bool dot_ = false;
  int chunks_ = 0;
  std::vector<int16_t> w16_;     // the dot kernel's
};

// Why a shape is not this driver's, bound to tier `isa` ("" when it is).
std::string ks_reason(const ConvTransposeShape& s, OutputType out, Isa isa) {
  if (s.R != s.stride_h || s.S != s.stride_w) return "kernel != stride";
  if (s.pad_top || s.pad_left || s.pad_bottom || s.pad_right) return "pads";
  if (s.out_pad_h || s.out_pad_w) return "output_padding";
  if (s.dilation_h != 1 || s.dilation_w != 1) return "dilation";
  if (s.groups != 1) return "groups";
  if (out != OutputType::kInt8 && out != OutputType::kFloat32) return "output type";
  // Where a VNNI or AMX tier above this driver's may run, the phases' merged
  // conv takes that tier's tiles: measured against this driver only for
  // AVX512-VNNI, which binds it itself (RESULTS.md sections 242, 249).
  for (Isa above : {Isa::kAvxVnni, Isa::kAvx512Vnni, Isa::kAmx}) {
    if (above > isa && isa_enabled(above)) {
      return std::string("tier ") + isa_name(above) + " enabled: conv_transpose_s8_phases runs its convs";
    }
  }
  return "";
}

}  // namespace

std::string KsConvTransposeKernel::supports(const ConvTransposeShape& shape, OutputType out) const {
  return ks_reason(shape, out, isa());
}

std::unique_ptr<PackedConvTranspose> KsConvTransposeKernel::pack(const ConvTransposeShape& shape, OutputType out,
                                                                 const int8_t* w) const {
  shape.validate();
  const std::string why = ks_reason(shape, out, isa());
  if (!why.empty()) throw InvalidArgument(std::string(name()) + " declines " + describe_conv_transpose(shape, out) +
                                          ": " + why);
  const bool dot = u_.dot && shape.R == 2 && shape.S == 2 && shape.K == 1;
  const bool min_weight =
      !u_.any_weight && std::find(w, w + shape.weight_count(), int8_t{-128}) != w + shape.weight_count();
  if (dispatch_log_enabled()) {
    std::fprintf(stderr, "int8rt dispatch: %s runs %s\n", name(),
                 dot ? "the 2 x 2, K = 1 dot kernel"
                     : min_weight ? "conv_transpose_s8_phases: a weight is -128" : "the igemm tiles in place");
  }
  if (!dot && min_weight) return conv_transpose_s8_phases().pack(shape, out, w);
  return std::make_unique<KsPackedConvTranspose>(shape, out, w, u_);
}

}  // namespace x86
}  // namespace kernels
}  // namespace int8rt
