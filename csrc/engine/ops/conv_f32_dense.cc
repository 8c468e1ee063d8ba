// The float32 Conv layer's dense products (class in engine/ops/conv_f32_layer.h,
// the choice of path in conv_f32.cc's header comment): the weights packed once
// for the NHWC conv, the tap conv or the SGEMM; per run the NHWC conv
// (kernels/conv_nhwc_f32.h), the tap conv (kernels/conv_taps_f32.h), the
// output-transposed product (conv_f32_transposed.h), the im2col SGEMM
// (kernels/sgemm_f32.h) or the BF16 GEMM (ops/bf16_gemm.h), 3-D by an
// explicit im2col, with bias, residual and activation in their tile
// epilogue or in epilogue() after them, in the unfused graph's order.
#include <algorithm>

#include "core/thread_pool.h"
#include "engine/ops/conv_f32_layer.h"

namespace int8rt {
namespace engine {

using kernels::GemmOperand;
using kernels::Im2colView;
using kernels::sgemm;

kernels::SgemmEpilogue ConvF32Layer::fused_clip(const FusedActivation& act) {
  kernels::SgemmEpilogue ep;
  ep.clip = act.as_clip(&ep.lo, &ep.hi);
  return ep;
}

void ConvF32Layer::pack_weights(const Tensor& wt) {
  const int64_t M = wt.shape[0], C = group_ * wt.shape[1];
  // [M, C/group, kh, kw] (a 1-D conv's [M, C/group, k] has no kw: read only
  // what the weights have; the 2-D paths below are the ones that use them).
  const int64_t kh = column_ ? 1 : wt.shape[2];
  const int64_t kw = column_ ? wt.shape[2] : (wt.shape.size() > 3 ? wt.shape[3] : 1);
  if (!wt.is_constant || wt.dtype != DataType::kFloat32 || M % group_ != 0 || (group_ == C && M == C)) return;
  const int64_t Mg = M / group_, K = static_cast<int64_t>(wt.f32.size()) / std::max<int64_t>(M, 1);
  if (K * M != static_cast<int64_t>(wt.f32.size())) return;
  if (rank_ == 2) {
    // The NHWC conv (kernels/conv_nhwc_f32.h) where the output channels
    // fill the tile's vector columns; a run it declines (narrow output
    // rows) packs A per tile on the im2col path.
    kernels::TapConvShape ts;
    ts.C = C; ts.M = M; ts.G = group_; ts.kh = kh; ts.kw = kw;
    if (kernels::nhwc_conv_weights_decline(ts, uk_->nr).empty()) {
      nhwc_ = std::make_unique<kernels::NhwcConv>(*uk_, ts, wt.f32.data());
      return;
    }
  }
  if (rank_ == 2 && kh * kw > 1 && (C / group_ >= 16 || (group_ == 1 && kw * C >= 16))) {
    // In the tap conv's order (kernels/conv_taps_f32.h) for the shapes it
    // takes; a run it declines (an output under half its grid's width)
    // packs A per tile on the im2col path.
    kernels::TapConvShape ts;
    ts.C = C; ts.M = M; ts.G = group_; ts.kh = kh; ts.kw = kw;
    taps_ = std::make_unique<kernels::TapConv>(*uk_, ts, wt.f32.data());
    return;
  }
  for (int64_t grp = 0; grp < group_; ++grp) {
    packed_.push_back(kernels::pack_a_once(*uk_, Mg, K, {wt.f32.data() + grp * Mg * K, K, false}));
  }
}

kernels::TapConvShape ConvF32Layer::tap_shape(const ConvGeom& g) const {
  kernels::TapConvShape s;
  s.C = g.C; s.H = g.H; s.W = g.W; s.M = g.M; s.G = g.G; s.kh = g.kh; s.kw = g.kw;
  s.sh = g.sh; s.sw = g.sw; s.dh = g.dh; s.dw = g.dw; s.ph = g.ph; s.pw = g.pw; s.oh = g.oh; s.ow = g.ow;
  return s;
}

void ConvF32Layer::run_nchw(const float* x, const float* w, const float* bias, const float* res, float* y,
              const ConvGeom& g) const {
  if (!is_strided_pointwise(g)) {
    dense(x, w, bias, res, y, g);
    return;
  }
  // A strided 1x1 conv image by image: each image's pixels are copied
  // just before its product reads them, from L2, where the whole
  // batch's copy (6.4 MB at ResNet-50's 256 -> 512 / 2, batch 8) had
  // left the caches by the time its later images ran. The products are
  // per image on every path: the same bits.
  ConvGeom one = g;
  one.N = 1;
  const int64_t image = g.C * g.H * g.W, out = g.M * g.oh * g.ow;
  for (int64_t n = 0; n < g.N; ++n) {
    ConvGeom gn = one;
    const float* xn = subsample(x + n * image, gn);
    dense(xn, w, bias, res ? res + n * out : nullptr, y + n * out, gn);
  }
}

void ConvF32Layer::dense(const float* x, const float* w, const float* bias, const float* res, float* y,
           const ConvGeom& g) const {
  if (bf16_.empty()) {  // the SGEMM / tap conv epilogue adds the residual and clips
    if (transposed(g)) {
      transposed_.run(x, w, bias, res, y, g);
    } else if (!gemm_path(x, w, bias, res, y, g)) {
      epilogue(nullptr, y, g);
    }
  } else if (!gemm_path(x, w, bias, res, y, g)) {  // the BF16 tile epilogue adds the bias and the residual and clips
    epilogue(nullptr, y, g);
  }
}

bool ConvF32Layer::gemm_path(const float* x, const float* w, const float* bias, const float* res, float* y,
               const ConvGeom& g) const {
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G, K = Cg * g.kh * g.kw, P = g.oh * g.ow;
  const bool pointwise = is_pointwise(g);
  if (nhwc_ && kernels::nhwc_conv_declines(tap_shape(g), uk_->mr).empty()) {
    const kernels::TapConvShape ts = tap_shape(g);
    kernels::SgemmEpilogue ep = fused_;
    ep.row_bias = bias;
    ep.ldr = P;
    const int64_t image = g.C * g.H * g.W;
    for (int64_t n = 0; n < g.N; ++n) {
      ep.residual = res ? res + n * g.M * P : nullptr;
      // the next image, which its padded copy reads next, fetched while this one's tiles run
      const bool next = n + 1 < g.N;
      ep.ahead = next ? x + (n + 1) * image : nullptr;
      ep.ahead_bytes = next ? image * static_cast<int64_t>(sizeof(float)) : 0;
      nhwc_->run(ts, x + n * image, ep, y + n * g.M * P, true);
    }
    return fused_.clip;
  }
  if (taps_) {
    const kernels::TapConvShape ts = tap_shape(g);
    if (kernels::tap_conv_declines(ts).empty()) {
      kernels::SgemmEpilogue ep = fused_;
      ep.row_bias = bias;
      ep.ldr = P;
      for (int64_t n = 0; n < g.N; ++n) {
        ep.residual = res ? res + n * g.M * P : nullptr;
        taps_->run(ts, x + n * g.C * g.H * g.W, ep, y + n * g.M * P, true);
      }
      return fused_.clip;
    }
  }
  auto one = [&](int64_t n, int64_t grp, bool parallel) {
    const float* xg = x + (n * g.C + grp * Cg) * g.H * g.W;
    float* yg = y + (n * g.M + grp * Mg) * P;
    GemmOperand b{xg, P, false};
    b.cold = pointwise && g.N * g.C * g.H * g.W * static_cast<int64_t>(sizeof(float)) > kColdInputBytes;
    Im2colView view{xg, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, g.oh, g.ow};
    if (!pointwise) b.im2col = &view;  // packed from the image, panel by panel
    kernels::SgemmEpilogue ep = fused_;  // bias, residual and activation on each tile while in cache
    ep.row_bias = bias ? bias + grp * Mg : nullptr;
    ep.residual = res ? res + (n * g.M + grp * Mg) * P : nullptr;
    ep.ldr = P;
    if (g.G == 1 && n + 1 < g.N) {  // the next image's product reads it next
      ep.ahead = x + (n + 1) * g.C * g.H * g.W;
      ep.ahead_bytes = g.C * g.H * g.W * static_cast<int64_t>(sizeof(float));
    }
    if (!bf16_.empty()) {
      bf16_.packed[grp]->run(P, b, yg, P, false, parallel, &ep);
      // Another activation (a Chain, Swish) over this image's rows right after its product, while they
      // are in L2 (the BF16 GEMM's tiles take Relu / Clip only), not over the whole batch afterwards.
      if (parallel && !fused_.clip) epilogue(nullptr, yg, image_rows(g, Mg));
    } else {
      GemmOperand a{w + grp * Mg * K, K, false};
      if (!packed_.empty()) a.packed = &packed_[grp];
      if (act_.unary) {  // Swish, HardSwish
        ep.unary = act_.unary;
        ep.unary_op = act_.unary_op;
      }
      if (act_.chain) {  // a Chain (float_chain.h), on each block of rows while in cache
        ep.post = [](const void* ctx, float* y, int64_t n) { static_cast<const FusedActivation*>(ctx)->apply(y, n); };
        ep.post_ctx = &act_;
      }
      sgemm(*uk_, Mg, P, K, a, b, yg, P, false, parallel, &ep);
    }
  };
  if (g.G == 1) {
    for (int64_t n = 0; n < g.N; ++n) one(n, 0, true);
  } else {
    parallel_for(g.N * g.G, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) one(t / g.G, t % g.G, false);
    });
  }
  return fused_.clip || (bf16_.empty() && (act_.unary || act_.chain)) || (!bf16_.empty() && g.G == 1);
}

void ConvF32Layer::gemm_3d(const float* x, const float* w, const float* bias, float* y, const ConvGeom& g) const {
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G, K = Cg * g.kd * g.kh * g.kw, P = g.od * g.oh * g.ow;
  std::vector<float> col(static_cast<size_t>(K * P));
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t grp = 0; grp < g.G; ++grp) {
      im2col_3d(x + (n * g.C + grp * Cg) * g.D * g.H * g.W, Cg, g, col.data());
      float* yg = y + (n * g.M + grp * Mg) * P;
      if (bias) {
        for (int64_t m = 0; m < Mg; ++m) std::fill(yg + m * P, yg + (m + 1) * P, bias[grp * Mg + m]);
      }
      sgemm(*uk_, Mg, P, K, {w + grp * Mg * K, K, false}, {col.data(), P, false}, yg, P, bias != nullptr);
    }
  }
}

void ConvF32Layer::gemm_bf16_io(const void* x, bool x16, const float* bias, const float* res, const uint16_t* r16, void* y,
                  const ConvGeom& g) const {
  const int64_t Cg = g.C / g.G, Mg = g.M / g.G, P = g.oh * g.ow;
  const bool pointwise = is_pointwise(g);
  for (int64_t n = 0; n < g.N; ++n) {
    for (int64_t grp = 0; grp < g.G; ++grp) {
      const int64_t xo = (n * g.C + grp * Cg) * g.H * g.W, yo = (n * g.M + grp * Mg) * P;
      const float* xf = x16 ? nullptr : static_cast<const float*>(x) + xo;
      Im2colView view{xf, g.H, g.W, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.ph, g.pw, g.oh, g.ow};
      GemmOperand b{xf, P, false};
      if (!pointwise) b.im2col = &view;
      kernels::SgemmEpilogue ep = fused_;
      ep.row_bias = bias ? bias + grp * Mg : nullptr;
      ep.residual = res ? res + yo : nullptr;
      ep.ldr = P;
      bf16_.packed[grp]->run_bf16_io(P, b, x16 ? static_cast<const uint16_t*>(x) + xo : nullptr,
                                     y16_ ? nullptr : static_cast<float*>(y) + yo,
                                     y16_ ? static_cast<uint16_t*>(y) + yo : nullptr, P, true, &ep,
                                     r16 ? r16 + yo : nullptr);
    }
  }
  if (!fused_.clip && !y16_) epilogue(nullptr, static_cast<float*>(y), g);
}

ConvGeom ConvF32Layer::image_rows(ConvGeom g, int64_t rows) {
  g.N = 1;
  g.M = rows;
  return g;
}

bool ConvF32Layer::transposed(const ConvGeom& g) const {
  const bool constant_weights = !packed_.empty() || taps_ || nhwc_;
  if (!bf16_.empty() || g.G != 1 || !constant_weights) return false;
  if (nhwc_ && kernels::nhwc_conv_declines(tap_shape(g), uk_->mr).empty()) return false;
  const int64_t nr = uk_->nr, P = g.oh * g.ow;
  if (g.kh * g.kw > 1 && P > 64) return false;
  auto padded = [nr](int64_t n) { return (n + nr - 1) / nr * nr; };
  int64_t cols = P;
  if (taps_ && kernels::tap_conv_declines(tap_shape(g)).empty()) cols = kernels::tap_conv_columns(tap_shape(g));
  const double tiles = static_cast<double>(padded(g.M)) * P, other = static_cast<double>(g.M) * padded(cols);
  const double saved = 1.0 - tiles / other, K = static_cast<double>(g.C * g.kh * g.kw);
  return tiles * 1.06 < other && saved * K >= kTransposedMinSavedSteps;
}

void ConvF32Layer::epilogue(const float* r, float* y, const ConvGeom& g) const {
  if (!r && act_.kind == FusedActivation::Kind::kNone) return;
  const int64_t P = g.od * g.oh * g.ow;
  parallel_for(g.N * g.M, std::max<int64_t>(1, 4096 / P), [&](int64_t begin, int64_t end) {
    float* p = y + begin * P;
    int64_t n = (end - begin) * P;
    if (r) {
      const float* q = r + begin * P;
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] + q[i];
    }
    act_.apply(p, n);
  });
}

}  // namespace engine
}  // namespace int8rt
